import { z } from 'zod';
import { ErrorCodes } from '../../lib/errors';
import { idSchema } from '../../lib/text';

/** The orders service's HTTP contract, shared with its callers (the activities). */
const id = idSchema('ID');
/** Versions are stored in INT columns; a larger one must be a 400, not a database error. */
const version = z.number().int().max(2_147_483_647);
export const orderIdSchema = id;
export const skuSchema = id;
/** The orders service's own rule for the names it copies: 1-100 characters. */
export const copiedNameSchema = z.string().trim().min(1).max(100);

export const createOrderBody = z.strictObject({
  orderId: id,
  customerId: id,
  lines: z
    .array(z.strictObject({ sku: id, quantity: z.number().int().min(1).max(10_000) }))
    .min(1)
    .max(50),
});
export type CreateOrderRequest = z.infer<typeof createOrderBody>;

export const confirmOrderBody = z.strictObject({
  lines: z
    .array(
      z.strictObject({
        sku: id,
        productName: z.string().min(1).max(255),
        nameVersion: version.min(0),
        // The inventory service's own price limit; unit prices are stored in an INT column.
        unitPriceCents: z.number().int().min(0).max(100_000_000),
      }),
    )
    .min(1)
    .max(50),
});
export type ConfirmOrderRequest = z.infer<typeof confirmOrderBody>;

export const cancelOrderBody = z.strictObject({ reason: z.string().max(255).optional() });

export const productNameCopyBody = z.strictObject({
  name: z.string(),
  version: version.min(1),
});
export type ProductNameCopyRequest = z.infer<typeof productNameCopyBody>;

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED';

export interface Order {
  orderId: string;
  customerId: string | null;
  status: OrderStatus;
  tombstone: boolean;
  totalCents: number | null;
  cancelReason: string | null;
  lines: { sku: string; quantity: number; productName: string | null; nameVersion: number; unitPriceCents: number | null }[];
}

export interface ProductNameCopyResult {
  sku: string;
  name: string;
  version: number;
  /** false when the orders service already had this or a newer version. */
  applied: boolean;
  linesUpdated: number;
}

export const OrdersErrors = {
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  ORDER_EXISTS: 'ORDER_EXISTS',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  ILLEGAL_TRANSITION: ErrorCodes.ILLEGAL_TRANSITION,
  LINES_MISMATCH: 'LINES_MISMATCH',
  INVALID_PRODUCT_NAME: 'INVALID_PRODUCT_NAME',
} as const;

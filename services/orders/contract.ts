import { z } from 'zod';
import { ErrorCodes } from '../../lib/errors';
import { idSchema } from '../../lib/validation/text';

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

/** The CancelOrder saga that cancels a confirmed order names itself (its workflow ID, `cancel-<orderId>`). */
export const cancellationIdSchema = idSchema('cancellationId', 128);
/** Marks a CONFIRMED order CANCELLING, and reverts that mark. */
export const cancellationBody = z.strictObject({ cancellationId: cancellationIdSchema });
/** Ends a cancellation: CANCELLING → CANCELLED, with the customer's reason. */
export const completeCancellationBody = z.strictObject({
  cancellationId: cancellationIdSchema,
  reason: z.string().max(255).optional(),
});

export const productNameCopyBody = z.strictObject({
  name: z.string(),
  version: version.min(1),
});
export type ProductNameCopyRequest = z.infer<typeof productNameCopyBody>;

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLING' | 'CANCELLED';

export interface Order {
  orderId: string;
  customerId: string | null;
  status: OrderStatus;
  tombstone: boolean;
  totalCents: number | null;
  cancelReason: string | null;
  /** The cancellation (CancelOrder saga) that marked this order CANCELLING, or last reverted that mark. */
  cancellationId: string | null;
  lines: {
    sku: string;
    quantity: number;
    productName: string | null;
    nameVersion: number;
    unitPriceCents: number | null;
  }[];
}

/** What reverting a cancellation answers: it is a no-op (`reverted: false`) unless that cancellation holds the order CANCELLING. */
export interface CancellationRevertResult {
  orderId: string;
  cancellationId: string;
  /** true when this call moved the order from CANCELLING back to CONFIRMED. */
  reverted: boolean;
  /** The order's status after the call (null: there is no such order). */
  status: OrderStatus | null;
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
  /** A mark of a cancellation that was reverted before the mark arrived (it changes nothing). */
  CANCELLATION_REVERTED: 'CANCELLATION_REVERTED',
} as const;

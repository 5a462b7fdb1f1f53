import { z } from 'zod';
import { ErrorCodes } from '../../lib/errors';
import { idSchema, safeText } from '../../lib/validation/text';

/** The inventory service's HTTP contract, shared with its callers (the activities). */
export const skuSchema = idSchema('SKU');
export const orderIdSchema = idSchema('orderId');
/** A rename's ID (the RenameProduct saga uses its workflow ID, `rename-<sku>-<request>`). */
export const renameIdSchema = idSchema('renameId', 128);
export const productNameSchema = safeText(1, 255);
/** The compensations and the commit take no parameters: an empty JSON object (or no body). */
export const emptyBody = z.strictObject({});

export const upsertProductBody = z.strictObject({
  name: productNameSchema,
  priceCents: z.number().int().min(0).max(100_000_000),
  available: z.number().int().min(0).max(1_000_000_000),
});

export const reserveBody = z.strictObject({
  orderId: orderIdSchema,
  lines: z
    .array(z.strictObject({ sku: skuSchema, quantity: z.number().int().min(1).max(10_000) }))
    .min(1)
    .max(50),
});
export type ReserveRequest = z.infer<typeof reserveBody>;

export const renameBody = z.strictObject({
  renameId: renameIdSchema,
  name: productNameSchema,
});
export type RenameRequest = z.infer<typeof renameBody>;

export interface Product {
  sku: string;
  name: string;
  nameVersion: number;
  priceCents: number;
  available: number;
  reserved: number;
  committed: number;
}

export interface ReservedLine {
  sku: string;
  quantity: number;
  productName: string;
  nameVersion: number;
  unitPriceCents: number;
}

export interface Reservation {
  orderId: string;
  status: 'HELD' | 'RELEASED' | 'COMMITTED' | 'RETURNED';
  tombstone: boolean;
  totalCents: number;
  lines: ReservedLine[];
}

export interface RenameResult {
  renameId: string;
  sku: string;
  name: string;
  version: number;
  previousName: string;
}

export interface RevertResult {
  renameId: string;
  sku: string;
  /**
   * true when the rename was the newest name that stood and the product's name went back to the
   * newest one that still stands (not always the rename's `previousName`: that may have been
   * reverted too); false for a tombstone, a repeat, or when a newer rename or catalog name stands.
   */
  reverted: boolean;
  reason?: 'TOMBSTONE' | 'SUPERSEDED' | 'ALREADY_REVERTED';
  /** With `reverted`: the product's name and name version afterwards. */
  name?: string;
  version?: number;
}

export const InventoryErrors = {
  PRODUCT_NOT_FOUND: 'PRODUCT_NOT_FOUND',
  UNKNOWN_SKU: 'UNKNOWN_SKU',
  INSUFFICIENT_STOCK: 'INSUFFICIENT_STOCK',
  RESERVATION_NOT_FOUND: 'RESERVATION_NOT_FOUND',
  RESERVATION_RELEASED: 'RESERVATION_RELEASED',
  RESERVATION_CONFLICT: 'RESERVATION_CONFLICT',
  ILLEGAL_TRANSITION: ErrorCodes.ILLEGAL_TRANSITION,
  RENAME_REVERTED: 'RENAME_REVERTED',
  RENAME_CONFLICT: 'RENAME_CONFLICT',
} as const;

import { z } from 'zod';
import { idSchema } from '../../lib/validation/text';

/** The order-history service's HTTP contract (reads only). */
export const orderIdSchema = idSchema('order ID');
export const customerIdSchema = idSchema('customer ID');
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export interface OrderHistoryEntry {
  orderId: string;
  customerId: string;
  status: string;
  totalCents: number | null;
  orderedAt: string | null;
  lines: { sku: string; quantity: number; productName: string | null; unitPriceCents: number | null }[];
  payment: { status: string; amountCents: number } | null;
  shipment: { status: string; country: string | null } | null;
  /** The versions of the source events each part was built from (orders, payments, shipping). */
  versions: { order: number; payment: number; shipment: number };
}

export const OrderHistoryErrors = {
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
} as const;

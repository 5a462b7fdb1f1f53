import { z } from 'zod';
import { idSchema } from '../../lib/validation/text';

/** The payments service's HTTP contract, shared with its callers (the activities). */
export const orderIdSchema = idSchema('orderId');
export const cardNumberSchema = z.string().regex(/^\d{12,19}$/, 'card number: 12-19 digits');

export const chargeBody = z.strictObject({
  orderId: orderIdSchema,
  amountCents: z.number().int().min(1).max(100_000_000),
  cardNumber: cardNumberSchema,
});
export type ChargeRequest = z.infer<typeof chargeBody>;

export const refundBody = z.strictObject({ reason: z.string().max(255).optional() });

export const listPaymentsQuery = z.strictObject({ orderId: orderIdSchema });

export type PaymentStatus = 'CAPTURED' | 'REFUNDED' | 'DECLINED';

export interface Payment {
  paymentId: string;
  orderId: string;
  amountCents: number;
  status: PaymentStatus;
  cardLast4: string | null;
}

export interface RefundResult {
  orderId: string;
  /** true when a captured payment was refunded by this call. */
  refunded: boolean;
  /** true when no charge had arrived: a tombstone now voids any later charge for the order. */
  tombstone: boolean;
  payment?: Payment;
}

export const PaymentsErrors = {
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_VOIDED: 'PAYMENT_VOIDED',
  ALREADY_CHARGED: 'ALREADY_CHARGED',
  ALREADY_REFUNDED: 'ALREADY_REFUNDED',
} as const;

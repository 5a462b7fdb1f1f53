import type { ServiceClient } from './http-client';
import type { Payment, RefundResult } from '../services/payments/contract';
import type { Attempted } from '../shared/attempted';

/** Activities of the payments service. */
export function createPaymentsActivities(payments: ServiceClient) {
  return {
    /**
     * Charges the order's total to the card. Compensation: `refundPayment`.
     * @throws ApplicationFailure PAYMENT_DECLINED | PAYMENT_VOIDED | ALREADY_CHARGED (non-retryable).
     */
    async chargePayment(input: { idempotencyKey: string; orderId: string; amountCents: number; cardNumber: string }): Promise<Attempted<Payment>> {
      const { idempotencyKey, ...body } = input;
      return payments.call<Payment>('POST', '/charges', { body, idempotencyKey });
    },

    /** Compensation of `chargePayment`: refunds a capture; with no charge yet, leaves a VOIDED tombstone. */
    async refundPayment(input: { idempotencyKey: string; orderId: string }): Promise<Attempted<RefundResult>> {
      return payments.call<RefundResult>('POST', `/charges/${encodeURIComponent(input.orderId)}/refund`, {
        body: {},
        idempotencyKey: input.idempotencyKey,
      });
    },
  };
}

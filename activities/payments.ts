import { ApplicationFailure } from '@temporalio/activity';
import { openCardNumber } from '../lib/card-token';
import type { ServiceClient } from './http-client';
import type { Payment, RefundResult } from '../services/payments/contract';
import type { Attempted } from '../shared/attempted';

/** Activities of the payments service. */
export function createPaymentsActivities(payments: ServiceClient, cardKey: Buffer) {
  return {
    /**
     * Charges the order's total to the card (opening the sealed card number only here).
     * Compensation: `refundPayment`.
     * @throws ApplicationFailure PAYMENT_DECLINED | PAYMENT_VOIDED | ALREADY_CHARGED | CARD_TOKEN_INVALID (non-retryable).
     */
    async chargePayment(input: { idempotencyKey: string; orderId: string; amountCents: number; cardToken: string }): Promise<Attempted<Payment>> {
      let cardNumber: string;
      try {
        cardNumber = openCardNumber(input.cardToken, cardKey, input.orderId);
      } catch {
        throw ApplicationFailure.nonRetryable(`The card token of order ${input.orderId} cannot be opened with this worker's key`, 'CARD_TOKEN_INVALID');
      }
      return payments.call<Payment>('POST', '/charges', {
        body: { orderId: input.orderId, amountCents: input.amountCents, cardNumber },
        idempotencyKey: input.idempotencyKey,
      });
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

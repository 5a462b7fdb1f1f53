import { ApplicationFailure } from '@temporalio/activity';
import { openCardNumber } from '../lib/auth/card-token';
import type { ServiceClient } from './http-client';
import { chargeBody, type Payment, type RefundResult } from '../services/payments/contract';
import type { Attempted } from '../shared/attempted';

/** The most the payments service charges at once (its contract's bound on amountCents). */
export const CHARGE_MAX_CENTS = chargeBody.shape.amountCents.maxValue ?? Number.MAX_SAFE_INTEGER;
/** The failure type of an order whose total is over CHARGE_MAX_CENTS. */
export const ORDER_TOTAL_OVER_LIMIT = 'ORDER_TOTAL_OVER_LIMIT';

const dollars = (cents: number) => `$${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2 })}`;

/**
 * Refuses a charge the payments service would refuse for its size, before calling it, with a
 * failure that says so (payments would answer a bare VALIDATION_FAILED). The total is known only
 * once the stock is reserved (inventory holds the prices), so this is the earliest point.
 * @throws ApplicationFailure ORDER_TOTAL_OVER_LIMIT (non-retryable: a business rejection).
 */
export function assertChargeable(orderId: string, amountCents: number): void {
  if (amountCents > CHARGE_MAX_CENTS) {
    throw ApplicationFailure.nonRetryable(
      `Order ${orderId} totals ${dollars(amountCents)}, over the payments limit of ${dollars(CHARGE_MAX_CENTS)} per charge`,
      ORDER_TOTAL_OVER_LIMIT,
    );
  }
}

/** Activities of the payments service. */
export function createPaymentsActivities(payments: ServiceClient, cardKey: Buffer) {
  return {
    /**
     * Charges the order's total to the card (opening the sealed card number only here).
     * Compensation: `refundPayment`.
     * @throws ApplicationFailure PAYMENT_DECLINED | PAYMENT_VOIDED | ALREADY_CHARGED | CARD_TOKEN_INVALID | ORDER_TOTAL_OVER_LIMIT (non-retryable).
     */
    async chargePayment(input: {
      idempotencyKey: string;
      orderId: string;
      amountCents: number;
      cardToken: string;
    }): Promise<Attempted<Payment>> {
      assertChargeable(input.orderId, input.amountCents);
      let cardNumber: string;
      try {
        cardNumber = openCardNumber(input.cardToken, cardKey, input.orderId);
      } catch {
        throw ApplicationFailure.nonRetryable(
          `The card token of order ${input.orderId} cannot be opened with this worker's key`,
          'CARD_TOKEN_INVALID',
        );
      }
      return payments.call<Payment>('POST', '/charges', {
        body: { orderId: input.orderId, amountCents: input.amountCents, cardNumber },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * Compensation of `chargePayment`: refunds a capture; with no charge yet, leaves a VOIDED
     * tombstone. Also CancelOrder's refund, a retriable step after its pivot. A repeat refunds
     * nothing more; it never rejects for the payment's state.
     */
    async refundPayment(input: { idempotencyKey: string; orderId: string }): Promise<Attempted<RefundResult>> {
      return payments.call<RefundResult>('POST', `/charges/${encodeURIComponent(input.orderId)}/refund`, {
        body: {},
        idempotencyKey: input.idempotencyKey,
      });
    },
  };
}

import type { ServiceClient } from './http-client';
import type { CancellationRevertResult, Order, ProductNameCopyResult } from '../services/orders/contract';
import type { ReservedLine } from '../services/inventory/contract';
import type { Attempted } from '../shared/attempted';

/** Activities of the orders service. */
export function createOrdersActivities(orders: ServiceClient) {
  return {
    /**
     * Creates the order as PENDING. Compensation: `cancelOrder`.
     * @throws ApplicationFailure ORDER_EXISTS | ORDER_CANCELLED (non-retryable); technical failures are retried.
     */
    async createOrder(input: {
      idempotencyKey: string;
      orderId: string;
      customerId: string;
      lines: { sku: string; quantity: number }[];
    }): Promise<Attempted<Order>> {
      const { idempotencyKey, ...body } = input;
      return orders.call<Order>('POST', '/orders', { body, idempotencyKey });
    },

    /**
     * Compensation of `createOrder`: PENDING → CANCELLED; with no order yet, leaves a tombstone.
     * @throws ApplicationFailure ILLEGAL_TRANSITION when the order is already CONFIRMED.
     */
    async cancelOrder(input: { idempotencyKey: string; orderId: string; reason: string }): Promise<Attempted<Order>> {
      return orders.call<Order>('POST', `/orders/${encodeURIComponent(input.orderId)}/cancel`, {
        body: { reason: input.reason.slice(0, 255) },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * The PlaceOrder pivot: PENDING → CONFIRMED, storing the copies of names and unit prices. No compensation.
     * @throws ApplicationFailure ILLEGAL_TRANSITION | ORDER_NOT_FOUND | LINES_MISMATCH.
     */
    async confirmOrder(input: {
      idempotencyKey: string;
      orderId: string;
      lines: ReservedLine[];
    }): Promise<Attempted<Order>> {
      return orders.call<Order>('POST', `/orders/${encodeURIComponent(input.orderId)}/confirm`, {
        body: {
          lines: input.lines.map((l) => ({
            sku: l.sku,
            productName: l.productName,
            nameVersion: l.nameVersion,
            unitPriceCents: l.unitPriceCents,
          })),
        },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * CancelOrder's first step: CONFIRMED → CANCELLING, held by this cancellation (the saga's workflow
     * ID). Compensation: `revertOrderCancellation`.
     * @throws ApplicationFailure ORDER_NOT_FOUND | ILLEGAL_TRANSITION (PENDING, CANCELLED, or another
     * cancellation under way) | CANCELLATION_REVERTED (non-retryable: nothing changed); technical failures are retried.
     */
    async beginOrderCancellation(input: {
      idempotencyKey: string;
      orderId: string;
      cancellationId: string;
    }): Promise<Attempted<Order>> {
      return orders.call<Order>('POST', `/orders/${encodeURIComponent(input.orderId)}/cancellation`, {
        body: { cancellationId: input.cancellationId },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * Compensation of `beginOrderCancellation`: CANCELLING → CONFIRMED when this cancellation holds
     * the order, a no-op otherwise; on a CONFIRMED order it leaves a tombstone so a late mark of the
     * same cancellation changes nothing. Never rejects for the order's state.
     */
    async revertOrderCancellation(input: {
      idempotencyKey: string;
      orderId: string;
      cancellationId: string;
    }): Promise<Attempted<CancellationRevertResult>> {
      return orders.call<CancellationRevertResult>(
        'POST',
        `/orders/${encodeURIComponent(input.orderId)}/cancellation/revert`,
        {
          body: { cancellationId: input.cancellationId },
          idempotencyKey: input.idempotencyKey,
        },
      );
    },

    /**
     * CancelOrder's last step, after its pivot: CANCELLING → CANCELLED with the customer's reason.
     * Retried until it succeeds; no compensation.
     * @throws ApplicationFailure ORDER_NOT_FOUND | ILLEGAL_TRANSITION (the order is not CANCELLING by this cancellation).
     */
    async completeOrderCancellation(input: {
      idempotencyKey: string;
      orderId: string;
      cancellationId: string;
      reason?: string;
    }): Promise<Attempted<Order>> {
      return orders.call<Order>('POST', `/orders/${encodeURIComponent(input.orderId)}/cancellation/complete`, {
        body: {
          cancellationId: input.cancellationId,
          ...(input.reason !== undefined ? { reason: input.reason.slice(0, 255) } : {}),
        },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * Updates the orders service's copies of a product name; applied by version, so repeats and
     * late deliveries never roll a copy back. No compensation (idempotent, version-guarded).
     * @throws ApplicationFailure INVALID_PRODUCT_NAME when the orders service refuses the name.
     */
    async updateOrderProductNames(input: {
      idempotencyKey: string;
      sku: string;
      name: string;
      version: number;
    }): Promise<Attempted<ProductNameCopyResult>> {
      return orders.call<ProductNameCopyResult>('PUT', `/product-names/${encodeURIComponent(input.sku)}`, {
        body: { name: input.name, version: input.version },
        idempotencyKey: input.idempotencyKey,
      });
    },
  };
}

import type { ServiceClient } from './http-client';
import type { Order, ProductNameCopyResult } from '../services/orders/contract';
import type { ReservedLine } from '../services/inventory/contract';
import type { Attempted } from '../shared/attempted';

/** Activities of the orders service. */
export function createOrdersActivities(orders: ServiceClient) {
  return {
    /**
     * Creates the order as PENDING. Compensation: `cancelOrder`.
     * @throws ApplicationFailure ORDER_EXISTS | ORDER_CANCELLED (non-retryable); technical failures are retried.
     */
    async createOrder(input: { idempotencyKey: string; orderId: string; customerId: string; lines: { sku: string; quantity: number }[] }): Promise<Attempted<Order>> {
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
    async confirmOrder(input: { idempotencyKey: string; orderId: string; lines: ReservedLine[] }): Promise<Attempted<Order>> {
      return orders.call<Order>('POST', `/orders/${encodeURIComponent(input.orderId)}/confirm`, {
        body: {
          lines: input.lines.map((l) => ({ sku: l.sku, productName: l.productName, nameVersion: l.nameVersion, unitPriceCents: l.unitPriceCents })),
        },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * Updates the orders service's copies of a product name; applied by version, so repeats and
     * late deliveries never roll a copy back. No compensation (idempotent, version-guarded).
     * @throws ApplicationFailure INVALID_PRODUCT_NAME when the orders service refuses the name.
     */
    async updateOrderProductNames(input: { idempotencyKey: string; sku: string; name: string; version: number }): Promise<Attempted<ProductNameCopyResult>> {
      return orders.call<ProductNameCopyResult>('PUT', `/product-names/${encodeURIComponent(input.sku)}`, {
        body: { name: input.name, version: input.version },
        idempotencyKey: input.idempotencyKey,
      });
    },
  };
}

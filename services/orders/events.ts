/**
 * The orders service's events (lib/events/events.ts): each carries the order as the change left it, read
 * in the change's transaction and written to the outbox with it.
 */
import type { Tx } from '../../lib/db';
import { recordEvent } from '../../lib/events/outbox';
import type { Order } from './contract';
import { loadOrder } from './order-state';
import type * as schema from './schema';

type Schema = typeof schema;

/**
 * Records OrderCreated / OrderConfirmed / OrderCancelled, or a customer's cancellation starting or
 * being reverted (OrderCancellationStarted / OrderCancellationReverted), with the order's current state;
 * returns that order (what the route answers), so it is read once.
 */
export async function recordOrderEvent(
  tx: Tx<Schema>,
  type: 'OrderCreated' | 'OrderConfirmed' | 'OrderCancelled' | 'OrderCancellationStarted' | 'OrderCancellationReverted',
  orderId: string,
): Promise<Order> {
  const order = await loadOrder(tx, orderId);
  if (!order) throw new Error(`recordOrderEvent: no order ${orderId} in this transaction`);
  const state = {
    orderId,
    customerId: order.customerId,
    status: order.status,
    totalCents: order.totalCents,
    lines: order.lines.map((l) => ({
      sku: l.sku,
      quantity: l.quantity,
      productName: l.productName,
      nameVersion: l.nameVersion,
      unitPriceCents: l.unitPriceCents,
    })),
  };
  if (type === 'OrderCancelled') await recordEvent(tx, type, orderId, { ...state, reason: order.cancelReason });
  else await recordEvent(tx, type, orderId, state);
  return order;
}

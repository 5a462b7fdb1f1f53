/**
 * The orders service's events (lib/events.ts): each carries the order as the change left it, read
 * in the change's transaction and written to the outbox with it.
 */
import { asc, eq } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { recordEvent } from '../../lib/outbox';
import type * as schema from './schema';
import { orderLines, orders } from './schema';

type Schema = typeof schema;

/**
 * Records OrderCreated / OrderConfirmed / OrderCancelled, or a customer's cancellation starting or
 * being reverted (OrderCancellationStarted / OrderCancellationReverted), with the order's current state.
 */
export async function recordOrderEvent(
  tx: Tx<Schema>,
  type: 'OrderCreated' | 'OrderConfirmed' | 'OrderCancelled' | 'OrderCancellationStarted' | 'OrderCancellationReverted',
  orderId: string,
): Promise<void> {
  const [row] = await tx.select().from(orders).where(eq(orders.orderId, orderId));
  if (!row) throw new Error(`recordOrderEvent: no order ${orderId} in this transaction`);
  const lines = await tx.select().from(orderLines).where(eq(orderLines.orderId, orderId)).orderBy(asc(orderLines.sku));
  const state = {
    orderId,
    customerId: row.customerId,
    status: row.status,
    totalCents: row.totalCents,
    lines: lines.map((l) => ({
      sku: l.sku,
      quantity: l.quantity,
      productName: l.productName,
      nameVersion: l.nameVersion,
      unitPriceCents: l.unitPriceCents,
    })),
  };
  if (type === 'OrderCancelled') await recordEvent(tx, type, orderId, { ...state, reason: row.cancelReason });
  else await recordEvent(tx, type, orderId, state);
}

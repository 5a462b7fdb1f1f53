/**
 * Builds order_history from the streams, and nothing else: three durable consumers (orders,
 * payments, shipping), each applying its events to its part of the order's row under a version
 * check. Rebuilding is reading the streams again from their first event: `rebuildOrderHistory`
 * empties the tables and deletes the consumers, and the next start recreates them at the beginning.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../lib/db';
import { inbox, type ApplyOutcome, type EventConsumerSpec } from '../../lib/events/event-consumer';
import { isEvent, streamOf, type EventEnvelope } from '../../lib/events/events';
import { connectBroker, jetstreamOf } from '../../lib/events/nats';
import type * as schema from './schema';
import { orderHistory } from './schema';

type Schema = typeof schema;
type Row = typeof orderHistory.$inferSelect;

/** Locks the order's row, creating an empty one if this is the first event about it. */
async function lockRow(tx: Tx<Schema>, orderId: string): Promise<Row> {
  await tx
    .insert(orderHistory)
    .values({ orderId })
    .onDuplicateKeyUpdate({ set: { orderId: sql`${orderHistory.orderId}` } });
  const [row] = await tx.select().from(orderHistory).where(eq(orderHistory.orderId, orderId)).for('update');
  return row!;
}

async function applyOrderEvent(tx: Tx<Schema>, e: EventEnvelope): Promise<ApplyOutcome> {
  if (
    !isEvent(e, 'OrderCreated') &&
    !isEvent(e, 'OrderConfirmed') &&
    !isEvent(e, 'OrderCancelled') &&
    !isEvent(e, 'OrderCancellationStarted') &&
    !isEvent(e, 'OrderCancellationReverted')
  ) {
    return 'ignored';
  }
  const row = await lockRow(tx, e.aggregateId);
  if (row.orderVersion >= e.version) return 'stale';
  const p = e.payload;
  const occurredAt = new Date(e.occurredAt);
  await tx
    .update(orderHistory)
    .set({
      customerId: p.customerId,
      orderStatus: p.status,
      totalCents: p.totalCents,
      lines: JSON.stringify(
        p.lines.map((l) => ({
          sku: l.sku,
          quantity: l.quantity,
          productName: l.productName,
          unitPriceCents: l.unitPriceCents,
        })),
      ),
      orderVersion: e.version,
      orderedAt: e.type === 'OrderCreated' || !row.orderedAt ? occurredAt : row.orderedAt,
    })
    .where(eq(orderHistory.orderId, e.aggregateId));
  return 'applied';
}

async function applyPaymentEvent(tx: Tx<Schema>, e: EventEnvelope): Promise<ApplyOutcome> {
  if (!isEvent(e, 'PaymentCaptured') && !isEvent(e, 'PaymentDeclined') && !isEvent(e, 'PaymentRefunded'))
    return 'ignored';
  const row = await lockRow(tx, e.aggregateId);
  if (row.paymentVersion >= e.version) return 'stale';
  await tx
    .update(orderHistory)
    .set({ paymentStatus: e.payload.status, paymentAmountCents: e.payload.amountCents, paymentVersion: e.version })
    .where(eq(orderHistory.orderId, e.aggregateId));
  return 'applied';
}

async function applyShipmentEvent(tx: Tx<Schema>, e: EventEnvelope): Promise<ApplyOutcome> {
  if (!isEvent(e, 'ShipmentScheduled') && !isEvent(e, 'ShipmentCancelled') && !isEvent(e, 'ShipmentDispatched'))
    return 'ignored';
  const row = await lockRow(tx, e.aggregateId);
  if (row.shipmentVersion >= e.version) return 'stale';
  await tx
    .update(orderHistory)
    .set({ shipmentStatus: e.payload.status, shipmentCountry: e.payload.country, shipmentVersion: e.version })
    .where(eq(orderHistory.orderId, e.aggregateId));
  return 'applied';
}

/** The three consumers, named `<prefix>-orders`, `<prefix>-payments`, `<prefix>-shipping`. */
export function orderHistoryConsumers(prefix: string): EventConsumerSpec<Schema>[] {
  return [
    { name: `${prefix}-orders`, source: 'orders', apply: applyOrderEvent },
    { name: `${prefix}-payments`, source: 'payments', apply: applyPaymentEvent },
    { name: `${prefix}-shipping`, source: 'shipping', apply: applyShipmentEvent },
  ];
}

/**
 * Empties the read model and deletes its durable consumers, so the next start rebuilds it from the
 * first event of each stream. Run it with the service stopped (`npm run order-history:rebuild`).
 */
export async function rebuildOrderHistory(opts: {
  db: Db<Schema>;
  natsUrl: string;
  prefix: string;
}): Promise<{ deletedConsumers: string[] }> {
  const nc = await connectBroker(opts.natsUrl, 'order-history-rebuild');
  const deletedConsumers: string[] = [];
  try {
    const jsm = await jetstreamOf(nc, opts.natsUrl);
    for (const c of orderHistoryConsumers(opts.prefix)) {
      try {
        await jsm.consumers.delete(streamOf(c.source).name, c.name);
        deletedConsumers.push(c.name);
      } catch (err) {
        if (!/not found/i.test(err instanceof Error ? err.message : String(err))) throw err;
      }
    }
  } finally {
    await nc.close();
  }
  await opts.db.delete(orderHistory);
  await opts.db.delete(inbox);
  return { deletedConsumers };
}

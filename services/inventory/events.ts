/**
 * The inventory service's events (lib/events/events.ts): the catalog's changes (ProductCreated,
 * ProductRenamed, PriceChanged) and each reservation's (StockReserved, StockReleased,
 * StockCommitted, StockReturned), read in the change's transaction and written to the outbox with it.
 */
import { asc, eq } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { recordEvent } from '../../lib/events/outbox';
import type * as schema from './schema';
import { products, reservationLines, reservations } from './schema';

type Schema = typeof schema;

async function productState(tx: Tx<Schema>, sku: string) {
  const [p] = await tx.select().from(products).where(eq(products.sku, sku));
  if (!p) throw new Error(`recordProductEvents: no product ${sku} in this transaction`);
  return { sku, name: p.name, nameVersion: p.nameVersion, priceCents: p.priceCents };
}

/**
 * Records what a catalog change did, compared with the row before it (`before`, undefined for a
 * new product): ProductCreated, or ProductRenamed and/or PriceChanged.
 */
export async function recordProductEvents(
  tx: Tx<Schema>,
  sku: string,
  before: { name: string; priceCents: number } | undefined,
): Promise<void> {
  const now = await productState(tx, sku);
  if (!before) {
    await recordEvent(tx, 'ProductCreated', sku, now);
    return;
  }
  if (before.name !== now.name) await recordEvent(tx, 'ProductRenamed', sku, { ...now, previousName: before.name });
  if (before.priceCents !== now.priceCents)
    await recordEvent(tx, 'PriceChanged', sku, { ...now, previousPriceCents: before.priceCents });
}

/** Records StockReserved / StockReleased / StockCommitted / StockReturned with the reservation's current state. */
export async function recordReservationEvent(
  tx: Tx<Schema>,
  type: 'StockReserved' | 'StockReleased' | 'StockCommitted' | 'StockReturned',
  orderId: string,
): Promise<void> {
  const [r] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId));
  if (!r) throw new Error(`recordReservationEvent: no reservation ${orderId} in this transaction`);
  const lines = await tx
    .select()
    .from(reservationLines)
    .where(eq(reservationLines.orderId, orderId))
    .orderBy(asc(reservationLines.sku));
  await recordEvent(tx, type, orderId, {
    orderId,
    status: r.status,
    totalCents: r.totalCents,
    lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
  });
}

/** The order as the service answers it, read inside a transaction (the routes and the events share it). */
import { asc, eq } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import type { Order } from './contract';
import type * as schema from './schema';
import { orderLines, orders } from './schema';

type Schema = typeof schema;

/** The order, or undefined when there is none (or only the NEW placeholder a lock inserted). */
export async function loadOrder(tx: Tx<Schema>, orderId: string): Promise<Order | undefined> {
  const [row] = await tx.select().from(orders).where(eq(orders.orderId, orderId));
  if (!row || row.status === 'NEW') return undefined;
  const lines = await tx.select().from(orderLines).where(eq(orderLines.orderId, orderId)).orderBy(asc(orderLines.sku));
  return {
    orderId,
    customerId: row.customerId,
    status: row.status,
    tombstone: row.tombstone,
    totalCents: row.totalCents,
    cancelReason: row.cancelReason,
    cancellationId: row.cancellationId,
    lines: lines.map((l) => ({
      sku: l.sku,
      quantity: l.quantity,
      productName: l.productName,
      nameVersion: l.nameVersion,
      unitPriceCents: l.unitPriceCents,
    })),
  };
}

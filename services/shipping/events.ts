/** The shipping service's events (lib/events/events.ts), written to the outbox in the change's transaction. */
import { eq } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { recordEvent } from '../../lib/events/outbox';
import type * as schema from './schema';
import { shipments } from './schema';

/** Records ShipmentScheduled / ShipmentCancelled / ShipmentDispatched with the shipment's current state; returns the row (what the route answers), so it is read once. */
export async function recordShipmentEvent(
  tx: Tx<typeof schema>,
  type: 'ShipmentScheduled' | 'ShipmentCancelled' | 'ShipmentDispatched',
  orderId: string,
): Promise<typeof shipments.$inferSelect> {
  const [s] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId));
  if (!s) throw new Error(`recordShipmentEvent: no shipment for ${orderId} in this transaction`);
  await recordEvent(tx, type, orderId, { orderId, shipmentId: s.shipmentId, status: s.status, country: s.country });
  return s;
}

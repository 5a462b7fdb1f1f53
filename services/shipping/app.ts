import { randomUUID } from 'node:crypto';
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { idempotentRoute, jsonBody, parse } from '../../lib/http';
import { rejection, type Reply } from '../../lib/idempotency';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/service-auth';
import { recordShipmentEvent } from './events';
import * as schema from './schema';
import { shipments } from './schema';
import { ShippingErrors, cancelShipmentBody, listShipmentsQuery, orderIdSchema, scheduleBody, type Address, type Shipment } from './contract';

type Schema = typeof schema;
export type ShippingDeps = ServiceDeps<Schema> & { servedCountries: string[] };
type Row = typeof shipments.$inferSelect;

function toShipment(row: Row): Shipment {
  const address: Address | null = row.country
    ? { name: row.name!, line1: row.line1!, city: row.city!, postalCode: row.postalCode!, country: row.country }
    : null;
  return { shipmentId: row.shipmentId, orderId: row.orderId, status: row.status as Shipment['status'], tombstone: row.tombstone, address };
}

async function lockShipment(tx: Tx<Schema>, orderId: string): Promise<Row> {
  await tx
    .insert(shipments)
    .values({ shipmentId: randomUUID(), orderId, status: 'PENDING' })
    .onDuplicateKeyUpdate({ set: { orderId: sql`${shipments.orderId}` } });
  const [row] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId)).for('update');
  if (!row) throw new Error(`shipment row for ${orderId} vanished under lock`);
  return row;
}

export function createShippingApp(deps: ShippingDeps) {
  const { db } = deps;
  // Antarctica has no carrier, whatever the configuration says.
  const served = new Set(deps.servedCountries.filter((c) => c !== 'AQ'));
  return createServiceApp(deps, (app) => {
    app.get('/shipments', async (req, res) => {
      const query = parse(listShipmentsQuery, req.query, 'query');
      const rows = await db
        .select()
        .from(shipments)
        .where(and(eq(shipments.orderId, query.orderId), ne(shipments.status, 'PENDING')))
        .orderBy(asc(shipments.createdAt));
      res.json(rows.map(toShipment));
    });

    /** Schedules an order's shipment; unserved countries are 422 UNSERVICEABLE_ADDRESS. */
    app.post(
      '/shipments',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const body = parse(scheduleBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          if (!served.has(body.address.country)) {
            return rejection(422, ShippingErrors.UNSERVICEABLE_ADDRESS, `We do not ship to ${body.address.country}`, {
              country: body.address.country,
            });
          }
          const row = await lockShipment(tx, body.orderId);
          if (row.status === 'PENDING') {
            await tx
              .update(shipments)
              .set({ status: 'SCHEDULED', ...body.address })
              .where(eq(shipments.orderId, body.orderId));
            await recordShipmentEvent(tx, 'ShipmentScheduled', body.orderId);
            const [saved] = await tx.select().from(shipments).where(eq(shipments.orderId, body.orderId));
            return { status: 201, body: toShipment(saved!) };
          }
          if (row.status === 'CANCELLED') {
            return rejection(409, ShippingErrors.SHIPMENT_CANCELLED, `Order ${body.orderId}'s shipment was cancelled`);
          }
          const existing = toShipment(row);
          return JSON.stringify(existing.address) === JSON.stringify(body.address)
            ? { status: 200, body: existing }
            : rejection(409, ShippingErrors.SHIPMENT_CONFLICT, `Order ${body.orderId} already ships to another address`);
        };
      }),
    );

    /** Compensation: cancels a scheduled shipment; before any, leaves a CANCELLED tombstone. */
    app.post(
      '/shipments/:orderId/cancel',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(cancelShipmentBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockShipment(tx, orderId);
          if (row.status === 'PENDING') {
            await tx.update(shipments).set({ status: 'CANCELLED', tombstone: true }).where(eq(shipments.orderId, orderId));
          } else if (row.status === 'SCHEDULED') {
            await tx.update(shipments).set({ status: 'CANCELLED' }).where(eq(shipments.orderId, orderId));
            await recordShipmentEvent(tx, 'ShipmentCancelled', orderId);
          }
          const [saved] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId));
          return { status: 200, body: toShipment(saved!) };
        };
      }),
    );
  });
}

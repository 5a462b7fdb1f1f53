import { randomUUID } from 'node:crypto';
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { idempotentRoute, jsonBody, parse } from '../../lib/http/http';
import { rejection, type Reply } from '../../lib/http/idempotency';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/auth/service-auth';
import { recordShipmentEvent } from './events';
import * as schema from './schema';
import { shipments } from './schema';
import {
  ShippingErrors,
  cancelShipmentBody,
  dispatchShipmentBody,
  listShipmentsQuery,
  orderIdSchema,
  scheduleBody,
  type Address,
  type Shipment,
} from './contract';

type Schema = typeof schema;
export type ShippingDeps = ServiceDeps<Schema> & { servedCountries: string[] };
type Row = typeof shipments.$inferSelect;

function toShipment(row: Row): Shipment {
  const address: Address | null = row.country
    ? { name: row.name!, line1: row.line1!, city: row.city!, postalCode: row.postalCode!, country: row.country }
    : null;
  return {
    shipmentId: row.shipmentId,
    orderId: row.orderId,
    status: row.status as Shipment['status'],
    tombstone: row.tombstone,
    address,
  };
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
            const saved = await recordShipmentEvent(tx, 'ShipmentScheduled', body.orderId);
            return { status: 201, body: toShipment(saved) };
          }
          if (row.status === 'CANCELLED') {
            return rejection(409, ShippingErrors.SHIPMENT_CANCELLED, `Order ${body.orderId}'s shipment was cancelled`);
          }
          const existing = toShipment(row);
          return JSON.stringify(existing.address) === JSON.stringify(body.address)
            ? { status: 200, body: existing }
            : rejection(
                409,
                ShippingErrors.SHIPMENT_CONFLICT,
                `Order ${body.orderId} already ships to another address`,
              );
        };
      }),
    );

    /**
     * Cancels a scheduled shipment: PlaceOrder's compensation, and CancelOrder's pivot. Before any
     * shipment, leaves a CANCELLED tombstone. A dispatched parcel cannot be cancelled: 409
     * SHIPMENT_ALREADY_DISPATCHED. Cancel and dispatch take the same row lock, so of the two racing
     * for one shipment exactly one wins and the other is refused.
     */
    app.post(
      '/shipments/:orderId/cancel',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(cancelShipmentBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockShipment(tx, orderId);
          if (row.status === 'PENDING') {
            await tx
              .update(shipments)
              .set({ status: 'CANCELLED', tombstone: true })
              .where(eq(shipments.orderId, orderId));
          } else if (row.status === 'SCHEDULED') {
            await tx.update(shipments).set({ status: 'CANCELLED' }).where(eq(shipments.orderId, orderId));
            await recordShipmentEvent(tx, 'ShipmentCancelled', orderId);
          } else if (row.status === 'DISPATCHED') {
            return rejection(
              409,
              ShippingErrors.SHIPMENT_ALREADY_DISPATCHED,
              `Order ${orderId}'s shipment ${row.shipmentId} was already dispatched`,
              {
                shipmentId: row.shipmentId,
              },
            );
          }
          const [saved] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId));
          return { status: 200, body: toShipment(saved!) };
        };
      }),
    );

    /**
     * The warehouse hands the parcel to the carrier: SCHEDULED → DISPATCHED, for good (a repeat
     * answers the dispatched shipment). An operator's action, never a saga's. No shipment: 404
     * SHIPMENT_NOT_FOUND (and no row is created); a cancelled one: 409 SHIPMENT_CANCELLED.
     */
    app.post(
      '/shipments/:orderId/dispatch',
      allowCallers('operator'),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(dispatchShipmentBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [row] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId)).for('update');
          if (!row || row.status === 'PENDING')
            return rejection(404, ShippingErrors.SHIPMENT_NOT_FOUND, `No shipment for order ${orderId}`);
          if (row.status === 'CANCELLED')
            return rejection(409, ShippingErrors.SHIPMENT_CANCELLED, `Order ${orderId}'s shipment was cancelled`);
          if (row.status === 'SCHEDULED') {
            await tx.update(shipments).set({ status: 'DISPATCHED' }).where(eq(shipments.orderId, orderId));
            await recordShipmentEvent(tx, 'ShipmentDispatched', orderId);
          }
          const [saved] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId));
          return { status: 200, body: toShipment(saved!) };
        };
      }),
    );
  });
}

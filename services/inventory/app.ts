import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { AppError, ErrorCodes } from '../../lib/errors';
import { idempotentRoute, jsonBody, parse } from '../../lib/http';
import { rejection, type Reply } from '../../lib/idempotency';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/service-auth';
import { recordReservationEvent } from './events';
import { getProduct, renameProduct, revertRename, upsertProduct } from './products';
import * as schema from './schema';
import { products, reservationLines, reservations } from './schema';
import {
  InventoryErrors,
  emptyBody,
  orderIdSchema,
  reserveBody,
  type Reservation,
  type ReservedLine,
} from './contract';

type Schema = typeof schema;
export type InventoryDeps = ServiceDeps<Schema>;

async function loadReservation(tx: Tx<Schema>, orderId: string): Promise<Reservation | undefined> {
  const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId));
  if (!row || row.status === 'PENDING') return undefined;
  const lines = await tx
    .select()
    .from(reservationLines)
    .where(eq(reservationLines.orderId, orderId))
    .orderBy(asc(reservationLines.sku));
  return {
    orderId,
    status: row.status,
    tombstone: row.tombstone,
    totalCents: row.totalCents,
    lines: lines.map((l) => ({
      sku: l.sku,
      quantity: l.quantity,
      productName: l.productName,
      nameVersion: l.nameVersion,
      unitPriceCents: l.unitPriceCents,
    })),
  };
}

/** Locks (inserting a placeholder if absent) the reservation row of an order and returns it. */
async function lockReservation(tx: Tx<Schema>, orderId: string) {
  await tx
    .insert(reservations)
    .values({ orderId, status: 'PENDING' })
    .onDuplicateKeyUpdate({ set: { orderId: sql`${reservations.orderId}` } });
  const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for('update');
  if (!row) throw new Error(`reservation row for ${orderId} vanished under lock`);
  return row;
}

function sameLines(a: { sku: string; quantity: number }[], b: { sku: string; quantity: number }[]): boolean {
  const norm = (ls: { sku: string; quantity: number }[]) =>
    [...ls]
      .sort((x, y) => x.sku.localeCompare(y.sku))
      .map((l) => `${l.sku}:${l.quantity}`)
      .join(',');
  return norm(a) === norm(b);
}

/** Adds up the quantities of repeated SKUs so a line list has one entry per SKU. */
function mergeLines(lines: { sku: string; quantity: number }[]) {
  const merged = new Map<string, number>();
  for (const l of lines) merged.set(l.sku, (merged.get(l.sku) ?? 0) + l.quantity);
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([sku, quantity]) => ({ sku, quantity }));
}

export function createInventoryApp(deps: InventoryDeps) {
  const { db } = deps;
  return createServiceApp(deps, (app) => {
    app.get('/products/:sku', getProduct(db));
    // The catalog is run by operators (and the scripts that seed it), never by a saga.
    app.put('/products/:sku', allowCallers('operator'), idempotentRoute(db, upsertProduct));
    app.post('/products/:sku/rename', allowCallers('worker'), idempotentRoute(db, renameProduct));
    app.post('/products/:sku/renames/:renameId/revert', allowCallers('worker'), idempotentRoute(db, revertRename));

    app.get('/reservations/:orderId', async (req, res) => {
      const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
      const reservation = await db.transaction((tx) => loadReservation(tx, orderId));
      if (!reservation)
        throw new AppError(404, InventoryErrors.RESERVATION_NOT_FOUND, `No reservation for order ${orderId}`);
      res.json(reservation);
    });

    /** Holds stock for an order: all lines or none. Returns names, unit prices and the total. */
    app.post(
      '/reservations',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const body = parse(reserveBody, jsonBody(req));
        const lines = mergeLines(body.lines);
        return async (tx): Promise<Reply> => {
          const row = await lockReservation(tx, body.orderId);
          if (row.status !== 'PENDING') {
            if (row.status === 'RELEASED') {
              return rejection(
                409,
                InventoryErrors.RESERVATION_RELEASED,
                `Order ${body.orderId}'s reservation was already released`,
              );
            }
            const existing = (await loadReservation(tx, body.orderId))!;
            if (!sameLines(existing.lines, lines)) {
              return rejection(
                409,
                InventoryErrors.RESERVATION_CONFLICT,
                `Order ${body.orderId} already holds different stock`,
              );
            }
            return { status: 200, body: existing };
          }
          const skus = lines.map((l) => l.sku);
          const rows = await tx
            .select()
            .from(products)
            .where(inArray(products.sku, skus))
            .orderBy(asc(products.sku))
            .for('update');
          const bySku = new Map(rows.map((r) => [r.sku, r]));
          const unknown = skus.filter((s) => !bySku.has(s));
          const short = lines
            .filter((l) => bySku.has(l.sku) && bySku.get(l.sku)!.available < l.quantity)
            .map((l) => ({ sku: l.sku, requested: l.quantity, available: bySku.get(l.sku)!.available }));
          if (unknown.length > 0 || short.length > 0) {
            await tx
              .delete(reservations)
              .where(and(eq(reservations.orderId, body.orderId), eq(reservations.status, 'PENDING')));
            return unknown.length > 0
              ? rejection(422, InventoryErrors.UNKNOWN_SKU, `Unknown SKU(s): ${unknown.join(', ')}`, { skus: unknown })
              : rejection(409, InventoryErrors.INSUFFICIENT_STOCK, `Not enough stock for order ${body.orderId}`, {
                  lines: short,
                });
          }
          const reserved: ReservedLine[] = lines.map((l) => {
            const p = bySku.get(l.sku)!;
            return {
              sku: l.sku,
              quantity: l.quantity,
              productName: p.name,
              nameVersion: p.nameVersion,
              unitPriceCents: p.priceCents,
            };
          });
          for (const l of reserved) {
            await tx
              .update(products)
              .set({
                available: sql`${products.available} - ${l.quantity}`,
                reserved: sql`${products.reserved} + ${l.quantity}`,
              })
              .where(eq(products.sku, l.sku));
          }
          const totalCents = reserved.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);
          await tx.insert(reservationLines).values(reserved.map((l) => ({ orderId: body.orderId, ...l })));
          await tx
            .update(reservations)
            .set({ status: 'HELD', totalCents })
            .where(eq(reservations.orderId, body.orderId));
          await recordReservationEvent(tx, 'StockReserved', body.orderId);
          const result: Reservation = {
            orderId: body.orderId,
            status: 'HELD',
            tombstone: false,
            totalCents,
            lines: reserved,
          };
          return { status: 201, body: result };
        };
      }),
    );

    /** Compensation: returns held units. No reservation yet → tombstone, so a late one holds nothing. */
    app.post(
      '/reservations/:orderId/release',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(emptyBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockReservation(tx, orderId);
          if (row.status === 'PENDING') {
            await tx
              .update(reservations)
              .set({ status: 'RELEASED', tombstone: true })
              .where(eq(reservations.orderId, orderId));
          } else if (row.status === 'HELD') {
            const lines = await tx
              .select()
              .from(reservationLines)
              .where(eq(reservationLines.orderId, orderId))
              .orderBy(asc(reservationLines.sku));
            for (const l of lines) {
              await tx
                .update(products)
                .set({
                  available: sql`${products.available} + ${l.quantity}`,
                  reserved: sql`${products.reserved} - ${l.quantity}`,
                })
                .where(eq(products.sku, l.sku));
            }
            await tx.update(reservations).set({ status: 'RELEASED' }).where(eq(reservations.orderId, orderId));
            await recordReservationEvent(tx, 'StockReleased', orderId);
          } else if (row.status === 'COMMITTED') {
            return rejection(
              409,
              InventoryErrors.ILLEGAL_TRANSITION,
              `Order ${orderId}'s stock is committed and cannot be released`,
            );
          }
          return { status: 200, body: (await loadReservation(tx, orderId))! };
        };
      }),
    );

    /** After the order is confirmed: the held units leave `reserved` for good (a returned reservation stays returned). */
    app.post(
      '/reservations/:orderId/commit',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(emptyBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for('update');
          if (!row || row.status === 'PENDING') {
            return rejection(404, InventoryErrors.RESERVATION_NOT_FOUND, `No reservation for order ${orderId}`);
          }
          if (row.status === 'RELEASED') {
            return rejection(409, InventoryErrors.ILLEGAL_TRANSITION, `Order ${orderId}'s reservation was released`);
          }
          // RETURNED: the customer cancelled the confirmed order before this commit landed; its
          // units are available again and there is nothing left to commit.
          if (row.status === 'HELD') {
            const lines = await tx
              .select()
              .from(reservationLines)
              .where(eq(reservationLines.orderId, orderId))
              .orderBy(asc(reservationLines.sku));
            for (const l of lines) {
              await tx
                .update(products)
                .set({
                  reserved: sql`${products.reserved} - ${l.quantity}`,
                  committed: sql`${products.committed} + ${l.quantity}`,
                })
                .where(eq(products.sku, l.sku));
            }
            await tx.update(reservations).set({ status: 'COMMITTED' }).where(eq(reservations.orderId, orderId));
            await recordReservationEvent(tx, 'StockCommitted', orderId);
          }
          return { status: 200, body: (await loadReservation(tx, orderId))! };
        };
      }),
    );

    /**
     * A confirmed order was cancelled by its customer: its units go back to available. Committed
     * units leave `committed`; units still only held (the order's commit has not landed yet) leave
     * `reserved`. A repeat is a no-op. No reservation: 404 RESERVATION_NOT_FOUND (no row is
     * created); a released one belonged to an order that was never confirmed: 409 ILLEGAL_TRANSITION.
     */
    app.post(
      '/reservations/:orderId/return',
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(emptyBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for('update');
          if (!row || row.status === 'PENDING') {
            return rejection(404, InventoryErrors.RESERVATION_NOT_FOUND, `No reservation for order ${orderId}`);
          }
          if (row.status === 'RELEASED') {
            return rejection(
              409,
              InventoryErrors.ILLEGAL_TRANSITION,
              `Order ${orderId}'s reservation was released, not committed: there is nothing to return`,
            );
          }
          if (row.status === 'HELD' || row.status === 'COMMITTED') {
            const held = row.status === 'HELD';
            const lines = await tx
              .select()
              .from(reservationLines)
              .where(eq(reservationLines.orderId, orderId))
              .orderBy(asc(reservationLines.sku));
            for (const l of lines) {
              const back = sql`${products.available} + ${l.quantity}`;
              await tx
                .update(products)
                .set(
                  held
                    ? { available: back, reserved: sql`${products.reserved} - ${l.quantity}` }
                    : { available: back, committed: sql`${products.committed} - ${l.quantity}` },
                )
                .where(eq(products.sku, l.sku));
            }
            await tx.update(reservations).set({ status: 'RETURNED' }).where(eq(reservations.orderId, orderId));
            await recordReservationEvent(tx, 'StockReturned', orderId);
          }
          return { status: 200, body: (await loadReservation(tx, orderId))! };
        };
      }),
    );
  });
}

export { ErrorCodes };

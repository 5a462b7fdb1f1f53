import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { AppError, ErrorCodes } from '../../lib/errors';
import { idempotentRoute, jsonBody, parse } from '../../lib/http';
import { rejection, type Reply } from '../../lib/idempotency';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/service-auth';
import { recordProductEvents, recordReservationEvent } from './events';
import * as schema from './schema';
import { products, productRenames, reservationLines, reservations } from './schema';
import {
  InventoryErrors,
  emptyBody,
  orderIdSchema,
  renameIdSchema,
  renameBody,
  reserveBody,
  skuSchema,
  upsertProductBody,
  type Product,
  type RenameResult,
  type Reservation,
  type ReservedLine,
  type RevertResult,
} from './contract';

type Schema = typeof schema;
export type InventoryDeps = ServiceDeps<Schema>;

function toProduct(row: typeof products.$inferSelect): Product {
  return {
    sku: row.sku,
    name: row.name,
    nameVersion: row.nameVersion,
    priceCents: row.priceCents,
    available: row.available,
    reserved: row.reserved,
    committed: row.committed,
  };
}

/**
 * The newest name of a product that stands: its newest APPLIED rename newer than the catalog's own
 * name (`baseName`), else that name. Reverted renames never stand, so reverting the newest rename
 * falls back past every newer-but-reverted one to a name that was not itself undone.
 */
async function standingName(
  tx: Tx<Schema>,
  product: typeof products.$inferSelect,
): Promise<{ name: string; version: number }> {
  const [rename] = await tx
    .select({ name: productRenames.toName, version: productRenames.version })
    .from(productRenames)
    .where(
      and(
        eq(productRenames.sku, product.sku),
        eq(productRenames.status, 'APPLIED'),
        gt(productRenames.version, product.baseNameVersion),
      ),
    )
    .orderBy(desc(productRenames.version))
    .limit(1)
    // A locking read sees the newest committed renames, not this transaction's snapshot (which may
    // predate the product row lock that every rename and revert of the SKU takes first).
    .for('update');
  return rename
    ? { name: rename.name!, version: rename.version! }
    : { name: product.baseName, version: product.baseNameVersion };
}

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
    app.get('/products/:sku', async (req, res) => {
      const sku = parse(skuSchema, req.params.sku, 'SKU');
      const [row] = await db.select().from(products).where(eq(products.sku, sku));
      if (!row) throw new AppError(404, InventoryErrors.PRODUCT_NOT_FOUND, `No product ${sku}`);
      res.json(toProduct(row));
    });

    /**
     * Admin upsert: sets name, price and the available count (not reserved/committed units), and
     * records the new stock total (available + reserved + committed) that stock conservation is
     * checked against.
     */
    app.put(
      '/products/:sku',
      // The catalog is run by operators (and the scripts that seed it), never by a saga.
      allowCallers('operator'),
      idempotentRoute(db, (req) => {
        const sku = parse(skuSchema, req.params.sku, 'SKU');
        const body = parse(upsertProductBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [existing] = await tx.select().from(products).where(eq(products.sku, sku)).for('update');
          if (existing) {
            const renamed = existing.name !== body.name;
            await tx
              .update(products)
              .set({
                name: body.name,
                priceCents: body.priceCents,
                available: body.available,
                stockTotal: body.available + existing.reserved + existing.committed,
                nameVersion: renamed ? existing.nameVersion + 1 : existing.nameVersion,
                // A name the catalog sets stands over every rename before it.
                ...(renamed ? { baseName: body.name, baseNameVersion: existing.nameVersion + 1 } : {}),
              })
              .where(eq(products.sku, sku));
          } else {
            await tx
              .insert(products)
              .values({ sku, ...body, stockTotal: body.available, baseName: body.name, baseNameVersion: 1 });
          }
          await recordProductEvents(tx, sku, existing);
          const [row] = await tx.select().from(products).where(eq(products.sku, sku));
          return { status: existing ? 200 : 201, body: toProduct(row!) };
        };
      }),
    );

    /** Renames a product (the source of truth for names): the version goes up by one. */
    app.post(
      '/products/:sku/rename',
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const sku = parse(skuSchema, req.params.sku, 'SKU');
        const body = parse(renameBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [product] = await tx.select().from(products).where(eq(products.sku, sku)).for('update');
          if (!product) return rejection(404, InventoryErrors.PRODUCT_NOT_FOUND, `No product ${sku}`);
          await tx
            .insert(productRenames)
            .values({ renameId: body.renameId, sku, status: 'APPLIED' })
            .onDuplicateKeyUpdate({ set: { renameId: sql`${productRenames.renameId}` } });
          const [rename] = await tx
            .select()
            .from(productRenames)
            .where(eq(productRenames.renameId, body.renameId))
            .for('update');
          if (rename!.sku !== sku) {
            return rejection(409, InventoryErrors.RENAME_CONFLICT, `Rename ${body.renameId} belongs to ${rename!.sku}`);
          }
          if (rename!.status === 'REVERTED') {
            return rejection(
              409,
              InventoryErrors.RENAME_REVERTED,
              `Rename ${body.renameId} was reverted before it arrived`,
            );
          }
          if (rename!.version !== null) {
            if (rename!.toName !== body.name) {
              return rejection(
                409,
                InventoryErrors.RENAME_CONFLICT,
                `Rename ${body.renameId} already set another name`,
              );
            }
            const result: RenameResult = {
              renameId: body.renameId,
              sku,
              name: rename!.toName!,
              version: rename!.version,
              previousName: rename!.fromName!,
            };
            return { status: 200, body: result };
          }
          const version = product.nameVersion + 1;
          await tx.update(products).set({ name: body.name, nameVersion: version }).where(eq(products.sku, sku));
          await tx
            .update(productRenames)
            .set({ fromName: product.name, toName: body.name, version })
            .where(eq(productRenames.renameId, body.renameId));
          await recordProductEvents(tx, sku, product);
          const result: RenameResult = {
            renameId: body.renameId,
            sku,
            name: body.name,
            version,
            previousName: product.name,
          };
          return { status: 200, body: result };
        };
      }),
    );

    /**
     * Compensation of a rename: the rename stops standing, and the product's name becomes the newest
     * name that still does (`standingName`): the newest rename that was not reverted, else the
     * catalog's own name. That is not always the rename's `previousName`, which may be a rename
     * reverted since. While a newer rename or catalog name stands, nothing changes (SUPERSEDED).
     * When the name changes it does so as a new, higher version, with its ProductRenamed event, so
     * the orders copies follow. A revert that arrives before its rename leaves a tombstone.
     */
    app.post(
      '/products/:sku/renames/:renameId/revert',
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const sku = parse(skuSchema, req.params.sku, 'SKU');
        const renameId = parse(renameIdSchema, req.params.renameId, 'rename ID');
        parse(emptyBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [product] = await tx.select().from(products).where(eq(products.sku, sku)).for('update');
          await tx
            .insert(productRenames)
            .values({ renameId, sku, status: 'REVERTED' })
            .onDuplicateKeyUpdate({ set: { renameId: sql`${productRenames.renameId}` } });
          const [rename] = await tx
            .select()
            .from(productRenames)
            .where(eq(productRenames.renameId, renameId))
            .for('update');
          const r = rename!;
          if (r.sku !== sku) {
            return rejection(
              409,
              InventoryErrors.RENAME_CONFLICT,
              `Rename ${renameId} belongs to ${r.sku}, not ${sku}`,
            );
          }
          if (r.version === null) {
            const result: RevertResult = { renameId, sku, reverted: false, reason: 'TOMBSTONE' };
            return { status: 200, body: result };
          }
          if (r.status === 'REVERTED') {
            const result: RevertResult = { renameId, sku, reverted: false, reason: 'ALREADY_REVERTED' };
            return { status: 200, body: result };
          }
          await tx.update(productRenames).set({ status: 'REVERTED' }).where(eq(productRenames.renameId, renameId));
          // An applied rename's product exists (products are never deleted); the check keeps the types honest.
          const standing = product ? await standingName(tx, product) : undefined;
          if (!product || !standing || standing.version > r.version) {
            const result: RevertResult = { renameId, sku, reverted: false, reason: 'SUPERSEDED' };
            return { status: 200, body: result };
          }
          if (standing.name === product.name) {
            // e.g. a rename to the name the product already had: nothing to move back.
            const result: RevertResult = {
              renameId,
              sku,
              reverted: true,
              name: product.name,
              version: product.nameVersion,
            };
            return { status: 200, body: result };
          }
          const version = product.nameVersion + 1;
          await tx.update(products).set({ name: standing.name, nameVersion: version }).where(eq(products.sku, sku));
          await recordProductEvents(tx, sku, product);
          const result: RevertResult = { renameId, sku, reverted: true, name: standing.name, version };
          return { status: 200, body: result };
        };
      }),
    );

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

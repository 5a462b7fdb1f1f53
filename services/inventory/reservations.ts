/**
 * A reservation's lifecycle, as one table (`LIFECYCLE`): for each action and each status, the
 * status it moves to and the units it moves between a product's counters, or the refusal, or
 * nothing (a repeat answers the reservation as it stands).
 *
 *   PENDING ── reserve ──▶ HELD ── commit ──▶ COMMITTED
 *      │                    │  │                   │
 *      │ release            │  └── return ──┐      │ return
 *      │ (tombstone)        │ release       ▼      │
 *      └─────────▶ RELEASED ◀┘           RETURNED ◀─┘
 *
 * A reservation's units sit in `available` while it is PENDING, RELEASED or RETURNED, in `reserved`
 * while it is HELD and in `committed` once it is COMMITTED: every move takes them from where the
 * old status keeps them to where the new one does (`moveUnits`), so a product's
 * `available + reserved + committed` never changes (the auditor's STOCK_LEDGER_MISMATCH checks the rest).
 */
import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { Request, RequestHandler } from 'express';
import type { Db, Tx } from '../../lib/db';
import { AppError } from '../../lib/errors';
import { jsonBody, parse } from '../../lib/http/http';
import { rejection, type Reply } from '../../lib/http/idempotency';
import { recordReservationEvent } from './events';
import type * as schema from './schema';
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

export type ReservationStatus = (typeof reservations.$inferSelect)['status'];
/** The product counters a reservation's units can sit in. */
export type Counter = 'available' | 'reserved' | 'committed';
export type ReservationAction = 'reserve' | 'release' | 'commit' | 'return';
type ReservationEventType = Parameters<typeof recordReservationEvent>[1];

/** What an action does to a reservation in one status. */
export type Step =
  /** The reservation becomes `to`; its lines' units move `units.from` → `units.to`; `event` goes to the outbox. */
  | {
      kind: 'move';
      to: Reservation['status'];
      units?: { from: Counter; to: Counter };
      event?: ReservationEventType;
      /** A release that arrived before its reservation: the late reservation holds nothing. */
      tombstone?: true;
    }
  /** Nothing changes: the reservation is answered as it stands (a reserve only for the same lines). */
  | { kind: 'stay' }
  | { kind: 'refuse'; status: 404 | 409; code: string; message: (orderId: string) => string };

const stay: Step = { kind: 'stay' };
const notFound: Step = {
  kind: 'refuse',
  status: 404,
  code: InventoryErrors.RESERVATION_NOT_FOUND,
  message: (orderId) => `No reservation for order ${orderId}`,
};

/**
 * Every action from every status. PENDING is the placeholder row a lock inserts (reserve and
 * release insert one; commit and return never do, and read a missing row as PENDING).
 */
export const LIFECYCLE: Record<ReservationAction, Record<ReservationStatus, Step>> = {
  /** Holds stock for an order: all lines or none. */
  reserve: {
    PENDING: { kind: 'move', to: 'HELD', units: { from: 'available', to: 'reserved' }, event: 'StockReserved' },
    HELD: stay,
    COMMITTED: stay,
    RETURNED: stay,
    RELEASED: {
      kind: 'refuse',
      status: 409,
      code: InventoryErrors.RESERVATION_RELEASED,
      message: (orderId) => `Order ${orderId}'s reservation was already released`,
    },
  },
  /** Compensation: returns held units. No reservation yet → tombstone, so a late one holds nothing. */
  release: {
    PENDING: { kind: 'move', to: 'RELEASED', tombstone: true },
    HELD: { kind: 'move', to: 'RELEASED', units: { from: 'reserved', to: 'available' }, event: 'StockReleased' },
    RELEASED: stay,
    RETURNED: stay,
    COMMITTED: {
      kind: 'refuse',
      status: 409,
      code: InventoryErrors.ILLEGAL_TRANSITION,
      message: (orderId) => `Order ${orderId}'s stock is committed and cannot be released`,
    },
  },
  /** After the order is confirmed: the held units leave `reserved` for good. */
  commit: {
    PENDING: notFound,
    HELD: { kind: 'move', to: 'COMMITTED', units: { from: 'reserved', to: 'committed' }, event: 'StockCommitted' },
    COMMITTED: stay,
    // The customer cancelled the confirmed order before this commit landed; its units are
    // available again and there is nothing left to commit.
    RETURNED: stay,
    RELEASED: {
      kind: 'refuse',
      status: 409,
      code: InventoryErrors.ILLEGAL_TRANSITION,
      message: (orderId) => `Order ${orderId}'s reservation was released`,
    },
  },
  /**
   * A confirmed order was cancelled by its customer: its units go back to available, from
   * `committed`, or from `reserved` when the order's commit has not landed yet.
   */
  return: {
    PENDING: notFound,
    HELD: { kind: 'move', to: 'RETURNED', units: { from: 'reserved', to: 'available' }, event: 'StockReturned' },
    COMMITTED: { kind: 'move', to: 'RETURNED', units: { from: 'committed', to: 'available' }, event: 'StockReturned' },
    RETURNED: stay,
    // It belonged to an order that was never confirmed.
    RELEASED: {
      kind: 'refuse',
      status: 409,
      code: InventoryErrors.ILLEGAL_TRANSITION,
      message: (orderId) => `Order ${orderId}'s reservation was released, not committed: there is nothing to return`,
    },
  },
};

function refusal(step: Extract<Step, { kind: 'refuse' }>, orderId: string): Reply {
  return rejection(step.status, step.code, step.message(orderId));
}

/**
 * The one place a reservation's units change counters: for each line, in the order given (by SKU,
 * the order every transaction locks products in), `from` loses the line's quantity and `to` gains it.
 */
export async function moveUnits(
  tx: Tx<Schema>,
  lines: readonly { sku: string; quantity: number }[],
  from: Counter,
  to: Counter,
): Promise<void> {
  if (from === to) throw new Error(`moveUnits: ${from} to itself`);
  for (const l of lines) {
    const set: Partial<Record<Counter, SQL>> = {};
    set[from] = sql`${products[from]} - ${l.quantity}`;
    set[to] = sql`${products[to]} + ${l.quantity}`;
    await tx.update(products).set(set).where(eq(products.sku, l.sku));
  }
}

/** Moves a reservation whose lines are stored: its lines' units, then its status, then its event. */
async function transition(tx: Tx<Schema>, orderId: string, step: Extract<Step, { kind: 'move' }>): Promise<void> {
  if (step.units) {
    const lines = await tx
      .select()
      .from(reservationLines)
      .where(eq(reservationLines.orderId, orderId))
      .orderBy(asc(reservationLines.sku));
    await moveUnits(tx, lines, step.units.from, step.units.to);
  }
  await tx
    .update(reservations)
    .set({ status: step.to, ...(step.tombstone ? { tombstone: true } : {}) })
    .where(eq(reservations.orderId, orderId));
  if (step.event) await recordReservationEvent(tx, step.event, orderId);
}

/** The reservation as the service answers it, or undefined when there is none (or only a placeholder). */
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

/** Locks the reservation row of an order if there is one (never inserts one). */
async function lockExistingReservation(tx: Tx<Schema>, orderId: string) {
  const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for('update');
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

/** GET /reservations/:orderId */
export function getReservation(db: Db<Schema>): RequestHandler {
  return async (req, res) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
    const reservation = await db.transaction((tx) => loadReservation(tx, orderId));
    if (!reservation)
      throw new AppError(404, InventoryErrors.RESERVATION_NOT_FOUND, `No reservation for order ${orderId}`);
    res.json(reservation);
  };
}

/**
 * POST /reservations: holds stock for an order, all lines or none (`LIFECYCLE.reserve`), and
 * answers names, unit prices and the total. A repeat answers the reservation if it asks for the same lines.
 */
export function reserveStock(req: Request) {
  const body = parse(reserveBody, jsonBody(req));
  const lines = mergeLines(body.lines);
  return async (tx: Tx<Schema>): Promise<Reply> => {
    const row = await lockReservation(tx, body.orderId);
    const step = LIFECYCLE.reserve[row.status];
    if (step.kind === 'refuse') return refusal(step, body.orderId);
    if (step.kind === 'stay') {
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
    // The lines are not stored yet (they are written with the prices the lock just read): the
    // units move from the request's lines, in the SKU order the products were locked in.
    await moveUnits(tx, reserved, step.units!.from, step.units!.to);
    const totalCents = reserved.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);
    await tx.insert(reservationLines).values(reserved.map((l) => ({ orderId: body.orderId, ...l })));
    await tx.update(reservations).set({ status: step.to, totalCents }).where(eq(reservations.orderId, body.orderId));
    await recordReservationEvent(tx, step.event!, body.orderId);
    const result: Reservation = {
      orderId: body.orderId,
      status: step.to,
      tombstone: false,
      totalCents,
      lines: reserved,
    };
    return { status: 201, body: result };
  };
}

/** The routes that move a stored reservation: release, commit and return (`LIFECYCLE`). */
function reservationAction(
  action: Exclude<ReservationAction, 'reserve'>,
  lock: (tx: Tx<Schema>, orderId: string) => Promise<{ status: ReservationStatus } | undefined>,
) {
  return (req: Request) => {
    const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
    parse(emptyBody, jsonBody(req));
    return async (tx: Tx<Schema>): Promise<Reply> => {
      const row = await lock(tx, orderId);
      const step = LIFECYCLE[action][row?.status ?? 'PENDING'];
      if (step.kind === 'refuse') return refusal(step, orderId);
      if (step.kind === 'move') await transition(tx, orderId, step);
      return { status: 200, body: (await loadReservation(tx, orderId))! };
    };
  };
}

/** POST /reservations/:orderId/release (compensation of reserve). */
export const releaseStock = reservationAction('release', lockReservation);
/** POST /reservations/:orderId/commit (a returned reservation stays returned). */
export const commitStock = reservationAction('commit', lockExistingReservation);
/**
 * POST /reservations/:orderId/return. A repeat is a no-op. No reservation: 404
 * RESERVATION_NOT_FOUND (no row is created); a released one: 409 ILLEGAL_TRANSITION.
 */
export const returnStock = reservationAction('return', lockExistingReservation);

/**
 * The consistency auditor: reads the four service databases and checks the invariants that must
 * hold across them once orders have settled, listing every violation with the order (or SKU) it
 * concerns. The chaos comparison runs it after each approach; operators run it with
 * `npm run audit` or `GET /audit` on the API.
 *
 * It crosses the services' boundaries on purpose. Each service owns its data and no service reads
 * another's; the auditor is an operations tool, not a service: it only reads (a READ ONLY
 * transaction), it depends on the tables' shapes and not on any service's code, and it reads all
 * four databases in one consistent snapshot of the MySQL server they share, so what it compares
 * existed at the same instant. It loads the tables whole, which suits test and chaos sized data;
 * a production-sized audit would page by order ID.
 */
import mysql from 'mysql2/promise';
import { runEventAudit, type EventAuditReport } from './event-checks';

/** Every class of violation, in the order the report lists them. */
export const VIOLATION_CLASSES = [
  /**
   * An order older than the settle time is neither CONFIRMED nor CANCELLED (a CANCELLING order: its
   * cancellation began longer ago than the settle time).
   */
  'ORDER_NOT_SETTLED',
  /** A CONFIRMED order whose reservation is missing or not COMMITTED. */
  'CONFIRMED_STOCK_NOT_COMMITTED',
  /** A CONFIRMED order with no CAPTURED payment. */
  'CONFIRMED_PAYMENT_NOT_CAPTURED',
  /** A CONFIRMED order whose captured amount is not the order's total. */
  'CONFIRMED_PAYMENT_AMOUNT_MISMATCH',
  /** A CONFIRMED order with no SCHEDULED (or DISPATCHED) shipment. */
  'CONFIRMED_SHIPMENT_NOT_SCHEDULED',
  /** A CANCELLED order that still holds (HELD) or consumed (COMMITTED) stock: it was neither released nor returned. */
  'CANCELLED_STOCK_NOT_RELEASED',
  /** A CANCELLED order with a CAPTURED payment that was not refunded. */
  'CANCELLED_PAYMENT_NOT_REFUNDED',
  /** A CANCELLED order with a SCHEDULED shipment. */
  'CANCELLED_SHIPMENT_NOT_CANCELLED',
  /** A DISPATCHED shipment whose order is not CONFIRMED (a parcel left for an order that was cancelled, or never confirmed). */
  'DISPATCHED_ORDER_NOT_CONFIRMED',
  /** Stock held or committed for an order does not match its lines (missing, extra or other quantities). */
  'RESERVATION_LINES_MISMATCH',
  /** More than one payment for one order (the schema's unique key forbids it: checked anyway). */
  'DUPLICATE_PAYMENT',
  /** More than one shipment for one order (the schema's unique key forbids it: checked anyway). */
  'DUPLICATE_SHIPMENT',
  /** Stock held or committed, a captured payment or a scheduled or dispatched shipment for an order the orders service does not have. */
  'ORPHAN_EFFECT',
  /** A SKU's available + reserved + committed is not its stock total (or a counter is negative). */
  'STOCK_NOT_CONSERVED',
  /** A SKU's reserved / committed counters are not the sums of its HELD / COMMITTED reservation lines. */
  'STOCK_LEDGER_MISMATCH',
] as const;
export type ViolationClass = (typeof VIOLATION_CLASSES)[number];

export interface Violation {
  class: ViolationClass;
  orderId?: string;
  sku?: string;
  message: string;
}

export interface AuditReport {
  /** The instant the settle time is measured from (the database's clock unless `now` was given). */
  auditedAt: string;
  settleMs: number;
  /** Orders older than the settle time: every order-level invariant was checked on them. */
  checkedOrders: number;
  /** Orders younger than the settle time, and orders CANCELLING for less than it: still allowed to be in flight, not judged. */
  inFlightOrders: number;
  checkedSkus: number;
  violations: Violation[];
  /** Violations per class, every class present (0 when none). */
  byClass: Record<ViolationClass, number>;
}

export interface AuditOptions {
  mysqlUrl: string;
  /** The services' DB_PREFIX: the databases read are `<prefix>orders`, `<prefix>inventory`, `<prefix>payments`, `<prefix>shipping`. */
  dbPrefix: string;
  /** How old an order must be before it has to be settled (and is judged at all). */
  settleMs: number;
  /** The audit's "now" (default: the database's clock). */
  now?: Date;
}

interface OrderRow {
  orderId: string;
  status: string;
  totalCents: number | null;
  createdMs: number;
  /** When the row last changed: for a CANCELLING order, when its cancellation began. */
  updatedMs: number;
}
interface LineRow {
  orderId: string;
  sku: string;
  quantity: number;
}
interface EffectRow {
  orderId: string;
  status: string;
  createdMs: number;
}
interface PaymentRow extends EffectRow {
  paymentId: string;
  amountCents: number;
}
interface ProductRow {
  sku: string;
  available: number;
  reserved: number;
  committed: number;
  stockTotal: number;
}

/** What the four databases hold, read in one snapshot. */
export interface Snapshot {
  nowMs: number;
  orders: OrderRow[];
  orderLines: LineRow[];
  reservations: EffectRow[];
  reservationLines: LineRow[];
  payments: PaymentRow[];
  shipments: EffectRow[];
  products: ProductRow[];
}

/** Epoch milliseconds of a TIMESTAMP column, whatever the session's time zone. */
const epochMs = (column: string) => `CAST(UNIX_TIMESTAMP(${column}) * 1000 AS SIGNED)`;

async function readSnapshot(conn: mysql.Connection, prefix: string, now: Date | undefined): Promise<Snapshot> {
  const db = (name: string) => `\`${prefix}${name}\``;
  const rows = async <T>(sql: string): Promise<T[]> => (await conn.query(sql))[0] as T[];
  const [clock] = await rows<{ nowMs: number }>(`SELECT ${epochMs('NOW(3)')} AS nowMs`);
  return {
    nowMs: now ? now.getTime() : Number(clock!.nowMs),
    orders: await rows(
      `SELECT order_id AS orderId, status, total_cents AS totalCents, ${epochMs('created_at')} AS createdMs, ${epochMs('updated_at')} AS updatedMs FROM ${db('orders')}.orders`,
    ),
    orderLines: await rows(`SELECT order_id AS orderId, sku, quantity FROM ${db('orders')}.order_lines`),
    reservations: await rows(
      `SELECT order_id AS orderId, status, ${epochMs('created_at')} AS createdMs FROM ${db('inventory')}.reservations`,
    ),
    reservationLines: await rows(`SELECT order_id AS orderId, sku, quantity FROM ${db('inventory')}.reservation_lines`),
    payments: await rows(
      `SELECT order_id AS orderId, payment_id AS paymentId, status, amount_cents AS amountCents, ${epochMs('created_at')} AS createdMs FROM ${db('payments')}.payments`,
    ),
    shipments: await rows(
      `SELECT order_id AS orderId, status, ${epochMs('created_at')} AS createdMs FROM ${db('shipping')}.shipments`,
    ),
    products: await rows(
      `SELECT sku, available, reserved, committed, stock_total AS stockTotal FROM ${db('inventory')}.products`,
    ),
  };
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

/** `sku:quantity` pairs, one per SKU (summed), sorted: two line lists are the same stock if these are equal. */
function lineSignature(lines: LineRow[]): string {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + Number(l.quantity));
  return [...bySku.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, q]) => `${sku}x${q}`)
    .join(', ');
}

const STOCK_IN_USE = new Set(['HELD', 'COMMITTED']);
/** Shipment statuses a confirmed order may have: scheduled, or on its way. */
const SHIPMENT_LIVE = new Set(['SCHEDULED', 'DISPATCHED']);

/** The invariants, over a snapshot (pure: the same snapshot always gives the same report). */
export function checkSnapshot(snapshot: Snapshot, settleMs: number): AuditReport {
  const violations: Violation[] = [];
  const add = (v: Violation) => violations.push(v);
  const settledBefore = snapshot.nowMs - settleMs;

  const orderLines = groupBy(snapshot.orderLines, (l) => l.orderId);
  const reservations = new Map(snapshot.reservations.map((r) => [r.orderId, r]));
  const reservationLines = groupBy(snapshot.reservationLines, (l) => l.orderId);
  const payments = groupBy(snapshot.payments, (p) => p.orderId);
  const shipments = groupBy(snapshot.shipments, (s) => s.orderId);
  const statuses = (rows: EffectRow[]) => (rows.length === 0 ? 'none' : rows.map((r) => r.status).join(', '));

  let checkedOrders = 0;
  let inFlightOrders = 0;
  const orders = [...snapshot.orders].sort((a, b) => (a.orderId < b.orderId ? -1 : 1));
  for (const order of orders) {
    const orderId = order.orderId;
    // A customer's cancellation (CancelOrder) is in flight while the order is CANCELLING: judged
    // from when it began, not from when the order was placed.
    const since = order.status === 'CANCELLING' ? Number(order.updatedMs) : Number(order.createdMs);
    if (since > settledBefore) {
      inFlightOrders++;
      continue;
    }
    checkedOrders++;
    const reservation = reservations.get(orderId);
    const pays = payments.get(orderId) ?? [];
    const ships = shipments.get(orderId) ?? [];
    const captured = pays.filter((p) => p.status === 'CAPTURED');
    const scheduled = ships.filter((s) => s.status === 'SCHEDULED');
    const dispatched = ships.filter((s) => s.status === 'DISPATCHED');

    if (order.status === 'CONFIRMED') {
      if (reservation?.status !== 'COMMITTED') {
        add({
          class: 'CONFIRMED_STOCK_NOT_COMMITTED',
          orderId,
          message: `Order ${orderId} is CONFIRMED but its reservation is ${reservation?.status ?? 'missing'}`,
        });
      }
      if (captured.length === 0) {
        add({
          class: 'CONFIRMED_PAYMENT_NOT_CAPTURED',
          orderId,
          message: `Order ${orderId} is CONFIRMED but no payment is CAPTURED (payments: ${statuses(pays)})`,
        });
      } else if (captured.length === 1 && Number(captured[0]!.amountCents) !== Number(order.totalCents)) {
        add({
          class: 'CONFIRMED_PAYMENT_AMOUNT_MISMATCH',
          orderId,
          message: `Order ${orderId} totals ${order.totalCents ?? 'nothing'} cents but payment ${captured[0]!.paymentId} captured ${captured[0]!.amountCents}`,
        });
      }
      if (!ships.some((s) => SHIPMENT_LIVE.has(s.status))) {
        add({
          class: 'CONFIRMED_SHIPMENT_NOT_SCHEDULED',
          orderId,
          message: `Order ${orderId} is CONFIRMED but no shipment is SCHEDULED or DISPATCHED (shipments: ${statuses(ships)})`,
        });
      }
    } else if (order.status === 'CANCELLED') {
      if (reservation && STOCK_IN_USE.has(reservation.status)) {
        add({
          class: 'CANCELLED_STOCK_NOT_RELEASED',
          orderId,
          message: `Order ${orderId} is CANCELLED but its stock is ${reservation.status} (neither released nor returned)`,
        });
      }
      for (const p of captured) {
        add({
          class: 'CANCELLED_PAYMENT_NOT_REFUNDED',
          orderId,
          message: `Order ${orderId} is CANCELLED but payment ${p.paymentId} of ${p.amountCents} cents is CAPTURED`,
        });
      }
      if (scheduled.length > 0) {
        add({
          class: 'CANCELLED_SHIPMENT_NOT_CANCELLED',
          orderId,
          message: `Order ${orderId} is CANCELLED but its shipment is SCHEDULED`,
        });
      }
    } else {
      const age = snapshot.nowMs - since;
      const after = order.status === 'CANCELLING' ? 'its cancellation began' : 'it was created';
      add({
        class: 'ORDER_NOT_SETTLED',
        orderId,
        message: `Order ${orderId} is ${order.status} ${age} ms after ${after} (settle time ${settleMs} ms)`,
      });
    }
    if (order.status !== 'CONFIRMED' && dispatched.length > 0) {
      add({
        class: 'DISPATCHED_ORDER_NOT_CONFIRMED',
        orderId,
        message: `Order ${orderId}'s shipment is DISPATCHED but the order is ${order.status}`,
      });
    }

    if (reservation && STOCK_IN_USE.has(reservation.status)) {
      const wanted = lineSignature(orderLines.get(orderId) ?? []);
      const held = lineSignature(reservationLines.get(orderId) ?? []);
      if (wanted !== held) {
        add({
          class: 'RESERVATION_LINES_MISMATCH',
          orderId,
          message: `Order ${orderId} has lines [${wanted}] but its ${reservation.status} reservation holds [${held}]`,
        });
      }
    }
    if (pays.length > 1) {
      add({
        class: 'DUPLICATE_PAYMENT',
        orderId,
        message: `Order ${orderId} has ${pays.length} payments (${statuses(pays)})`,
      });
    }
    if (ships.length > 1) {
      add({
        class: 'DUPLICATE_SHIPMENT',
        orderId,
        message: `Order ${orderId} has ${ships.length} shipments (${statuses(ships)})`,
      });
    }
  }

  // Effects for orders the orders service never heard of (old enough to have settled).
  const known = new Set(snapshot.orders.map((o) => o.orderId));
  const orphans = new Map<string, string[]>();
  const orphan = (e: EffectRow, what: string) => {
    if (known.has(e.orderId) || Number(e.createdMs) > settledBefore) return;
    orphans.set(e.orderId, [...(orphans.get(e.orderId) ?? []), what]);
  };
  for (const r of snapshot.reservations) if (STOCK_IN_USE.has(r.status)) orphan(r, `stock ${r.status}`);
  for (const p of snapshot.payments)
    if (p.status === 'CAPTURED') orphan(p, `payment ${p.paymentId} of ${p.amountCents} cents CAPTURED`);
  for (const s of snapshot.shipments) if (SHIPMENT_LIVE.has(s.status)) orphan(s, `a shipment ${s.status}`);
  for (const [orderId, what] of [...orphans.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    add({ class: 'ORPHAN_EFFECT', orderId, message: `No order ${orderId} exists, yet: ${what.join('; ')}` });
  }

  // Per SKU: conservation, and the counters against the reservation ledger.
  const reservationStatus = new Map(snapshot.reservations.map((r) => [r.orderId, r.status]));
  const held = new Map<string, number>();
  const committed = new Map<string, number>();
  for (const l of snapshot.reservationLines) {
    const status = reservationStatus.get(l.orderId);
    const ledger = status === 'HELD' ? held : status === 'COMMITTED' ? committed : undefined;
    ledger?.set(l.sku, (ledger.get(l.sku) ?? 0) + Number(l.quantity));
  }
  const products = new Map(snapshot.products.map((p) => [p.sku, p]));
  const skus = [...new Set([...products.keys(), ...held.keys(), ...committed.keys()])].sort();
  let checkedSkus = 0;
  for (const sku of skus) {
    const p = products.get(sku);
    const h = held.get(sku) ?? 0;
    const c = committed.get(sku) ?? 0;
    if (!p) {
      add({
        class: 'STOCK_LEDGER_MISMATCH',
        sku,
        message: `Reservations hold ${h} and committed ${c} units of ${sku}, which is not a product`,
      });
      continue;
    }
    checkedSkus++;
    const [available, reserved, committedUnits, total] = [p.available, p.reserved, p.committed, p.stockTotal].map(
      Number,
    ) as [number, number, number, number];
    if (available < 0 || reserved < 0 || committedUnits < 0 || available + reserved + committedUnits !== total) {
      add({
        class: 'STOCK_NOT_CONSERVED',
        sku,
        message: `${sku}: available ${available} + reserved ${reserved} + committed ${committedUnits} = ${available + reserved + committedUnits}, but its stock total is ${total}`,
      });
    }
    if (reserved !== h || committedUnits !== c) {
      add({
        class: 'STOCK_LEDGER_MISMATCH',
        sku,
        message: `${sku}: counters say reserved ${reserved}, committed ${committedUnits}; its reservations hold ${h} and committed ${c}`,
      });
    }
  }

  const byClass = Object.fromEntries(VIOLATION_CLASSES.map((c) => [c, 0])) as Record<ViolationClass, number>;
  for (const v of violations) byClass[v.class]++;
  return {
    auditedAt: new Date(snapshot.nowMs).toISOString(),
    settleMs,
    checkedOrders,
    inFlightOrders,
    checkedSkus,
    violations,
    byClass,
  };
}

/** Reads the four service databases (read-only, one snapshot) and checks every invariant. */
export async function runAudit(opts: AuditOptions): Promise<AuditReport> {
  if (!/^[A-Za-z0-9_]*$/.test(opts.dbPrefix))
    throw new Error(`Refusing database prefix ${JSON.stringify(opts.dbPrefix)}`);
  if (!Number.isInteger(opts.settleMs) || opts.settleMs < 0)
    throw new Error(`settleMs must be a non-negative integer, got ${opts.settleMs}`);
  const url = new URL(opts.mysqlUrl);
  url.pathname = '/';
  const conn = await mysql.createConnection({ uri: url.toString(), supportBigNumbers: true, bigNumberStrings: false });
  try {
    // One snapshot across the four databases (they share the server): no row read is newer than another.
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const names = ['orders', 'inventory', 'payments', 'shipping'].map((n) => `${opts.dbPrefix}${n}`);
    const [present] = await conn.query(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)',
      [names],
    );
    const missing = names.filter((n) => !(present as { name: string }[]).some((p) => p.name === n));
    if (missing.length > 0)
      throw new Error(`Database(s) ${missing.join(', ')} do not exist on ${url.host} (is DB_PREFIX right?)`);
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    const snapshot = await readSnapshot(conn, opts.dbPrefix, opts.now).catch(
      (err: { code?: string; message?: string }) => {
        if (err.code === 'ER_BAD_FIELD_ERROR' || err.code === 'ER_NO_SUCH_TABLE') {
          throw new Error(
            `${err.message}: the service databases are not at the schema the auditor reads (start each service once to apply its migrations)`,
          );
        }
        throw err;
      },
    );
    await conn.query('COMMIT');
    return checkSnapshot(snapshot, opts.settleMs);
  } finally {
    await conn.end();
  }
}

/** The checks of the copies kept from events (copy vs source, no version ahead, lag drained): audit/event-checks.ts. */
export { runEventAudit, EVENT_VIOLATION_CLASSES, type EventAuditReport, type EventViolation } from './event-checks';

/** The whole audit: the orders' cross-service invariants and the copies kept from events (with `natsUrl`, consumer lag too). */
export async function runFullAudit(
  opts: AuditOptions & { natsUrl?: string },
): Promise<AuditReport & { events: EventAuditReport }> {
  const report = await runAudit(opts);
  const events = await runEventAudit({
    mysqlUrl: opts.mysqlUrl,
    dbPrefix: opts.dbPrefix,
    settleMs: opts.settleMs,
    natsUrl: opts.natsUrl,
  });
  return { ...report, events };
}

/**
 * The auditor's checks of the copies kept from events (lib/events/events.ts): each copy against its
 * source, no copy ahead of its source's version, every consumer drained and every outbox sent.
 *
 * Kept apart from the order invariants (auditor.ts's VIOLATION_CLASSES, which the API's `GET
 * /audit` contract lists) so that contract does not change: `npm run audit` runs both.
 *
 * Copies are judged against their sources only once the pipeline is drained (no outbox row
 * waiting, no consumer behind: then a copy that still differs is wrong, not late). With no broker
 * to ask (`natsUrl` unset), lag is not known and only what holds at any time is checked: no copy
 * ahead of its source, the same version holding the same value.
 */
import mysql from 'mysql2/promise';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectBroker } from '../lib/events/nats';
import { copiedNameSchema } from '../services/orders/contract';

export const EVENT_VIOLATION_CLASSES = [
  /** A copy differs from its source: same version, other value; or, drained, an older version than the source's. */
  'COPY_DIFFERS_FROM_SOURCE',
  /** A copy holds a newer version than its source has (a version went backwards at the source, or the copy was written from elsewhere). */
  'COPY_VERSION_AHEAD',
  /** Drained, an order's history (status, total, payment, shipment) is not what the owning services hold. */
  'HISTORY_DIFFERS_FROM_SOURCE',
  /** The history holds a newer version of an order, payment or shipment than its source's outbox ever wrote. */
  'HISTORY_VERSION_AHEAD',
  /** A durable consumer has events it has not acknowledged. */
  'CONSUMER_LAG',
  /** An outbox holds events older than the settle time that the broker never acknowledged. */
  'OUTBOX_BACKLOG',
] as const;
export type EventViolationClass = (typeof EVENT_VIOLATION_CLASSES)[number];

export interface EventViolation {
  class: EventViolationClass;
  orderId?: string;
  sku?: string;
  consumer?: string;
  message: string;
}

export interface EventAuditReport {
  /** Whether every consumer was at lag 0 and every outbox empty (false also when the broker was not asked). */
  drained: boolean;
  consumers: { stream: string; consumer: string; lag: number }[];
  checkedCopies: number;
  checkedHistory: number;
  violations: EventViolation[];
  byClass: Record<EventViolationClass, number>;
}

const SOURCES = ['orders', 'inventory', 'payments', 'shipping'] as const;

async function consumersLag(natsUrl: string): Promise<{ stream: string; consumer: string; lag: number }[]> {
  const nc = await connectBroker(natsUrl, 'auditor');
  try {
    const jsm = await jetstreamManager(nc);
    const out: { stream: string; consumer: string; lag: number }[] = [];
    for await (const s of jsm.streams.list()) {
      if (!s.config.name.startsWith('EVENTS_')) continue;
      for await (const c of jsm.consumers.list(s.config.name)) {
        out.push({ stream: s.config.name, consumer: c.name, lag: c.num_pending + c.num_ack_pending });
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Reads the databases (one snapshot) and, with `natsUrl`, the broker's consumers; checks the copies. */
export async function runEventAudit(opts: {
  mysqlUrl: string;
  dbPrefix: string;
  settleMs: number;
  natsUrl?: string;
}): Promise<EventAuditReport> {
  if (!/^[A-Za-z0-9_]*$/.test(opts.dbPrefix))
    throw new Error(`Refusing database prefix ${JSON.stringify(opts.dbPrefix)}`);
  const consumers = opts.natsUrl ? await consumersLag(opts.natsUrl) : [];
  const url = new URL(opts.mysqlUrl);
  url.pathname = '/';
  const conn = await mysql.createConnection({ uri: url.toString(), supportBigNumbers: true, bigNumberStrings: false });
  const db = (name: string) => `\`${opts.dbPrefix}${name}\``;
  const rows = async <T>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await conn.query(sql, params))[0] as T[];
  const violations: EventViolation[] = [];
  let checkedCopies = 0;
  let checkedHistory = 0;
  try {
    const [present] = await conn.query(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
      [`${opts.dbPrefix}order_history`],
    );
    const hasHistory = (present as unknown[]).length > 0;
    await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    let backlog = 0;
    for (const s of SOURCES) {
      const [b] = await rows<{ n: number; old: number }>(
        `SELECT COUNT(*) AS n, SUM(occurred_at < NOW(3) - INTERVAL ? MICROSECOND) AS old FROM ${db(s)}.outbox WHERE sent_at IS NULL`,
        [opts.settleMs * 1000],
      );
      backlog += Number(b!.n);
      if (Number(b!.old ?? 0) > 0) {
        violations.push({
          class: 'OUTBOX_BACKLOG',
          message: `${s}'s outbox holds ${b!.old} event(s) older than ${opts.settleMs} ms the broker never acknowledged`,
        });
      }
    }
    for (const c of consumers) {
      if (c.lag > 0)
        violations.push({
          class: 'CONSUMER_LAG',
          consumer: c.consumer,
          message: `Consumer ${c.consumer} on ${c.stream} has ${c.lag} event(s) not acknowledged`,
        });
    }
    const drained = opts.natsUrl !== undefined && backlog === 0 && consumers.every((c) => c.lag === 0);

    // Orders' product-name copies against inventory's products.
    const copies = await rows<{
      sku: string;
      name: string;
      version: number;
      sourceName: string | null;
      sourceVersion: number | null;
    }>(
      `SELECT c.sku, c.name, c.version, p.name AS sourceName, p.name_version AS sourceVersion
         FROM ${db('orders')}.product_names c LEFT JOIN ${db('inventory')}.products p ON p.sku = c.sku`,
    );
    for (const c of copies) {
      if (c.version === 0) continue; // a placeholder row of an interrupted first copy
      checkedCopies++;
      const sku = c.sku;
      if (c.sourceVersion === null) {
        violations.push({
          class: 'COPY_VERSION_AHEAD',
          sku,
          message: `Orders copies ${sku} at version ${c.version}, but inventory has no such product`,
        });
      } else if (c.version > c.sourceVersion) {
        violations.push({
          class: 'COPY_VERSION_AHEAD',
          sku,
          message: `Orders holds ${sku}'s name at version ${c.version}, inventory only at ${c.sourceVersion}`,
        });
      } else if (c.version === c.sourceVersion && c.name !== c.sourceName) {
        violations.push({
          class: 'COPY_DIFFERS_FROM_SOURCE',
          sku,
          message: `${sku} version ${c.version}: orders copies "${c.name}", inventory says "${c.sourceName}"`,
        });
      } else if (drained && c.version < c.sourceVersion && copiedNameSchema.safeParse(c.sourceName).success) {
        violations.push({
          class: 'COPY_DIFFERS_FROM_SOURCE',
          sku,
          message: `${sku}: drained, yet orders holds version ${c.version} ("${c.name}") and inventory ${c.sourceVersion} ("${c.sourceName}")`,
        });
      }
    }

    if (hasHistory) {
      const history = await rows<{
        orderId: string;
        orderStatus: string | null;
        totalCents: number | null;
        orderVersion: number;
        paymentStatus: string | null;
        paymentVersion: number;
        shipmentStatus: string | null;
        shipmentVersion: number;
        srcStatus: string | null;
        srcTotal: number | null;
        srcTombstone: number | null;
        srcOrderVersion: number | null;
        srcPaymentStatus: string | null;
        srcPaymentVersion: number | null;
        srcShipmentStatus: string | null;
        srcShipmentVersion: number | null;
      }>(
        `SELECT h.order_id AS orderId, h.order_status AS orderStatus, h.total_cents AS totalCents, h.order_version AS orderVersion,
                h.payment_status AS paymentStatus, h.payment_version AS paymentVersion, h.shipment_status AS shipmentStatus, h.shipment_version AS shipmentVersion,
                o.status AS srcStatus, o.total_cents AS srcTotal, o.tombstone AS srcTombstone, ov.version AS srcOrderVersion,
                p.status AS srcPaymentStatus, pv.version AS srcPaymentVersion, s.status AS srcShipmentStatus, sv.version AS srcShipmentVersion
           FROM ${db('order_history')}.order_history h
           LEFT JOIN ${db('orders')}.orders o ON o.order_id = h.order_id
           LEFT JOIN ${db('orders')}.outbox_versions ov ON ov.aggregate = 'order' AND ov.aggregate_id = h.order_id
           LEFT JOIN ${db('payments')}.payments p ON p.order_id = h.order_id
           LEFT JOIN ${db('payments')}.outbox_versions pv ON pv.aggregate = 'payment' AND pv.aggregate_id = h.order_id
           LEFT JOIN ${db('shipping')}.shipments s ON s.order_id = h.order_id
           LEFT JOIN ${db('shipping')}.outbox_versions sv ON sv.aggregate = 'shipment' AND sv.aggregate_id = h.order_id`,
      );
      for (const h of history) {
        checkedHistory++;
        const orderId = h.orderId;
        for (const [part, mine, theirs] of [
          ['order', h.orderVersion, h.srcOrderVersion],
          ['payment', h.paymentVersion, h.srcPaymentVersion],
          ['shipment', h.shipmentVersion, h.srcShipmentVersion],
        ] as const) {
          if (mine > Number(theirs ?? 0)) {
            violations.push({
              class: 'HISTORY_VERSION_AHEAD',
              orderId,
              message: `Order ${orderId}'s history holds its ${part} at version ${mine}; its source wrote up to ${theirs ?? 0}`,
            });
          }
        }
        if (!drained) continue;
        const diffs: string[] = [];
        if (
          h.orderStatus !== null &&
          (h.orderStatus !== h.srcStatus || Number(h.totalCents ?? -1) !== Number(h.srcTotal ?? -1))
        ) {
          diffs.push(`order ${h.orderStatus}/${h.totalCents} vs ${h.srcStatus}/${h.srcTotal}`);
        }
        if (
          h.paymentStatus !== h.srcPaymentStatus &&
          !(h.paymentStatus === null && ['PENDING', 'VOIDED'].includes(h.srcPaymentStatus ?? 'PENDING'))
        ) {
          diffs.push(`payment ${h.paymentStatus} vs ${h.srcPaymentStatus}`);
        }
        if (
          h.shipmentStatus !== h.srcShipmentStatus &&
          !(h.shipmentStatus === null && ['PENDING', 'CANCELLED'].includes(h.srcShipmentStatus ?? 'PENDING'))
        ) {
          diffs.push(`shipment ${h.shipmentStatus} vs ${h.srcShipmentStatus}`);
        }
        if (diffs.length > 0)
          violations.push({
            class: 'HISTORY_DIFFERS_FROM_SOURCE',
            orderId,
            message: `Order ${orderId}, drained: ${diffs.join('; ')}`,
          });
      }
      if (drained) {
        // Orders the services hold that the history never heard of (tombstones never existed as orders: no event).
        const missing = await rows<{ orderId: string }>(
          `SELECT o.order_id AS orderId FROM ${db('orders')}.orders o LEFT JOIN ${db('order_history')}.order_history h ON h.order_id = o.order_id
            WHERE o.status <> 'NEW' AND o.tombstone = 0 AND (h.order_id IS NULL OR h.order_status IS NULL)`,
        );
        for (const m of missing)
          violations.push({
            class: 'HISTORY_DIFFERS_FROM_SOURCE',
            orderId: m.orderId,
            message: `Order ${m.orderId} is not in the order history, drained`,
          });
      }
    }
    await conn.query('COMMIT');
    const byClass = Object.fromEntries(EVENT_VIOLATION_CLASSES.map((c) => [c, 0])) as Record<
      EventViolationClass,
      number
    >;
    for (const v of violations) byClass[v.class]++;
    return { drained, consumers, checkedCopies, checkedHistory, violations, byClass };
  } finally {
    await conn.end();
  }
}

/**
 * Durable JetStream consumers that keep a service's local copies of other services' data.
 *
 *   stream ──fetch──► parse ──► BEGIN; INSERT inbox(event_id); apply (version check); COMMIT ──► ack
 *
 * Each event is applied in one transaction with its inbox row (the event ID is the primary key), so
 * a redelivery (the ack was lost, the process died after the commit) finds the row and changes
 * nothing. `apply` compares versions: an event older than what the copy holds changes nothing either.
 * The consumer is durable (the broker remembers what was acknowledged): a process that was down
 * resumes where it stopped; a new consumer name (a new read model, or a rebuild) starts at the
 * beginning of the stream, which keeps every event (limits retention, lib/events/nats.ts).
 */
import { eq } from 'drizzle-orm';
import type { RowDataPacket } from 'mysql2';
import { char, bigint, mysqlTable, timestamp, varchar } from 'drizzle-orm/mysql-core';
import { AckPolicy, DeliverPolicy, jetstream, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { inTransaction, mysqlErrorCode, type Db, type Tx } from '../db';
import { parseEvent, streamOf, type EventEnvelope, type EventSource } from './events';
import { BrokerLoop, brokerTopology, connectBroker, ensureStream, jetstreamOf } from './nats';

/** The inbox every consuming service includes in its schema: one row per applied event. */
export const inbox = mysqlTable('inbox', {
  eventId: char('event_id', { length: 36 }).primaryKey(),
  consumer: varchar('consumer', { length: 64 }).notNull(),
  type: varchar('type', { length: 64 }).notNull(),
  streamSeq: bigint('stream_seq', { mode: 'number', unsigned: true }).notNull(),
  /** What `apply` did: applied, or stale (older than the copy), or ignored (not for this copy). */
  outcome: varchar('outcome', { length: 16 }).notNull(),
  appliedAt: timestamp('applied_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
});

export type ApplyOutcome = 'applied' | 'stale' | 'ignored';

export interface EventConsumerSpec<TSchema extends Record<string, unknown>> {
  /** The durable consumer's name on the broker (unique per copy: a new name reads from the start). */
  name: string;
  /** Whose stream it reads. */
  source: EventSource;
  /** Only these subjects (default: the whole stream). */
  filterSubjects?: string[];
  /** Applies one event to the copy, inside the inbox transaction; compares versions itself. */
  apply: (tx: Tx<TSchema>, event: EventEnvelope) => Promise<ApplyOutcome>;
}

export interface EventConsumerOptions<TSchema extends Record<string, unknown>> extends EventConsumerSpec<TSchema> {
  natsUrl: string;
  /** Copies of the stream the broker keeps, should this consumer be the one to create it (NATS_STREAM_REPLICAS; default 1). */
  replicas?: number;
  db: Db<TSchema>;
  logger: Logger;
  registry?: Registry;
  batchSize?: number;
}

export interface EventConsumer {
  readonly name: string;
  /** Events in the stream this consumer has not acknowledged yet (from the broker), or undefined while it is unreachable. */
  lag(): Promise<number | undefined>;
  /** Resolves once the lag is 0 (or rejects after `timeoutMs`). */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The durable consumer's broker config: every event from the first, each acknowledged explicitly. */
export function consumerConfig(name: string, filterSubjects?: string[]) {
  return {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: 30_000_000_000,
    max_ack_pending: 1000,
    ...(filterSubjects && filterSubjects.length > 0 ? { filter_subjects: filterSubjects } : {}),
  };
}

/** Lag of a durable consumer: events not yet delivered plus delivered but not acknowledged. */
export async function consumerLag(jsm: JetStreamManager, source: EventSource, name: string): Promise<number> {
  const info = await jsm.consumers.info(streamOf(source).name, name);
  return info.num_pending + info.num_ack_pending;
}

const metricCache = new WeakMap<Registry, { handled: Counter; errors: Counter; lag: Gauge }>();
const lagSources = new WeakMap<Registry, Map<string, () => Promise<number | undefined>>>();

function consumerMetrics(registry: Registry) {
  let m = metricCache.get(registry);
  if (!m) {
    const sources = new Map<string, () => Promise<number | undefined>>();
    lagSources.set(registry, sources);
    m = {
      handled: new Counter({
        name: 'event_consumer_events_total',
        help: 'Events handled, by consumer and outcome (applied, stale, ignored, duplicate, poison)',
        labelNames: ['consumer', 'outcome'],
        registers: [registry],
      }),
      errors: new Counter({
        name: 'event_consumer_errors_total',
        help: 'Failed attempts to apply an event or reach the broker',
        labelNames: ['consumer'],
        registers: [registry],
      }),
      lag: new Gauge({
        name: 'event_consumer_lag',
        help: 'Events in the stream not yet acknowledged by the consumer (asked of the broker at scrape time)',
        labelNames: ['consumer'],
        registers: [registry],
        async collect() {
          for (const [name, lag] of sources) {
            const value = await lag().catch(() => undefined);
            if (value !== undefined) this.set({ consumer: name }, value);
          }
        },
      }),
    };
    metricCache.set(registry, m);
  }
  return m;
}

/** Starts a durable consumer loop; `stop()` ends it (the broker keeps its position). */
export function startEventConsumer<TSchema extends Record<string, unknown>>(
  opts: EventConsumerOptions<TSchema>,
): EventConsumer {
  const stream = streamOf(opts.source).name;
  const log = opts.logger.child({ component: 'event-consumer', consumer: opts.name, stream });
  const metrics = opts.registry ? consumerMetrics(opts.registry) : undefined;
  let nc: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  let stopped = false;
  const pace = new BrokerLoop();

  const lag = async () => (jsm ? consumerLag(jsm, opts.source, opts.name) : undefined);
  if (opts.registry) lagSources.get(opts.registry)!.set(opts.name, lag);

  /** Applies one message; true when it can be acknowledged. */
  const handle = async (msg: JsMsg): Promise<void> => {
    let event: EventEnvelope;
    try {
      event = parseEvent(msg.data);
    } catch (err) {
      // A message no version of this code can read: retrying will not help. Kept in the stream; logged.
      log.error(
        { err: err instanceof Error ? err.message : String(err), streamSeq: msg.seq },
        'event does not match its schema; skipped',
      );
      metrics?.handled.inc({ consumer: opts.name, outcome: 'poison' });
      msg.term();
      return;
    }
    let outcome: ApplyOutcome | 'duplicate';
    try {
      outcome = await inTransaction(opts.db, async (tx) => {
        try {
          await tx.insert(inbox).values({
            eventId: event.eventId,
            consumer: opts.name,
            type: event.type,
            streamSeq: msg.seq,
            outcome: 'applied',
          });
        } catch (err) {
          if (mysqlErrorCode(err) === 'ER_DUP_ENTRY') return 'duplicate' as const;
          throw err;
        }
        const result = await opts.apply(tx, event);
        if (result !== 'applied') await tx.update(inbox).set({ outcome: result }).where(eqEventId(event.eventId));
        return result;
      });
    } catch (err) {
      metrics?.errors.inc({ consumer: opts.name });
      log.warn(
        { err: err instanceof Error ? err.message : String(err), eventId: event.eventId, type: event.type },
        'applying an event failed; it will be redelivered',
      );
      msg.nak(1000);
      return;
    }
    metrics?.handled.inc({ consumer: opts.name, outcome });
    msg.ack();
  };

  const connectOnce = async () => {
    nc = await connectBroker(opts.natsUrl, `${opts.name}-consumer`);
    jsm = await jetstreamOf(nc, opts.natsUrl);
    await ensureStream(jsm, opts.source, { replicas: opts.replicas, broker: brokerTopology(nc) });
    try {
      await jsm.consumers.info(stream, opts.name);
    } catch {
      await jsm.consumers.add(stream, consumerConfig(opts.name, opts.filterSubjects));
      log.info('durable consumer created: reading the stream from its first event');
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        if (!nc || nc.isClosed()) await connectOnce();
        const consumer = await jetstream(nc!).consumers.get(stream, opts.name);
        while (!stopped) {
          const batch = await consumer.fetch({ max_messages: opts.batchSize ?? 200, expires: 1000 });
          for await (const msg of batch) {
            await handle(msg);
            if (metrics) metrics.lag.set({ consumer: opts.name }, msg.info.pending);
          }
          const afterFailures = pace.succeeded();
          if (afterFailures > 0) log.info({ afterFailures }, 'event consumer is reading again');
        }
      } catch (err) {
        if (stopped) break;
        metrics?.errors.inc({ consumer: opts.name });
        const { message, isNew } = pace.failed(err);
        if (isNew) {
          log.error(
            { err: message, natsUrl: opts.natsUrl },
            'event consumer cannot read its stream; the copy is stale until it can, retrying',
          );
        }
        if (!jsm) {
          await nc?.close().catch(() => undefined);
          nc = undefined;
        }
        await pace.backoff();
      }
    }
  })();

  return {
    name: opts.name,
    lag,
    async caughtUp(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const n = await lag().catch(() => undefined);
        if (n === 0) return;
        if (Date.now() > deadline)
          throw new Error(
            `consumer ${opts.name} not caught up after ${timeoutMs} ms (lag ${n ?? 'unknown'}; ${pace.lastError ?? 'no error'})`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      stopped = true;
      pace.wake();
      await nc?.drain().catch(() => undefined);
      await loop;
      await nc?.close().catch(() => undefined);
      if (opts.registry) lagSources.get(opts.registry)?.delete(opts.name);
    },
  };
}

/** Inbox rows a consumer wrote (for tests and the auditor). */
export type InboxRow = RowDataPacket & { event_id: string; consumer: string; outcome: string };

const eqEventId = (eventId: string) => eq(inbox.eventId, eventId);

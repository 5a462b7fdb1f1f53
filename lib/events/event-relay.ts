/**
 * The outbox relay every service runs (a background loop in its process, lib/service.ts): reads
 * the unsent rows of its outbox in `seq` order, publishes each to the service's stream with
 * `Nats-Msg-Id` = the event ID, and marks them sent only after the broker acknowledged them.
 *
 *   change + outbox row ──commit──► relay ──publish(msgID)──► JetStream ──ack──► mark sent
 *
 * A relay killed between the publish and the mark publishes those rows again when it restarts; the
 * broker recognises their message IDs (within the stream's duplicate window, lib/events/nats.ts) and drops
 * them, answering with `duplicate: true`: nothing is lost (the rows were not marked) and nothing is
 * duplicated. While the broker is away the service keeps working and the outbox grows; the relay
 * says so once, retries with backoff, and drains the backlog when the broker is back.
 *
 * Order: rows are published in outbox order, a batch pipelined on one connection (the broker keeps
 * their order). Only the acknowledged prefix of a batch is marked; a publish that failed in the
 * middle is retried with the rest, so across such a failure a later event can land before an
 * earlier one of another aggregate. Per aggregate, the consumers' version check keeps them right.
 */
import type mysql from 'mysql2/promise';
import type { RowDataPacket, ResultSetHeader } from 'mysql2';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { streamOf, type EventSource } from './events';
import { BrokerLoop, brokerTopology, connectBroker, ensureStream, jetstreamOf } from './nats';

export interface EventRelayOptions {
  source: EventSource;
  natsUrl: string;
  /** Copies of the stream the broker keeps (NATS_STREAM_REPLICAS; default 1). */
  replicas?: number;
  /** The service's own database pool (its `outbox` table). */
  pool: mysql.Pool;
  logger: Logger;
  /** Where `outbox_backlog` and the relay's counters go (the service's /metrics). */
  registry?: Registry;
  batchSize?: number;
  /** Idle poll interval when the outbox is empty. */
  pollMs?: number;
  /** Sent rows older than this are deleted (the stream keeps the events). */
  retentionHours?: number;
  /**
   * Runs after a batch was acknowledged by the broker and before it is marked sent: the window a
   * crash must not lose or duplicate anything in. Tests throw here to crash the relay at that point.
   */
  afterPublish?: (published: number) => Promise<void> | void;
}

export interface EventRelay {
  /** Rows not yet acknowledged by the broker. */
  backlog(): Promise<number>;
  /** Resolves when the outbox is empty (or rejects after `timeoutMs`). */
  drained(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface OutboxRow extends RowDataPacket {
  seq: number;
  event_id: string;
  subject: string;
  body: string;
}

const metricCache = new WeakMap<Registry, { published: Counter; errors: Counter; connected: Gauge }>();

function relayMetrics(registry: Registry, backlog: () => Promise<{ count: number; oldestSeconds: number }>) {
  let m = metricCache.get(registry);
  if (!m) {
    m = {
      published: new Counter({
        name: 'outbox_published_total',
        help: 'Outbox events acknowledged by the broker, by source and whether the broker recognised a republished duplicate',
        labelNames: ['source', 'duplicate'],
        registers: [registry],
      }),
      errors: new Counter({
        name: 'outbox_relay_errors_total',
        help: 'Relay rounds that failed (broker or database unreachable)',
        labelNames: ['source'],
        registers: [registry],
      }),
      connected: new Gauge({
        name: 'outbox_relay_connected',
        help: '1 while the relay holds a broker connection',
        labelNames: ['source'],
        registers: [registry],
      }),
    };
    metricCache.set(registry, m);
    new Gauge({
      name: 'outbox_backlog',
      help: 'Outbox events not yet acknowledged by the broker (read from the outbox at scrape time)',
      registers: [registry],
      async collect() {
        this.set((await backlog()).count);
      },
    });
    new Gauge({
      name: 'outbox_oldest_unsent_seconds',
      help: 'Age of the oldest outbox event not yet acknowledged by the broker (0 when none)',
      registers: [registry],
      async collect() {
        this.set((await backlog()).oldestSeconds);
      },
    });
  }
  return m;
}

/** Starts the relay loop; `stop()` ends it and closes its broker connection. */
export function startEventRelay(opts: EventRelayOptions): EventRelay {
  const { source, pool, logger } = opts;
  const batchSize = opts.batchSize ?? 100;
  const pollMs = opts.pollMs ?? 50;
  const stream = streamOf(source).name;
  const log = logger.child({ component: 'outbox-relay', stream });

  const backlog = async () => {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n, COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(occurred_at), NOW(3)), 0) / 1e6 AS age FROM outbox WHERE sent_at IS NULL',
    );
    return { count: Number(rows[0]!.n), oldestSeconds: Number(rows[0]!.age) };
  };
  const metrics = opts.registry ? relayMetrics(opts.registry, backlog) : undefined;

  let stopped = false;
  const pace = new BrokerLoop();

  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  let lastPrune = 0;

  const connectOnce = async () => {
    nc = await connectBroker(opts.natsUrl, `${source}-outbox-relay`);
    const jsm = await jetstreamOf(nc, opts.natsUrl);
    await ensureStream(jsm, source, { replicas: opts.replicas, broker: brokerTopology(nc) });
    js = jetstream(nc, { timeout: 5000 });
    metrics?.connected.set({ source }, 1);
  };

  const round = async (): Promise<number> => {
    if (!js || !nc || nc.isClosed()) await connectOnce();
    const [rows] = await pool.query<OutboxRow[]>(
      'SELECT seq, event_id, subject, body FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?',
      [batchSize],
    );
    if (rows.length === 0) return 0;
    const results = await Promise.allSettled(
      rows.map((r) =>
        js!.publish(r.subject, r.body, { msgID: r.event_id, expect: { streamName: stream }, timeout: 5000 }),
      ),
    );
    const acked: { seq: number; streamSeq: number; duplicate: boolean }[] = [];
    let failure: unknown;
    for (let i = 0; i < rows.length; i++) {
      const r = results[i]!;
      if (r.status === 'rejected') {
        failure = r.reason;
        break;
      }
      acked.push({ seq: rows[i]!.seq, streamSeq: r.value.seq, duplicate: r.value.duplicate });
    }
    if (acked.length > 0) {
      await opts.afterPublish?.(acked.length);
      const cases = acked.map(() => 'WHEN ? THEN ?').join(' ');
      await pool.query<ResultSetHeader>(
        `UPDATE outbox SET sent_at = NOW(3), stream_seq = CASE seq ${cases} END WHERE seq IN (?)`,
        [...acked.flatMap((a) => [a.seq, a.streamSeq]), acked.map((a) => a.seq)],
      );
      const dups = acked.filter((a) => a.duplicate).length;
      if (dups > 0) metrics?.published.inc({ source, duplicate: 'true' }, dups);
      if (acked.length > dups) metrics?.published.inc({ source, duplicate: 'false' }, acked.length - dups);
    }
    if (failure !== undefined) throw failure;
    return acked.length;
  };

  const prune = async () => {
    if (Date.now() - lastPrune < 60_000) return;
    lastPrune = Date.now();
    await pool.query('DELETE FROM outbox WHERE sent_at < NOW(3) - INTERVAL ? HOUR LIMIT 5000', [
      opts.retentionHours ?? 24,
    ]);
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        const published = await round();
        const afterFailures = pace.succeeded();
        if (afterFailures > 0) log.info({ afterFailures }, 'outbox relay is publishing again');
        await prune();
        if (published < batchSize) await pace.sleep(pollMs);
      } catch (err) {
        if (stopped) break;
        metrics?.errors.inc({ source });
        metrics?.connected.set({ source }, nc && !nc.isClosed() ? 1 : 0);
        const { message, isNew } = pace.failed(err);
        if (isNew) {
          const waiting = await backlog().then(
            (b) => b.count,
            () => undefined,
          );
          log.error(
            { err: message, backlog: waiting, natsUrl: opts.natsUrl },
            'outbox relay cannot publish; events wait in the outbox and the relay keeps retrying',
          );
        }
        // A connection that never came up is dropped and made again; an established one reconnects by itself.
        if (!js) {
          await nc?.close().catch(() => undefined);
          nc = undefined;
        }
        await pace.backoff();
      }
    }
  })();

  return {
    backlog: async () => (await backlog()).count,
    async drained(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await backlog()).count > 0) {
        if (Date.now() > deadline)
          throw new Error(
            `${source} outbox not drained after ${timeoutMs} ms (${(await backlog()).count} left; ${pace.lastError ?? 'no error'})`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      stopped = true;
      pace.wake();
      await loop;
      metrics?.connected.set({ source }, 0);
      await nc?.close().catch(() => undefined);
    },
  };
}

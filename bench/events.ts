/**
 * `npm run bench:events`: what JetStream's `sync_interval: always` (fsync each write before its
 * ack) costs on the event path, against the server's default (fsync every 2 minutes), on one
 * nats-server and on a three-node cluster with 3-replica streams. Rounds alternate the settings
 * (default, always, default, always, ...) on a fresh broker each, so drift over the run hits both.
 *
 * Each round measures, against a real MySQL outbox (a scratch database with the outbox tables of
 * the services' migrations):
 * - **relay drain**: `BENCH_EVENTS` outbox rows written first, then the real outbox relay
 *   (lib/events/event-relay.ts, batches of 100 pipelined on one connection) started; events/s until the
 *   outbox is empty (every row acknowledged by the broker and marked sent);
 * - **publish-ack latency**: `BENCH_ACKS` publishes one at a time, with the relay's own call
 *   (`js.publish(subject, body, { msgID, expect: { streamName } })`): p50 and p99 of publish to ack,
 *   what one event waits when the outbox trickles.
 *
 * Writes docs/bench/jetstream-sync.json and prints the Markdown table of docs/bench/jetstream-sync.md.
 * Knobs (env): BENCH_EVENTS (2000), BENCH_ACKS (500), BENCH_ROUNDS (3 per setting),
 * BENCH_TOPOLOGIES (single,cluster), BENCH_OUT (docs/bench), MYSQL_URL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { startNatsCluster, startNatsServer, type NatsSync } from '../harness/nats-server';
import { dropDatabase, inTransaction, openDatabase } from '../lib/db';
import { startEventRelay } from '../lib/events/event-relay';
import { streamOf, subjectOf } from '../lib/events/events';
import { createLogger } from '../lib/logger';
import { connectBroker, ensureStreams } from '../lib/events/nats';
import { outbox, outboxVersions, recordEvent } from '../lib/events/outbox';

const root = path.resolve(__dirname, '..');
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const EVENTS = num('BENCH_EVENTS', 2000);
const ACKS = num('BENCH_ACKS', 500);
const ROUNDS = num('BENCH_ROUNDS', 3);
const TOPOLOGIES = (process.env.BENCH_TOPOLOGIES ?? 'single,cluster').split(',') as Topology[];
const OUT = path.resolve(root, process.env.BENCH_OUT ?? 'docs/bench');
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const logger = createLogger('bench-events', 'silent');

type Topology = 'single' | 'cluster';
interface Round {
  topology: Topology;
  sync: NatsSync;
  round: number;
  drainEventsPerS: number;
  ackP50Ms: number;
  ackP99Ms: number;
}

const schema = { outbox, outboxVersions };
type Schema = typeof schema;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

async function runRound(
  database: Awaited<ReturnType<typeof openDatabase<Schema>>>,
  topology: Topology,
  sync: NatsSync,
  round: number,
): Promise<Round> {
  // The stores go to os.tmpdir(): check it is a real disk (here ext4), not a tmpfs, where an fsync costs nothing.
  const broker = topology === 'single' ? await startNatsServer({ sync }) : await startNatsCluster({ nodes: 3, sync });
  const url = broker.url;
  const replicas = topology === 'single' ? 1 : 3;
  try {
    await ensureStreams(url, replicas);
    await database.pool.query('DELETE FROM outbox');
    await database.pool.query('DELETE FROM outbox_versions');

    // Relay drain: the outbox holds EVENTS rows, then the relay publishes them all.
    for (let i = 0; i < EVENTS; i += 100) {
      await inTransaction(database.db, async (tx) => {
        for (let j = i; j < Math.min(EVENTS, i + 100); j++) {
          const sku = `BENCH-${j % 50}`;
          await recordEvent(tx, 'ProductCreated', sku, { sku, name: `Bench ${j}`, nameVersion: 1, priceCents: 100 });
        }
      });
    }
    const started = performance.now();
    const relay = startEventRelay({
      source: 'inventory',
      natsUrl: url,
      replicas,
      pool: database.pool,
      logger,
      pollMs: 5,
      batchSize: 100,
    });
    try {
      await relay.drained(300_000);
    } finally {
      await relay.stop();
    }
    const drainS = (performance.now() - started) / 1000;

    // Publish-ack latency: one at a time, the relay's call.
    const nc = await connectBroker(url, 'bench-events');
    const latencies: number[] = [];
    try {
      const js = jetstream(nc, { timeout: 5000 });
      const stream = streamOf('inventory').name;
      const subject = subjectOf('ProductCreated');
      const body = JSON.stringify({ bench: randomBytes(200).toString('base64') });
      for (let i = 0; i < ACKS; i++) {
        const t = performance.now();
        await js.publish(subject, body, { msgID: randomUUID(), expect: { streamName: stream }, timeout: 5000 });
        latencies.push(performance.now() - t);
      }
    } finally {
      await nc.close();
    }
    latencies.sort((a, b) => a - b);
    return {
      topology,
      sync,
      round,
      drainEventsPerS: Math.round(EVENTS / drainS),
      ackP50Ms: Number(percentile(latencies, 50).toFixed(2)),
      ackP99Ms: Number(percentile(latencies, 99).toFixed(2)),
    };
  } finally {
    await broker.stop();
  }
}

async function main(): Promise<void> {
  const name = `bench_events_${randomBytes(3).toString('hex')}`;
  const database = await openDatabase({
    mysqlUrl: MYSQL_URL,
    name,
    schema,
    // the outbox tables as every service migrates them (a path, not an import: bench/ reads no service code)
    migrationsFolder: path.join(root, 'services/inventory/migrations'),
    poolSize: 4,
  });
  const rounds: Round[] = [];
  try {
    for (const topology of TOPOLOGIES) {
      for (let r = 0; r < ROUNDS; r++) {
        for (const sync of ['default', 'always'] as const) {
          const result = await runRound(database, topology, sync, r + 1);
          rounds.push(result);
          console.error(JSON.stringify(result));
        }
      }
    }
  } finally {
    await database.close();
    await dropDatabase(MYSQL_URL, name);
  }

  const summary = TOPOLOGIES.flatMap((topology) =>
    (['default', 'always'] as const).map((sync) => {
      const of = rounds.filter((r) => r.topology === topology && r.sync === sync);
      return {
        topology,
        sync,
        drainEventsPerS: median(of.map((r) => r.drainEventsPerS)),
        ackP50Ms: median(of.map((r) => r.ackP50Ms)),
        ackP99Ms: median(of.map((r) => r.ackP99Ms)),
      };
    }),
  );
  mkdirSync(OUT, { recursive: true });
  writeFileSync(
    path.join(OUT, 'jetstream-sync.json'),
    `${JSON.stringify(
      {
        measuredAt: new Date().toISOString(),
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, platform: `${os.platform()} ${os.release()}` },
        settings: { events: EVENTS, acks: ACKS, roundsPerSetting: ROUNDS },
        summary,
        rounds,
      },
      null,
      2,
    )}\n`,
  );
  const rows = summary.map((s) => {
    const base = summary.find((b) => b.topology === s.topology && b.sync === 'default')!;
    const vs = s.sync === 'default' ? '' : ` (${((s.drainEventsPerS / base.drainEventsPerS - 1) * 100).toFixed(0)} %)`;
    return `| ${s.topology === 'single' ? 'one nats-server, R1' : 'three-node cluster, R3'} | ${s.sync === 'always' ? '`always`' : 'default (2 min)'} | ${s.drainEventsPerS}${vs} | ${s.ackP50Ms} | ${s.ackP99Ms} |`;
  });
  console.log(
    [
      '| broker | sync_interval | relay drain, events/s | publish→ack p50, ms | p99, ms |',
      '|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});

/**
 * A three-node Temporal cluster and a three-node JetStream cluster lose a node each under load and
 * lose nothing (`npm run test:cluster` only: *.cluster.test.ts). Three Temporal server processes
 * with every role on one PostgreSQL, behind the local balancer; three nats-servers with 3-replica
 * streams (sync always); three workers, the four services with their outbox relays, order-history
 * and the API. While 300 PlaceOrder and 20 RenameProduct sagas run (closed loop, a few in flight:
 * the machine has two cores), one Temporal node is SIGKILLed, then two of the three workers, then a
 * NATS node; then the workers and the nodes come back. Every saga must end, none STUCK, the auditor
 * clean; every outbox row is in its stream exactly once and every consumer (order-history, the
 * product-name copies) converges. The test prints how long sagas stalled while the Temporal node was
 * gone and how long everything took to converge after the last restart.
 */
import { Client, Connection } from '@temporalio/client';
import mysql from 'mysql2/promise';
import { runAudit } from '../audit/auditor';
import { runEventAudit } from '../audit/event-checks';
import { streamMessages, waitForConsumers } from '../harness/event-load';
import { EVENT_SOURCES } from '../lib/events/events';
import { PRODUCT_NAMES_CONSUMER } from '../services/orders/product-name-copies';
import { seedProduct, startProcessStack, STACK_API_TOKEN, type ProcessStack } from '../harness/process-stack';
import { sagaEnd } from './saga-end';

const ORDERS = 300;
const RENAMES = 20;
const IN_FLIGHT = 6;
/** Faults start once this many sagas were sent (the cluster is warm and every node holds work). */
const FAULTS_AFTER = 60;
const SKUS = ['A', 'B', 'C', 'D'];
const TERMINAL = new Set(['COMPLETED', 'COMPENSATED', 'CANCELLED', 'RESOLVED_MANUALLY', 'STUCK']);
const auth = { authorization: `Bearer ${STACK_API_TOKEN}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: ProcessStack;

beforeAll(async () => {
  stack = await startProcessStack({
    label: 'tnodes',
    temporal: 'cluster',
    temporalNodes: 3,
    workers: 3,
    withApi: true,
    withEvents: true,
    natsNodes: 3,
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
}, 90_000);

/** One start, retried with its key until the API answers it (a dropped connection or a 5xx while a node is gone). */
async function startSaga(path: string, body: unknown, key: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${stack.urls.api}${path}?wait=true`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const json = (await res.json()) as { sagaId?: string; error?: { details?: { sagaId?: string } } };
      const sagaId = json.sagaId ?? json.error?.details?.sagaId;
      if (res.status < 500 && sagaId) return sagaId;
    } catch {
      // the API's answer was lost: the same key finds the same saga
    }
    if (attempt > 120) throw new Error(`no answer to ${path} (${key}) after ${attempt} attempts`);
    await sleep(500);
  }
}

/** Waits (closed loop) until the saga's view is terminal, so at most IN_FLIGHT sagas are open. */
async function awaitEnd(sagaId: string): Promise<void> {
  for (const until = Date.now() + 180_000; Date.now() < until;) {
    try {
      const res = await fetch(`${stack.urls.api}/sagas/${sagaId}`, {
        headers: auth,
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok && TERMINAL.has(((await res.json()) as { status: string }).status)) return;
    } catch {
      // a node or the API's connection is changing: ask again
    }
    await sleep(250);
  }
}

test('when one of three Temporal nodes and two of three workers are SIGKILLed under load, then every saga ends, none is STUCK and the audit is clean', async () => {
  const cluster = stack.temporalCluster!;
  expect(cluster.nodes.map((n) => n.name)).toEqual(['temporal-1', 'temporal-2', 'temporal-3']);
  const sku = (k: number) => `${stack.dbPrefix}NODE-${SKUS[k % SKUS.length]}`;
  for (let k = 0; k < SKUS.length; k++)
    await seedProduct(stack, sku(k), { name: `Node ${SKUS[k]}`, priceCents: 800 + 100 * k, available: 100_000 });

  // the work: 300 orders with a rename every 15th, pulled by IN_FLIGHT lanes
  type Job = { kind: 'order' | 'rename'; n: number };
  const jobs: Job[] = [];
  for (let i = 0, r = 0; i < ORDERS; i++) {
    jobs.push({ kind: 'order', n: i });
    if (i % 15 === 14 && r < RENAMES) jobs.push({ kind: 'rename', n: r++ });
  }
  expect(jobs.filter((j) => j.kind === 'rename')).toHaveLength(RENAMES);

  const sagaIds: string[] = [];
  const events: { at: number; what: string }[] = [];
  const mark = (what: string) => events.push({ at: Date.now(), what });
  const node = cluster.nodes[0]!; // the node that set the database up
  const natsNode = stack.natsCluster!.node('nats-2');
  let faults: Promise<void> | undefined;
  const runFaults = async () => {
    mark(`SIGKILL ${node.name}`);
    await node.kill('SIGKILL');
    await sleep(8_000);
    mark('SIGKILL worker-2');
    await stack.get('worker-2').kill('SIGKILL');
    await sleep(4_000);
    mark('SIGKILL worker-3');
    await stack.get('worker-3').kill('SIGKILL');
    await sleep(4_000);
    mark('SIGKILL nats-2');
    await natsNode.process.kill('SIGKILL');
    await sleep(4_000);
    await Promise.all([stack.get('worker-2').restart(), stack.get('worker-3').restart()]);
    mark('workers back');
    await sleep(4_000);
    await natsNode.process.restart();
    mark('nats-2 back');
    await sleep(4_000);
    await node.start();
    mark(`${node.name} back`);
  };

  let next = 0;
  const lane = async () => {
    for (;;) {
      const job = jobs[next++];
      if (!job) return;
      if (next === FAULTS_AFTER) faults = runFaults();
      const sagaId =
        job.kind === 'order'
          ? await startSaga(
              '/orders',
              {
                customerId: `node-${job.n % 11}`,
                items: [{ sku: sku(job.n), quantity: 1 + (job.n % 2) }],
                // a declined card now and then: those sagas compensate
                payment: { cardNumber: job.n % 10 === 9 ? '4000000000000002' : '4242424242424242' },
                shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'London', postalCode: 'N1', country: 'GB' },
              },
              `${stack.dbPrefix}order-${job.n}`,
            )
          : await startSaga(
              `/products/${encodeURIComponent(sku(job.n))}/rename`,
              { name: `Node ${SKUS[job.n % SKUS.length]} v${job.n}` },
              `${stack.dbPrefix}rename-${job.n}`,
            );
      sagaIds.push(sagaId);
      await awaitEnd(sagaId);
    }
  };
  const loadStart = Date.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  await faults;
  const lastRestart = events.at(-1)!.at;
  expect(sagaIds).toHaveLength(ORDERS + RENAMES);
  expect(new Set(sagaIds).size).toBe(ORDERS + RENAMES);

  // Every saga's end from Temporal itself (through the balancer, like every client).
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  const ends = new Map<string, { status: string; startedAt: number; closedAt?: number }>();
  try {
    for (const until = Date.now() + 120_000; ends.size < sagaIds.length && Date.now() < until;) {
      for (const id of sagaIds.filter((s) => !ends.has(s))) {
        const d = await client.workflow.getHandle(id).describe();
        const end = sagaEnd(d);
        if (end) ends.set(id, { ...end, startedAt: d.startTime.getTime() });
      }
      if (ends.size < sagaIds.length) await sleep(1000);
    }
  } finally {
    await connection.close();
  }

  const closes = [...ends.values()].map((e) => e.closedAt ?? Infinity).sort((a, b) => a - b);
  /** The longest stretch in [from, to] with no saga closing. */
  const longestGap = (from: number, to: number) => {
    let prev = from;
    let gap = 0;
    for (const t of closes.filter((c) => c > from && c <= to)) {
      gap = Math.max(gap, t - prev);
      prev = t;
    }
    return Math.max(gap, to - prev);
  };
  const killAt = events[0]!.at;
  const nodeBackAt = events.at(-1)!.at;
  const openAtLastRestart = [...ends.values()].filter((e) => e.startedAt <= lastRestart);
  const converged = Math.max(...openAtLastRestart.map((e) => e.closedAt ?? Infinity)) - lastRestart;
  /** How long sagas started in [from, to) took, end to end: the slowest and the median. */
  const took = (from: number, to: number) => {
    const d = [...ends.values()]
      .filter((e) => e.startedAt >= from && e.startedAt < to && e.closedAt)
      .map((e) => e.closedAt! - e.startedAt)
      .sort((a, b) => a - b);
    return { max: d.at(-1) ?? 0, p50: d[Math.floor(d.length / 2)] ?? 0 };
  };
  const caught = [...ends.values()].filter((e) => e.startedAt < killAt && (e.closedAt ?? Infinity) > killAt);
  const caughtStall = Math.max(0, ...caught.map((e) => (e.closedAt ?? Infinity) - killAt));
  const counts: Record<string, number> = {};
  for (const e of ends.values()) counts[e.status] = (counts[e.status] ?? 0) + 1;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    [
      `three Temporal nodes, ${ORDERS} PlaceOrder + ${RENAMES} RenameProduct sagas, ${IN_FLIGHT} in flight; load ran ${s(Date.now() - loadStart)}`,
      ...events.map((e) => `  +${s(e.at - killAt)} ${e.what}`),
      `longest gap without a saga closing: before the kill ${s(longestGap(loadStart, killAt))}, ` +
        `while ${node.name} was gone ${s(longestGap(killAt, nodeBackAt))}`,
      `sagas started before the kill took p50 ${s(took(loadStart, killAt).p50)}, max ${s(took(loadStart, killAt).max)}; ` +
        `started while ${node.name} was gone p50 ${s(took(killAt, nodeBackAt).p50)}, max ${s(took(killAt, nodeBackAt).max)}`,
      `the ${caught.length} sagas in flight at the kill closed within ${s(caughtStall)} of it`,
      `converged (every saga started before the last restart closed) ${s(Math.max(0, converged))} after it`,
      `outcomes: ${JSON.stringify(counts)}`,
    ].join('\n'),
  );

  expect(ends.size).toBe(ORDERS + RENAMES);
  expect(counts.STUCK).toBeUndefined();
  expect(counts).toEqual({ COMPLETED: ORDERS - ORDERS / 10 + RENAMES, COMPENSATED: ORDERS / 10 });
  expect(node.process.running).toBe(true);
  expect(node.process.restarts).toBe(1);

  const audit = await runAudit({ mysqlUrl: stack.mysqlUrl, dbPrefix: stack.dbPrefix, settleMs: 0 });
  expect(audit.violations).toEqual([]);
  expect(audit.checkedOrders).toBe(ORDERS);

  // The event path: every outbox drained, each row in its stream exactly once, every consumer at 0.
  const natsUrl = stack.natsCluster!.url;
  const sql = await mysql.createConnection(stack.mysqlUrl);
  const eventsStart = Date.now();
  const perSource: Record<string, { rows: number; seqs: number; stream: number }> = {};
  try {
    for (const source of EVENT_SOURCES) {
      const table = `\`${stack.dbPrefix}${source}\`.outbox`;
      for (const until = Date.now() + 60_000; ;) {
        const [[r]] = (await sql.query(`SELECT COUNT(*) AS n FROM ${table} WHERE sent_at IS NULL`)) as unknown as [
          { n: number }[],
        ];
        if (Number(r!.n) === 0) break;
        if (Date.now() > until) throw new Error(`${source}: ${r!.n} outbox rows never acknowledged`);
        await sleep(250);
      }
      const [[c]] = (await sql.query(
        `SELECT COUNT(*) AS n, COUNT(DISTINCT stream_seq) AS seqs FROM ${table}`,
      )) as unknown as [{ n: number; seqs: number }[]];
      perSource[source] = { rows: Number(c!.n), seqs: Number(c!.seqs), stream: await streamMessages(natsUrl, source) };
    }
  } finally {
    await sql.end();
  }
  await waitForConsumers(
    natsUrl,
    [PRODUCT_NAMES_CONSUMER, 'order-history-orders', 'order-history-payments', 'order-history-shipping'],
    120_000,
  );
  console.log(
    `events: ${JSON.stringify(perSource)}; outboxes sent and consumers at lag 0 ${s(Date.now() - eventsStart)} ` +
      `after the sagas were read (${s(Date.now() - lastRestart)} after the last restart)`,
  );
  for (const source of EVENT_SOURCES) {
    const { rows, seqs, stream } = perSource[source]!;
    expect(rows).toBeGreaterThan(0);
    // one stream message per outbox row, and no two rows acknowledged at one sequence
    expect(`${source}: ${stream} messages, ${seqs} sequences`).toBe(`${source}: ${rows} messages, ${rows} sequences`);
  }
  const eventAudit = await runEventAudit({ mysqlUrl: stack.mysqlUrl, dbPrefix: stack.dbPrefix, settleMs: 0, natsUrl });
  expect(eventAudit.violations).toEqual([]);
  expect(eventAudit.drained).toBe(true);
  expect(eventAudit.checkedHistory).toBeGreaterThanOrEqual(ORDERS);
}, 300_000);

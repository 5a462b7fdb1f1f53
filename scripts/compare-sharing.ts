/**
 * `npm run compare:sharing`: the three ways services share data, measured on one stack of real
 * processes (harness/process-stack.ts withEvents, its own Temporal dev server and nats-server):
 * a synchronous read when the data is needed, the RenameProduct saga pushing a change to every
 * copy, and events each service publishes from its outbox, from which others keep copies. Writes
 * docs/data-sharing/results.json; docs/data-sharing.md explains the numbers.
 *
 * `-- --renames 20 --orders 20 --backlog 250` sets the sizes (these are the defaults).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedProduct, STACK_API_TOKEN, startProcessStack, stackAuth } from '../harness/process-stack';
import { driveOrders, orderWithFourChanges, waitForConsumers } from '../harness/event-load';
import mysql from 'mysql2/promise';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RENAMES = arg('renames', 20);
const ORDERS = arg('orders', 20);
const BACKLOG = arg('backlog', 250);
const root = path.resolve(__dirname, '..');

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { n: s.length, p50: round(q(0.5)), p95: round(q(0.95)), max: round(s[s.length - 1]!) };
};
const round = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error('timed out');
    await sleep(2);
  }
  return performance.now() - start;
}

async function main(): Promise<void> {
  console.log('starting the stack (Temporal dev server, nats-server, services, order-history, worker, API)...');
  const stack = await startProcessStack({ label: 'compare', withEvents: true, withApi: true });
  const sql = await mysql.createConnection(stack.mysqlUrl);
  const q = async <T>(query: string, params: unknown[] = []) => (await sql.query(query, params))[0] as T[];
  const db = (n: string) => `\`${stack.dbPrefix}${n}\``;
  const copyVersion = async (sku: string) =>
    Number(
      (await q<{ v: number }>(`SELECT version AS v FROM ${db('orders')}.product_names WHERE sku = ?`, [sku]))[0]?.v ??
        0,
    );
  const api = (p: string, body?: unknown) =>
    fetch(`${stack.urls.api}${p}`, {
      method: body ? 'POST' : 'GET',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${STACK_API_TOKEN}` },
      body: body ? JSON.stringify(body) : undefined,
    });
  const asOperator = (url: string, init: RequestInit = {}) =>
    fetch(url, {
      ...init,
      headers: {
        'content-type': 'application/json',
        authorization: stackAuth(stack, 'operator'),
        ...(init.headers ?? {}),
      },
    });
  const results: Record<string, unknown> = {
    ranAt: new Date().toISOString(),
    machine: `${os.cpus().length} cores, ${os.platform()}`,
    sizes: { renames: RENAMES, orders: ORDERS, backlog: BACKLOG },
  };
  try {
    await seedProduct(stack, 'CMP-1', { name: 'Compare mug', priceCents: 1250, available: 1_000_000 });
    let version = 1;

    // 1. Rename: saga (pushes to every copy) vs events (operator rename, copy follows from the stream).
    const sagaMs: number[] = [];
    const sagaCopyMs: number[] = [];
    const historyEvents: number[] = [];
    for (let i = 0; i < RENAMES; i++) {
      const t0 = performance.now();
      const res = await api('/products/CMP-1/rename?wait=true', { name: `Saga name ${i}` });
      const body = (await res.json()) as { status: string; sagaId: string };
      if (body.status !== 'COMPLETED') throw new Error(`rename saga ${body.status}`);
      sagaMs.push(performance.now() - t0);
      version++;
      sagaCopyMs.push(performance.now() - t0 + (await until(async () => (await copyVersion('CMP-1')) >= version)));
      const timeline = (await (await api(`/sagas/${body.sagaId}/timeline`)).json()) as { events?: number };
      if (typeof timeline.events === 'number') historyEvents.push(timeline.events);
    }
    const eventMs: number[] = [];
    for (let i = 0; i < RENAMES; i++) {
      const t0 = performance.now();
      const res = await asOperator(`${stack.urls.inventory}/products/CMP-1`, {
        method: 'PUT',
        body: JSON.stringify({ name: `Event name ${i}`, priceCents: 1250, available: 1_000_000 }),
      });
      if (!res.ok) throw new Error(`rename ${res.status}`);
      version++;
      await until(async () => (await copyVersion('CMP-1')) >= version);
      eventMs.push(performance.now() - t0);
    }
    const syncMs: number[] = [];
    for (let i = 0; i < RENAMES; i++) {
      const t0 = performance.now();
      const res = await asOperator(`${stack.urls.inventory}/products/CMP-1`);
      await res.json();
      syncMs.push(performance.now() - t0);
    }
    results.rename = {
      saga: {
        answeredMs: stats(sagaMs),
        copyConvergedMs: stats(sagaCopyMs),
        temporalHistoryEventsPerRename: historyEvents.length ? stats(historyEvents) : null,
      },
      events: { copyConvergedMs: stats(eventMs) },
      synchronousRead: { readLatencyMs: stats(syncMs), staleness: 'none: every read asks the owner' },
    };
    console.log('rename', JSON.stringify(results.rename));

    // 2. Order status: order-history (events) vs a synchronous read of the three owners.
    const historyMs: number[] = [];
    const fanoutMs: number[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const orderId = `cmp-${i}`;
      await orderWithFourChanges(stack, orderId, 'cmp-customer', 'CMP-1');
      historyMs.push(
        await until(async () => {
          const r = await asOperator(`${stack.urls.orderHistory}/orders/${orderId}`);
          return r.ok && ((await r.json()) as { status: string; shipment: unknown }).status === 'CONFIRMED';
        }),
      );
      const f0 = performance.now();
      const [o, p, s] = await Promise.all([
        asOperator(`${stack.urls.orders}/orders/${orderId}`),
        asOperator(`${stack.urls.payments}/payments?orderId=${orderId}`),
        asOperator(`${stack.urls.shipping}/shipments?orderId=${orderId}`),
      ]);
      await Promise.all([o.json(), p.json(), s.json()]);
      fanoutMs.push(performance.now() - f0);
    }
    results.orderStatus = {
      events: { historyConvergedAfterConfirmMs: stats(historyMs) },
      synchronousRead: { threeServiceReadLatencyMs: stats(fanoutMs) },
      saga: "PlaceOrder writes each owner in turn; no saga pushes to a read model (GET /sagas/:id is the coordinator's own view)",
    };
    console.log('orderStatus', JSON.stringify(results.orderStatus));

    // 3. The owner is down.
    await stack.get('orders').kill('SIGKILL');
    const syncDown = await asOperator(`${stack.urls.orders}/orders/cmp-0`).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => `error: ${(e.cause as Error | undefined)?.message ?? e.message}`,
    );
    const h0 = performance.now();
    const historyDown = await asOperator(`${stack.urls.orderHistory}/orders/cmp-0`);
    const historyDownMs = performance.now() - h0;
    const historyDownBody = (await historyDown.json()) as { status: string };
    await stack.get('orders').start();
    await stack.get('inventory').kill('SIGKILL');
    const r0 = performance.now();
    const started = (await (
      await api('/products/CMP-1/rename', { name: 'Renamed while inventory is down' })
    ).json()) as { sagaId: string };
    await sleep(3000);
    const during = (await (await api(`/sagas/${started.sagaId}`)).json()) as { status: string };
    await stack.get('inventory').start();
    const back = performance.now();
    await until(
      async () => ((await (await api(`/sagas/${started.sagaId}`)).json()) as { status: string }).status === 'COMPLETED',
      120_000,
    );
    version++;
    results.ownerDown = {
      synchronousRead: { ordersDown: syncDown },
      events: {
        ordersDownHistoryRead: `HTTP ${historyDown.status}, status ${historyDownBody.status}, ${round(historyDownMs)} ms (the last state it heard of)`,
      },
      saga: {
        inventoryDownFor3s: `saga ${during.status} while inventory is down; completed ${round(performance.now() - back)} ms after it came back (${round(performance.now() - r0)} ms in all)`,
      },
    };
    console.log('ownerDown', JSON.stringify(results.ownerDown));

    // 4. The consumer is down: order-history misses BACKLOG orders (4 changes each), then catches up.
    await stack.get('order-history').kill('SIGKILL');
    const d0 = performance.now();
    await driveOrders(stack, { orders: BACKLOG, concurrency: 8, prefix: 'cmpdown', sku: 'CMP-1' });
    const driveMs = performance.now() - d0;
    const c0 = performance.now();
    await stack.get('order-history').start();
    await waitForConsumers(
      stack.nats!.url,
      ['order-history-orders', 'order-history-payments', 'order-history-shipping'],
      300_000,
    );
    const catchUpMs = performance.now() - c0;
    // The saga's copy with orders down: RenameProduct retries its copy step until orders is back.
    await stack.get('orders').kill('SIGKILL');
    const s0 = performance.now();
    const renameDown = (await (
      await api('/products/CMP-1/rename', { name: 'Renamed while orders is down' })
    ).json()) as { sagaId: string };
    await sleep(3000);
    await stack.get('orders').start();
    const ob = performance.now();
    await until(
      async () =>
        ((await (await api(`/sagas/${renameDown.sagaId}`)).json()) as { status: string }).status === 'COMPLETED',
      120_000,
    );
    results.consumerDown = {
      events: {
        changesWhileDown: BACKLOG * 4,
        producedInMs: round(driveMs),
        catchUpAfterRestartMs: round(catchUpMs),
        catchUpEventsPerSecond: Math.round((BACKLOG * 4) / (catchUpMs / 1000)),
      },
      saga: {
        ordersDownFor3s: `completed ${round(performance.now() - ob)} ms after orders came back (${round(performance.now() - s0)} ms in all)`,
      },
      synchronousRead:
        'no copy to fall behind; a reader that is down reads nothing, and reads the current state when it is back',
    };
    console.log('consumerDown', JSON.stringify(results.consumerDown));

    // 5. Cost per change: the relay's publish rate with a backlog, and what each way writes.
    await stack.get('nats').kill('SIGKILL');
    await driveOrders(stack, { orders: BACKLOG, concurrency: 8, prefix: 'cmpcost', sku: 'CMP-1' });
    const [pending] = await q<{ n: number }>(
      `SELECT (SELECT COUNT(*) FROM ${db('orders')}.outbox WHERE sent_at IS NULL) + (SELECT COUNT(*) FROM ${db('payments')}.outbox WHERE sent_at IS NULL) + (SELECT COUNT(*) FROM ${db('shipping')}.outbox WHERE sent_at IS NULL) AS n`,
    );
    const p0 = performance.now();
    await stack.get('nats').start();
    await until(async () => {
      const [left] = await q<{ n: number }>(
        `SELECT (SELECT COUNT(*) FROM ${db('orders')}.outbox WHERE sent_at IS NULL) + (SELECT COUNT(*) FROM ${db('payments')}.outbox WHERE sent_at IS NULL) + (SELECT COUNT(*) FROM ${db('shipping')}.outbox WHERE sent_at IS NULL) AS n`,
      );
      return Number(left!.n) === 0;
    }, 300_000);
    const drainMs = performance.now() - p0;
    results.cost = {
      events: {
        perChange:
          "1 outbox INSERT + 1 outbox_versions upsert in the change's transaction; 1 UPDATE (mark sent, batched) by the relay; 1 publish; per consumer: 1 delivery + 1 transaction (inbox INSERT + copy UPDATE) + 1 ack",
        relayDrainedEvents: Number(pending!.n),
        relayDrainMsIncludingBrokerStart: round(drainMs),
        relayEventsPerSecond: Math.round(Number(pending!.n) / (drainMs / 1000)),
      },
      saga: {
        perRename:
          '1 workflow; activities: rename in inventory + the copy in orders (2 HTTP calls, each its own transaction with an idempotency key)',
        temporalHistoryEventsPerRename: historyEvents.length ? stats(historyEvents) : null,
      },
      synchronousRead: {
        perRead: "1 HTTP call to the owner per read (3 for an order's status), nothing per change",
        readLatencyMs:
          results.rename &&
          (results.rename as { synchronousRead: { readLatencyMs: unknown } }).synchronousRead.readLatencyMs,
      },
    };
    console.log('cost', JSON.stringify(results.cost));
  } finally {
    await sql.end();
    await stack.stop();
  }
  const out = path.join(root, 'docs/data-sharing');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${path.relative(root, path.join(out, 'results.json'))}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

/**
 * The event pipeline as real processes (harness/process-stack.ts withEvents): a nats-server with a
 * file store, the four services with their relays, orders' name-copy consumer, order-history, the
 * worker and the API. Consumers down while 1,000 changes happen, a service (and its relay)
 * SIGKILLed while it drains a backlog, the broker SIGKILLed and restarted on its store, a brand-new
 * read model built from the start of the log; the auditor judges every copy at the end.
 */
import { execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import {
  seedProduct,
  STACK_API_TOKEN,
  startProcessStack,
  stackAuth,
  type ProcessStack,
} from '../harness/process-stack';
import { consumerLags, driveOrders, streamMessages, waitForConsumers } from '../harness/event-load';
import { httpOk, ManagedProcess, freePort } from '../harness/managed-process';
import { runAudit, runEventAudit } from '../audit/auditor';
import { PRODUCT_NAMES_CONSUMER } from '../services/orders/product-name-copies';

const HISTORY = ['order-history-orders', 'order-history-payments', 'order-history-shipping'];
let stack: ProcessStack;
let sql: mysql.Connection;
const extra: ManagedProcess[] = [];

beforeAll(async () => {
  stack = await startProcessStack({
    label: 'events',
    withEvents: true,
    withApi: true,
    temporalAddress: process.env.TEST_TEMPORAL_ADDRESS,
  });
  sql = await mysql.createConnection(stack.mysqlUrl);
  await seedProduct(stack, 'EV-1', { name: 'Event mug', priceCents: 1250, available: 100_000 });
}, 180_000);
afterAll(async () => {
  for (const p of extra) await p.kill('SIGTERM');
  await sql?.end();
  await stack?.stop();
  const conn = await mysql.createConnection(stack.mysqlUrl);
  await conn.query(`DROP DATABASE IF EXISTS \`${stack.dbPrefix}rb_order_history\``);
  await conn.end();
}, 60_000);

const rows = async <T>(query: string, params: unknown[] = []) => (await sql.query(query, params))[0] as T[];
const db = (name: string) => `\`${stack.dbPrefix}${name}\``;

/** Until every service's relay has published its outbox (the broker acknowledged every event). */
async function outboxesSent(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let unsent = 0;
    for (const svc of ['orders', 'inventory', 'payments', 'shipping']) {
      const [r] = await rows<{ n: number }>(`SELECT COUNT(*) AS n FROM ${db(svc)}.outbox WHERE sent_at IS NULL`);
      unsent += Number(r!.n);
    }
    if (unsent === 0) return;
    if (Date.now() > deadline) throw new Error(`${unsent} events still unsent after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('when a product is renamed by the RenameProduct saga, then the saga and the ProductRenamed consumer bring orders the same name and version, whichever came first', async () => {
  const res = await fetch(`${stack.urls.api}/products/EV-1/rename?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${STACK_API_TOKEN}` },
    body: JSON.stringify({ name: 'Event mug, renamed by saga' }),
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBe('COMPLETED');
  // An operator's rename (no saga): only the event brings it to orders.
  const put = await fetch(`${stack.urls.inventory}/products/EV-1`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: stackAuth(stack, 'operator') },
    body: JSON.stringify({ name: 'Event mug, renamed by operator', priceCents: 1250, available: 100_000 }),
  });
  expect(put.status).toBe(200);
  await waitForConsumers(stack.nats!.url, [PRODUCT_NAMES_CONSUMER]);
  const [source] = await rows<{ name: string; v: number }>(
    `SELECT name, name_version AS v FROM ${db('inventory')}.products WHERE sku = 'EV-1'`,
  );
  const [copy] = await rows<{ name: string; v: number }>(
    `SELECT name, version AS v FROM ${db('orders')}.product_names WHERE sku = 'EV-1'`,
  );
  expect(copy).toEqual(source);
  expect(source).toEqual({ name: 'Event mug, renamed by operator', v: 3 });
  // Version 2 came twice (saga and event): one applied it, the other found it there.
  const outcomes = await rows<{ outcome: string }>(
    `SELECT outcome FROM ${db('orders')}.inbox WHERE type = 'ProductRenamed' ORDER BY stream_seq`,
  );
  expect(outcomes.map((o) => o.outcome)).toHaveLength(2);
  expect(outcomes[1]!.outcome).toBe('applied');
});

it('when order-history is down while 1,000 changes happen, then it catches up from its durable consumers after the restart and matches the sources', async () => {
  await stack.get('order-history').kill('SIGKILL');
  const ids = await driveOrders(stack, { orders: 250, concurrency: 8, prefix: 'down', sku: 'EV-1' });
  // the lag counts what is in the streams: every change must be published first
  await outboxesSent();
  const lags = await consumerLags(stack.nats!.url);
  expect(
    (lags.get('order-history-orders') ?? 0) +
      (lags.get('order-history-payments') ?? 0) +
      (lags.get('order-history-shipping') ?? 0),
  ).toBeGreaterThanOrEqual(1000);
  const started = Date.now();
  await stack.get('order-history').start();
  await waitForConsumers(stack.nats!.url, HISTORY);
  const caughtUpMs = Date.now() - started;
  expect(caughtUpMs).toBeLessThan(60_000);
  const history = await rows<{ n: number }>(
    `SELECT COUNT(*) AS n FROM ${db('order_history')}.order_history WHERE order_id LIKE 'down-%' AND order_status = 'CONFIRMED' AND payment_status = 'CAPTURED' AND shipment_status = 'SCHEDULED'`,
  );
  expect(Number(history[0]!.n)).toBe(ids.length);
  const res = await fetch(`${stack.urls.orderHistory}/orders/down-7`, {
    headers: { authorization: stackAuth(stack, 'operator') },
  });
  expect(await res.json()).toMatchObject({
    orderId: 'down-7',
    status: 'CONFIRMED',
    payment: { status: 'CAPTURED', amountCents: 1250 },
    shipment: { status: 'SCHEDULED' },
  });
}, 120_000);

it('when the broker is SIGKILLed, changes go on, and the orders service (with its relay) is SIGKILLed while it drains its backlog, then every event is in the stream exactly once', async () => {
  // nothing of the earlier tests is left unsent: the backlog below is this test's 200 events
  await outboxesSent();
  const before = await streamMessages(stack.nats!.url, 'orders');
  await stack.get('nats').kill('SIGKILL');
  await driveOrders(stack, { orders: 100, concurrency: 8, prefix: 'brokerdown', sku: 'EV-1' });
  const [backlog] = await rows<{ n: number }>(`SELECT COUNT(*) AS n FROM ${db('orders')}.outbox WHERE sent_at IS NULL`);
  expect(Number(backlog!.n)).toBe(200);
  // The broker comes back on its file store; the orders relay starts draining, and dies mid-way.
  await stack.get('nats').start();
  expect(await streamMessages(stack.nats!.url, 'orders')).toBe(before);
  await new Promise((r) => setTimeout(r, 30));
  await stack.get('orders').kill('SIGKILL');
  await stack.get('orders').start();
  await waitFor(
    async () =>
      Number(
        (await rows<{ n: number }>(`SELECT COUNT(*) AS n FROM ${db('orders')}.outbox WHERE sent_at IS NULL`))[0]!.n,
      ) === 0,
  );
  const [total] = await rows<{ n: number }>(`SELECT COUNT(*) AS n FROM ${db('orders')}.outbox`);
  expect(await streamMessages(stack.nats!.url, 'orders')).toBe(Number(total!.n));
  await waitForConsumers(stack.nats!.url, [...HISTORY, PRODUCT_NAMES_CONSUMER]);
}, 120_000);

it('when a brand-new order-history starts on an empty database with a new consumer name, then it rebuilds the same history from the start of the log; npm run order-history:rebuild empties it and it rebuilds again', async () => {
  const port = await freePort();
  const proc = stack.get('order-history');
  const env = {
    MYSQL_URL: stack.mysqlUrl,
    DB_PREFIX: `${stack.dbPrefix}rb_`,
    BIND_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SERVICE_CALLERS: `operator:${stack.serviceTokens.operator}`,
    NATS_URL: stack.nats!.url,
    ORDER_HISTORY_PORT: String(port),
    ORDER_HISTORY_CONSUMER: 'order-history-rebuild',
  };
  const fresh = new ManagedProcess(
    'order-history-rebuild',
    process.execPath,
    ['--import', 'tsx', 'services/order-history/main.ts'],
    env,
    () => httpOk(`http://127.0.0.1:${port}/healthz`),
    false,
  );
  extra.push(fresh);
  await fresh.start();
  expect(proc.running).toBe(true);
  await waitForConsumers(stack.nats!.url, [
    'order-history-rebuild-orders',
    'order-history-rebuild-payments',
    'order-history-rebuild-shipping',
  ]);
  const cols =
    'order_id, customer_id, order_status, total_cents, order_version, payment_status, payment_version, shipment_status, shipment_version';
  const original = await rows(`SELECT ${cols} FROM ${db('order_history')}.order_history ORDER BY order_id`);
  const rebuilt = await rows(`SELECT ${cols} FROM ${db('rb_order_history')}.order_history ORDER BY order_id`);
  expect(rebuilt.length).toBeGreaterThanOrEqual(350);
  expect(rebuilt).toEqual(original);

  // npm run order-history:rebuild, with that service stopped: it empties the history and deletes
  // its consumers; started again, the service builds the same history from the start of the log.
  await fresh.kill('SIGTERM');
  execFileSync(process.execPath, ['--import', 'tsx', 'services/order-history/rebuild.ts'], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  expect(await rows(`SELECT order_id FROM ${db('rb_order_history')}.order_history`)).toEqual([]);
  await fresh.start();
  await waitForConsumers(stack.nats!.url, [
    'order-history-rebuild-orders',
    'order-history-rebuild-payments',
    'order-history-rebuild-shipping',
  ]);
  expect(await rows(`SELECT ${cols} FROM ${db('rb_order_history')}.order_history ORDER BY order_id`)).toEqual(original);
}, 180_000);

it('when everything is drained, then the auditor finds no violation: orders, copies against their sources, no version ahead, no lag, no backlog', async () => {
  await waitForConsumers(stack.nats!.url, [...HISTORY, PRODUCT_NAMES_CONSUMER]);
  const orders = await runAudit({ mysqlUrl: stack.mysqlUrl, dbPrefix: stack.dbPrefix, settleMs: 0 });
  expect(orders.violations.filter((v) => !v.class.startsWith('CONFIRMED_STOCK'))).toEqual([]);
  const events = await runEventAudit({
    mysqlUrl: stack.mysqlUrl,
    dbPrefix: stack.dbPrefix,
    settleMs: 0,
    natsUrl: stack.nats!.url,
  });
  expect(events.drained).toBe(true);
  expect(events.violations).toEqual([]);
  expect(events.checkedCopies).toBe(1);
  expect(events.checkedHistory).toBeGreaterThanOrEqual(350);
  // A copy set behind its source by hand, drained: the auditor says so.
  await sql.query(`UPDATE ${db('orders')}.product_names SET name = 'Tampered' WHERE sku = 'EV-1'`);
  const tampered = await runEventAudit({
    mysqlUrl: stack.mysqlUrl,
    dbPrefix: stack.dbPrefix,
    settleMs: 0,
    natsUrl: stack.nats!.url,
  });
  expect(tampered.violations.map((v) => v.class)).toEqual(['COPY_DIFFERS_FROM_SOURCE']);
}, 60_000);

it('when /metrics is scraped, then each process shows what it owns: outbox backlog in the services, consumer lag in orders and order-history', async () => {
  const orders = await (await fetch(`${stack.urls.orders}/metrics`)).text();
  expect(orders).toMatch(/^outbox_backlog 0$/m);
  expect(orders).toMatch(new RegExp(`^event_consumer_lag\\{consumer="${PRODUCT_NAMES_CONSUMER}"\\} 0$`, 'm'));
  const history = await (await fetch(`${stack.urls.orderHistory}/metrics`)).text();
  expect(history).toMatch(/^event_consumer_lag\{consumer="order-history-orders"\} 0$/m);
  expect(history).toMatch(/^event_consumer_events_total\{consumer="order-history-payments",outcome="applied"\} \d+$/m);
  expect(history).not.toMatch(/^outbox_backlog/m);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

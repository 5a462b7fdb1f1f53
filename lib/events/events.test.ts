/**
 * The outbox, the relay and the consumers against a real MySQL and a real nats-server (built from
 * source, on free ports): publish order and message IDs, a relay crash between publish and mark,
 * a broker that is away, redeliveries and out-of-order versions.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsServer, type NatsServer } from '../../harness/nats-server';
import { freePort } from '../../harness/managed-process';
import { createLogger } from '../logger';
import { inTransaction } from '../db';
import { startEventConsumer, consumerLag, type EventConsumer } from './event-consumer';
import { startEventRelay, type EventRelay } from './event-relay';
import { parseEvent, streamOf, type EventEnvelope } from './events';
import { BrokerUnavailableError, connectBroker } from './nats';
import { recordEvent } from './outbox';
import { productNamesConsumer } from '../../services/orders/product-name-copies';
import { startServices, uniqueId, type ServiceStack } from '../../test/support/services';
import { putProduct } from '../../test/support/fixtures';

const logger = createLogger('events-test', 'silent');
let stack: ServiceStack;
let nats: NatsServer;
let nc: NatsConnection;
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  [stack, nats] = await Promise.all([startServices('events'), startNatsServer()]);
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  for (const r of running) await r.stop();
  await nc?.close();
  await nats?.stop();
  await stack?.stop();
});

function relay(source: 'inventory' | 'orders', extra: Partial<Parameters<typeof startEventRelay>[0]> = {}): EventRelay {
  const svc = source === 'inventory' ? stack.inventory : stack.orders;
  const r = startEventRelay({ source, natsUrl: nats.url, pool: svc.database.pool, logger, pollMs: 20, ...extra });
  running.push(r);
  return r;
}

/** Every message in a stream, in stream order. */
async function streamEvents(
  source: 'inventory' | 'orders',
): Promise<{ seq: number; msgId: string | undefined; event: EventEnvelope }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamOf(source).name);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(streamOf(source).name, { seq });
    if (m) out.push({ seq, msgId: m.header?.get('Nats-Msg-Id'), event: parseEvent(m.data) });
  }
  return out;
}

async function rename(sku: string, name: string) {
  const res = await stack.inventory
    .as('operator')
    .put(`/products/${sku}`)
    .send({ name, priceCents: 1250, available: 5 });
  expect(res.status).toBe(200);
  return res.body as { nameVersion: number };
}

describe('outbox and relay', () => {
  it('when a product is created and renamed twice, then the outbox holds three events with versions 1, 2, 3 written by the same transactions', async () => {
    const sku = await putProduct(stack, { name: 'First', available: 5 });
    await rename(sku, 'Second');
    await rename(sku, 'Third');
    const rows = await stack.inventory.query<{ type: string; version: number; sent_at: Date | null }>(
      "SELECT type, version, sent_at FROM outbox WHERE aggregate = 'product' AND aggregate_id = ? ORDER BY seq",
      [sku],
    );
    expect(rows.map((r) => [r.type, r.version])).toEqual([
      ['ProductCreated', 1],
      ['ProductRenamed', 2],
      ['ProductRenamed', 3],
    ]);
  });

  it('when a change is rolled back, then its event is not in the outbox either', async () => {
    const sku = uniqueId('SKU');
    await expect(
      inTransaction(stack.inventory.database.db, async (tx) => {
        await recordEvent(tx, 'ProductCreated', sku, { sku, name: 'Ghost', nameVersion: 1, priceCents: 1 });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await stack.inventory.query('SELECT seq FROM outbox WHERE aggregate_id = ?', [sku])).toEqual([]);
  });

  it('when the relay runs, then it publishes every event in outbox order with Nats-Msg-Id = the event ID and marks each sent with its stream sequence', async () => {
    const r = relay('inventory');
    await r.drained();
    const published = await streamEvents('inventory');
    const rows = await stack.inventory.query<{ event_id: string; stream_seq: number; sent_at: Date | null }>(
      'SELECT event_id, stream_seq, sent_at FROM outbox ORDER BY seq',
    );
    expect(rows.every((row) => row.sent_at !== null)).toBe(true);
    expect(published.map((p) => p.event.eventId)).toEqual(rows.map((row) => row.event_id));
    expect(published.every((p) => p.msgId === p.event.eventId)).toBe(true);
    expect(rows.map((row) => Number(row.stream_seq))).toEqual(published.map((p) => p.seq));
    await r.stop();
    running.splice(running.indexOf(r), 1);
  });

  it('when the relay dies after the broker acknowledged a batch and before it marked it, then its restart loses nothing and duplicates nothing', async () => {
    const before = (await streamEvents('inventory')).length;
    const sku = await putProduct(stack, { name: 'Crash 0', available: 5 });
    for (let i = 1; i <= 20; i++) await rename(sku, `Crash ${i}`);
    // The first relay "crashes" in the window: published, acknowledged, not marked. It is stopped there.
    let crashed = false;
    const first = relay('inventory', {
      afterPublish: () => {
        crashed = true;
        throw new Error('killed between publish and mark');
      },
    });
    await waitFor(() => crashed);
    await first.stop();
    running.splice(running.indexOf(first), 1);
    expect(await first.backlog()).toBe(21);
    expect((await streamEvents('inventory')).length).toBe(before + 21);
    // A new relay publishes the same 21 rows again: the broker drops them by message ID, and it marks them.
    const second = relay('inventory');
    await second.drained();
    const events = await streamEvents('inventory');
    expect(events.length).toBe(before + 21);
    const versions = events.filter((e) => e.event.aggregateId === sku).map((e) => e.event.version);
    expect(versions).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    await second.stop();
    running.splice(running.indexOf(second), 1);
  });

  it('when the broker is unreachable, then connecting names the URL, the service keeps taking changes, the outbox grows, and the relay drains it once the broker is there', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const err = await connectBroker(url, 'probe').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerUnavailableError);
    expect((err as Error).message).toMatch(
      new RegExp(`Cannot use the event broker at nats://127\\.0\\.0\\.1:${port}: .*NATS_URL`),
    );

    const r = relay('orders', { natsUrl: url });
    const sku = await putProduct(stack, { available: 100 });
    for (let i = 0; i < 5; i++) {
      const res = await stack.orders
        .as()
        .post('/orders')
        .send({ orderId: uniqueId('ord'), customerId: 'c-away', lines: [{ sku, quantity: 1 }] });
      expect(res.status).toBe(201);
    }
    await new Promise((res) => setTimeout(res, 500));
    expect(await r.backlog()).toBe(5);
    const broker = await startNatsServer({ port });
    try {
      await r.drained(30_000);
      expect(await r.backlog()).toBe(0);
    } finally {
      await r.stop();
      running.splice(running.indexOf(r), 1);
      await broker.stop();
    }
  });
});

describe('consumers', () => {
  it('when ProductRenamed events are consumed, then orders holds the newest name and version, and the lag drains to 0', async () => {
    const r = relay('inventory');
    const c = consumer();
    const sku = await putProduct(stack, { name: 'Name 1', available: 5 });
    for (let i = 2; i <= 6; i++) await rename(sku, `Name ${i}`);
    await r.drained();
    await c.caughtUp();
    const [copy] = await stack.orders.query<{ name: string; version: number }>(
      'SELECT name, version FROM product_names WHERE sku = ?',
      [sku],
    );
    expect(copy).toEqual({ name: 'Name 6', version: 6 });
  });

  it('when an event is delivered again (a lost ack), then the inbox makes the second delivery change nothing', async () => {
    const sku = await putProduct(stack, { name: 'Dup 1', available: 5 });
    const renamed = await rename(sku, 'Dup 2');
    const jsm = await jetstreamManager(nc);
    // the original delivery applied first (a lag of 0 alone could be read before the relay published it)
    await waitFor(async () => {
      const [applied] = await stack.orders.query<{ name: string }>('SELECT name FROM product_names WHERE sku = ?', [
        sku,
      ]);
      return applied?.name === 'Dup 2';
    });
    const [row] = await stack.inventory.query<{ body: string }>(
      "SELECT body FROM outbox WHERE aggregate_id = ? AND type = 'ProductRenamed'",
      [sku],
    );
    const event = parseEvent(row!.body);
    // The same event published again under another message ID, so the broker does not drop it: only the inbox stands in the way.
    await jetstream(nc).publish(
      `inventory.product.ProductRenamed`,
      JSON.stringify({ ...event, payload: { ...event.payload, name: 'Tampered' } }),
    );
    await waitFor(async () => (await consumerLag(jsm, 'inventory', productNamesConsumer.name)) === 0);
    const [copy] = await stack.orders.query<{ name: string; version: number }>(
      'SELECT name, version FROM product_names WHERE sku = ?',
      [sku],
    );
    expect(copy).toEqual({ name: 'Dup 2', version: renamed.nameVersion });
    const inbox = await stack.orders.query<{ n: number }>('SELECT COUNT(*) AS n FROM inbox WHERE event_id = ?', [
      event.eventId,
    ]);
    expect(Number(inbox[0]!.n)).toBe(1);
  });

  it('when an older version arrives after a newer one, then the copy keeps the newer and the inbox records the older as stale', async () => {
    const sku = await putProduct(stack, { name: 'Old 1', available: 5 });
    await rename(sku, 'Old 2');
    await rename(sku, 'Old 3');
    const jsm = await jetstreamManager(nc);
    // the newer version applied first (a lag of 0 alone could be read before the relay published it)
    await waitFor(async () => {
      const [applied] = await stack.orders.query<{ version: number }>(
        'SELECT version FROM product_names WHERE sku = ?',
        [sku],
      );
      return Number(applied?.version) === 3;
    });
    const [row] = await stack.inventory.query<{ body: string }>(
      'SELECT body FROM outbox WHERE aggregate_id = ? AND version = 2',
      [sku],
    );
    const v2 = parseEvent(row!.body);
    const late = { ...v2, eventId: '00000000-0000-4000-8000-' + Date.now().toString(16).padStart(12, '0').slice(-12) };
    await jetstream(nc).publish('inventory.product.ProductRenamed', JSON.stringify(late));
    await waitFor(async () => (await consumerLag(jsm, 'inventory', productNamesConsumer.name)) === 0);
    const [copy] = await stack.orders.query<{ name: string; version: number }>(
      'SELECT name, version FROM product_names WHERE sku = ?',
      [sku],
    );
    expect(copy).toEqual({ name: 'Old 3', version: 3 });
    const [inbox] = await stack.orders.query<{ outcome: string }>('SELECT outcome FROM inbox WHERE event_id = ?', [
      late.eventId,
    ]);
    expect(inbox).toEqual({ outcome: 'stale' });
  });
});

let consumerRunning: EventConsumer | undefined;
function consumer(): EventConsumer {
  consumerRunning ??= startEventConsumer({
    ...productNamesConsumer,
    natsUrl: nats.url,
    db: stack.orders.database.db,
    logger,
  });
  if (!running.includes(consumerRunning)) running.push(consumerRunning);
  return consumerRunning;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

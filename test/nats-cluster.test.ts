/**
 * The event pipeline on a three-node JetStream cluster (harness/nats-server.ts startNatsCluster:
 * real nats-servers with `sync_interval: always`, 3-replica streams) against real MySQL: the
 * inventory outbox relay publishes renames while the node that leads the stream is SIGKILLed and
 * started again on its store; every event the broker acknowledged is in the stream exactly once,
 * on every node, and the orders copies converge. And a replica count the broker cannot place stops
 * the start with a message that names the fix.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from '../harness/nats-server';
import { startEventConsumer } from '../lib/events/event-consumer';
import { startEventRelay } from '../lib/events/event-relay';
import { streamOf } from '../lib/events/events';
import { createLogger } from '../lib/logger';
import { connectBroker, ensureStreams, StreamPlacementError } from '../lib/events/nats';
import { productNamesConsumer } from '../services/orders/product-name-copies';
import { putProduct } from './support/fixtures';
import { startServices, uniqueId, type ServiceStack } from './support/services';

const logger = createLogger('nats-cluster-test', 'silent');
const STREAM = streamOf('inventory').name;
let stack: ServiceStack;
let cluster: NatsCluster;
let nc: NatsConnection;
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  [stack, cluster] = await Promise.all([startServices('natscluster'), startNatsCluster({ nodes: 3 })]);
  nc = await connectBroker(cluster.url, 'nats-cluster-test');
}, 120_000);
afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
  await nc?.close();
  await cluster?.stop();
  await stack?.stop();
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function rename(sku: string, name: string): Promise<void> {
  const res = await stack.inventory
    .as('operator')
    .put(`/products/${sku}`)
    .send({ name, priceCents: 1250, available: 5 });
  if (res.status !== 200) throw new Error(`renaming ${sku}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** The messages a node holds of a stream (its own store, from its /jsz), or undefined if it does not answer. */
async function messagesOnNode(node: NatsServer, stream: string): Promise<number | undefined> {
  const res = await fetch(`${node.monitorUrl}/jsz?accounts=true&streams=true`, { signal: AbortSignal.timeout(1000) });
  const jsz = (await res.json()) as {
    account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[];
  };
  const detail = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).find((s) => s.name === stream);
  return detail?.state.messages;
}

it('when the node leading a 3-replica stream is SIGKILLed while the relay publishes and then restarted, then every acknowledged event is in the stream exactly once on every node and the copies converge', async () => {
  const relay = startEventRelay({
    source: 'inventory',
    natsUrl: cluster.url,
    replicas: 3,
    pool: stack.inventory.database.pool,
    logger,
    pollMs: 10,
    batchSize: 50,
  });
  running.push(relay);
  const consumer = startEventConsumer({
    ...productNamesConsumer,
    natsUrl: cluster.url,
    replicas: 3,
    db: stack.orders.database.db,
    logger,
  });
  running.push(consumer);

  const skus = await Promise.all(
    Array.from({ length: 12 }, (_, i) => putProduct(stack, { name: `P${i} v1`, available: 5 })),
  );
  const jsm = await jetstreamManager(nc);
  await waitFor('the 3-replica stream', async () => (await jsm.streams.info(STREAM)).config.num_replicas === 3);

  // Changes keep coming the whole time: four writers renaming the products round and round.
  let writing = true;
  let renames = 0;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; writing; i++) {
      const sku = skus[(w + i * 4) % skus.length]!;
      await rename(sku, `${sku} ${uniqueId('name')}`);
      renames++;
      await sleep(5);
    }
  });

  await waitFor('events published before the kill', async () => (await jsm.streams.info(STREAM)).state.messages > 60);
  const leaderName = (await jsm.streams.info(STREAM)).cluster?.leader;
  expect(leaderName).toBeDefined();
  const leader = cluster.node(leaderName!);
  const killedAt = renames;
  await leader.process.kill('SIGKILL');
  await sleep(2500);
  const duringOutage = renames - killedAt;
  // Back on the same ports and store: started once its /healthz says its stream and consumer caught up.
  await leader.restart();
  await sleep(1000);
  writing = false;
  await Promise.all(writers);

  await relay.drained(60_000);
  await consumer.caughtUp(60_000);

  // Changes went on while the leader was down (the relay's publishes waited for a new leader).
  expect(duringOutage).toBeGreaterThan(0);
  const rows = await stack.inventory.query<{ event_id: string; stream_seq: number; sent: number }>(
    'SELECT event_id, stream_seq, sent_at IS NOT NULL AS sent FROM outbox ORDER BY seq',
  );
  expect(rows.length).toBe(skus.length + renames);
  expect(rows.every((r) => Number(r.sent) === 1)).toBe(true);

  // Exactly once: one message per outbox row, each under its event ID, and each row's stream
  // sequence (the ack the relay marked it with) holding that very event.
  const info = await jsm.streams.info(STREAM);
  expect(info.state.messages).toBe(rows.length);
  const idAt = new Map<number, string | undefined>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(STREAM, { seq });
    idAt.set(seq, m?.header?.get('Nats-Msg-Id'));
  }
  const ids = [...idAt.values()];
  expect(new Set(ids).size).toBe(ids.length);
  expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.event_id)));
  for (const r of rows) expect(idAt.get(Number(r.stream_seq))).toBe(r.event_id);

  // Three replicas, all current, the restarted node among them, and each node's own store holds them all.
  await waitFor('every replica current', async () => {
    const c = (await jsm.streams.info(STREAM)).cluster;
    return (c?.replicas ?? []).length === 2 && (c?.replicas ?? []).every((r) => r.current && !r.offline);
  });
  for (const node of cluster.nodes)
    await waitFor(
      `${node.serverName} holds every event`,
      async () => (await messagesOnNode(node, STREAM)) === rows.length,
    );

  // The copies converged: each product's name and version in orders is inventory's.
  const sources = await stack.inventory.query<{ sku: string; name: string; version: number }>(
    `SELECT sku, name, name_version AS version FROM products WHERE sku IN (?) ORDER BY sku`,
    [skus],
  );
  const copies = await stack.orders.query<{ sku: string; name: string; version: number }>(
    `SELECT sku, name, version FROM product_names WHERE sku IN (?) ORDER BY sku`,
    [skus],
  );
  expect(copies).toEqual(sources);
  expect(leader.process.restarts).toBe(1);
}, 110_000);

it('when the streams ask for 3 replicas of a single nats-server, then the start fails naming the stream, nats error 10074 and the fix, and a relay says the same', async () => {
  const single = await startNatsServer();
  try {
    const err = await ensureStreams(single.url, 3).catch((e: unknown) => e);
    expect((err as Error).name).toBe('StreamPlacementError');
    expect((err as StreamPlacementError).natsErrorCode).toBe(10074);
    expect((err as Error).message).toMatch(
      /^stream EVENTS_ORDERS needs 3 replicas but the NATS broker has 1 node \(nats error 10074: [^)]+\): set NATS_STREAM_REPLICAS=1 or start a 3-node cluster/,
    );

    // A stream made with one replica and then asked for three: the server would take the update
    // and report three replicas while it keeps one copy, so it is refused the same way.
    await ensureStreams(single.url, 1);
    const update = await ensureStreams(single.url, 3).catch((e: unknown) => e);
    expect((update as Error).message).toMatch(
      /^stream EVENTS_ORDERS needs 3 replicas but the NATS broker has 1 node \(nats error 10074: [^)]+\): set NATS_STREAM_REPLICAS=1/,
    );
    const nc1 = await connectBroker(single.url, 'nats-cluster-test');
    try {
      const info = await (await jetstreamManager(nc1)).streams.info(streamOf('orders').name);
      expect(info.config.num_replicas).toBe(1);
    } finally {
      await nc1.close();
    }

    // A service's relay started that way keeps its events in the outbox and says why.
    const sku = await putProduct(stack, { available: 1 });
    const order = await stack.orders
      .as()
      .post('/orders')
      .send({ orderId: uniqueId('ord'), customerId: 'c-r3', lines: [{ sku, quantity: 1 }] });
    expect(order.status).toBe(201);
    const relay = startEventRelay({
      source: 'orders',
      natsUrl: single.url,
      replicas: 3,
      pool: stack.orders.database.pool,
      logger,
      pollMs: 10,
    });
    try {
      await expect(relay.drained(1500)).rejects.toThrow(/needs 3 replicas .*set NATS_STREAM_REPLICAS=1/);
    } finally {
      await relay.stop();
    }
  } finally {
    await single.stop();
  }
});

it('when the streams ask for more replicas than the cluster has nodes, then the start fails naming the node count and nats error code', async () => {
  const err = await ensureStreams(cluster.url, 5).catch((e: unknown) => e);
  expect((err as Error).name).toBe('StreamPlacementError');
  expect([10005, 10023]).toContain((err as StreamPlacementError).natsErrorCode);
  expect((err as Error).message).toMatch(
    /^stream EVENTS_ORDERS needs 5 replicas but the NATS cluster has 3 nodes \(nats error 100(05|23): [^)]+\): set NATS_STREAM_REPLICAS=3 or start a 5-node cluster/,
  );
});

it('when every server the project starts is asked for its JetStream settings, then each fsyncs every write (sync_interval: always)', async () => {
  const single = await startNatsServer();
  running.push(single);
  for (const node of [...cluster.nodes, single]) {
    const varz = (await (await fetch(`${node.monitorUrl}/varz`)).json()) as {
      jetstream?: { config?: { sync_always?: boolean } };
    };
    expect({ node: node.serverName, syncAlways: varz.jetstream?.config?.sync_always }).toEqual({
      node: node.serverName,
      syncAlways: true,
    });
  }
});

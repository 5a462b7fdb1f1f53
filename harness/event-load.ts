/**
 * Changes for the event pipeline's chaos test and `npm run compare:sharing`: orders driven through
 * the services' own routes (create, charge, schedule, confirm: four changes, four events, in three
 * services' outboxes), and helpers that read the broker's side (consumer lag, stream counts).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connectBroker } from '../lib/events/nats';
import { streamOf, type EventSource } from '../lib/events/events';
import { stackAuth, type ProcessStack } from './process-stack';

const ADDRESS = {
  name: 'Ada Lovelace',
  line1: '12 St James Square',
  city: 'London',
  postalCode: 'SW1Y 4JH',
  country: 'GB',
};

async function call(stack: ProcessStack, method: string, url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', authorization: stackAuth(stack, 'worker') },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
}

/** One order's four changes, as a completed saga makes them (without Temporal: the point here is the events). */
export async function orderWithFourChanges(
  stack: ProcessStack,
  orderId: string,
  customerId: string,
  sku: string,
): Promise<void> {
  await call(stack, 'POST', `${stack.urls.orders}/orders`, { orderId, customerId, lines: [{ sku, quantity: 1 }] });
  await call(stack, 'POST', `${stack.urls.payments}/charges`, {
    orderId,
    amountCents: 1250,
    cardNumber: '4242424242424242',
  });
  await call(stack, 'POST', `${stack.urls.shipping}/shipments`, { orderId, address: ADDRESS });
  await call(stack, 'POST', `${stack.urls.orders}/orders/${orderId}/confirm`, {
    lines: [{ sku, productName: 'Load product', nameVersion: 1, unitPriceCents: 1250 }],
  });
}

/** `orders` orders (4 changes each) with `concurrency` in flight; returns their IDs. */
export async function driveOrders(
  stack: ProcessStack,
  opts: { orders: number; concurrency: number; prefix: string; sku: string },
): Promise<string[]> {
  const ids = Array.from({ length: opts.orders }, (_, i) => `${opts.prefix}-${i}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        await orderWithFourChanges(stack, id, `cust-${opts.prefix}-${next % 7}`, opts.sku);
      }
    }),
  );
  return ids;
}

/** Each durable consumer's lag (not delivered + not acknowledged), by name. */
export async function consumerLags(natsUrl: string): Promise<Map<string, number>> {
  const nc = await connectBroker(natsUrl, 'event-load');
  try {
    const jsm = await jetstreamManager(nc);
    const lags = new Map<string, number>();
    for await (const s of jsm.streams.list()) {
      for await (const c of jsm.consumers.list(s.config.name)) lags.set(c.name, c.num_pending + c.num_ack_pending);
    }
    return lags;
  } finally {
    await nc.close();
  }
}

/** Messages in a source's stream. */
export async function streamMessages(natsUrl: string, source: EventSource): Promise<number> {
  const nc = await connectBroker(natsUrl, 'event-load');
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(streamOf(source).name)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Waits until the named consumers exist and are all at lag 0. */
export async function waitForConsumers(natsUrl: string, names: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lags = await consumerLags(natsUrl).catch(() => new Map<string, number>());
    if (names.every((n) => lags.get(n) === 0)) return;
    if (Date.now() > deadline)
      throw new Error(
        `consumers not drained after ${timeoutMs} ms: ${names.map((n) => `${n}=${lags.get(n) ?? 'missing'}`).join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

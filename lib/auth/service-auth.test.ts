/**
 * Service-to-service authentication over the real services and their real databases: the attack
 * of issue 10 (anyone who reaches a service pre-creates and confirms a customer's order at 1 cent)
 * is refused, while the worker and the gateway, each with its own token, still place orders.
 */
import request from 'supertest';
import { createLogger } from '../logger';
import { createServiceApp } from '../service';
import { allowCallers, assertWriteRoutesNameCallers, serviceCallersSchema } from './service-auth';
import { tokenMatcher } from './bearer-auth';
import { fingerprint, expectError } from '../../test/support/http-checks';
import {
  SERVICE_TOKENS,
  TEST_CALLERS,
  TEST_SERVICE_CALLERS,
  authAs,
  startServices,
  uniqueId,
  type ServiceStack,
} from '../../test/support/services';
import { loadOrdersConfig } from '../../services/orders/config';
import { loadInventoryConfig } from '../../services/inventory/config';
import { loadPaymentsConfig } from '../../services/payments/config';
import { loadShippingConfig } from '../../services/shipping/config';
import { loadWorkerConfig } from '../../config/worker';
import { loadGatewayConfig } from '../../config/gateway';
import { OrderCoordinator } from '../../gateway/coordinator';
import { ServiceClient, createAgent } from '../../activities/http-client';
import { TEST_CARD_KEY } from '../../test/support/fixtures';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('auth');
});
afterAll(async () => {
  await stack?.stop();
});

const ATTACK_LINES = (sku: string) => [{ sku, productName: 'Anything', nameVersion: 0, unitPriceCents: 1 }];

async function orderRow(orderId: string) {
  const [row] = await stack.orders.query<{ status: string; total_cents: number | null }>(
    'SELECT status, total_cents FROM orders WHERE order_id = ?',
    [orderId],
  );
  return row;
}

describe('the attack: pre-creating and confirming a customer order from outside', () => {
  it('when someone without a token creates and confirms an order at 1 cent, then 401 UNAUTHORIZED twice and no order row exists', async () => {
    const orderId = uniqueId('victim');
    const sku = uniqueId('SKU');
    const before = await fingerprint(stack.orders);
    const created = await request(stack.orders.url)
      .post('/orders')
      .send({ orderId, customerId: 'mallory', lines: [{ sku, quantity: 1 }] });
    expectError(created, 401, 'UNAUTHORIZED');
    expect(created.headers['www-authenticate']).toBe('Bearer');
    const confirmed = await request(stack.orders.url)
      .post(`/orders/${orderId}/confirm`)
      .send({ lines: ATTACK_LINES(sku) });
    expectError(confirmed, 401, 'UNAUTHORIZED');
    expect(await orderRow(orderId)).toBeUndefined();
    expect(await fingerprint(stack.orders)).toEqual(before);
  });

  it('when the token is wrong, malformed or sent another way, then 401 and nothing is written', async () => {
    const orderId = uniqueId('victim');
    const body = { orderId, customerId: 'mallory', lines: [{ sku: 'SKU-1', quantity: 1 }] };
    const before = await fingerprint(stack.orders);
    const variants: Record<string, string>[] = [
      { authorization: 'Bearer not-a-token-of-anyone' },
      { authorization: `Bearer ${SERVICE_TOKENS.worker}x` },
      { authorization: `Bearer ${SERVICE_TOKENS.worker.slice(0, -1)}` },
      { authorization: `Bearer ${SERVICE_TOKENS.worker.toUpperCase()}` },
      { authorization: `Basic ${Buffer.from(`worker:${SERVICE_TOKENS.worker}`).toString('base64')}` },
      { authorization: SERVICE_TOKENS.worker },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { 'x-service-token': SERVICE_TOKENS.worker },
      { cookie: `token=${SERVICE_TOKENS.worker}` },
    ];
    for (const headers of variants) {
      const res = await request(stack.orders.url).post('/orders').set(headers).send(body);
      expect({ headers, status: res.status, code: res.body?.error?.code }).toEqual({
        headers,
        status: 401,
        code: 'UNAUTHORIZED',
      });
    }
    const viaQuery = await request(stack.orders.url).post(`/orders?access_token=${SERVICE_TOKENS.worker}`).send(body);
    expectError(viaQuery, 401, 'UNAUTHORIZED');
    expect(await fingerprint(stack.orders)).toEqual(before);
  });

  it('when the worker and the gateway call with their own tokens, then they create and confirm orders as before', async () => {
    for (const caller of ['worker', 'gateway'] as const) {
      const orderId = uniqueId(caller);
      const sku = uniqueId('SKU');
      const created = await stack.orders
        .as(caller)
        .post('/orders')
        .send({ orderId, customerId: 'cust-1', lines: [{ sku, quantity: 1 }] });
      expect({ caller, status: created.status }).toEqual({ caller, status: 201 });
      const confirmed = await stack.orders
        .as(caller)
        .post(`/orders/${orderId}/confirm`)
        .send({ lines: [{ sku, productName: 'Mug', nameVersion: 1, unitPriceCents: 900 }] });
      expect({ caller, status: confirmed.status }).toEqual({ caller, status: 200 });
      expect(await orderRow(orderId)).toEqual({ status: 'CONFIRMED', total_cents: 900 });
    }
  });

  it('when the bearer scheme is written in lower case with extra spaces, then the caller is still recognised', async () => {
    const res = await request(stack.orders.url)
      .get(`/orders/${uniqueId('none')}`)
      .set('authorization', `bearer   ${SERVICE_TOKENS.gateway}`);
    expectError(res, 404, 'ORDER_NOT_FOUND');
  });
});

describe('which caller may call which route', () => {
  it('when the operator (a known caller) tries to create an order or charge a card, then 403 FORBIDDEN and nothing is written', async () => {
    const orderId = uniqueId('ord');
    const before = { orders: await fingerprint(stack.orders), payments: await fingerprint(stack.payments) };
    const order = await stack.orders
      .as('operator')
      .post('/orders')
      .send({ orderId, customerId: 'c', lines: [{ sku: 'SKU-1', quantity: 1 }] });
    expectError(order, 403, 'FORBIDDEN');
    expect(order.body.error.details).toEqual({ allowed: ['worker', 'gateway'] });
    const charge = await stack.payments
      .as('operator')
      .post('/charges')
      .send({ orderId, amountCents: 1, cardNumber: '4242424242424242' });
    expectError(charge, 403, 'FORBIDDEN');
    expect({ orders: await fingerprint(stack.orders), payments: await fingerprint(stack.payments) }).toEqual(before);
  });

  it('when the worker or the gateway writes the catalog, then 403; the operator may', async () => {
    const sku = uniqueId('SKU');
    const body = { name: 'Teapot', priceCents: 100, available: 5 };
    for (const caller of ['worker', 'gateway'] as const) {
      expectError(await stack.inventory.as(caller).put(`/products/${sku}`).send(body), 403, 'FORBIDDEN');
    }
    expect(await stack.inventory.query('SELECT sku FROM products WHERE sku = ?', [sku])).toEqual([]);
    expect((await stack.inventory.as('operator').put(`/products/${sku}`).send(body)).status).toBe(201);
    expect(await stack.inventory.query('SELECT sku, available FROM products WHERE sku = ?', [sku])).toEqual([
      { sku, available: 5 },
    ]);
  });

  it('when the gateway renames a product or copies a name, then 403 (only the RenameProduct saga, on the worker, does)', async () => {
    const sku = uniqueId('SKU');
    await stack.inventory.as('operator').put(`/products/${sku}`).send({ name: 'Old', priceCents: 100, available: 5 });
    expectError(
      await stack.inventory
        .as('gateway')
        .post(`/products/${sku}/rename`)
        .send({ renameId: uniqueId('ren'), name: 'New' }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await stack.orders.as('gateway').put(`/product-names/${sku}`).send({ name: 'New', version: 2 }),
      403,
      'FORBIDDEN',
    );
    expect(await stack.inventory.query('SELECT name, name_version FROM products WHERE sku = ?', [sku])).toEqual([
      { name: 'Old', name_version: 1 },
    ]);
  });

  it('when a read comes without a token, then 401 on every service; /healthz stays open', async () => {
    const reads = [
      [stack.orders.url, `/orders/${uniqueId('o')}`],
      [stack.inventory.url, `/products/${uniqueId('s')}`],
      [stack.inventory.url, `/reservations/${uniqueId('o')}`],
      [stack.payments.url, `/payments?orderId=${uniqueId('o')}`],
      [stack.shipping.url, `/shipments?orderId=${uniqueId('o')}`],
    ] as const;
    for (const [url, path] of reads) {
      expectError(await request(url).get(path), 401, 'UNAUTHORIZED');
      expect((await request(url).get(path).set('authorization', authAs('operator'))).status).not.toBe(401);
    }
    for (const svc of stack.all) expect((await request(svc.url).get('/healthz')).status).toBe(200);
  });

  it('when a write route is declared without naming its callers, then the app refuses to be built; a named one answers 403 to the others', async () => {
    const app = () =>
      createServiceApp(
        {
          db: stack.orders.database.db,
          database: stack.orders.database,
          logger: createLogger('t', 'silent'),
          callers: TEST_CALLERS,
        },
        (a) => {
          a.post('/open', (_req, res) => {
            res.json({ open: true });
          });
        },
      );
    expect(app).toThrow(/Write routes must name their callers with allowCallers\(\): POST \/open/);
    const guarded = createServiceApp(
      {
        db: stack.orders.database.db,
        database: stack.orders.database,
        logger: createLogger('t', 'silent'),
        callers: TEST_CALLERS,
      },
      (a) => {
        a.post('/guarded', allowCallers('worker'), (_req, res) => {
          res.json({ ok: true });
        });
      },
    );
    expect(() => assertWriteRoutesNameCallers(guarded)).not.toThrow();
    expectError(
      await request(guarded).post('/guarded').set('authorization', authAs('gateway')).send({}),
      403,
      'FORBIDDEN',
    );
    expect((await request(guarded).post('/guarded').set('authorization', authAs('worker')).send({})).body).toEqual({
      ok: true,
    });
  });
});

describe('the callers are configured in one place each', () => {
  const loaders = [loadOrdersConfig, loadInventoryConfig, loadPaymentsConfig, loadShippingConfig];

  it('when a service starts without SERVICE_CALLERS, or with a bad list, then it refuses to start naming the problem', () => {
    for (const load of loaders) {
      expect(() => load({})).toThrow(/SERVICE_CALLERS: required/);
      expect(() => load({ SERVICE_CALLERS: '' })).toThrow(/SERVICE_CALLERS: at least one caller/);
      expect(() => load({ SERVICE_CALLERS: 'worker:short' })).toThrow(/caller worker: the token must be at least 16/);
      expect(() => load({ SERVICE_CALLERS: 'mallory:0123456789abcdef0' })).toThrow(/unknown caller "mallory"/);
      expect(() => load({ SERVICE_CALLERS: 'worker:0123456789abcdef0,worker:0123456789abcdef1' })).toThrow(
        /listed twice/,
      );
      expect(() => load({ SERVICE_CALLERS: 'worker:0123456789abcdef0,gateway:0123456789abcdef0' })).toThrow(
        /a token of its own/,
      );
      expect([...load({ SERVICE_CALLERS: TEST_SERVICE_CALLERS }).SERVICE_CALLERS.keys()]).toEqual([
        'worker',
        'gateway',
        'operator',
      ]);
    }
    expect(serviceCallersSchema.parse(' worker:0123456789abcdef0 , gateway:0123456789abcdef1 ')).toEqual(
      new Map([
        ['worker', '0123456789abcdef0'],
        ['gateway', '0123456789abcdef1'],
      ]),
    );
  });

  it('when the worker or the gateway starts without a SERVICE_TOKEN of 16+ characters, then it refuses to start', () => {
    const card = TEST_CARD_KEY.toString('base64');
    expect(() => loadWorkerConfig({ CARD_ENCRYPTION_KEY: card })).toThrow(/SERVICE_TOKEN: required/);
    expect(() => loadWorkerConfig({ CARD_ENCRYPTION_KEY: card, SERVICE_TOKEN: 'short' })).toThrow(
      /SERVICE_TOKEN: at least 16/,
    );
    expect(loadWorkerConfig({ CARD_ENCRYPTION_KEY: card, SERVICE_TOKEN: SERVICE_TOKENS.worker }).SERVICE_TOKEN).toBe(
      SERVICE_TOKENS.worker,
    );
    expect(() => loadGatewayConfig({ API_TOKEN: 'api-token-0123456789' })).toThrow(/SERVICE_TOKEN: required/);
    expect(
      loadGatewayConfig({ API_TOKEN: 'api-token-0123456789', SERVICE_TOKEN: SERVICE_TOKENS.gateway }).SERVICE_TOKEN,
    ).toBe(SERVICE_TOKENS.gateway);
  });

  it('when a token is matched, then only an exact token of a configured caller matches', () => {
    const match = tokenMatcher(TEST_CALLERS);
    expect(match(SERVICE_TOKENS.gateway)).toBe('gateway');
    expect(match(undefined)).toBeUndefined();
    expect(match('')).toBeUndefined();
    expect(match(`${SERVICE_TOKENS.gateway} `)).toBeUndefined();
  });

  it('when the worker holds a token the service does not know, then its call fails retryable as UNAUTHORIZED (configuration, not a business rejection) and nothing is written', async () => {
    const agent = createAgent({ timeoutMs: 2000, connections: 1 });
    try {
      const orderId = uniqueId('w');
      const client = new ServiceClient('orders', stack.orders.url, agent, 2000, 'a-token-being-rotated-0123');
      const failure = await client
        .call('POST', '/orders', { body: { orderId, customerId: 'c', lines: [{ sku: 'SKU-1', quantity: 1 }] } })
        .catch((e: unknown) => e);
      expect(failure).toMatchObject({ type: 'UNAUTHORIZED', nonRetryable: false });
      const forbidden = await new ServiceClient('orders', stack.orders.url, agent, 2000, SERVICE_TOKENS.operator)
        .call('POST', '/orders', { body: { orderId, customerId: 'c', lines: [{ sku: 'SKU-1', quantity: 1 }] } })
        .catch((e: unknown) => e);
      expect(forbidden).toMatchObject({ type: 'FORBIDDEN', nonRetryable: false });
      expect(await orderRow(orderId)).toBeUndefined();
      // A business rejection stays non-retryable.
      const rejected = await new ServiceClient('orders', stack.orders.url, agent, 2000, SERVICE_TOKENS.worker)
        .call('POST', `/orders/${orderId}/confirm`, { body: { lines: ATTACK_LINES('SKU-1') } })
        .catch((e: unknown) => e);
      expect(rejected).toMatchObject({ type: 'ORDER_NOT_FOUND', nonRetryable: true });
    } finally {
      await agent.close();
    }
  });

  it('when the gateway coordinator runs with a token no service knows, then its first call is refused 401 UNAUTHORIZED and nothing is written', async () => {
    // The coordinator sends its token on every call: a wrong one makes the first step fail with the 401's code.
    const logger = createLogger('gateway', 'silent');
    const wrong = new OrderCoordinator({
      urls: stack.urls,
      httpTimeoutMs: 2000,
      httpConnections: 2,
      serviceToken: 'not-the-gateway-token-at-all',
      logger,
    });
    try {
      const orderId = uniqueId('gw');
      const answer = await wrong.placeOrder(orderId, {
        customerId: 'c',
        items: [{ sku: 'SKU-1', quantity: 1 }],
        payment: { cardNumber: '4242424242424242' },
        shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'GB' },
      });
      expect(answer).toMatchObject({
        orderId,
        status: 'COMPENSATED',
        failure: { step: 'createOrder', type: 'UNAUTHORIZED' },
      });
      expect(await orderRow(orderId)).toBeUndefined();
    } finally {
      await wrong.close();
    }
  });
});

import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type express from 'express';
import { request as undiciRequest } from 'undici';
import { createGatewayApp } from './app';
import { OrderCoordinator, gatewayOrderId, type GatewayOrderAnswer } from './coordinator';
import { deriveKey } from '../lib/auth/keyed-hash';
import { gatewayConfigSchema, loadGatewayConfig } from '../config/gateway';
import { workerConfigSchema } from '../config/worker';
import { createLogger } from '../lib/logger';
import { SERVICE_TOKENS, startServices, uniqueId, type ServiceStack } from '../test/support/services';
import { ADDRESS, DECLINED_CARD, GOOD_CARD, orderFootprint, putProduct, stockOf } from '../test/support/fixtures';

const TOKEN = 'gateway-test-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
const logger = createLogger('gateway', process.env.TEST_LOG_LEVEL ?? 'silent');

let stack: ServiceStack;
let gateway: Gateway;
const closers: (() => Promise<void>)[] = [];

interface Gateway {
  app: express.Express;
  coordinator: OrderCoordinator;
}

/** A real gateway over the suite's services; `urls` points some of its calls elsewhere (a proxy). */
function startGateway(urls: Partial<ServiceStack['urls']> = {}, httpTimeoutMs = 2000): Gateway {
  const coordinator = new OrderCoordinator({
    urls: { ...stack.urls, ...urls },
    httpTimeoutMs,
    httpConnections: 8,
    serviceToken: SERVICE_TOKENS.gateway,
    logger,
  });
  closers.push(() => coordinator.close());
  return { app: createGatewayApp({ coordinator, logger, apiToken: TOKEN }), coordinator };
}

function orderBody(sku: string, overrides: Record<string, unknown> = {}) {
  return {
    customerId: 'cust-7',
    items: [{ sku, quantity: 2 }],
    payment: { cardNumber: GOOD_CARD },
    shippingAddress: ADDRESS,
    ...overrides,
  };
}

async function placeOrder(
  g: Gateway,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<GatewayOrderAnswer> {
  const res = await request(g.app)
    .post('/orders')
    .set(auth)
    .set(headers)
    .send(body as object);
  expect(res.status).toBe(200);
  return res.body as GatewayOrderAnswer;
}

async function orderCount(): Promise<number> {
  const [row] = await stack.orders.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders');
  return Number(row!.n);
}

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        if ('closeAllConnections' in server) (server as http.Server).closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A service that accepts connections and never answers (a hung process): the gateway's call
 * times out. `onRequest` runs when the first request arrives.
 */
async function hangingService(onRequest: () => Promise<void>): Promise<string> {
  const sockets = new Set<net.Socket>();
  let fired = false;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {
      if (!fired) {
        fired = true;
        void onRequest();
      }
    });
  });
  const url = await listen(server);
  closers.push(async () => sockets.forEach((s) => s.destroy()));
  return url;
}

/**
 * A proxy in front of a real service. For the requests `lose` picks, it either forwards the
 * request and then drops the connection without answering (the effect landed, the answer was
 * lost: `afterForwarding`), or drops it without forwarding (`beforeForwarding`).
 */
async function lossyProxy(
  targetUrl: string,
  lose: (method: string, path: string) => 'afterForwarding' | 'beforeForwarding' | undefined,
): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const mode = lose(req.method ?? 'GET', req.url ?? '/');
        if (mode === 'beforeForwarding') {
          req.socket.destroy();
          return;
        }
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
        ) as Record<string, string>;
        const upstream = await undiciRequest(new URL(req.url ?? '/', targetUrl), {
          method: req.method as 'GET',
          headers,
          body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        });
        const text = await upstream.body.text();
        if (mode === 'afterForwarding') {
          req.socket.destroy();
          return;
        }
        res
          .writeHead(upstream.statusCode, {
            'content-type': String(upstream.headers['content-type'] ?? 'application/json'),
          })
          .end(text);
      })();
    });
  });
  return listen(server);
}

beforeAll(async () => {
  stack = await startServices('gateway');
  gateway = startGateway();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await stack?.stop();
});

describe('gateway: nothing fails', () => {
  test('when every service accepts, then it answers COMPLETED and leaves the same footprint as the saga’s happy path', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 10, priceCents: 1250, name: 'Teapot' });
    const answer = await placeOrder(gateway, orderBody(sku));
    expect(answer).toEqual({
      orderId: expect.any(String),
      status: 'COMPLETED',
      result: { totalCents: 2500, paymentId: expect.any(String), shipmentId: expect.any(String) },
    });
    expect(await orderFootprint(stack, answer.orderId)).toEqual({
      order: 'CONFIRMED',
      totalCents: 2500,
      reservation: 'COMMITTED',
      payments: ['CAPTURED'],
      paymentAmounts: [2500],
      shipments: ['SCHEDULED'],
    });
    const lines = await stack.orders.query(
      'SELECT product_name, unit_price_cents FROM order_lines WHERE order_id = ?',
      [answer.orderId],
    );
    expect(lines).toEqual([{ product_name: 'Teapot', unit_price_cents: 1250 }]);
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
    const [payment] = await stack.payments.query<{ payment_id: string; card_last4: string }>(
      'SELECT payment_id, card_last4 FROM payments WHERE order_id = ?',
      [answer.orderId],
    );
    expect(payment).toEqual({ payment_id: answer.result!.paymentId, card_last4: '4242' });
    // one Idempotency-Key per call, derived from the order and the step
    const keys = await stack.orders.query<{ idem_key: string }>(
      'SELECT idem_key FROM idempotency_keys WHERE idem_key LIKE ? ORDER BY idem_key',
      [`%${answer.orderId}%`],
    );
    expect(keys.map((k) => k.idem_key)).toEqual([
      `gateway-order-${answer.orderId}:confirmOrder`,
      `gateway-order-${answer.orderId}:createOrder`,
    ]);
  });

  test('when the same Idempotency-Key is sent twice, then the second answer repeats the first and nothing happens twice', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 10, priceCents: 700 });
    const key = { 'Idempotency-Key': uniqueId('checkout') };
    const first = await placeOrder(gateway, orderBody(sku), key);
    const second = await placeOrder(gateway, orderBody(sku), key);
    expect(first.status).toBe('COMPLETED');
    expect(second).toEqual(first);
    expect(await orderFootprint(stack, first.orderId)).toMatchObject({
      order: 'CONFIRMED',
      payments: ['CAPTURED'],
      shipments: ['SCHEDULED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
  });

  test("when a customer's Idempotency-Key is known, then the order ID cannot be computed from it without the gateway's secret", async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 10, priceCents: 700 });
    const key = uniqueId('checkout');
    const answer = await placeOrder(gateway, orderBody(sku), { 'Idempotency-Key': key });
    expect(answer.status).toBe('COMPLETED');
    // not the unkeyed derivation the gateway used before (g + sha256("gateway-orders:<key>"))
    expect(answer.orderId).not.toBe(
      `g${createHash('sha256').update(`gateway-orders:${key}`).digest('hex').slice(0, 32)}`,
    );
    expect(answer.orderId).toBe(gatewayOrderId(deriveKey(TOKEN, 'gateway/idempotent-ids'), key));
    expect(gatewayOrderId(deriveKey('another-token-0123456789', 'gateway/idempotent-ids'), key)).not.toBe(
      answer.orderId,
    );
  });

  test('when an Idempotency-Key is reused with another address, then it answers 422 and the first order stays as it was', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 10, priceCents: 700 });
    const key = { 'Idempotency-Key': uniqueId('checkout') };
    const first = await placeOrder(gateway, orderBody(sku), key);
    expect(first.status).toBe('COMPLETED');
    const res = await request(gateway.app)
      .post('/orders')
      .set(auth)
      .set(key)
      .send(orderBody(sku, { shippingAddress: { ...ADDRESS, city: 'Paris', country: 'FR' } }));
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await orderFootprint(stack, first.orderId)).toMatchObject({
      order: 'CONFIRMED',
      reservation: 'COMMITTED',
      payments: ['CAPTURED'],
      shipments: ['SCHEDULED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
  });
});

describe('gateway: a business failure is rolled back', () => {
  test('when the stock is insufficient, then it cancels the order and answers COMPENSATED with no stock moved', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 1 });
    const answer = await placeOrder(gateway, orderBody(sku));
    expect(answer).toEqual({
      orderId: expect.any(String),
      status: 'COMPENSATED',
      failure: {
        step: 'reserveStock',
        type: 'INSUFFICIENT_STOCK',
        message: expect.stringContaining('Not enough stock'),
      },
    });
    expect(await orderFootprint(stack, answer.orderId)).toEqual({
      order: 'CANCELLED',
      totalCents: null,
      reservation: undefined,
      payments: [],
      paymentAmounts: [],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 1, reserved: 0, committed: 0 });
  });

  test('when the card is declined, then it releases the stock and cancels the order and answers COMPENSATED', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5 });
    const answer = await placeOrder(gateway, orderBody(sku, { payment: { cardNumber: DECLINED_CARD } }));
    expect(answer).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'chargePayment', type: 'PAYMENT_DECLINED' },
    });
    expect(answer.rollbackErrors).toBeUndefined();
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['DECLINED'],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when the total is over the payments cap, then it never calls payments, rolls back and answers COMPENSATED with ORDER_TOTAL_OVER_LIMIT', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 10, priceCents: 100_000_000 });
    const answer = await placeOrder(gateway, orderBody(sku));
    expect(answer).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'chargePayment', type: 'ORDER_TOTAL_OVER_LIMIT' },
    });
    expect(answer.failure!.message).toMatch(/\$2,000,000\.00.*\$1,000,000\.00/);
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: [],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
  });

  test('when the address is unserviceable, then it refunds, releases the stock, cancels the order and answers COMPENSATED', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5 });
    const answer = await placeOrder(gateway, orderBody(sku, { shippingAddress: { ...ADDRESS, country: 'AQ' } }));
    expect(answer).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'scheduleShipment', type: 'UNSERVICEABLE_ADDRESS' },
    });
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });
});

describe('gateway: technical failures (the baseline’s known weaknesses)', () => {
  test('when the shipping service is down, then it rolls back once and answers COMPENSATED', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5 });
    await stack.shipping.stop();
    let answer: GatewayOrderAnswer;
    try {
      answer = await placeOrder(gateway, orderBody(sku));
    } finally {
      await stack.shipping.start();
    }
    expect(answer).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'scheduleShipment', type: 'SERVICE_UNREACHABLE' },
    });
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when shipping hangs and payments is down by the time of the refund, then it answers FAILED and the cancelled order stays charged', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5, priceCents: 900 });
    // scheduleShipment reaches a hung shipping service; while it waits, payments goes down.
    const shippingUrl = await hangingService(() => stack.payments.stop());
    const g = startGateway({ shipping: shippingUrl }, 500);
    let answer: GatewayOrderAnswer;
    try {
      answer = await placeOrder(g, orderBody(sku));
    } finally {
      await stack.payments.start();
    }
    expect(answer).toEqual({
      orderId: expect.any(String),
      status: 'FAILED',
      failure: {
        step: 'scheduleShipment',
        type: 'SERVICE_TIMEOUT',
        message: expect.stringContaining('no answer within 500 ms'),
      },
      rollbackErrors: [
        { step: 'chargePayment', rollback: 'refundPayment', type: 'SERVICE_UNREACHABLE', message: expect.any(String) },
      ],
    });
    // The other rollbacks ran; the refund never will: the customer paid for a cancelled order.
    expect(await orderFootprint(stack, answer.orderId)).toEqual({
      order: 'CANCELLED',
      totalCents: null,
      reservation: 'RELEASED',
      payments: ['CAPTURED'],
      paymentAmounts: [1800],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when a charge lands but its answer is lost, then it answers COMPENSATED while the cancelled order stays charged', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5, priceCents: 400 });
    const proxy = await lossyProxy(stack.payments.url, (method, path) =>
      method === 'POST' && path === '/charges' ? 'afterForwarding' : undefined,
    );
    const answer = await placeOrder(startGateway({ payments: proxy }), orderBody(sku));
    expect(answer).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'chargePayment', type: 'SERVICE_UNREACHABLE' },
    });
    // Only steps that answered success are rolled back: the gateway reports a clean rollback, the data says otherwise.
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['CAPTURED'],
      paymentAmounts: [800],
    });
  });

  test('when the confirmation never reaches the orders service, then everything is rolled back and it answers COMPENSATED', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5 });
    const proxy = await lossyProxy(stack.orders.url, (method, path) =>
      method === 'POST' && path.endsWith('/confirm') ? 'beforeForwarding' : undefined,
    );
    const answer = await placeOrder(startGateway({ orders: proxy }), orderBody(sku));
    expect(answer).toMatchObject({
      status: 'COMPENSATED',
      failure: { step: 'confirmOrder', type: 'SERVICE_UNREACHABLE' },
    });
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: ['CANCELLED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when the confirmation lands but its answer is lost, then it answers FAILED and the confirmed order is left refunded and unshipped', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5 });
    const proxy = await lossyProxy(stack.orders.url, (method, path) =>
      method === 'POST' && path.endsWith('/confirm') ? 'afterForwarding' : undefined,
    );
    const answer = await placeOrder(startGateway({ orders: proxy }), orderBody(sku));
    expect(answer).toMatchObject({
      status: 'FAILED',
      failure: { step: 'confirmOrder', type: 'SERVICE_UNREACHABLE' },
      rollbackErrors: [{ step: 'createOrder', rollback: 'cancelOrder', type: 'ILLEGAL_TRANSITION' }],
    });
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CONFIRMED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: ['CANCELLED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when the stock commit fails after the confirmation, then it answers FAILED, rolls nothing back and the stock stays held', async () => {
    const sku = await putProduct(stack, { sku: uniqueId('GW'), available: 5 });
    const proxy = await lossyProxy(stack.inventory.url, (method, path) =>
      method === 'POST' && path.endsWith('/commit') ? 'beforeForwarding' : undefined,
    );
    const answer = await placeOrder(startGateway({ inventory: proxy }), orderBody(sku));
    expect(answer).toEqual({
      orderId: expect.any(String),
      status: 'FAILED',
      failure: { step: 'commitStock', type: 'SERVICE_UNREACHABLE', message: expect.any(String) },
    });
    expect(await orderFootprint(stack, answer.orderId)).toMatchObject({
      order: 'CONFIRMED',
      reservation: 'HELD',
      payments: ['CAPTURED'],
      shipments: ['SCHEDULED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 3, reserved: 2, committed: 0 });
  });
});

describe('gateway: client mistakes', () => {
  test('when no token or a wrong one is sent, then POST /orders answers 401 JSON and no order is created', async () => {
    const before = await orderCount();
    const none = await request(gateway.app).post('/orders').send(orderBody('GW-1'));
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHORIZED');
    const wrong = await request(gateway.app)
      .post('/orders')
      .set('Authorization', 'Bearer nope')
      .send(orderBody('GW-1'));
    expect(wrong.status).toBe(401);
    expect(await orderCount()).toBe(before);
  });

  test('when /healthz is called without a token, then it answers 200', async () => {
    const res = await request(gateway.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  const cases: [string, (r: request.Test) => request.Test, number, string][] = [
    ['malformed JSON', (r) => r.set('Content-Type', 'application/json').send('{"customerId": '), 400, 'INVALID_JSON'],
    [
      'a body that is not JSON',
      (r) => r.set('Content-Type', 'text/plain').send('hello'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['no body', (r) => r, 400, 'VALIDATION_FAILED'],
    ['an unknown field', (r) => r.send({ ...orderBody('A1'), coupon: 'FREE' }), 400, 'VALIDATION_FAILED'],
    [
      'a quantity of 0',
      (r) => r.send(orderBody('A1', { items: [{ sku: 'A1', quantity: 0 }] })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'the same SKU twice',
      (r) =>
        r.send(
          orderBody('A1', {
            items: [
              { sku: 'A1', quantity: 1 },
              { sku: 'A1', quantity: 2 },
            ],
          }),
        ),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a card number with letters',
      (r) => r.send(orderBody('A1', { payment: { cardNumber: '4242abcd42424242' } })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'an unknown country code',
      (r) => r.send(orderBody('A1', { shippingAddress: { ...ADDRESS, country: 'XX' } })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a body over the limit',
      (r) => r.send(orderBody('A1', { customerId: 'x'.repeat(70_000) })),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'an Idempotency-Key of 201 characters',
      (r) => r.set('Idempotency-Key', 'k'.repeat(201)).send(orderBody('A1')),
      400,
      'VALIDATION_FAILED',
    ],
    ['an unknown query parameter', (r) => r.query({ wait: 'maybe' }).send(orderBody('A1')), 400, 'VALIDATION_FAILED'],
  ];
  test.each(cases)(
    'when POST /orders has %s, then it answers a 4xx JSON error and creates no order',
    async (_name, build, status, code) => {
      const before = await orderCount();
      const res = await build(request(gateway.app).post('/orders').set(auth));
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({ code, message: expect.any(String) });
      expect(await orderCount()).toBe(before);
    },
  );

  test('when a route does not exist, then it answers a 404 JSON error', async () => {
    const res = await request(gateway.app).get('/sagas').set(auth);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});

describe('gateway: configuration', () => {
  test('when only API_TOKEN and SERVICE_TOKEN are set, then it listens on 3005 and calls the services where the worker does', () => {
    const config = loadGatewayConfig({ API_TOKEN: TOKEN, SERVICE_TOKEN: SERVICE_TOKENS.gateway });
    const worker = workerConfigSchema.parse({
      CARD_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
      SERVICE_TOKEN: SERVICE_TOKENS.worker,
    });
    expect(config).toMatchObject({
      GATEWAY_PORT: 3005,
      BIND_HOST: '127.0.0.1',
      HTTP_TIMEOUT_MS: worker.HTTP_TIMEOUT_MS,
      LOG_LEVEL: 'info',
    });
    expect([config.ORDERS_URL, config.INVENTORY_URL, config.PAYMENTS_URL, config.SHIPPING_URL]).toEqual([
      worker.ORDERS_URL,
      worker.INVENTORY_URL,
      worker.PAYMENTS_URL,
      worker.SHIPPING_URL,
    ]);
  });

  test('when API_TOKEN is missing and a port is bad, then it refuses to start listing both', () => {
    expect(() => loadGatewayConfig({ GATEWAY_PORT: '99999' })).toThrow(
      /GATEWAY_PORT[\s\S]*API_TOKEN|API_TOKEN[\s\S]*GATEWAY_PORT/,
    );
    expect(gatewayConfigSchema.safeParse({ API_TOKEN: 'short' }).success).toBe(false);
  });
});

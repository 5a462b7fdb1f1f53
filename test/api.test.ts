import request from 'supertest';
import type express from 'express';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import openApi31Schema from '@seriousme/openapi-schema-validator/schemas/v3.1/schema.json';
import { startServices, type ServiceStack } from './support/services';
import {
  connectTemporal,
  startWorker,
  waitForState,
  STUCK_QUICKLY,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';
import { DECLINED_CARD, orderInput, putProduct } from './support/fixtures';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { auth, createTestApi, orderBody, post } from './support/api';
import type { SagaView } from '../api/schemas';
import { placeOrder } from '../workflows/place-order';
import { SAGAS } from '../sagas';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;
let app: express.Express;
let sku: string;

/** Every real answer the suite sees, checked against the OpenAPI document at the end. */
const seen: { method: string; path: string; status: number; body: unknown }[] = [];
function record(method: string, route: string) {
  return (res: request.Response) => {
    seen.push({ method, path: route, status: res.status, body: res.body });
    return res;
  };
}

beforeAll(async () => {
  stack = await startServices('api');
  t = await connectTemporal('api');
  worker = await startWorker(t, stack, { httpTimeoutMs: 1000 });
  app = createTestApi(t, { dbPrefix: stack.prefix }).app;
  sku = await putProduct(stack, { available: 1000, priceCents: 999 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

async function workflowCount(): Promise<number> {
  const resp = await t.client.workflowService.countWorkflowExecutions({
    namespace: 'default',
    query: `TaskQueue = '${t.taskQueue}'`,
  });
  return Number(resp.count ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('auth', () => {
  test('when no token is sent, then protected routes answer 401 JSON and nothing starts', async () => {
    const before = await workflowCount();
    const res = await request(app).post('/orders').send(orderBody(sku)).then(record('post', '/orders'));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
    const wrong = await request(app).get('/sagas').set('Authorization', 'Bearer nope').then(record('get', '/sagas'));
    expect(wrong.status).toBe(401);
    const basic = await request(app).get('/sagas/order-x').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(basic.status).toBe(401);
    const audit = await request(app).get('/audit').then(record('get', '/audit'));
    expect(audit.status).toBe(401);
    expect(audit.body.error.code).toBe('UNAUTHORIZED');
    expect(await workflowCount()).toBe(before);
  });

  test('when no token is sent to /healthz, /openapi.json or /metrics, then they answer 200', async () => {
    const health = await request(app).get('/healthz').then(record('get', '/healthz'));
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', temporal: 'reachable' });
    expect((await request(app).get('/openapi.json')).status).toBe(200);
    const metrics = await request(app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('api_http_requests_total');
  });
});

describe('validation', () => {
  const cases: [string, (r: request.Test) => request.Test, number, string][] = [
    ['malformed JSON', (r) => r.set('Content-Type', 'application/json').send('{"customerId": '), 400, 'INVALID_JSON'],
    [
      'a body that is not JSON',
      (r) => r.set('Content-Type', 'text/plain').send('hello'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['an unknown field', (r) => r.send({ ...orderBody('A1'), coupon: 'FREE' }), 400, 'VALIDATION_FAILED'],
    [
      'a quantity of 0',
      (r) => r.send(orderBody('A1', { items: [{ sku: 'A1', quantity: 0 }] })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a fractional quantity',
      (r) => r.send(orderBody('A1', { items: [{ sku: 'A1', quantity: 1.5 }] })),
      400,
      'VALIDATION_FAILED',
    ],
    ['no items', (r) => r.send(orderBody('A1', { items: [] })), 400, 'VALIDATION_FAILED'],
    [
      '51 items',
      (r) => r.send(orderBody('A1', { items: Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) })),
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
      'a card number of 11 digits',
      (r) => r.send(orderBody('A1', { payment: { cardNumber: '42424242424' } })),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'an unknown country code',
      (r) =>
        r.send(
          orderBody('A1', { shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'XX' } }),
        ),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a lower-case country code',
      (r) =>
        r.send(
          orderBody('A1', { shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'gb' } }),
        ),
      400,
      'VALIDATION_FAILED',
    ],
    ['a customerId of the wrong type', (r) => r.send(orderBody('A1', { customerId: 42 })), 400, 'VALIDATION_FAILED'],
    [
      'a missing shipping address',
      (r) =>
        r.send({ customerId: 'c', items: [{ sku: 'A1', quantity: 1 }], payment: { cardNumber: '4242424242424242' } }),
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
    'when POST /orders has %s, then it answers a 4xx JSON error and starts nothing',
    async (_name, build, status, code) => {
      const before = await workflowCount();
      const res = await build(post(app, '/orders')).then(record('post', '/orders'));
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({ code });
      expect(typeof res.body.error.message).toBe('string');
      expect(await workflowCount()).toBe(before);
    },
  );

  test('when a rename has an empty name, a bad SKU or an extra field, then it answers 400', async () => {
    expect(
      (await post(app, `/products/${sku}/rename`).send({ name: '' }).then(record('post', '/products/{sku}/rename')))
        .status,
    ).toBe(400);
    expect((await post(app, '/products/bad%20sku/rename').send({ name: 'x' })).status).toBe(400);
    expect((await post(app, `/products/${sku}/rename`).send({ name: 'x', force: true })).status).toBe(400);
  });

  test('when saga IDs or list filters are malformed, then the API answers 400', async () => {
    const badId = await request(app).get('/sagas/not-a-saga').set(auth).then(record('get', '/sagas/{sagaId}'));
    expect(badId.status).toBe(400);
    expect((await request(app).get('/sagas').query({ status: 'DONE' }).set(auth)).status).toBe(400);
    expect((await request(app).get('/sagas').query({ limit: '0' }).set(auth)).status).toBe(400);
    expect((await request(app).get('/sagas').query({ limit: '101' }).set(auth)).status).toBe(400);
    expect((await request(app).get('/sagas').query({ type: 'Refund' }).set(auth)).status).toBe(400);
    expect((await request(app).get('/sagas').query({ pageToken: '!!' }).set(auth)).status).toBe(400);
    expect((await post(app, '/sagas/order-x/resolve').send({ note: '' })).status).toBe(400);
  });

  test('when a route does not exist, then it answers a 404 JSON error', async () => {
    const res = await request(app).get('/nope').set(auth);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });
});

describe('sagas over REST', () => {
  test('when an order is started and waited for, then it answers 200 with the COMPLETED saga view', async () => {
    const res = await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku)).then(record('post', '/orders'));
    expect(res.status).toBe(200);
    const view = res.body as SagaView;
    expect(view).toMatchObject({ type: 'PlaceOrder', status: 'COMPLETED', result: { totalCents: 999 } });
    expect(view.steps.map((s) => s.name)).toEqual([
      'createOrder',
      'reserveStock',
      'chargePayment',
      'scheduleShipment',
      'confirmOrder',
      'commitStock',
    ]);
    expect(view.links.temporalUi).toMatch(new RegExp(`/namespaces/default/workflows/${view.sagaId}$`));
    // the card number never enters Temporal: the history holds a sealed token and the last four digits
    const raw = JSON.stringify(await t.client.workflow.getHandle(view.sagaId).fetchHistory());
    const payloads = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)]
      .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
      .join('\n');
    expect(payloads).toContain('"last4":"4242"');
    expect(payloads).toContain('"cardToken":"v1.');
    expect(payloads).not.toContain('4242424242424242');
    const orderId = view.sagaId.replace(/^order-/, '');
    const [order] = await stack.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = ?', [
      orderId,
    ]);
    expect(order!.status).toBe('CONFIRMED');
    const again = await request(app).get(`/sagas/${view.sagaId}`).set(auth).then(record('get', '/sagas/{sagaId}'));
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('COMPLETED');
    // the plan from the saga's definition: every stage done, nothing ahead
    expect(again.body.progress).toMatchObject({ done: 6, total: 6, ahead: [], summary: '6 of 6 done' });
    expect((again.body as SagaView).progress!.stages.map((st) => [st.steps, st.parallel, st.kind])).toEqual([
      [['createOrder', 'reserveStock'], true, 'compensatable'],
      [['chargePayment', 'scheduleShipment'], true, 'compensatable'],
      [['confirmOrder'], false, 'pivot'],
      [['commitStock'], false, 'retriable'],
    ]);
  });

  test('when an order is started with wait=decided, then it answers 200 as soon as the pivot passed (COMPLETING), and the saga then completes', async () => {
    const res = await post(app, '/orders')
      .query({ wait: 'decided' })
      .send(orderBody(sku))
      .then(record('post', '/orders'));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('COMPLETING');
    // past the pivot: the retriable commit is what is left
    expect((res.body as SagaView).progress!.summary).toMatch(/^5 of 6 done, (next|now): commitStock$/);
    const steps = Object.fromEntries((res.body as SagaView).steps.map((s) => [s.name, s.status]));
    expect(steps).toMatchObject({
      createOrder: 'SUCCEEDED',
      reserveStock: 'SUCCEEDED',
      chargePayment: 'SUCCEEDED',
      scheduleShipment: 'SUCCEEDED',
      confirmOrder: 'SUCCEEDED',
    });
    // the answer came from the saga itself, through an Update sent with the start, not from polling
    const history = await t.client.workflow.getHandle(res.body.sagaId).fetchHistory();
    expect(
      history.events!.filter(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes,
      ),
    ).toHaveLength(2);
    await t.client.workflow.getHandle(res.body.sagaId).result();
    const view = await request(app).get(`/sagas/${res.body.sagaId}`).set(auth);
    expect(view.body.status).toBe('COMPLETED');
  });

  test("when a saga's timeline is asked for, then it lists its workflow tasks, activities and the services' own time, read from its history", async () => {
    const res = await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku)).then(record('post', '/orders'));
    expect(res.body.status).toBe('COMPLETED');
    const timeline = await request(app)
      .get(`/sagas/${res.body.sagaId}/timeline`)
      .set(auth)
      .then(record('get', '/sagas/{sagaId}/timeline'));
    expect(timeline.status).toBe(200);
    expect(timeline.body).toMatchObject({ sagaId: res.body.sagaId, closed: true, activities: 6, localActivities: 0 });
    const history = await t.client.workflow.getHandle(res.body.sagaId).fetchHistory();
    expect(timeline.body.events).toBe(history.events!.length);
    const legs = timeline.body.legs as { kind: string; name?: string; durationMs: number }[];
    const names = (kind: string) =>
      legs
        .filter((l) => l.kind === kind)
        .map((l) => l.name)
        .sort();
    const steps = ['chargePayment', 'commitStock', 'confirmOrder', 'createOrder', 'reserveStock', 'scheduleShipment'];
    expect(names('activity.startToClose')).toEqual(steps);
    // every service answered with its own handling time, which fits inside the activity that called it
    expect(names('service')).toEqual(steps);
    for (const step of steps) {
      const service = legs.find((l) => l.kind === 'service' && l.name === step)!;
      const activity = legs.find((l) => l.kind === 'activity.startToClose' && l.name === step)!;
      expect(service.durationMs).toBeGreaterThan(0);
      expect(service.durationMs).toBeLessThanOrEqual(activity.durationMs + 1);
    }
    expect(timeline.body.workflowTasks).toBe(legs.filter((l) => l.kind === 'workflowTask.startToComplete').length);
    expect(timeline.body.summary['activity.startToClose'].count).toBe(6);
    const unknown = await request(app)
      .get('/sagas/order-does-not-exist/timeline')
      .set(auth)
      .then(record('get', '/sagas/{sagaId}/timeline'));
    expect(unknown.status).toBe(404);
  });

  test('when an order is started without waiting, then it answers 202 with sagaId, orderId, status and links', async () => {
    const res = await post(app, '/orders').send(orderBody(sku)).then(record('post', '/orders'));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      sagaId: `order-${res.body.orderId}`,
      status: 'RUNNING',
      links: { self: `/sagas/order-${res.body.orderId}` },
    });
    const handle = t.client.workflow.getHandle(res.body.sagaId);
    await handle.result();
    const view = await request(app).get(`/sagas/${res.body.sagaId}`).set(auth);
    expect(view.body.status).toBe('COMPLETED');
  });

  test('when the card is declined, then the saga view says COMPENSATED with the failure and compensated steps', async () => {
    const res = await post(app, '/orders')
      .query({ wait: 'true' })
      .send(orderBody(sku, { payment: { cardNumber: DECLINED_CARD } }))
      .then(record('post', '/orders'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'COMPENSATED',
      failure: { type: 'PAYMENT_DECLINED', step: 'chargePayment' },
    });
    expect(res.body.steps.find((s: { name: string }) => s.name === 'reserveStock').compensation.status).toBe(
      'COMPENSATED',
    );
  });

  test('when the same Idempotency-Key is sent twice, then one saga starts and both answers carry its sagaId', async () => {
    const key = `key-${Date.now()}-${Math.random()}`;
    const before = await workflowCount();
    const [a, b] = await Promise.all([
      post(app, '/orders').set('Idempotency-Key', key).send(orderBody(sku)),
      post(app, '/orders').set('Idempotency-Key', key).send(orderBody(sku)),
    ]);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.body.sagaId).toBe(b.body.sagaId);
    await t.client.workflow.getHandle(a.body.sagaId).result();
    const later = await post(app, '/orders')
      .set('Idempotency-Key', key)
      .send(orderBody(sku))
      .then(record('post', '/orders'));
    expect(later.body.sagaId).toBe(a.body.sagaId);
    expect(later.body.status).toBe('COMPLETED');
    expect(await workflowCount()).toBe(before + 1);
    const conflict = await post(app, '/orders')
      .set('Idempotency-Key', key)
      .send(orderBody(sku, { customerId: 'someone-else' }))
      .then(record('post', '/orders'));
    expect(conflict.status).toBe(422);
    expect(conflict.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await workflowCount()).toBe(before + 1);
  });

  test('when a rename is started and waited for, then inventory has the new name', async () => {
    const renameSku = await putProduct(stack, { available: 3, name: 'Old' });
    const res = await post(app, `/products/${renameSku}/rename`)
      .query({ wait: 'true' })
      .send({ name: 'New' })
      .then(record('post', '/products/{sku}/rename'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ type: 'RenameProduct', status: 'COMPLETED', result: { name: 'New', version: 2 } });
    const [row] = await stack.inventory.query<{ name: string }>('SELECT name FROM products WHERE sku = ?', [renameSku]);
    expect(row!.name).toBe('New');
  });

  test("when a saga is started through POST /sagas/{type}, then it is validated against that type's schema and runs like its domain route", async () => {
    const order = await post(app, '/sagas/PlaceOrder')
      .query({ wait: 'true' })
      .send(orderBody(sku))
      .then(record('post', '/sagas/{type}'));
    expect(order.status).toBe(200);
    expect(order.body).toMatchObject({ type: 'PlaceOrder', status: 'COMPLETED' });
    const renameSku = await putProduct(stack, { available: 3, name: 'Generic' });
    const rename = await post(app, '/sagas/RenameProduct')
      .query({ wait: 'true' })
      .send({ sku: renameSku, name: 'Generic Pro' })
      .then(record('post', '/sagas/{type}'));
    expect(rename.body).toMatchObject({ type: 'RenameProduct', status: 'COMPLETED', result: { name: 'Generic Pro' } });
    const before = await workflowCount();
    // another type's body, an unknown field, an unknown type: nothing starts
    const wrongBody = await post(app, '/sagas/RenameProduct')
      .send(orderBody(sku))
      .then(record('post', '/sagas/{type}'));
    expect(wrongBody.status).toBe(400);
    expect(wrongBody.body.error.code).toBe('VALIDATION_FAILED');
    const unknown = await post(app, '/sagas/ShipEverything').send({}).then(record('post', '/sagas/{type}'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'SAGA_TYPE_NOT_FOUND' });
    expect(unknown.body.error.message).toContain('PlaceOrder');
    expect(await workflowCount()).toBe(before);
  });

  test('when one Idempotency-Key is sent to the domain route and to POST /sagas/{type} with the same request, then one saga starts', async () => {
    const key = `both-${Date.now()}-${Math.random()}`;
    const renameSku = await putProduct(stack, { available: 3, name: 'Keyed' });
    const before = await workflowCount();
    const domain = await post(app, `/products/${renameSku}/rename`)
      .set('Idempotency-Key', key)
      .send({ name: 'Keyed Pro' });
    const generic = await post(app, '/sagas/RenameProduct')
      .set('Idempotency-Key', key)
      .send({ sku: renameSku, name: 'Keyed Pro' })
      .then(record('post', '/sagas/{type}'));
    expect(generic.status).toBe(202);
    expect(generic.body.sagaId).toBe(domain.body.sagaId);
    expect(await workflowCount()).toBe(before + 1);
    const other = await post(app, '/sagas/RenameProduct')
      .set('Idempotency-Key', key)
      .send({ sku: renameSku, name: 'Something else' });
    expect(other.status).toBe(422);
    await t.client.workflow.getHandle(domain.body.sagaId).result();
  });

  test('when a saga ID is unknown, then GET, cancel and operator actions answer 404', async () => {
    expect(
      (await request(app).get('/sagas/order-does-not-exist').set(auth).then(record('get', '/sagas/{sagaId}'))).status,
    ).toBe(404);
    expect(
      (await post(app, '/sagas/order-does-not-exist/cancel').then(record('post', '/sagas/{sagaId}/cancel'))).status,
    ).toBe(404);
    expect((await post(app, '/sagas/order-does-not-exist/retry-compensation')).status).toBe(404);
    expect((await post(app, '/sagas/order-does-not-exist/resolve').send({ note: 'x' })).status).toBe(404);
  });

  test('when a running saga is cancelled, then it compensates and ends CANCELLED; a second cancel is 409', async () => {
    await stack.payments.stop();
    try {
      const res = await post(app, '/orders').send(orderBody(sku));
      const handle = t.client.workflow.getHandle(res.body.sagaId);
      await waitForState(handle, (s) => s.steps.some((st) => st.name === 'chargePayment'));
      const cancel = await post(app, `/sagas/${res.body.sagaId}/cancel`).then(record('post', '/sagas/{sagaId}/cancel'));
      expect(cancel.status).toBe(202);
      expect(cancel.body).toEqual({ sagaId: res.body.sagaId, action: 'cancel', accepted: true, outcome: 'ACCEPTED' });
      await stack.payments.start();
      await handle.result().catch(() => undefined);
      const view = await request(app).get(`/sagas/${res.body.sagaId}`).set(auth).then(record('get', '/sagas/{sagaId}'));
      expect(view.body.status).toBe('CANCELLED');
      const [order] = await stack.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = ?', [
        res.body.orderId,
      ]);
      expect(order!.status).toBe('CANCELLED');
      const again = await post(app, `/sagas/${res.body.sagaId}/cancel`).then(record('post', '/sagas/{sagaId}/cancel'));
      expect(again.status).toBe(409);
    } finally {
      await stack.payments.start().catch(() => undefined);
    }
  });

  test('when a saga is not STUCK, then retry-compensation and resolve answer 409', async () => {
    const res = await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku));
    const retry = await post(app, `/sagas/${res.body.sagaId}/retry-compensation`).then(
      record('post', '/sagas/{sagaId}/retry-compensation'),
    );
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe('SAGA_NOT_STUCK');
    const resolve = await post(app, `/sagas/${res.body.sagaId}/resolve`)
      .send({ note: 'n/a' })
      .then(record('post', '/sagas/{sagaId}/resolve'));
    expect(resolve.status).toBe(409);
  });

  test('when a saga is STUCK, then retry-compensation answers 202 and the saga ends COMPENSATED; resolve answers 202 on another', async () => {
    await stack.shipping.stop();
    const handles = await Promise.all(
      [0, 1].map(() => {
        const input = orderInput(sku, { options: STUCK_QUICKLY });
        return t.client.workflow.start(placeOrder, {
          taskQueue: t.taskQueue,
          workflowId: placeOrderWorkflowId(input.orderId),
          args: [input],
        });
      }),
    );
    try {
      for (const h of handles) await waitForState(h, (s) => s.status === 'STUCK');
      const stuckView = await request(app)
        .get(`/sagas/${handles[0]!.workflowId}`)
        .set(auth)
        .then(record('get', '/sagas/{sagaId}'));
      expect(stuckView.body).toMatchObject({ status: 'STUCK', stuck: { steps: ['scheduleShipment'] } });
      // stuck while compensating: nothing is ahead, the view says it goes back
      expect(stuckView.body.progress.ahead).toEqual([]);
      expect(stuckView.body.progress.summary).toMatch(/compensating what was done$/);
      await stack.shipping.start();
      const retry = await post(app, `/sagas/${handles[0]!.workflowId}/retry-compensation`).then(
        record('post', '/sagas/{sagaId}/retry-compensation'),
      );
      expect(retry.status).toBe(202);
      const resolve = await post(app, `/sagas/${handles[1]!.workflowId}/resolve`)
        .send({ note: 'checked with the carrier', operator: 'ops' })
        .then(record('post', '/sagas/{sagaId}/resolve'));
      expect(resolve.status).toBe(202);
      await Promise.all(handles.map((h) => h.result().catch(() => undefined)));
      const [a, b] = await Promise.all(
        handles.map((h) => request(app).get(`/sagas/${h.workflowId}`).set(auth).then(record('get', '/sagas/{sagaId}'))),
      );
      expect(a!.body.status).toBe('COMPENSATED');
      expect(b!.body).toMatchObject({
        status: 'RESOLVED_MANUALLY',
        resolution: { note: 'checked with the carrier', operator: 'ops' },
      });
    } finally {
      await stack.shipping.start().catch(() => undefined);
    }
  });

  test('when sagas end in different states, then GET /sagas lists them by status and type, page by page', async () => {
    const ok = await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku));
    const bad = await post(app, '/orders')
      .query({ wait: 'true' })
      .send(orderBody(sku, { payment: { cardNumber: DECLINED_CARD } }));
    expect(ok.body.status).toBe('COMPLETED');
    expect(bad.body.status).toBe('COMPENSATED');
    // visibility is eventually consistent: poll
    let completed: string[] = [];
    let compensated: string[] = [];
    for (let i = 0; i < 50; i++) {
      const a = await request(app)
        .get('/sagas')
        .query({ status: 'COMPLETED', type: 'PlaceOrder', limit: '100' })
        .set(auth)
        .then(record('get', '/sagas'));
      const b = await request(app).get('/sagas').query({ status: 'COMPENSATED' }).set(auth);
      completed = a.body.sagas.map((s: { sagaId: string }) => s.sagaId);
      compensated = b.body.sagas.map((s: { sagaId: string }) => s.sagaId);
      if (completed.includes(ok.body.sagaId) && compensated.includes(bad.body.sagaId)) break;
      await sleep(200);
    }
    expect(completed).toContain(ok.body.sagaId);
    expect(completed).not.toContain(bad.body.sagaId);
    expect(compensated).toContain(bad.body.sagaId);
    const page1 = await request(app).get('/sagas').query({ limit: '1' }).set(auth).then(record('get', '/sagas'));
    expect(page1.body.sagas).toHaveLength(1);
    expect(typeof page1.body.nextPageToken).toBe('string');
    const page2 = await request(app).get('/sagas').query({ limit: '1', pageToken: page1.body.nextPageToken }).set(auth);
    expect(page2.status).toBe(200);
    expect(page2.body.sagas).toHaveLength(1);
    expect(page2.body.sagas[0].sagaId).not.toBe(page1.body.sagas[0].sagaId);
  });
});

describe('audit', () => {
  test("when GET /audit is called, then it answers the auditor's report over the services' databases, and a broken order shows in it", async () => {
    const done = await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku));
    expect(done.body.status).toBe('COMPLETED');
    const orderId = done.body.sagaId.replace(/^order-/, '');
    const clean = await request(app).get('/audit').set(auth).then(record('get', '/audit'));
    expect(clean.status).toBe(200);
    expect(clean.body.checkedOrders).toBeGreaterThan(0);
    expect(clean.body.violations.filter((v: { orderId?: string }) => v.orderId === orderId)).toEqual([]);

    await stack.payments.query("UPDATE payments SET status = 'REFUNDED' WHERE order_id = ?", [orderId]);
    const broken = await request(app).get('/audit').set(auth).then(record('get', '/audit'));
    expect(broken.status).toBe(200);
    expect(
      broken.body.violations
        .filter((v: { orderId?: string }) => v.orderId === orderId)
        .map((v: { class: string }) => v.class),
    ).toEqual(['CONFIRMED_PAYMENT_NOT_CAPTURED']);
    expect(broken.body.byClass.CONFIRMED_PAYMENT_NOT_CAPTURED).toBe(
      clean.body.byClass.CONFIRMED_PAYMENT_NOT_CAPTURED + 1,
    );
  });

  test('when a product-name copy in orders no longer matches its source, then GET /audit reports it among the event checks', async () => {
    const copySku = await putProduct(stack, { available: 3, name: 'Audited' });
    const renamed = await post(app, `/products/${copySku}/rename`)
      .query({ wait: 'true' })
      .send({ name: 'Audited Pro' });
    expect(renamed.body.status).toBe('COMPLETED');
    const clean = await request(app).get('/audit').set(auth).then(record('get', '/audit'));
    expect(clean.body.events.checkedCopies).toBeGreaterThan(0);
    expect(clean.body.events.violations.filter((v: { sku?: string }) => v.sku === copySku)).toEqual([]);
    // the copy says something else at the source's version
    await stack.orders.query('UPDATE product_names SET name = ? WHERE sku = ?', ['Tampered', copySku]);
    const broken = await request(app).get('/audit').set(auth).then(record('get', '/audit'));
    expect(
      broken.body.events.violations
        .filter((v: { sku?: string }) => v.sku === copySku)
        .map((v: { class: string }) => v.class),
    ).toEqual(['COPY_DIFFERS_FROM_SOURCE']);
  });

  test('when the service databases cannot be read, then GET /audit answers 503 AUDIT_UNAVAILABLE', async () => {
    const elsewhere = createTestApi(t, { dbPrefix: 't_absent_audit_' }).app;
    const res = await request(elsewhere).get('/audit').set(auth).then(record('get', '/audit'));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('AUDIT_UNAVAILABLE');
  });
});

describe('saga options from the API configuration', () => {
  test('when the API is configured with a deadline, a compensation budget and local activities, then the sagas it starts carry them', async () => {
    const configured = createTestApi(t, {
      dbPrefix: stack.prefix,
      sagaDeadlineMs: 60_000,
      compensationMaxAttempts: 3,
      activityMode: 'local',
    }).app;
    const order = await post(configured, '/orders').query({ wait: 'true' }).send(orderBody(sku));
    expect(order.body.status).toBe('COMPLETED');
    const rename = await post(configured, `/products/${sku}/rename`)
      .query({ wait: 'true' })
      .send({ name: 'Configured' });
    expect(rename.body.status).toBe('COMPLETED');
    const inputOf = async (sagaId: string) => {
      const history = await t.client.workflow.getHandle(sagaId).fetchHistory();
      const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      return JSON.parse(Buffer.from(payload.data!).toString('utf8')) as { options?: Record<string, unknown> };
    };
    expect((await inputOf(order.body.sagaId)).options).toEqual({
      searchAttributesAtStart: true,
      deadlineMs: 60_000,
      compensationRetry: { maximumAttempts: 3 },
      activityMode: 'local',
    });
    expect((await inputOf(rename.body.sagaId)).options).toEqual({
      searchAttributesAtStart: true,
      deadlineMs: 60_000,
      compensationRetry: { maximumAttempts: 3 },
      activityMode: 'local',
    });
    // the default API passes none of them, only that it set the search attributes at start
    const plain = await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku));
    expect((await inputOf(plain.body.sagaId)).options).toEqual({ searchAttributesAtStart: true });
    // so its saga does not upsert them again: the only upserts are the patch markers' change versions
    // (one per workflow task that first asks a patch: create ‖ reserve in the first, charge ‖ ship
    // once the stock is reserved) and the final status
    const upserts = (await t.client.workflow.getHandle(plain.body.sagaId).fetchHistory()).events!.filter(
      (e) => e.upsertWorkflowSearchAttributesEventAttributes,
    );
    expect(
      upserts.map((e) =>
        Object.keys(e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes!.indexedFields!).sort(),
      ),
    ).toEqual([['TemporalChangeVersion'], ['TemporalChangeVersion'], ['SagaStatus']]);
  });
});

describe('OpenAPI', () => {
  test('when the document is validated, then it is valid OpenAPI 3.1', async () => {
    const doc = (await request(app).get('/openapi.json')).body;
    // The official OpenAPI 3.1 JSON schema (as shipped by @seriousme/openapi-schema-validator).
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    ajv.addFormat('media-range', true);
    const validate = ajv.compile(openApi31Schema);
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    // and it can fail: a document without `info` does not validate
    expect(validate({ ...doc, info: undefined })).toBe(false);
  });

  test('when the document is read, then it lists every registered saga type with its body, on POST /sagas/{type} and on its domain route', async () => {
    const doc = (await request(app).get('/openapi.json')).body;
    const generic = doc.paths['/sagas/{type}'].post;
    expect(generic.parameters[0].schema.enum).toEqual(SAGAS.map((s) => s.type));
    expect(generic.requestBody.content['application/json'].schema.oneOf).toEqual(
      SAGAS.map((s) => ({ $ref: `#/components/schemas/${s.type}Request` })),
    );
    for (const saga of SAGAS) {
      expect(doc.components.schemas[`${saga.type}Request`]).toMatchObject({ type: 'object' });
      if (saga.route)
        expect(
          doc.paths[saga.route.path.replace(/:(\w+)/g, '{$1}')].post.requestBody.content['application/json'].schema,
        ).toEqual({ $ref: `#/components/schemas/${saga.type}RouteRequest` });
    }
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/orders', '/products/{sku}/rename', '/sagas/{type}']),
    );
  });

  test('when every answer the suites saw is checked against the document, then each matches its route, status and schema', async () => {
    const doc = (await request(app).get('/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
    expect(seen.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const r of seen) {
      const op = doc.paths[r.path]?.[r.method];
      const response = op?.responses?.[String(r.status)];
      if (!response) {
        problems.push(`${r.method} ${r.path} ${r.status}: not documented`);
        continue;
      }
      const schema = response.content?.['application/json']?.schema;
      if (!schema) continue;
      const validate = ajv.compile({ $ref: `doc${schema.$ref}` });
      if (!validate(r.body)) problems.push(`${r.method} ${r.path} ${r.status}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(problems).toEqual([]);
  });
});

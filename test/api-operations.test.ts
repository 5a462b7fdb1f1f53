import request from 'supertest';
import type express from 'express';
import { startServices, type RunningService, type ServiceStack } from './support/services';
import {
  connectTemporal,
  startWorker,
  waitForState,
  STUCK_QUICKLY,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';
import { DECLINED_CARD, orderInput, putProduct } from './support/fixtures';
import { expectError } from './support/http-checks';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { auth, createTestApi, orderBody, post } from './support/api';
import { placeOrder } from '../workflows/place-order';

/**
 * Issue 10, items 3 and 4: what the API answers when operators and clients act on sagas in the
 * states where the old answers were wrong (500s, a 202 for a cancel that did nothing, Temporal's
 * status names, a list filter the README promised, `?wait=true` waiting out a STUCK saga).
 */

const ADMIN = 'operations-admin-token-0123456789';
let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;
let app: express.Express;
/** An API whose compensations get one attempt: a compensation that fails once makes the saga STUCK. */
let impatient: express.Express;
let sku: string;

beforeAll(async () => {
  stack = await startServices('operations', { faults: { adminToken: ADMIN } });
  t = await connectTemporal('operations');
  worker = await startWorker(t, stack, { httpTimeoutMs: 1000 });
  app = createTestApi(t, { dbPrefix: stack.prefix }).app;
  impatient = createTestApi(t, { dbPrefix: stack.prefix, compensationMaxAttempts: 1, waitMaxMs: 20_000 }).app;
  sku = await putProduct(stack, { available: 1000, priceCents: 300 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

/** Every request to `route` of `svc` answers 503 (injected) until `clearFaults`. */
async function failRoute(svc: RunningService, route: string) {
  const res = await request(svc.url)
    .put('/admin/faults')
    .set('Authorization', `Bearer ${ADMIN}`)
    .send({ seed: 1, rules: [{ route, failureRate: 1 }] });
  expect(res.status).toBe(200);
}
async function clearFaults(svc: RunningService) {
  await request(svc.url).delete('/admin/faults').set('Authorization', `Bearer ${ADMIN}`);
}

async function workflowCount(): Promise<number> {
  const resp = await t.client.workflowService.countWorkflowExecutions({
    namespace: 'default',
    query: `TaskQueue = '${t.taskQueue}'`,
  });
  return Number(resp.count ?? 0);
}

/** Two sagas STUCK on the shipment's compensation (started directly, with tiny retry budgets). */
async function stuckSagas(n: number) {
  await stack.shipping.stop();
  try {
    const handles = await Promise.all(
      Array.from({ length: n }, () => {
        const input = orderInput(sku, { options: STUCK_QUICKLY });
        return t.client.workflow.start(placeOrder, {
          taskQueue: t.taskQueue,
          workflowId: placeOrderWorkflowId(input.orderId),
          args: [input],
        });
      }),
    );
    for (const h of handles) await waitForState(h, (s) => s.status === 'STUCK');
    return handles;
  } finally {
    await stack.shipping.start();
  }
}

describe('list', () => {
  test('when GET /sagas gets a forged pageToken, then it answers 400 JSON at once, without asking Temporal', async () => {
    const started = Date.now();
    const res = await request(app).get('/sagas').query({ pageToken: 'AAAA' }).set(auth);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.message).toMatch(/pageToken/);
    expect(Date.now() - started).toBeLessThan(2000);
    const long = await request(app)
      .get('/sagas')
      .query({ pageToken: `${Buffer.alloc(300, 1).toString('base64url')}.${'a'.repeat(32)}` })
      .set(auth);
    expectError(long, 400, 'VALIDATION_FAILED');
  });

  test('when a real pageToken is sent with other filters, then it answers 400; with the same filters, the next page', async () => {
    for (let i = 0; i < 2; i++)
      expect((await post(app, '/orders').query({ wait: 'true' }).send(orderBody(sku))).status).toBe(200);
    let page1: request.Response | undefined;
    for (let i = 0; i < 50 && !page1?.body.nextPageToken; i++) {
      page1 = await request(app).get('/sagas').query({ limit: '1', type: 'PlaceOrder' }).set(auth);
      if (!page1.body.nextPageToken) await new Promise((r) => setTimeout(r, 200));
    }
    const token = page1!.body.nextPageToken as string;
    expect(typeof token).toBe('string');
    const foreign = await request(app)
      .get('/sagas')
      .query({ limit: '1', type: 'RenameProduct', pageToken: token })
      .set(auth);
    expectError(foreign, 400, 'VALIDATION_FAILED');
    const page2 = await request(app)
      .get('/sagas')
      .query({ limit: '1', type: 'PlaceOrder', pageToken: token })
      .set(auth);
    expect(page2.status).toBe(200);
    expect(page2.body.sagas[0].sagaId).not.toBe(page1!.body.sagas[0].sagaId);
  });

  test('when a saga was terminated from outside, then GET /sagas?status=TERMINATED lists it, and ?status=RUNNING does not', async () => {
    await failRoute(stack.payments, 'POST /charges');
    try {
      const res = await post(app, '/orders').send(orderBody(sku));
      const handle = t.client.workflow.getHandle(res.body.sagaId);
      await waitForState(handle, (s) => s.steps.some((st) => st.name === 'chargePayment'));
      await handle.terminate('test: closed from outside');
      let terminated: string[] = [];
      let running: string[] = [];
      for (let i = 0; i < 50 && !terminated.includes(res.body.sagaId); i++) {
        const a = await request(app).get('/sagas').query({ status: 'TERMINATED', limit: '100' }).set(auth);
        expect(a.status).toBe(200);
        terminated = a.body.sagas.map(
          (s: { sagaId: string; status: string }) => `${s.status === 'TERMINATED' ? '' : 'WRONG:'}${s.sagaId}`,
        );
        if (!terminated.includes(res.body.sagaId)) await new Promise((r) => setTimeout(r, 200));
      }
      expect(terminated).toContain(res.body.sagaId);
      expect(terminated.filter((s) => s.startsWith('WRONG:'))).toEqual([]);
      running = (await request(app).get('/sagas').query({ status: 'RUNNING', limit: '100' }).set(auth)).body.sagas.map(
        (s: { sagaId: string }) => s.sagaId,
      );
      expect(running).not.toContain(res.body.sagaId);
      const view = await request(app).get(`/sagas/${res.body.sagaId}`).set(auth);
      expect(view.body.status).toBe('TERMINATED');
    } finally {
      await clearFaults(stack.payments);
    }
  });
});

describe('operator actions', () => {
  test("when ten retry-compensation and ten resolve calls race on one STUCK saga, then exactly one is accepted, the rest are 409, none is 5xx, and the winner's action is the one taken", async () => {
    const [handle] = await stuckSagas(1);
    const sagaId = handle!.workflowId;
    const calls = [
      ...Array.from({ length: 10 }, (_, i) =>
        post(app, `/sagas/${sagaId}/retry-compensation`).then((r) => ({ action: 'retry', i, r })),
      ),
      ...Array.from({ length: 10 }, (_, i) =>
        post(app, `/sagas/${sagaId}/resolve`)
          .send({ note: `note ${i}`, operator: `op-${i}` })
          .then((r) => ({ action: 'resolve', i, r })),
      ),
    ];
    const answers = await Promise.all(calls);
    expect(
      answers.filter((a) => a.r.status >= 500).map((a) => `${a.action} ${a.r.status} ${JSON.stringify(a.r.body)}`),
    ).toEqual([]);
    const won = answers.filter((a) => a.r.status === 202);
    expect(won).toHaveLength(1);
    for (const lost of answers.filter((a) => a.r.status !== 202)) {
      expectError(lost.r, 409, 'SAGA_NOT_STUCK');
      expect(lost.r.body.error.message).toContain(sagaId);
    }
    await handle!.result().catch(() => undefined);
    const view = await request(app).get(`/sagas/${sagaId}`).set(auth);
    if (won[0]!.action === 'resolve') {
      expect(view.body).toMatchObject({
        status: 'RESOLVED_MANUALLY',
        resolution: { note: `note ${won[0]!.i}`, operator: `op-${won[0]!.i}` },
      });
    } else {
      expect(view.body.status).toBe('COMPENSATED');
    }
    // and afterwards, each action names the saga's own status
    const late = await post(app, `/sagas/${sagaId}/resolve`).send({ note: 'too late' });
    expectError(late, 409, 'SAGA_NOT_STUCK');
    expect(late.body.error.message).toContain(view.body.status);
  });

  test('when a saga is STUCK, then cancel answers 409 SAGA_NOT_CANCELLABLE and the saga stays STUCK', async () => {
    const [handle] = await stuckSagas(1);
    const res = await post(app, `/sagas/${handle!.workflowId}/cancel`);
    expectError(res, 409, 'SAGA_NOT_CANCELLABLE');
    expect(res.body.error.message).toMatch(/STUCK/);
    const view = await request(app).get(`/sagas/${handle!.workflowId}`).set(auth);
    expect(view.body.status).toBe('STUCK');
    expect((await post(app, `/sagas/${handle!.workflowId}/retry-compensation`)).status).toBe(202);
    await handle!.result().catch(() => undefined);
  });

  test('when a saga is past its pivot, then cancel answers 409 naming the step, and nothing is cancelled', async () => {
    await failRoute(stack.orders, 'POST /orders/:orderId/confirm');
    const res = await post(app, '/orders').send(orderBody(sku));
    const handle = t.client.workflow.getHandle(res.body.sagaId);
    try {
      await waitForState(handle, (s) => s.steps.some((st) => st.name === 'confirmOrder'));
      const cancel = await post(app, `/sagas/${res.body.sagaId}/cancel`);
      expectError(cancel, 409, 'SAGA_NOT_CANCELLABLE');
      expect(cancel.body.error.message).toMatch(/confirmOrder/);
      const [order] = await stack.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = ?', [
        res.body.orderId,
      ]);
      expect(order!.status).toBe('PENDING');
      const state = await waitForState(handle, () => true);
      expect(state.status).toBe('RUNNING');
    } finally {
      await clearFaults(stack.orders);
      await handle.terminate('test done').catch(() => undefined);
    }
  });

  test("when a saga compensated, then cancel and resolve answer 409 naming COMPENSATED, not Temporal's FAILED", async () => {
    const res = await post(app, '/orders')
      .query({ wait: 'true' })
      .send(orderBody(sku, { payment: { cardNumber: DECLINED_CARD } }));
    expect(res.body.status).toBe('COMPENSATED');
    const cancel = await post(app, `/sagas/${res.body.sagaId}/cancel`);
    expectError(cancel, 409, 'SAGA_CLOSED');
    expect(cancel.body.error.message).toContain('COMPENSATED');
    expect(cancel.body.error.message).not.toContain('FAILED');
    const resolve = await post(app, `/sagas/${res.body.sagaId}/resolve`).send({ note: 'n/a' });
    expectError(resolve, 409, 'SAGA_NOT_STUCK');
    expect(resolve.body.error.message).toContain('COMPENSATED');
  });
});

describe('?wait=true', () => {
  test('when the saga goes STUCK, then ?wait=true answers 200 with the STUCK view as soon as it is, not at the end of the wait', async () => {
    await failRoute(stack.orders, 'POST /orders/:orderId/cancel');
    try {
      const started = Date.now();
      // 5 units of a product with 1: reserveStock is refused, and cancelling the order fails once → STUCK
      const scarce = await putProduct(stack, { available: 1 });
      const res = await post(impatient, '/orders')
        .query({ wait: 'true' })
        .send(orderBody(scarce, { items: [{ sku: scarce, quantity: 5 }] }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'STUCK', stuck: { steps: ['createOrder'] } });
      expect(Date.now() - started).toBeLessThan(15_000);
      await clearFaults(stack.orders);
      expect((await post(app, `/sagas/${res.body.sagaId}/retry-compensation`)).status).toBe(202);
      await t.client.workflow
        .getHandle(res.body.sagaId)
        .result()
        .catch(() => undefined);
    } finally {
      await clearFaults(stack.orders);
    }
  });
});

describe('orders over the payments cap', () => {
  test('when an order totals more than payments charges at once, then the saga compensates with ORDER_TOTAL_OVER_LIMIT and payments never sees it', async () => {
    // $1M a unit (the highest price inventory takes), 2 units: the total is known only after the reservation
    const pricey = await putProduct(stack, { available: 10, priceCents: 100_000_000 });
    const res = await post(app, '/orders')
      .query({ wait: 'true' })
      .send(orderBody(pricey, { items: [{ sku: pricey, quantity: 2 }] }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'COMPENSATED',
      failure: { type: 'ORDER_TOTAL_OVER_LIMIT', step: 'chargePayment' },
    });
    expect(res.body.failure.message).toMatch(/\$2,000,000\.00.*\$1,000,000\.00/);
    const orderId = res.body.sagaId.replace(/^order-/, '');
    expect(await stack.payments.query('SELECT * FROM payments WHERE order_id = ?', [orderId])).toEqual([]);
    const [order] = await stack.orders.query<{ status: string }>('SELECT status FROM orders WHERE order_id = ?', [
      orderId,
    ]);
    expect(order!.status).toBe('CANCELLED');
    const [stock] = await stack.inventory.query<{ available: number; reserved: number }>(
      'SELECT available, reserved FROM products WHERE sku = ?',
      [pricey],
    );
    expect(stock).toMatchObject({ available: 10, reserved: 0 });
  });
});

describe('methods and counters', () => {
  test('when DELETE /orders is sent, then it answers 405 JSON with Allow: POST; OPTIONS answers 204 with Allow', async () => {
    const res = await request(app).delete('/orders').set(auth);
    expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('POST');
    // one path segment under /sagas is a saga ID (GET) or a saga type (POST /sagas/{type})
    const get = await request(app).put('/sagas/order-x').set(auth);
    expectError(get, 405, 'METHOD_NOT_ALLOWED');
    expect(get.headers.allow).toBe('GET, HEAD, POST');
    const options = await request(app).options('/sagas/order-x/cancel');
    expect(options.status).toBe(204);
    expect(options.headers.allow).toBe('POST');
    // an unknown path is still a 404
    expectError(await request(app).delete('/nowhere').set(auth), 404, 'NOT_FOUND');
  });

  test('when an Idempotency-Key repeat starts nothing, then sagas_started_total does not count it', async () => {
    const started = async () => {
      const text = (await request(app).get('/metrics')).text;
      return Number(/^sagas_started_total\{type="PlaceOrder"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await started();
    const workflowsBefore = await workflowCount();
    const key = `metrics-${Date.now()}`;
    const first = await post(app, '/orders').set('Idempotency-Key', key).send(orderBody(sku));
    const repeat = await post(app, '/orders').set('Idempotency-Key', key).send(orderBody(sku));
    expect(repeat.body.sagaId).toBe(first.body.sagaId);
    expect(await started()).toBe(before + 1);
    await t.client.workflow.getHandle(first.body.sagaId).result();
    // visibility catches up within a moment; the count must then be exactly one more
    let count = await workflowCount();
    for (let i = 0; i < 25 && count < workflowsBefore + 1; i++) {
      await new Promise((r) => setTimeout(r, 200));
      count = await workflowCount();
    }
    expect(count).toBe(workflowsBefore + 1);
  });
});

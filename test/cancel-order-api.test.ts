/**
 * `POST /orders/{orderId}/cancel` (and `POST /sagas/CancelOrder`) through the real API, worker,
 * services and Temporal: orders are placed through `POST /orders?wait=true` first. Every answer is
 * checked against the OpenAPI document at the end.
 */
import request from 'supertest';
import type express from 'express';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { startServices, type ServiceStack } from './support/services';
import { connectTemporal, startWorker, finalState, type RunningWorker, type TemporalHarness } from './support/temporal';
import { orderFootprint, putProduct, stockOf } from './support/fixtures';
import { auth, createTestApi, orderBody, post } from './support/api';
import { cancelOrderWorkflowId } from '../sagas/cancel-order';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;
let app: express.Express;

/** Every answer seen, with the OpenAPI path it belongs to, checked against the document at the end. */
const seen: { method: string; path: string; status: number; body: unknown }[] = [];
const CANCEL_PATH = '/orders/{orderId}/cancel';
function cancel(orderId: string, opts: { wait?: string; key?: string; body?: object } = {}) {
  const req = post(app, `/orders/${encodeURIComponent(orderId)}/cancel${opts.wait ? `?wait=${opts.wait}` : ''}`);
  return (opts.key ? req.set('Idempotency-Key', opts.key) : req).send(opts.body ?? {}).then((res) => {
    seen.push({ method: 'post', path: CANCEL_PATH, status: res.status, body: res.body });
    return res;
  });
}

beforeAll(async () => {
  stack = await startServices('cancelapi');
  t = await connectTemporal('cancelapi');
  worker = await startWorker(t, stack);
  app = createTestApi(t, { dbPrefix: stack.prefix }).app;
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

/** An order placed through the API (2 units of a fresh SKU at 999 cents, 10 available), CONFIRMED. */
async function placedOrder(): Promise<{ orderId: string; sku: string }> {
  const sku = await putProduct(stack, { available: 10, priceCents: 999 });
  const res = await post(app, '/orders?wait=true').send(orderBody(sku, { items: [{ sku, quantity: 2 }] }));
  expect({ status: res.status, saga: res.body.status }).toEqual({ status: 200, saga: 'COMPLETED' });
  return { orderId: res.body.result.orderId as string, sku };
}

const CANCELLED = {
  order: 'CANCELLED',
  totalCents: 1998,
  reservation: 'RETURNED',
  payments: ['REFUNDED'],
  paymentAmounts: [1998],
  shipments: ['CANCELLED'],
};
const CONFIRMED = {
  order: 'CONFIRMED',
  totalCents: 1998,
  reservation: 'COMMITTED',
  payments: ['CAPTURED'],
  paymentAmounts: [1998],
  shipments: ['SCHEDULED'],
};

describe('POST /orders/{orderId}/cancel', () => {
  test('when a confirmed order is cancelled with ?wait=true, then 200 with the COMPLETED saga, and the order is cancelled, refunded and its stock available', async () => {
    const { orderId, sku } = await placedOrder();
    const res = await cancel(orderId, { wait: 'true', body: { reason: 'ordered the wrong size' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      sagaId: cancelOrderWorkflowId(orderId),
      type: 'CancelOrder',
      status: 'COMPLETED',
      result: { orderId, refundedCents: 1998, returnedLines: [{ sku, quantity: 2 }] },
    });
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
    const [row] = await stack.orders.query<{ cancel_reason: string }>(
      'SELECT cancel_reason FROM orders WHERE order_id = ?',
      [orderId],
    );
    expect(row!.cancel_reason).toBe('ordered the wrong size');
  });

  test('when it is asked without waiting, then 202 names the saga and the order, and GET /sagas/{id} shows it', async () => {
    const { orderId } = await placedOrder();
    const res = await cancel(orderId);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      sagaId: cancelOrderWorkflowId(orderId),
      orderId,
      status: 'RUNNING',
      links: expect.objectContaining({ self: `/sagas/${cancelOrderWorkflowId(orderId)}` }),
    });
    expect((await finalState(t.client.workflow.getHandle(res.body.sagaId))).status).toBe('COMPLETED');
    const view = await request(app).get(`/sagas/${res.body.sagaId}`).set(auth);
    expect(view.body).toMatchObject({ type: 'CancelOrder', status: 'COMPLETED' });
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
  });

  test('when the same cancel is sent three times at once (two with Idempotency-Keys of their own), then one saga answers all three and the order is refunded once', async () => {
    const { orderId } = await placedOrder();
    const answers = await Promise.all([
      cancel(orderId, { wait: 'true' }),
      cancel(orderId, { wait: 'true', key: 'cancel-a' }),
      cancel(orderId, { wait: 'true', key: 'cancel-b', body: { reason: 'again' } }),
    ]);
    for (const res of answers)
      expect({ status: res.status, sagaId: res.body.sagaId, saga: res.body.status }).toEqual({
        status: 200,
        sagaId: cancelOrderWorkflowId(orderId),
        saga: 'COMPLETED',
      });
    // One run: two cannot be open at once (a start meets the open run and joins it), and a run
    // started after the first closed would have been refused (409: the order was CANCELLED by then).
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
  });

  test('when an order already cancelled is cancelled again, then 409 ILLEGAL_TRANSITION and nothing changes', async () => {
    const { orderId, sku } = await placedOrder();
    expect((await cancel(orderId, { wait: 'true' })).status).toBe(200);
    const again = await cancel(orderId, { wait: 'true' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({
      code: 'ILLEGAL_TRANSITION',
      message: expect.stringContaining('CANCELLED'),
      details: { sagaId: cancelOrderWorkflowId(orderId), orderId, step: 'beginOrderCancellation' },
    });
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
  });

  test('when the order is unknown, then 404 ORDER_NOT_FOUND (also with ?wait=decided) and no service holds anything for it', async () => {
    const res = await cancel('no-such-order-1', { wait: 'true' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({
      code: 'ORDER_NOT_FOUND',
      message: expect.stringContaining('no-such-order-1'),
      details: { sagaId: 'cancel-no-such-order-1', step: 'beginOrderCancellation' },
    });
    expect((await cancel('no-such-order-2', { wait: 'decided' })).status).toBe(404);
    for (const orderId of ['no-such-order-1', 'no-such-order-2']) {
      expect(await orderFootprint(stack, orderId)).toEqual({
        order: undefined,
        totalCents: null,
        reservation: undefined,
        payments: [],
        paymentAmounts: [],
        shipments: [],
      });
    }
  });

  test('when the order is still PENDING, then 409 ILLEGAL_TRANSITION and it stays PENDING', async () => {
    const sku = await putProduct(stack, { available: 5, priceCents: 999 });
    const orderId = `pending-${Date.now()}`;
    expect(
      (
        await stack.orders
          .as()
          .post('/orders')
          .send({ orderId, customerId: 'c-1', lines: [{ sku, quantity: 1 }] })
      ).status,
    ).toBe(201);
    const res = await cancel(orderId, { wait: 'true' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'ILLEGAL_TRANSITION', message: expect.stringContaining('PENDING') });
    expect(await orderFootprint(stack, orderId)).toMatchObject({ order: 'PENDING', payments: [], shipments: [] });
  });

  test('when the parcel was dispatched, then 409 SHIPMENT_ALREADY_DISPATCHED, and the order stays CONFIRMED with nothing refunded', async () => {
    const { orderId, sku } = await placedOrder();
    expect((await stack.shipping.as('operator').post(`/shipments/${orderId}/dispatch`).send({})).status).toBe(200);
    const res = await cancel(orderId, { wait: 'true' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'SHIPMENT_ALREADY_DISPATCHED',
      details: { sagaId: cancelOrderWorkflowId(orderId), orderId, step: 'cancelShipment' },
    });
    expect(await orderFootprint(stack, orderId)).toEqual({ ...CONFIRMED, shipments: ['DISPATCHED'] });
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
  });

  test('when the order ID, the reason or the body is not valid, then 400 VALIDATION_FAILED and no saga starts', async () => {
    const { orderId } = await placedOrder();
    for (const [id, body] of [
      ['bad id!', {}],
      ['x'.repeat(65), {}],
      [orderId, { reason: 'line\r\nX-Injected: 1' }],
      [orderId, { reason: '' }],
      [orderId, { reason: 'r'.repeat(256) }],
      [orderId, { reason: 'ok', refund: false }],
    ] as [string, object][]) {
      const res = await cancel(id, { wait: 'true', body });
      expect({ id: id.slice(0, 10), body, status: res.status, code: res.body.error?.code }).toEqual({
        id: id.slice(0, 10),
        body,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
    const view = await request(app)
      .get(`/sagas/${cancelOrderWorkflowId(orderId)}`)
      .set(auth);
    expect(view.status).toBe(404);
    expect(await orderFootprint(stack, orderId)).toEqual(CONFIRMED);
  });
});

describe('POST /sagas/CancelOrder', () => {
  test('when the generic route is used, then it starts the same saga (the same ID as the domain route)', async () => {
    const { orderId } = await placedOrder();
    const res = await post(app, '/sagas/CancelOrder?wait=true').send({ orderId });
    seen.push({ method: 'post', path: '/sagas/{type}', status: res.status, body: res.body });
    expect({ status: res.status, sagaId: res.body.sagaId, saga: res.body.status }).toEqual({
      status: 200,
      sagaId: cancelOrderWorkflowId(orderId),
      saga: 'COMPLETED',
    });
    const bad = await post(app, '/sagas/CancelOrder').send({ orderId, surprise: 1 });
    seen.push({ method: 'post', path: '/sagas/{type}', status: bad.status, body: bad.body });
    expect(bad.status).toBe(400);
  });

  test('when GET /sagas?type=CancelOrder is asked, then the cancellations are listed, and only they', async () => {
    let listed: { sagaId: string; type: string }[] = [];
    for (let i = 0; i < 50 && listed.length === 0; i++) {
      const res = await request(app).get('/sagas?type=CancelOrder').set(auth);
      expect(res.status).toBe(200);
      listed = res.body.sagas;
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.length).toBeGreaterThan(0);
    for (const s of listed)
      expect({ sagaId: s.sagaId.startsWith('cancel-'), type: s.type }).toEqual({ sagaId: true, type: 'CancelOrder' });
  });
});

describe('the OpenAPI document', () => {
  test('when every answer above is checked against it, then each matches its route, status and schema', async () => {
    const doc = (await request(app).get('/openapi.json')).body;
    expect(Object.keys(doc.paths['/orders/{orderId}/cancel'].post.responses).sort()).toEqual([
      '200',
      '202',
      '400',
      '401',
      '404',
      '409',
      '413',
      '415',
      '422',
      '503',
    ]);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
    expect(seen.length).toBeGreaterThan(15);
    const problems: string[] = [];
    for (const r of seen) {
      const response = doc.paths[r.path]?.[r.method]?.responses?.[String(r.status)];
      if (!response) {
        problems.push(`${r.method} ${r.path} ${r.status}: not documented`);
        continue;
      }
      const schema = response.content?.['application/json']?.schema;
      const validate = ajv.compile({ $ref: `doc${schema.$ref}` });
      if (!validate(r.body)) problems.push(`${r.method} ${r.path} ${r.status}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(problems).toEqual([]);
  });
});

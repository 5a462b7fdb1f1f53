import type { WorkflowHandle } from '@temporalio/client';
import { placeOrder, type PlaceOrderInput, type PlaceOrderResult } from '../workflows/place-order';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { isCompensatedSaga } from '../workflows/saga';
import { startServices, type ServiceStack } from './support/services';
import {
  connectTemporal,
  startWorker,
  FAST,
  finalState,
  scheduledActivities,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';
import { ADDRESS, DECLINED_CARD, orderFootprint, orderInput, putProduct, stockOf } from './support/fixtures';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startServices('placeorder');
  t = await connectTemporal('placeorder');
  // Under the 100-order race below, on two cores shared with the other suites, one reservation can
  // wait seconds for the SKU's row lock: a generous client timeout keeps a slow answer from being
  // taken for a lost one (no test in this file relies on the HTTP timeout).
  worker = await startWorker(t, stack, { httpTimeoutMs: 20_000 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

function start(input: PlaceOrderInput): Promise<WorkflowHandle> {
  return t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
}

describe('PlaceOrder', () => {
  test('when every service accepts, then the order is CONFIRMED, stock committed, one capture and one shipment', async () => {
    const sku = await putProduct(stack, { available: 10, priceCents: 1250, name: 'Teapot' });
    const input = orderInput(sku, { options: FAST });
    const handle = await start(input);
    const result = (await handle.result()) as PlaceOrderResult;
    expect(result).toMatchObject({
      orderId: input.orderId,
      totalCents: 2500,
      lines: [{ sku, quantity: 2, productName: 'Teapot', unitPriceCents: 1250 }],
    });
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.map((s) => [s.name, s.kind, s.status, s.attempts])).toEqual([
      ['createOrder', 'compensatable', 'SUCCEEDED', 1],
      ['reserveStock', 'compensatable', 'SUCCEEDED', 1],
      ['chargePayment', 'compensatable', 'SUCCEEDED', 1],
      ['scheduleShipment', 'compensatable', 'SUCCEEDED', 1],
      ['confirmOrder', 'pivot', 'SUCCEEDED', 1],
      ['commitStock', 'retriable', 'SUCCEEDED', 1],
    ]);
    expect(await orderFootprint(stack, input.orderId)).toEqual({
      order: 'CONFIRMED',
      totalCents: 2500,
      reservation: 'COMMITTED',
      payments: ['CAPTURED'],
      paymentAmounts: [2500],
      shipments: ['SCHEDULED'],
    });
    const lines = await stack.orders.query(
      'SELECT product_name, unit_price_cents FROM order_lines WHERE order_id = ?',
      [input.orderId],
    );
    expect(lines).toEqual([{ product_name: 'Teapot', unit_price_cents: 1250 }]);
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
    const desc = await handle.describe();
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['COMPLETED'], SagaType: ['PlaceOrder'] });
  });

  test('when the stock is insufficient, then only the order is compensated (cancelled) and no stock moves', async () => {
    const sku = await putProduct(stack, { available: 1 });
    const input = orderInput(sku, { options: FAST });
    const handle = await start(input);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'INSUFFICIENT_STOCK', step: 'reserveStock' });
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['createOrder', 'SUCCEEDED', 'COMPENSATED'],
      ['reserveStock', 'FAILED', 'NOT_NEEDED'],
    ]);
    expect(await scheduledActivities(handle)).toEqual(['createOrder', 'reserveStock', 'cancelOrder']);
    expect(await orderFootprint(stack, input.orderId)).toEqual({
      order: 'CANCELLED',
      totalCents: null,
      reservation: undefined,
      payments: [],
      paymentAmounts: [],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 1, reserved: 0, committed: 0 });
  });

  test('when the card is declined, then the shipment scheduled alongside the charge is cancelled, the stock released and the order cancelled, in reverse order', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const input = orderInput(sku, { options: FAST, cardNumber: DECLINED_CARD });
    const handle = await start(input);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'PAYMENT_DECLINED', step: 'chargePayment' });
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['createOrder', 'SUCCEEDED', 'COMPENSATED'],
      ['reserveStock', 'SUCCEEDED', 'COMPENSATED'],
      ['chargePayment', 'FAILED', 'NOT_NEEDED'],
      ['scheduleShipment', 'SUCCEEDED', 'COMPENSATED'],
    ]);
    // The charge and the shipment run in parallel (patch parallel-charge-and-ship): the declined
    // charge needs no compensation, the shipment that landed meanwhile does.
    expect(await scheduledActivities(handle)).toEqual([
      'createOrder',
      'reserveStock',
      'chargePayment',
      'scheduleShipment',
      'cancelShipment',
      'releaseStock',
      'cancelOrder',
    ]);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['DECLINED'],
      shipments: ['CANCELLED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when the address is unserviceable, then the payment is refunded, stock released and order cancelled, in reverse', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const input = orderInput(sku, { options: FAST, shippingAddress: { ...ADDRESS, country: 'AQ' } });
    const handle = await start(input);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'UNSERVICEABLE_ADDRESS', step: 'scheduleShipment' });
    expect(await scheduledActivities(handle)).toEqual([
      'createOrder',
      'reserveStock',
      'chargePayment',
      'scheduleShipment',
      'refundPayment',
      'releaseStock',
      'cancelOrder',
    ]);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: [],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
    // A handled outcome, not a failure: the workflow completed, with the final saga state as its result.
    const desc = await handle.describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['COMPENSATED'] });
    const result = await handle.result();
    expect(
      isCompensatedSaga(result) && result.steps.map((s) => `${s.name}:${s.compensation?.status ?? s.status}`),
    ).toEqual([
      'createOrder:COMPENSATED',
      'reserveStock:COMPENSATED',
      'chargePayment:COMPENSATED',
      'scheduleShipment:NOT_NEEDED',
    ]);
  });

  test('when 100 orders race for 20 units, then exactly 20 complete, 80 compensate, 20 captures and stock never goes negative', async () => {
    const sku = await putProduct(stack, { available: 20, priceCents: 300 });
    // A step's time budget above the worker's HTTP timeout: this test is about the race for stock, not
    // about timeouts, which under the load of 100 sagas on two cores would otherwise compensate an
    // order that had stock.
    const options = { ...FAST, activityTimeoutMs: 30_000 };
    const inputs = Array.from({ length: 100 }, () => orderInput(sku, { options, items: [{ sku, quantity: 1 }] }));
    const handles = await Promise.all(inputs.map(start));
    const states = await Promise.all(handles.map(finalState));
    const count = (status: string) => states.filter((s) => s.status === status).length;
    // anything but a completion or a stock rejection, shown whole (under load, a technical failure that
    // exhausted a step's retries would compensate an order that had stock and leave units unsold)
    const other = states.filter((s) => s.status !== 'COMPLETED' && s.failure?.type !== 'INSUFFICIENT_STOCK');
    expect(
      other.map((s) => ({
        status: s.status,
        failure: s.failure,
        steps: s.steps.map((x) => [x.name, x.status, x.attempts, x.error]),
      })),
    ).toEqual([]);
    expect(count('COMPLETED')).toBe(20);
    expect(count('COMPENSATED')).toBe(80);
    expect(
      states.filter((s) => s.status === 'COMPENSATED').every((s) => s.failure?.type === 'INSUFFICIENT_STOCK'),
    ).toBe(true);
    expect(await stockOf(stack, sku)).toEqual({ available: 0, reserved: 0, committed: 20 });
    const ids = inputs.map((i) => i.orderId);
    const [captures] = await stack.payments.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM payments WHERE status = 'CAPTURED' AND order_id IN (${ids.map(() => '?').join(',')})`,
      ids,
    );
    expect(Number(captures!.n)).toBe(20);
    const [confirmed] = await stack.orders.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM orders WHERE status = 'CONFIRMED' AND order_id IN (${ids.map(() => '?').join(',')})`,
      ids,
    );
    expect(Number(confirmed!.n)).toBe(20);
  }, 300_000);
  test('when PlaceOrder runs in local-activity mode, then it completes with the same footprint and its history holds markers, not activity tasks', async () => {
    const sku = await putProduct(stack, { available: 10, priceCents: 500 });
    const input = orderInput(sku, { options: { ...FAST, activityMode: 'local' } });
    const handle = await start(input);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(await orderFootprint(stack, input.orderId)).toEqual({
      order: 'CONFIRMED',
      totalCents: 1000,
      reservation: 'COMMITTED',
      payments: ['CAPTURED'],
      paymentAmounts: [1000],
      shipments: ['SCHEDULED'],
    });
    // the one activity task is the runtime's checkpoint before closing (Saga.persistLocalResults)
    expect(await scheduledActivities(handle)).toEqual(['sagaCheckpoint']);
    const history = await handle.fetchHistory();
    const markers = (history.events ?? []).filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    expect(markers.length).toBeGreaterThanOrEqual(6);
  });

  test('when PlaceOrder in local-activity mode meets a declined card, then it compensates exactly as in regular mode', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const input = orderInput(sku, { options: { ...FAST, activityMode: 'local' }, cardNumber: DECLINED_CARD });
    const state = await finalState(await start(input));
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'PAYMENT_DECLINED' });
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['DECLINED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });
});

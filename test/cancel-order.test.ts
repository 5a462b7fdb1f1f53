import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { cancelOrder, type CancelOrderInput, type CancelOrderResult } from '../workflows/cancel-order';
import { placeOrder, type PlaceOrderInput } from '../workflows/place-order';
import { cancelOrderSaga, cancelOrderWorkflowId } from '../sagas/cancel-order';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { workflowIdPolicies } from '../sagas/definition';
import { runAudit } from '../audit/auditor';
import { MYSQL_URL, callAs, startServices, uniqueId, type ServiceStack } from './support/services';
import {
  connectTemporal,
  startWorker,
  FAST,
  finalState,
  scheduledActivities,
  waitForState,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';
import { DECLINED_CARD, orderFootprint, orderInput, putProduct, stockOf } from './support/fixtures';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startServices('cancelorder');
  t = await connectTemporal('cancelorder');
  worker = await startWorker(t, stack);
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

function startPlaceOrder(input: PlaceOrderInput): Promise<WorkflowHandle> {
  return t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
}

function startCancel(
  orderId: string,
  reason = 'changed my mind',
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof cancelOrder>> {
  const input: CancelOrderInput = { orderId, reason, options: FAST };
  return t.client.workflow.start(cancelOrder, {
    taskQueue: t.taskQueue,
    workflowId: cancelOrderWorkflowId(orderId),
    args: [input],
    ...workflowIdPolicies(cancelOrderSaga.workflowIdentity),
  });
}

/** A PlaceOrder that completed: 2 units of a fresh SKU (10 available, 1250 cents each). */
async function confirmedOrder(): Promise<{ orderId: string; sku: string }> {
  const sku = await putProduct(stack, { available: 10, priceCents: 1250 });
  const input = orderInput(sku, { options: FAST });
  const state = await finalState(await startPlaceOrder(input));
  expect(state.status).toBe('COMPLETED');
  return { orderId: input.orderId, sku };
}

const dispatch = (orderId: string) =>
  callAs(stack.shipping.url, 'operator').post(`/shipments/${orderId}/dispatch`).send({});

async function cancellationOf(orderId: string) {
  const [row] = await stack.orders.query<{
    status: string;
    cancel_reason: string | null;
    cancellation_id: string | null;
    cancellation_reverted: number;
  }>('SELECT status, cancel_reason, cancellation_id, cancellation_reverted FROM orders WHERE order_id = ?', [orderId]);
  return row;
}

/** The footprint of a confirmed order of 2 units (2500 cents) that nothing has cancelled. */
const STILL_CONFIRMED = {
  order: 'CONFIRMED',
  totalCents: 2500,
  reservation: 'COMMITTED',
  payments: ['CAPTURED'],
  paymentAmounts: [2500],
};
/** The footprint of that order once cancelled. */
const CANCELLED = {
  order: 'CANCELLED',
  totalCents: 2500,
  reservation: 'RETURNED',
  payments: ['REFUNDED'],
  paymentAmounts: [2500],
  shipments: ['CANCELLED'],
};

/** The audit of the suite's databases, restricted to these orders. */
async function violationsOf(orderIds: string[]) {
  const report = await runAudit({ mysqlUrl: MYSQL_URL, dbPrefix: stack.prefix, settleMs: 0 });
  return report.violations.filter((v) => v.orderId !== undefined && orderIds.includes(v.orderId));
}

describe('CancelOrder', () => {
  test('when a confirmed order is cancelled, then it is CANCELLED, refunded, its stock available again and its shipment CANCELLED', async () => {
    const { orderId, sku } = await confirmedOrder();
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
    const handle = await startCancel(orderId, 'ordered the wrong size');
    const result = (await handle.result()) as CancelOrderResult;
    expect(result).toEqual({
      orderId,
      shipmentId: expect.any(String),
      refundedCents: 2500,
      returnedLines: [{ sku, quantity: 2 }],
    });
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.map((s) => [s.name, s.kind, s.status, s.attempts])).toEqual([
      ['beginOrderCancellation', 'compensatable', 'SUCCEEDED', 1],
      ['cancelShipment', 'pivot', 'SUCCEEDED', 1],
      ['refundPayment', 'retriable', 'SUCCEEDED', 1],
      ['returnStock', 'retriable', 'SUCCEEDED', 1],
      ['completeOrderCancellation', 'retriable', 'SUCCEEDED', 1],
    ]);
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
    expect(await cancellationOf(orderId)).toEqual({
      status: 'CANCELLED',
      cancel_reason: 'ordered the wrong size',
      cancellation_id: `${handle.workflowId}.${handle.firstExecutionRunId}`,
      cancellation_reverted: 0,
    });
    const [shipment] = await stack.shipping.query<{ shipment_id: string }>(
      'SELECT shipment_id FROM shipments WHERE order_id = ?',
      [orderId],
    );
    expect(result.shipmentId).toBe(shipment!.shipment_id);
    const desc = await handle.describe();
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['COMPLETED'], SagaType: ['CancelOrder'] });
    expect(await violationsOf([orderId])).toEqual([]);
  });

  test('when the parcel was dispatched before the cancel, then the saga compensates: the order is CONFIRMED again, nothing refunded, the stock still committed', async () => {
    const { orderId, sku } = await confirmedOrder();
    expect((await dispatch(orderId)).status).toBe(200);
    const handle = await startCancel(orderId);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'SHIPMENT_ALREADY_DISPATCHED', step: 'cancelShipment' });
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['beginOrderCancellation', 'SUCCEEDED', 'COMPENSATED'],
      ['cancelShipment', 'FAILED', undefined],
    ]);
    expect(await scheduledActivities(handle)).toEqual([
      'beginOrderCancellation',
      'cancelShipment',
      'revertOrderCancellation',
    ]);
    expect(await orderFootprint(stack, orderId)).toEqual({ ...STILL_CONFIRMED, shipments: ['DISPATCHED'] });
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
    expect(await cancellationOf(orderId)).toMatchObject({
      status: 'CONFIRMED',
      cancel_reason: null,
      cancellation_reverted: 1,
    });
    const desc = await handle.describe();
    // a saga that compensated completely handled its failure: it completes in Temporal's terms
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['COMPENSATED'], SagaType: ['CancelOrder'] });
    expect(await violationsOf([orderId])).toEqual([]);
  });

  test('when cancels and dispatches race for 6 orders, then for each exactly one wins and the four services agree on which', async () => {
    const orders = await Promise.all(Array.from({ length: 6 }, () => confirmedOrder()));
    const outcomes = await Promise.all(
      orders.map(async ({ orderId, sku }, i) => {
        // the dispatches come later and later (0 to 750 ms after the start), so they meet the saga
        // before, at and after its pivot: both outcomes happen, and each must leave the data agreeing
        const [handle, dispatched] = await Promise.all([
          startCancel(orderId),
          new Promise((r) => setTimeout(r, i * 150)).then(() => dispatch(orderId)),
        ]);
        const state = await finalState(handle);
        return {
          orderId,
          sku,
          state,
          dispatch: dispatched.status === 200 ? 'won' : (dispatched.body.error?.code as string),
        };
      }),
    );
    for (const { orderId, sku, state, dispatch: d } of outcomes) {
      const footprint = await orderFootprint(stack, orderId);
      const stock = await stockOf(stack, sku);
      if (d === 'won') {
        expect({ orderId, saga: state.status, failure: state.failure?.type, footprint, stock }).toEqual({
          orderId,
          saga: 'COMPENSATED',
          failure: 'SHIPMENT_ALREADY_DISPATCHED',
          footprint: { ...STILL_CONFIRMED, shipments: ['DISPATCHED'] },
          stock: { available: 8, reserved: 0, committed: 2 },
        });
      } else {
        expect({ orderId, saga: state.status, dispatch: d, footprint, stock }).toEqual({
          orderId,
          saga: 'COMPLETED',
          dispatch: 'SHIPMENT_CANCELLED',
          footprint: CANCELLED,
          stock: { available: 10, reserved: 0, committed: 0 },
        });
      }
    }
    expect(await violationsOf(orders.map((o) => o.orderId))).toEqual([]);
  });

  test('when the same cancel is requested twice, then one saga runs (a second start while it runs is refused), and one after it completed is refused at its first step: refunded once', async () => {
    const { orderId, sku } = await confirmedOrder();
    const results = await Promise.allSettled([startCancel(orderId), startCancel(orderId)]);
    const started = results.filter(
      (r): r is PromiseFulfilledResult<WorkflowHandleWithFirstExecutionRunId<typeof cancelOrder>> =>
        r.status === 'fulfilled',
    );
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(started).toHaveLength(1);
    expect(refused.map((r) => (r.reason as Error).name)).toEqual(['WorkflowExecutionAlreadyStartedError']);
    const handle = started[0]!.value;
    expect((await finalState(handle)).status).toBe('COMPLETED');
    // once it has closed, the ID runs again (sagas/cancel-order.ts: a business key), judged on the
    // order as it is now: already CANCELLED, so refused at its first step with nothing changed
    const again = await startCancel(orderId);
    expect(again.firstExecutionRunId).not.toBe(handle.firstExecutionRunId);
    expect((await finalState(again)).failure).toMatchObject({
      type: 'ILLEGAL_TRANSITION',
      step: 'beginOrderCancellation',
    });
    expect(await scheduledActivities(again)).toEqual(['beginOrderCancellation']);
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
  });

  test('when a cancel was refused while the order was PENDING, then a cancel once it is confirmed runs again under the same ID and cancels it', async () => {
    const sku = await putProduct(stack, { available: 5, priceCents: 1250 });
    await stack.payments.stop();
    const input = orderInput(sku, {
      options: { ...FAST, stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 } },
    });
    let place: WorkflowHandle;
    let first: WorkflowHandleWithFirstExecutionRunId;
    try {
      place = await startPlaceOrder(input);
      await waitForState(place, (s) => s.steps.some((st) => st.name === 'chargePayment'));
      first = await startCancel(input.orderId);
      const refused = await finalState(first);
      expect(refused.failure).toMatchObject({ type: 'ILLEGAL_TRANSITION', step: 'beginOrderCancellation' });
    } finally {
      await stack.payments.start();
    }
    expect((await finalState(place)).status).toBe('COMPLETED');
    const second = await startCancel(input.orderId);
    expect(second.firstExecutionRunId).not.toBe(first.firstExecutionRunId);
    expect((await finalState(second)).status).toBe('COMPLETED');
    expect(await orderFootprint(stack, input.orderId)).toEqual(CANCELLED);
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when a second cancellation saga under another ID meets the order, then its first step is refused and it changes nothing', async () => {
    const { orderId, sku } = await confirmedOrder();
    expect((await finalState(await startCancel(orderId))).status).toBe('COMPLETED');
    const stray = await t.client.workflow.start(cancelOrder, {
      taskQueue: t.taskQueue,
      workflowId: `${cancelOrderWorkflowId(orderId)}-${uniqueId('stray')}`,
      args: [{ orderId, options: FAST }],
    });
    const state = await finalState(stray);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'ILLEGAL_TRANSITION', step: 'beginOrderCancellation' });
    expect(await scheduledActivities(stray)).toEqual(['beginOrderCancellation']);
    expect(await orderFootprint(stack, orderId)).toEqual(CANCELLED);
    expect(await cancellationOf(orderId)).toMatchObject({
      status: 'CANCELLED',
      cancellation_id: expect.stringMatching(new RegExp(`^${cancelOrderWorkflowId(orderId)}\\.`)),
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
  });

  describe('an order that cannot be cancelled', () => {
    /** Runs a cancel that must be refused at its first step, and checks that nothing else was called. */
    async function refusedCancel(orderId: string, type: string) {
      const handle = await startCancel(orderId);
      const state = await finalState(handle);
      expect(state.status).toBe('COMPENSATED');
      expect(state.failure).toMatchObject({ type, step: 'beginOrderCancellation' });
      expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
        ['beginOrderCancellation', 'FAILED', 'NOT_NEEDED'],
      ]);
      expect(await scheduledActivities(handle)).toEqual(['beginOrderCancellation']);
      return state;
    }

    test('when the order is unknown, then ORDER_NOT_FOUND and no service holds anything for it', async () => {
      const orderId = uniqueId('ord');
      const state = await refusedCancel(orderId, 'ORDER_NOT_FOUND');
      expect(state.failure?.message).toContain(orderId);
      expect(await orderFootprint(stack, orderId)).toEqual({
        order: undefined,
        totalCents: null,
        reservation: undefined,
        payments: [],
        paymentAmounts: [],
        shipments: [],
      });
    });

    test('when the order is still PENDING, then ILLEGAL_TRANSITION and it stays PENDING with its stock held', async () => {
      const sku = await putProduct(stack, { available: 5 });
      const orderId = uniqueId('ord');
      expect(
        (
          await stack.orders
            .as()
            .post('/orders')
            .send({ orderId, customerId: 'c-1', lines: [{ sku, quantity: 1 }] })
        ).status,
      ).toBe(201);
      expect(
        (
          await stack.inventory
            .as()
            .post('/reservations')
            .send({ orderId, lines: [{ sku, quantity: 1 }] })
        ).status,
      ).toBe(201);
      const state = await refusedCancel(orderId, 'ILLEGAL_TRANSITION');
      expect(state.failure?.message).toMatch(/PENDING/);
      expect(await orderFootprint(stack, orderId)).toEqual({
        order: 'PENDING',
        totalCents: null,
        reservation: 'HELD',
        payments: [],
        paymentAmounts: [],
        shipments: [],
      });
      expect(await stockOf(stack, sku)).toEqual({ available: 4, reserved: 1, committed: 0 });
    });

    test('when the order was already cancelled (its PlaceOrder compensated), then ILLEGAL_TRANSITION and nothing is refunded or returned again', async () => {
      const sku = await putProduct(stack, { available: 5 });
      const input = orderInput(sku, { options: FAST, cardNumber: DECLINED_CARD });
      expect((await finalState(await startPlaceOrder(input))).status).toBe('COMPENSATED');
      const before = await orderFootprint(stack, input.orderId);
      expect(before).toMatchObject({ order: 'CANCELLED', reservation: 'RELEASED', payments: ['DECLINED'] });
      const state = await refusedCancel(input.orderId, 'ILLEGAL_TRANSITION');
      expect(state.failure?.message).toMatch(/CANCELLED/);
      expect(await orderFootprint(stack, input.orderId)).toEqual(before);
      expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
    });
  });
});

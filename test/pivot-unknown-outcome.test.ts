/**
 * A pivot whose answer was lost, against the real services, MySQL and Temporal: the service
 * commits the pivot and drops the connection (fault rule `crashAfterCommitRate: 1` on the pivot's
 * route), then plays dead (`downForMs`) for longer than the pivot's retry budget. The pivot may
 * have landed (here it did), so the saga must not compensate: it goes STUCK with reason
 * OUTCOME_UNKNOWN and undoes nothing, until an operator retries it (the same idempotency key: the
 * landed call is answered from the service's stored reply) or resolves it by hand. A cancellation
 * of the workflow meanwhile changes nothing.
 *
 * The crash rule stays on while the operator retries: a retry under a new key would commit anew (a
 * second idempotency key, and its answer lost again, which the rule counts); re-sent with its key,
 * the pivot is a replay, which commits nothing and is answered.
 */
import { randomBytes } from 'node:crypto';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { FaultConfig, FaultRule, FaultsView } from '../lib/http/faults';
import { FAULTS_PATH } from '../lib/http/faults';
import { placeOrder, type PlaceOrderInput } from '../workflows/place-order';
import { cancelOrder, type CancelOrderInput } from '../workflows/cancel-order';
import { resolveStuckSagaUpdate, retryStuckCompensationUpdate } from '../workflows/operator-updates';
import type { SagaRunOptions } from '../workflows/options';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { cancelOrderSaga, cancelOrderWorkflowId } from '../sagas/cancel-order';
import { workflowIdPolicies } from '../sagas/definition';
import type { SagaState } from '../shared/saga-types';
import { startServices, type RunningService, type ServiceStack } from './support/services';
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
import { orderFootprint, orderInput, putProduct, stockOf } from './support/fixtures';

const ADMIN_TOKEN = `admin-${randomBytes(8).toString('hex')}`;

/** The pivot's budget: 3 attempts, 600 ms apart (spent about 1.2 s after the lost answer). */
const PIVOT_RETRY = { initialIntervalMs: 600, maximumIntervalMs: 600, backoffCoefficient: 1, maximumAttempts: 3 };
const OPTIONS: SagaRunOptions = { ...FAST, pivotRetry: PIVOT_RETRY };
/** How long the service plays dead once it lost the pivot's answer: well past the pivot's budget. */
const DOWN_MS = 3000;

const CONFIRM_ROUTE = 'POST /orders/:orderId/confirm';
const CANCEL_SHIPMENT_ROUTE = 'POST /shipments/:orderId/cancel';

/** The compensations each saga could schedule (CancelOrder's refund and cancelShipment are forward steps). */
const PLACE_ORDER_UNDO = ['cancelOrder', 'releaseStock', 'refundPayment', 'cancelShipment'];
const CANCEL_ORDER_UNDO = ['revertOrderCancellation'];

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startServices('pivotunknown', { faults: { adminToken: ADMIN_TOKEN } });
  t = await connectTemporal('pivotunknown');
  worker = await startWorker(t, stack, { httpTimeoutMs: 2000 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});
afterEach(async () => {
  for (const s of stack.all) await faults(s, 'DELETE');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function faults(svc: RunningService, method: 'GET' | 'PUT' | 'DELETE', config?: FaultConfig) {
  const res = await fetch(`${svc.url}${FAULTS_PATH}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: config === undefined ? undefined : JSON.stringify(config),
  });
  if (res.status !== 200) throw new Error(`${method} ${FAULTS_PATH} on ${svc.name}: ${res.status} ${await res.text()}`);
  return (await res.json()) as FaultsView;
}

/**
 * Arms `route` of `svc` to commit and then drop the connection, runs `start`, and as soon as the
 * answer was lost makes the whole service play dead for DOWN_MS (the crash rule stays on).
 * Answers the handle and when the service comes back.
 */
async function loseAnswerThenGoDown<H>(
  svc: RunningService,
  route: string,
  start: () => Promise<H>,
): Promise<{ handle: H; upAt: number }> {
  const rule: FaultRule = { route, crashAfterCommitRate: 1, failureRate: 0, latencyMs: 0 };
  await faults(svc, 'PUT', { seed: 1, rules: [rule] });
  const handle = await start();
  const deadline = Date.now() + 20_000;
  while ((await faults(svc, 'GET')).injected.crashAfterCommit === 0) {
    if (Date.now() > deadline) throw new Error(`${route} of ${svc.name} was never called`);
    await sleep(20);
  }
  // The pivot's next attempt comes PIVOT_RETRY.initialIntervalMs later: it meets a dead service.
  const view = await faults(svc, 'PUT', { seed: 1, rules: [rule], downForMs: DOWN_MS });
  return { handle, upAt: Date.parse(view.downUntil!) };
}

/** Waits (without calling the service, which would count as a request) until it is back. */
async function untilUp(svc: RunningService, upAt: number): Promise<void> {
  await sleep(Math.max(0, upAt - Date.now() + 50));
  expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
}

function startPlaceOrder(input: PlaceOrderInput): Promise<WorkflowHandle> {
  return t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
}

function startCancelOrder(orderId: string): Promise<WorkflowHandleWithFirstExecutionRunId<typeof cancelOrder>> {
  const input: CancelOrderInput = { orderId, reason: 'changed my mind', options: OPTIONS };
  return t.client.workflow.start(cancelOrder, {
    taskQueue: t.taskQueue,
    workflowId: cancelOrderWorkflowId(orderId),
    args: [input],
    ...workflowIdPolicies(cancelOrderSaga.workflowIdentity),
  });
}

async function eventCount(svc: RunningService, type: string, orderId: string): Promise<number> {
  const [row] = await svc.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE type = ? AND aggregate_id = ?', [
    type,
    orderId,
  ]);
  return Number(row!.n);
}

async function idempotencyKeys(svc: RunningService, prefix: string): Promise<{ key: string; status: number }[]> {
  const rows = await svc.query<{ idem_key: string; status_code: number }>(
    'SELECT idem_key, status_code FROM idempotency_keys WHERE idem_key LIKE ? ORDER BY idem_key',
    [`${prefix}%`],
  );
  return rows.map((r) => ({ key: r.idem_key, status: r.status_code }));
}

async function compensationsScheduled(handle: WorkflowHandle, undo = PLACE_ORDER_UNDO): Promise<string[]> {
  return (await scheduledActivities(handle)).filter((a) => undo.includes(a));
}

/** What the saga state says about a pivot stuck on an unknown outcome. */
function expectStuckOnPivot(state: SagaState, pivot: string) {
  expect(state.status).toBe('STUCK');
  expect(state.stuck).toMatchObject({
    reason: 'OUTCOME_UNKNOWN',
    steps: [pivot],
    error: { type: 'SERVICE_UNREACHABLE' },
    waits: [{ steps: [pivot], phase: 'forward', reason: 'OUTCOME_UNKNOWN' }],
  });
  const step = state.steps.find((s) => s.name === pivot)!;
  expect(step).toMatchObject({ kind: 'pivot', attempts: PIVOT_RETRY.maximumAttempts });
  expect(state.failure).toBeUndefined();
  // nothing was compensated, or even tried
  expect(state.steps.filter((s) => s.compensation !== undefined)).toEqual([]);
}

/** 2 units of a fresh SKU (5 available, 1250 cents each): reserved, charged and shipped, then confirmed for good. */
const CONFIRMED_NOT_COMMITTED = {
  order: 'CONFIRMED',
  totalCents: 2500,
  reservation: 'HELD',
  payments: ['CAPTURED'],
  paymentAmounts: [2500],
  shipments: ['SCHEDULED'],
};

describe("PlaceOrder: the pivot's (confirmOrder) answer is lost and the orders service stays down past its budget", () => {
  /** A PlaceOrder STUCK on confirmOrder, its confirm committed in the orders service. */
  async function stuckPlaceOrder() {
    const sku = await putProduct(stack, { available: 5, priceCents: 1250 });
    const input = orderInput(sku, { options: OPTIONS });
    const { handle, upAt } = await loseAnswerThenGoDown(stack.orders, CONFIRM_ROUTE, () => startPlaceOrder(input));
    const stuck = await waitForState(handle, (s) => s.status === 'STUCK', 20_000);
    expectStuckOnPivot(stuck, 'confirmOrder');
    expect(stuck.steps.map((s) => [s.name, s.status])).toEqual([
      ['createOrder', 'SUCCEEDED'],
      ['reserveStock', 'SUCCEEDED'],
      ['chargePayment', 'SUCCEEDED'],
      ['scheduleShipment', 'SUCCEEDED'],
      ['confirmOrder', 'RUNNING'],
    ]);
    // the confirm landed (its stored reply is a 200), and nothing was undone
    expect(await idempotencyKeys(stack.orders, `${handle.workflowId}:confirmOrder`)).toEqual([
      { key: `${handle.workflowId}:confirmOrder`, status: 200 },
    ]);
    expect(await orderFootprint(stack, input.orderId)).toEqual(CONFIRMED_NOT_COMMITTED);
    expect(await stockOf(stack, sku)).toEqual({ available: 3, reserved: 2, committed: 0 });
    expect(await compensationsScheduled(handle)).toEqual([]);
    const desc = await handle.describe();
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['STUCK'] });
    expect(desc.memo).toMatchObject({ sagaState: { status: 'STUCK', stuck: { reason: 'OUTCOME_UNKNOWN' } } });
    return { sku, input, handle, upAt };
  }

  /** The footprint of the order once the saga completed: confirmed once, charged once, stock committed. */
  async function expectCompletedOnce(handle: WorkflowHandle, orderId: string, sku: string) {
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.stuck).toBeUndefined();
    expect(state.steps.map((s) => [s.name, s.status])).toEqual([
      ['createOrder', 'SUCCEEDED'],
      ['reserveStock', 'SUCCEEDED'],
      ['chargePayment', 'SUCCEEDED'],
      ['scheduleShipment', 'SUCCEEDED'],
      ['confirmOrder', 'SUCCEEDED'],
      ['commitStock', 'SUCCEEDED'],
    ]);
    expect(await orderFootprint(stack, orderId)).toEqual({
      ...CONFIRMED_NOT_COMMITTED,
      reservation: 'COMMITTED',
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 3, reserved: 0, committed: 2 });
    // one key for the confirm (the retry re-sent it, no `:retry:` key), one confirmation in the orders service
    expect(await idempotencyKeys(stack.orders, `${handle.workflowId}:confirmOrder`)).toEqual([
      { key: `${handle.workflowId}:confirmOrder`, status: 200 },
    ]);
    expect(await eventCount(stack.orders, 'OrderConfirmed', orderId)).toBe(1);
    expect(await eventCount(stack.payments, 'PaymentCaptured', orderId)).toBe(1);
    expect(await compensationsScheduled(handle)).toEqual([]);
    expect((await handle.describe()).searchAttributes).toMatchObject({ SagaStatus: ['COMPLETED'] });
    return state;
  }

  test('when the orders service is back and an operator retries confirmOrder, then it is re-sent with its key, answered from the stored reply, and the saga completes with one confirm and one capture', async () => {
    const { sku, input, handle, upAt } = await stuckPlaceOrder();
    await untilUp(stack.orders, upAt);
    // back up, the saga still waits for an operator: it sends nothing by itself
    await sleep(300);
    expect((await waitForState(handle, () => true)).status).toBe('STUCK');
    const before = await faults(stack.orders, 'GET');
    // the two attempts after the lost answer met the dead service; none since
    expect(before.injected.down).toBe(PIVOT_RETRY.maximumAttempts - 1);
    expect(before.byRule).toEqual([
      { route: CONFIRM_ROUTE, matched: 0, injected: { failure: 0, latency: 0, crashAfterCommit: 0 } },
    ]);

    await handle.executeUpdate(retryStuckCompensationUpdate, { args: [{ step: 'confirmOrder' }] });
    const state = await expectCompletedOnce(handle, input.orderId, sku);
    expect(state.steps.find((s) => s.name === 'confirmOrder')!.attempts).toBe(PIVOT_RETRY.maximumAttempts + 1);
    // the re-sent confirm matched the crash rule, but a replay commits nothing new: it was answered
    const after = await faults(stack.orders, 'GET');
    expect(after.byRule).toEqual([
      { route: CONFIRM_ROUTE, matched: 1, injected: { failure: 0, latency: 0, crashAfterCommit: 0 } },
    ]);
  });

  test('when an operator resolves the STUCK saga by hand, then it ends RESOLVED_MANUALLY and nothing is undone', async () => {
    const { sku, input, handle } = await stuckPlaceOrder();
    // the services all answer again: a compensation would land, so none must run
    await faults(stack.orders, 'DELETE');
    await handle.executeUpdate(resolveStuckSagaUpdate, {
      args: [{ note: 'orders team checked: the order is confirmed' }],
    });
    const state = await finalState(handle);
    expect(state.status).toBe('RESOLVED_MANUALLY');
    expect(state.stuck).toBeUndefined();
    expect(state.resolution).toMatchObject({
      note: 'orders team checked: the order is confirmed',
      steps: ['confirmOrder'],
    });
    expect(state.steps.find((s) => s.name === 'confirmOrder')).toMatchObject({ kind: 'pivot', status: 'FAILED' });
    expect(state.steps.map((s) => s.name)).not.toContain('commitStock');
    expect(state.steps.filter((s) => s.compensation !== undefined)).toEqual([]);
    expect(await compensationsScheduled(handle)).toEqual([]);
    expect(await orderFootprint(stack, input.orderId)).toEqual(CONFIRMED_NOT_COMMITTED);
    expect(await stockOf(stack, sku)).toEqual({ available: 3, reserved: 2, committed: 0 });
    expect(await eventCount(stack.orders, 'OrderConfirmed', input.orderId)).toBe(1);
    const desc = await handle.describe();
    expect(desc.status.name).toBe('FAILED');
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['RESOLVED_MANUALLY'] });
  });

  test('when the STUCK saga is cancelled in Temporal, then the cancel is refused past the pivot and nothing is undone, and a retry then completes it', async () => {
    const { sku, input, handle } = await stuckPlaceOrder();
    await faults(stack.orders, 'DELETE');
    await handle.cancel();
    const refused = await waitForState(handle, (s) => s.cancellation !== undefined);
    expect(refused.cancellation).toMatchObject({ outcome: 'REFUSED_PAST_PIVOT', step: 'confirmOrder' });
    expectStuckOnPivot(refused, 'confirmOrder');
    // give a wrong compensation time to show
    await sleep(1000);
    expect((await waitForState(handle, () => true)).status).toBe('STUCK');
    expect(await compensationsScheduled(handle)).toEqual([]);
    expect(await orderFootprint(stack, input.orderId)).toEqual(CONFIRMED_NOT_COMMITTED);
    expect(await stockOf(stack, sku)).toEqual({ available: 3, reserved: 2, committed: 0 });

    await handle.executeUpdate(retryStuckCompensationUpdate, { args: [{}] });
    const state = await expectCompletedOnce(handle, input.orderId, sku);
    expect(state.cancellation).toMatchObject({ outcome: 'REFUSED_PAST_PIVOT', step: 'confirmOrder' });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });
});

describe("CancelOrder: the pivot's (cancelShipment) answer is lost and the shipping service stays down past its budget", () => {
  test('when the shipment was cancelled for good, then the order is not put back to CONFIRMED with its payment captured, and a retry completes the cancellation: CANCELLED, refunded, stock returned', async () => {
    const sku = await putProduct(stack, { available: 10, priceCents: 1250 });
    const placed = orderInput(sku, { options: FAST });
    expect((await finalState(await startPlaceOrder(placed))).status).toBe('COMPLETED');
    const { orderId } = placed;
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });

    const { handle, upAt } = await loseAnswerThenGoDown(stack.shipping, CANCEL_SHIPMENT_ROUTE, () =>
      startCancelOrder(orderId),
    );
    const scope = `${handle.workflowId}.${handle.firstExecutionRunId}`;
    const stuck = await waitForState(handle, (s) => s.status === 'STUCK', 20_000);
    expectStuckOnPivot(stuck, 'cancelShipment');
    expect(stuck.steps.map((s) => [s.name, s.status])).toEqual([
      ['beginOrderCancellation', 'SUCCEEDED'],
      ['cancelShipment', 'RUNNING'],
    ]);
    // the shipment is cancelled for good; the order stays CANCELLING (not reverted), still charged, stock committed
    expect(await orderFootprint(stack, orderId)).toEqual({
      order: 'CANCELLING',
      totalCents: 2500,
      reservation: 'COMMITTED',
      payments: ['CAPTURED'],
      paymentAmounts: [2500],
      shipments: ['CANCELLED'],
    });
    const [order] = await stack.orders.query<{ cancellation_id: string; cancellation_reverted: number }>(
      'SELECT cancellation_id, cancellation_reverted FROM orders WHERE order_id = ?',
      [orderId],
    );
    expect(order).toEqual({ cancellation_id: scope, cancellation_reverted: 0 });
    expect(await stockOf(stack, sku)).toEqual({ available: 8, reserved: 0, committed: 2 });
    expect(await compensationsScheduled(handle, CANCEL_ORDER_UNDO)).toEqual([]);
    expect(await idempotencyKeys(stack.shipping, `${scope}:cancelShipment`)).toEqual([
      { key: `${scope}:cancelShipment`, status: 200 },
    ]);

    await untilUp(stack.shipping, upAt);
    await sleep(300);
    expect((await waitForState(handle, () => true)).status).toBe('STUCK');
    await handle.executeUpdate(retryStuckCompensationUpdate, { args: [{}] });
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.map((s) => [s.name, s.status])).toEqual([
      ['beginOrderCancellation', 'SUCCEEDED'],
      ['cancelShipment', 'SUCCEEDED'],
      ['refundPayment', 'SUCCEEDED'],
      ['returnStock', 'SUCCEEDED'],
      ['completeOrderCancellation', 'SUCCEEDED'],
    ]);
    expect(state.result).toMatchObject({ orderId, refundedCents: 2500, returnedLines: [{ sku, quantity: 2 }] });
    expect(await orderFootprint(stack, orderId)).toEqual({
      order: 'CANCELLED',
      totalCents: 2500,
      reservation: 'RETURNED',
      payments: ['REFUNDED'],
      paymentAmounts: [2500],
      shipments: ['CANCELLED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 10, reserved: 0, committed: 0 });
    // the retry re-sent the cancel with its key (the crash rule, still on, answered a replay): one cancellation
    expect(await idempotencyKeys(stack.shipping, `${scope}:cancelShipment`)).toEqual([
      { key: `${scope}:cancelShipment`, status: 200 },
    ]);
    expect(await eventCount(stack.shipping, 'ShipmentCancelled', orderId)).toBe(1);
    expect((await faults(stack.shipping, 'GET')).byRule).toEqual([
      { route: CANCEL_SHIPMENT_ROUTE, matched: 1, injected: { failure: 0, latency: 0, crashAfterCommit: 0 } },
    ]);
    expect(await eventCount(stack.orders, 'OrderCancellationReverted', orderId)).toBe(0);
    expect(await compensationsScheduled(handle, CANCEL_ORDER_UNDO)).toEqual([]);
  });
});

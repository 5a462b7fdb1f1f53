import type { WorkflowHandle } from '@temporalio/client';
import type { PlaceOrderInput } from '../workflows/place-order';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { startServices, type ServiceStack } from './support/services';
import {
  connectTemporal,
  startWorker,
  FAST,
  STUCK_QUICKLY,
  finalState,
  scheduledActivities,
  waitForState,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';
import { ADDRESS, orderFootprint, orderInput, putProduct, stockOf } from './support/fixtures';
import { resolveManuallySignal, retryCompensationSignal } from '../workflows/saga';
import { placeOrder } from '../workflows/place-order';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startServices('sagafail');
  t = await connectTemporal('sagafail');
  worker = await startWorker(t, stack, { httpTimeoutMs: 1000 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});
afterEach(async () => {
  // A test that stopped a service must not leave it down for the next one.
  for (const s of stack.all) if (!(await isUp(s.url))) await s.start();
});

async function isUp(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
}

function start(input: PlaceOrderInput): Promise<WorkflowHandle> {
  return t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PlaceOrder under technical failures', () => {
  test('when the payments service is down for a few seconds, then the saga retries, completes, and charges once', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.payments.stop();
    const input = orderInput(sku, {
      options: { ...FAST, stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 500, maximumAttempts: 0 } },
    });
    const handle = await start(input);
    // The shipment does not wait for the charge (they run in parallel): it is scheduled while payments is down.
    const during = await waitForState(handle, (s) =>
      s.steps.some((st) => st.name === 'scheduleShipment' && st.status === 'SUCCEEDED'),
    );
    expect(during.steps.find((s) => s.name === 'chargePayment')!.status).toBe('RUNNING');
    await sleep(2500);
    await stack.payments.start();
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    const charge = state.steps.find((s) => s.name === 'chargePayment')!;
    expect(charge.attempts).toBeGreaterThan(1);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CONFIRMED',
      reservation: 'COMMITTED',
      payments: ['CAPTURED'],
      shipments: ['SCHEDULED'],
    });
    const [keys] = await stack.payments.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM idempotency_keys WHERE idem_key LIKE ?',
      [`${handle.workflowId}:%`],
    );
    expect(Number(keys!.n)).toBe(1);
  });

  test('when a step exhausts its retries and its compensation fails until the service heals, then the saga ends COMPENSATED', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.shipping.stop();
    const input = orderInput(sku, {
      options: { ...FAST, stepRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 } },
    });
    const handle = await start(input);
    const compensating = await waitForState(handle, (s) =>
      s.steps.some((st) => st.name === 'scheduleShipment' && st.compensation?.status === 'COMPENSATING'),
    );
    expect(compensating.status).toBe('COMPENSATING');
    expect(compensating.steps.find((s) => s.name === 'scheduleShipment')).toMatchObject({
      status: 'FAILED',
      error: { type: 'SERVICE_UNREACHABLE' },
    });
    await sleep(1000);
    await stack.shipping.start();
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.steps.map((s) => s.compensation?.status)).toEqual([
      'COMPENSATED',
      'COMPENSATED',
      'COMPENSATED',
      'COMPENSATED',
    ]);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: ['CANCELLED'],
    });
    const [shipment] = await stack.shipping.query<{ tombstone: number }>(
      'SELECT tombstone FROM shipments WHERE order_id = ?',
      [input.orderId],
    );
    expect(shipment!.tombstone).toBe(1);
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when a compensation exhausts its budget, then the saga is STUCK, and retryCompensation after the fix ends COMPENSATED', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.shipping.stop();
    const input = orderInput(sku, {
      options: STUCK_QUICKLY,
    });
    const handle = await start(input);
    const stuck = await waitForState(handle, (s) => s.status === 'STUCK');
    expect(stuck.stuck).toMatchObject({ steps: ['scheduleShipment'], error: { type: 'SERVICE_UNREACHABLE' } });
    // continueOnCompensationError (the default): the other steps were compensated while one is stuck.
    expect(stuck.steps.map((s) => [s.name, s.compensation?.status])).toEqual([
      ['createOrder', 'COMPENSATED'],
      ['reserveStock', 'COMPENSATED'],
      ['chargePayment', 'COMPENSATED'],
      ['scheduleShipment', 'FAILED'],
    ]);
    const desc = await handle.describe();
    expect(desc.searchAttributes).toMatchObject({ SagaStatus: ['STUCK'] });
    expect(desc.memo).toMatchObject({ sagaState: { status: 'STUCK' } });
    await stack.shipping.start();
    await handle.signal(retryCompensationSignal);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.steps.find((s) => s.name === 'scheduleShipment')!.compensation!.status).toBe('COMPENSATED');
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: ['CANCELLED'],
    });
    // the retry used a fresh idempotency key (round 1)
    expect(await scheduledActivities(handle)).toContain('cancelShipment');
    const keys = await stack.shipping.query<{ idem_key: string }>(
      'SELECT idem_key FROM idempotency_keys WHERE idem_key LIKE ?',
      [`${handle.workflowId}:%`],
    );
    expect(keys.map((k) => k.idem_key)).toEqual([`${handle.workflowId}:scheduleShipment:compensate:1`]);
  });

  test('when a STUCK saga is resolved manually, then it ends RESOLVED_MANUALLY with the note recorded', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.shipping.stop();
    const input = orderInput(sku, {
      options: STUCK_QUICKLY,
    });
    const handle = await start(input);
    await waitForState(handle, (s) => s.status === 'STUCK');
    await handle.signal(resolveManuallySignal, {
      note: 'carrier confirmed no shipment exists',
      operator: 'ops@example.com',
    });
    const state = await finalState(handle);
    expect(state.status).toBe('RESOLVED_MANUALLY');
    expect(state.resolution).toMatchObject({
      note: 'carrier confirmed no shipment exists',
      operator: 'ops@example.com',
      steps: ['scheduleShipment'],
    });
    expect(state.steps.find((s) => s.name === 'scheduleShipment')!.compensation!.status).toBe('RESOLVED_MANUALLY');
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: [],
    });
    expect((await handle.describe()).searchAttributes).toMatchObject({ SagaStatus: ['RESOLVED_MANUALLY'] });
  });

  test('when a saga that is not STUCK gets operator signals, then they are ignored', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.payments.stop();
    const input = orderInput(sku, {
      options: { ...FAST, stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 300, maximumAttempts: 0 } },
    });
    const handle = await start(input);
    await waitForState(handle, (s) => s.steps.some((st) => st.name === 'chargePayment'));
    await handle.signal(resolveManuallySignal, { note: 'too early' });
    await stack.payments.start();
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.resolution).toBeUndefined();
  });

  test('when the saga is cancelled mid-way, then everything done is compensated and it ends CANCELLED', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.payments.stop();
    const input = orderInput(sku, {
      options: { ...FAST, stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 300, maximumAttempts: 0 } },
    });
    const handle = await start(input);
    // Cancel while the charge retries against the stopped service; the shipment, run alongside it, has landed.
    await waitForState(handle, (s) =>
      s.steps.some((st) => st.name === 'scheduleShipment' && st.status === 'SUCCEEDED'),
    );
    await handle.cancel();
    await waitForState(handle, (s) => s.status === 'COMPENSATING');
    await stack.payments.start();
    const state = await finalState(handle);
    expect(state.status).toBe('CANCELLED');
    expect(state.failure).toMatchObject({ type: 'CANCELLED', step: 'chargePayment' });
    expect(state.steps.map((s) => [s.name, s.status, s.compensation?.status])).toEqual([
      ['createOrder', 'SUCCEEDED', 'COMPENSATED'],
      ['reserveStock', 'SUCCEEDED', 'COMPENSATED'],
      ['chargePayment', 'CANCELLED', 'COMPENSATED'],
      ['scheduleShipment', 'SUCCEEDED', 'COMPENSATED'],
    ]);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    const fp = await orderFootprint(stack, input.orderId);
    expect(fp).toMatchObject({ order: 'CANCELLED', reservation: 'RELEASED', shipments: ['CANCELLED'] });
    // the charge never landed: the refund left a tombstone, so a late charge could not capture
    expect(fp.payments).toEqual(['VOIDED']);
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });

  test('when the saga deadline passes, then the running step is cancelled and the saga compensates', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.shipping.stop();
    const input = orderInput(sku, {
      options: {
        ...FAST,
        deadlineMs: 1500,
        stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 300, maximumAttempts: 0 },
      },
    });
    const handle = await start(input);
    await waitForState(handle, (s) => s.status === 'COMPENSATING', 20_000);
    await stack.shipping.start();
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'DEADLINE_EXCEEDED', step: 'scheduleShipment' });
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: ['CANCELLED'],
    });
  });
  test('when continueOnCompensationError is false and the first compensation fails, then the others wait, and a retry runs them all in reverse', async () => {
    const sku = await putProduct(stack, { available: 5 });
    await stack.shipping.stop();
    const input = orderInput(sku, {
      options: { ...STUCK_QUICKLY, compensation: { continueOnCompensationError: false } },
    });
    const handle = await start(input);
    const stuck = await waitForState(handle, (s) => s.status === 'STUCK');
    // cancelShipment (the last step's compensation) runs first, fails, and stops the rest
    expect(stuck.stuck!.steps).toEqual(['scheduleShipment', 'chargePayment', 'reserveStock', 'createOrder']);
    expect(stuck.steps.map((s) => [s.name, s.compensation?.status])).toEqual([
      ['createOrder', undefined],
      ['reserveStock', undefined],
      ['chargePayment', undefined],
      ['scheduleShipment', 'FAILED'],
    ]);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'PENDING',
      reservation: 'HELD',
      payments: ['CAPTURED'],
    });
    await stack.shipping.start();
    await handle.signal(retryCompensationSignal);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    const undo = (await scheduledActivities(handle)).filter((a) =>
      ['cancelShipment', 'refundPayment', 'releaseStock', 'cancelOrder'].includes(a),
    );
    expect(undo.slice(-4)).toEqual(['cancelShipment', 'refundPayment', 'releaseStock', 'cancelOrder']);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
      shipments: ['CANCELLED'],
    });
  });

  test('when the compensation order is parallel, then every compensation is scheduled in one workflow task', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const input = orderInput(sku, {
      options: { ...FAST, compensation: { order: 'parallel' } },
      shippingAddress: { ...ADDRESS, country: 'AQ' },
    });
    const handle = await start(input);
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    const history = await handle.fetchHistory();
    const undo = (history.events ?? []).filter((e) =>
      ['refundPayment', 'releaseStock', 'cancelOrder'].includes(
        e.activityTaskScheduledEventAttributes?.activityType?.name ?? '',
      ),
    );
    expect(undo).toHaveLength(3);
    expect(
      new Set(undo.map((e) => String(e.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId))).size,
    ).toBe(1);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'CANCELLED',
      reservation: 'RELEASED',
      payments: ['REFUNDED'],
    });
    expect(await stockOf(stack, sku)).toEqual({ available: 5, reserved: 0, committed: 0 });
  });
});

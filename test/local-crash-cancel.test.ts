/**
 * Issue 18, finding 5: a local-activity saga whose first workflow task is lost (the worker is
 * SIGKILLed) and that is cancelled before a new worker takes it over.
 *
 * With `activityMode: 'local'` the steps' markers are persisted only when a workflow task
 * completes, and a whole PlaceOrder can run inside the first one. Here the worker dies in that
 * task, after some steps took effect in the services; a Temporal cancel arrives while no worker
 * runs, so the retried task starts with the cancellation already delivered. The old runtime
 * refused the first local activity then, ran only cancelOrder, and ended CANCELLED with the stock
 * HELD and the card charged. Required: the saga ends COMPLETED with a complete footprint, or
 * CANCELLED/COMPENSATED with everything undone, never a mix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import mysql from 'mysql2/promise';
import { runAudit } from '../audit/auditor';
import { placeOrderWorkflowId } from '../sagas/place-order';
import type { SagaState } from '../shared/saga-types';
import { placeOrder } from '../workflows/place-order';
import type { SagaRunOptions } from '../workflows/options';
import { TEST_CARD_KEY, orderFootprint, orderInput, putProduct, stockOf } from './support/fixtures';
import { MYSQL_URL, SERVICE_TOKENS, startServices, type ServiceStack } from './support/services';
import { connectTemporal, finalState, temporalAddress, FAST, type TemporalHarness } from './support/temporal';

/** Local activities, forward steps retried without limit (a service that is down holds the saga mid-way). */
const LOCAL: SagaRunOptions = {
  ...FAST,
  activityMode: 'local',
  activityTimeoutMs: 10_000,
  stepRetry: { initialIntervalMs: 100, maximumIntervalMs: 300, maximumAttempts: 0 },
};

let stack: ServiceStack;
let t: TemporalHarness;
const children: ChildProcess[] = [];
let shippingStopped = false;

beforeAll(async () => {
  stack = await startServices('lcrashcancel');
  t = await connectTemporal('lcrashcancel');
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (shippingStopped) await stack.shipping.start();
  shippingStopped = false;
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await t?.close();
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the real `worker.ts` as its own process (so it can be SIGKILLed) and waits until it polls. */
async function spawnWorker(opts: { httpTimeoutMs?: number } = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../worker.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_NAMESPACE: 'default',
      TASK_QUEUE: t.taskQueue,
      ORDERS_URL: stack.orders.url,
      INVENTORY_URL: stack.inventory.url,
      PAYMENTS_URL: stack.payments.url,
      SHIPPING_URL: stack.shipping.url,
      SERVICE_TOKEN: SERVICE_TOKENS.worker,
      HTTP_TIMEOUT_MS: String(opts.httpTimeoutMs ?? 1000),
      WORKER_METRICS_PORT: '0',
      CARD_ENCRYPTION_KEY: TEST_CARD_KEY.toString('base64'),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => settle(new Error(`worker did not start: ${output}`)), 60_000);
    function settle(err?: Error) {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    }
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('worker running')) settle();
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => settle(new Error(`worker exited early (${code}): ${output}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` (every 20 ms unless told) until it holds. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 20_000, everyMs = 20 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(everyMs);
  }
}

async function capturedPayments(orderId: string): Promise<number> {
  const rows = await stack.payments.query<{ n: number }>(
    "SELECT COUNT(*) AS n FROM payments WHERE order_id = ? AND status = 'CAPTURED'",
    [orderId],
  );
  return Number(rows[0]!.n);
}

/** Transactions of the inventory database waiting on a row lock (a reservation held up by the test's lock). */
async function reservationsWaiting(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query<({ n: number } & mysql.RowDataPacket)[]>(
    `SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX t
       JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
      WHERE t.trx_state = 'LOCK WAIT' AND p.DB = ?`,
    [stack.inventory.database.name],
  );
  return Number(rows[0]!.n);
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function historyOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** Each event's type, e.g. `WORKFLOW_TASK_TIMED_OUT`, `MARKER_RECORDED`. */
function eventTypes(events: HistoryEvent[]): string[] {
  return events.map((e) =>
    (temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, ''),
  );
}

/** The workflow task failures that name a non-determinism error (cause or message). */
function nondeterminismFailures(events: HistoryEvent[]): string[] {
  const NDE = temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR;
  return events
    .map((e) => e.workflowTaskFailedEventAttributes)
    .filter((a): a is NonNullable<typeof a> => !!a)
    .filter((a) => a.cause === NDE || /non-?determinis/i.test(a.failure?.message ?? ''))
    .map((a) => `${temporal.api.enums.v1.WorkflowTaskFailedCause[a.cause ?? 0]}: ${a.failure?.message ?? ''}`);
}

/** What the steps and their compensations ended as, per step: `name:status/compensation`. */
function stepSummary(state: SagaState): string[] {
  return state.steps.map((s) => `${s.name}:${s.status}/${s.compensation?.status ?? '-'}`);
}

/** Event types with repeats folded (`MARKER_RECORDED x3`), for a readable report. */
function foldedHistory(types: string[]): string[] {
  const out: { type: string; n: number }[] = [];
  for (const type of types) {
    const last = out[out.length - 1];
    if (last?.type === type) last.n++;
    else out.push({ type, n: 1 });
  }
  return out.map(({ type, n }) => (n > 1 ? `${type} x${n}` : type));
}

/**
 * The saga ended in one of the two consistent outcomes, as its own final state and as all four
 * databases say (and the auditor agrees), never a mix. On a failure it prints what the runtime did:
 * the final state, the footprint and the history.
 */
async function expectConsistentEnd(handle: WorkflowHandle, orderId: string, sku: string): Promise<void> {
  const state = await finalState(handle);
  const footprint = await orderFootprint(stack, orderId);
  const stock = await stockOf(stack, sku);
  const events = await historyOf(handle);
  const audit = await runAudit({ mysqlUrl: MYSQL_URL, dbPrefix: stack.prefix, settleMs: 0 });
  try {
    expect(nondeterminismFailures(events)).toEqual([]);
    expect(['COMPLETED', 'CANCELLED', 'COMPENSATED']).toContain(state.status);
    if (state.status === 'COMPLETED') {
      // Everything done once: confirmed, stock committed, one capture of the total, one shipment.
      expect({ footprint, stock }).toEqual({
        footprint: {
          order: 'CONFIRMED',
          totalCents: 2500,
          reservation: 'COMMITTED',
          payments: ['CAPTURED'],
          paymentAmounts: [2500],
          shipments: ['SCHEDULED'],
        },
        stock: { available: 3, reserved: 0, committed: 2 },
      });
    } else {
      // Everything compensated: the order cancelled, its stock back, no money kept, nothing to ship.
      expect({
        order: footprint.order,
        reservation: footprint.reservation,
        paymentsKept: footprint.payments.filter((p) => p !== 'REFUNDED' && p !== 'VOIDED'),
        liveShipments: footprint.shipments.filter((s) => s === 'SCHEDULED' || s === 'DISPATCHED'),
        stock,
      }).toEqual({
        order: 'CANCELLED',
        reservation: 'RELEASED',
        paymentsKept: [],
        liveShipments: [],
        stock: { available: 5, reserved: 0, committed: 0 },
      });
      // The saga's own account agrees: every step it ran (or that may have landed) was compensated.
      const compensatable = state.steps.filter((st) => st.kind === 'compensatable');
      expect(
        compensatable
          .filter((st) => st.compensation?.status !== 'COMPENSATED' && st.compensation?.status !== 'NOT_NEEDED')
          .map((st) => `${st.name}:${st.status}/${st.compensation?.status ?? '-'}`),
      ).toEqual([]);
    }
    expect(audit.violations.filter((v) => v.orderId === orderId || v.sku === sku)).toEqual([]);
  } catch (err) {
    const report = {
      status: state.status,
      failure: state.failure,
      cancellation: state.cancellation,
      steps: stepSummary(state),
      footprint,
      stock,
      violations: audit.violations.filter((v) => v.orderId === orderId || v.sku === sku),
      history: foldedHistory(eventTypes(events)),
    };
    console.log(`saga ${state.sagaId} did not end consistently: ${JSON.stringify(report, null, 2)}`);
    throw err;
  }
}

/**
 * The kill left the first workflow task unfinished: no step's marker reached the history (the
 * crash is the one this suite is about, not a crash after the markers were persisted).
 */
async function expectNoMarkersYet(handle: WorkflowHandle): Promise<void> {
  const types = eventTypes(await historyOf(handle));
  expect(types).not.toContain('MARKER_RECORDED');
  expect(types).not.toContain('WORKFLOW_TASK_COMPLETED');
}

/** The retried task saw the lost task time out and the cancellation before it. */
async function expectCancelAfterLostTask(handle: WorkflowHandle): Promise<void> {
  const types = eventTypes(await historyOf(handle));
  const timedOut = types.indexOf('WORKFLOW_TASK_TIMED_OUT');
  const cancelRequested = types.indexOf('WORKFLOW_EXECUTION_CANCEL_REQUESTED');
  expect(timedOut).toBeGreaterThan(-1);
  expect(cancelRequested).toBeGreaterThan(timedOut);
  // ...and before any workflow task had completed
  expect(types.slice(0, cancelRequested)).not.toContain('WORKFLOW_TASK_COMPLETED');
}

test('when a local saga is killed after reserving and charging while shipping is down, and cancelled before a new worker starts, then it ends completed or compensated, never a mix', async () => {
  const sku = await putProduct(stack, { available: 5 });
  const first = await spawnWorker();
  await stack.shipping.stop();
  shippingStopped = true;
  const input = orderInput(sku, { options: LOCAL });
  const handle = await t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });

  // Stock reserved and the card charged, the shipment retried against a service that is down.
  await until(
    'stock reserved and payment captured',
    async () => ((await stockOf(stack, sku))?.reserved ?? 0) > 0 && (await capturedPayments(input.orderId)) > 0,
  );
  await kill(first);
  await expectNoMarkersYet(handle);
  expect(await orderFootprint(stack, input.orderId)).toMatchObject({
    order: 'PENDING',
    reservation: 'HELD',
    payments: ['CAPTURED'],
    shipments: [],
  });

  // Cancelled while no worker runs: the retried task starts with the cancellation delivered.
  await handle.cancel();
  await stack.shipping.start();
  shippingStopped = false;
  await spawnWorker();

  await expectConsistentEnd(handle, input.orderId, sku);
  await expectCancelAfterLostTask(handle);
}, 90_000);

test('when a local saga is killed while a step is still in flight in its first workflow task, and cancelled before a new worker starts, then it ends completed or compensated, never a mix', async () => {
  const sku = await putProduct(stack, { available: 5 });
  // Inventory is slow: its reservation transaction waits on the product's row, which this test holds
  // (on a connection of its own: the service's pool fills up with the waiting requests).
  const lock = await mysql.createConnection(`${MYSQL_URL}/${stack.inventory.database.name}`);
  let locked = false;
  try {
    await lock.beginTransaction();
    await lock.query('SELECT sku FROM products WHERE sku = ? FOR UPDATE', [sku]);
    locked = true;
    const first = await spawnWorker({ httpTimeoutMs: 5000 });
    const input = orderInput(sku, { options: LOCAL });
    const handle = await t.client.workflow.start(placeOrder, {
      taskQueue: t.taskQueue,
      workflowId: placeOrderWorkflowId(input.orderId),
      args: [input],
    });

    // createOrder landed (its marker only in the worker's memory) and reserveStock is inside
    // inventory's transaction: kill now.
    // InnoDB refreshes INNODB_TRX only when it was last read over 100 ms ago: poll slower than that.
    await until('the reservation waits on the product row', async () => (await reservationsWaiting(lock)) > 0, {
      everyMs: 150,
    });
    await kill(first);
    await expectNoMarkersYet(handle);
    // The request goes on in the service without the worker: the lost task leaves a reservation behind.
    await lock.commit();
    locked = false;
    await until('the in-flight reservation landed', async () => ((await stockOf(stack, sku))?.reserved ?? 0) > 0);
    expect(await orderFootprint(stack, input.orderId)).toMatchObject({
      order: 'PENDING',
      reservation: 'HELD',
      payments: [],
      shipments: [],
    });

    await handle.cancel();
    await spawnWorker();

    await expectConsistentEnd(handle, input.orderId, sku);
    await expectCancelAfterLostTask(handle);
  } finally {
    if (locked) await lock.rollback();
    await lock.end();
  }
}, 90_000);

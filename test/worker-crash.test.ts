import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { placeOrderWorkflowId } from '../sagas/place-order';
import { SERVICE_TOKENS, startServices, type ServiceStack } from './support/services';
import {
  connectTemporal,
  finalState,
  temporalAddress,
  waitForState,
  FAST,
  type TemporalHarness,
} from './support/temporal';
import { TEST_CARD_KEY, orderFootprint, orderInput, putProduct, stockOf } from './support/fixtures';
import { placeOrder } from '../workflows/place-order';

let stack: ServiceStack;
let t: TemporalHarness;
const children: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startServices('crash');
  t = await connectTemporal('crash');
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await t?.close();
  await stack?.stop();
});

/** Starts the real `worker.ts` as its own process (so it can be SIGKILLed) and waits until it polls. */
async function spawnWorker(): Promise<ChildProcess> {
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
      HTTP_TIMEOUT_MS: '1000',
      WORKER_METRICS_PORT: '0',
      CARD_ENCRYPTION_KEY: TEST_CARD_KEY.toString('base64'),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('worker running')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => reject(new Error(`worker exited early (${code}): ${output}`)));
    setTimeout(() => reject(new Error(`worker did not start: ${output}`)), 60_000);
  });
  return child;
}

test('when the worker is SIGKILLed mid-saga and restarted, then the saga finishes with exactly one effect per step', async () => {
  const sku = await putProduct(stack, { available: 5 });
  const first = await spawnWorker();
  await stack.shipping.stop();
  const input = orderInput(sku, {
    options: {
      ...FAST,
      activityTimeoutMs: 2000,
      stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 500, maximumAttempts: 0 },
    },
  });
  const handle = await t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
  await waitForState(handle, (s) => s.steps.some((st) => st.name === 'scheduleShipment'));
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  await stack.shipping.start();
  await spawnWorker();
  const state = await finalState(handle);
  expect(state.status).toBe('COMPLETED');
  expect(await orderFootprint(stack, input.orderId)).toMatchObject({
    order: 'CONFIRMED',
    reservation: 'COMMITTED',
    payments: ['CAPTURED'],
    shipments: ['SCHEDULED'],
  });
  const count = async (
    svc: ServiceStack['orders'] | ServiceStack['inventory'] | ServiceStack['payments'] | ServiceStack['shipping'],
    sql: string,
  ) => Number((await svc.query<{ n: number }>(sql, [input.orderId]))[0]!.n);
  expect(await count(stack.orders, 'SELECT COUNT(*) AS n FROM orders WHERE order_id = ?')).toBe(1);
  expect(await count(stack.inventory, 'SELECT COUNT(*) AS n FROM reservation_lines WHERE order_id = ?')).toBe(1);
  expect(await count(stack.payments, 'SELECT COUNT(*) AS n FROM payments WHERE order_id = ?')).toBe(1);
  expect(await count(stack.shipping, 'SELECT COUNT(*) AS n FROM shipments WHERE order_id = ?')).toBe(1);
  expect(await stockOf(stack, sku)).toEqual({ available: 3, reserved: 0, committed: 2 });
}, 180_000);

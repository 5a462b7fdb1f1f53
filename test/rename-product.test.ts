import { placeOrderWorkflowId } from '../sagas/place-order';
import { renameProductWorkflowId } from '../sagas/rename-product';
import { renameProduct, type RenameProductInput } from '../workflows/rename-product';
import { callAs, startServices, uniqueId, type ServiceStack } from './support/services';
import {
  connectTemporal,
  startWorker,
  FAST,
  finalState,
  waitForState,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';
import { orderInput, putProduct } from './support/fixtures';
import { sagaStateQuery } from '../workflows/saga';
import { placeOrder } from '../workflows/place-order';

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await startServices('rename');
  t = await connectTemporal('rename');
  worker = await startWorker(t, stack, { httpTimeoutMs: 1000 });
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function confirmedOrderWith(sku: string): Promise<string> {
  const input = orderInput(sku, { options: FAST });
  const handle = await t.client.workflow.start(placeOrder, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
  await handle.result();
  return input.orderId;
}

function rename(sku: string, name: string) {
  const input: RenameProductInput = {
    sku,
    name,
    requestId: uniqueId('r'),
    options: { ...FAST, retriableRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 } },
  };
  return t.client.workflow.start(renameProduct, {
    taskQueue: t.taskQueue,
    workflowId: renameProductWorkflowId(sku, input.requestId),
    args: [input],
  });
}

async function copies(orderId: string) {
  return stack.orders.query<{ product_name: string; name_version: number }>(
    'SELECT product_name, name_version FROM order_lines WHERE order_id = ?',
    [orderId],
  );
}

describe('RenameProduct', () => {
  test('when the orders service is down during a rename, then the saga keeps retrying and the copies converge once it is back', async () => {
    const sku = await putProduct(stack, { available: 10, name: 'Old Kettle' });
    const orderId = await confirmedOrderWith(sku);
    expect(await copies(orderId)).toEqual([{ product_name: 'Old Kettle', name_version: 1 }]);

    await stack.orders.stop();
    const handle = await rename(sku, 'Kettle Pro');
    await waitForState(handle, (s) => s.steps.some((st) => st.name === 'updateOrderProductNames'));
    await sleep(2000);
    const during = await handle.query(sagaStateQuery);
    expect(during.status).toBe('RUNNING');
    await stack.orders.start();
    const state = await finalState(handle);
    expect(state.status).toBe('COMPLETED');
    expect(state.steps.find((s) => s.name === 'updateOrderProductNames')!.attempts).toBeGreaterThan(1);
    expect(await copies(orderId)).toEqual([{ product_name: 'Kettle Pro', name_version: 2 }]);
    const product = await callAs(stack.inventory.app).get(`/products/${sku}`);
    expect(product.body).toMatchObject({ name: 'Kettle Pro', nameVersion: 2 });

    // a late, repeated delivery of the old name must not roll the copy back
    const late = await callAs(stack.orders.app).put(`/product-names/${sku}`).send({ name: 'Old Kettle', version: 1 });
    expect(late.body).toMatchObject({ applied: false });
    expect(await copies(orderId)).toEqual([{ product_name: 'Kettle Pro', name_version: 2 }]);
  });

  test('when two renames are delivered out of order, then the copy keeps the newest name', async () => {
    const sku = await putProduct(stack, { available: 10, name: 'Mug' });
    const orderId = await confirmedOrderWith(sku);
    const first = await rename(sku, 'Mug Classic');
    await first.result();
    const second = await rename(sku, 'Mug Deluxe');
    await second.result();
    // replay the first rename's copy update as if it arrived late
    const replay = await callAs(stack.orders.app)
      .put(`/product-names/${sku}`)
      .send({ name: 'Mug Classic', version: 2 });
    expect(replay.status).toBe(200);
    expect(await copies(orderId)).toEqual([{ product_name: 'Mug Deluxe', name_version: 3 }]);
  });

  test('when the orders service rejects the name, then the rename is reverted in inventory and the copies are untouched', async () => {
    const sku = await putProduct(stack, { available: 10, name: 'Lamp' });
    const orderId = await confirmedOrderWith(sku);
    const handle = await rename(sku, 'L'.repeat(150));
    const state = await finalState(handle);
    expect(state.status).toBe('COMPENSATED');
    expect(state.failure).toMatchObject({ type: 'INVALID_PRODUCT_NAME', step: 'updateOrderProductNames' });
    expect(state.steps.find((s) => s.name === 'renameProduct')!.compensation!.status).toBe('COMPENSATED');
    const product = await callAs(stack.inventory.app).get(`/products/${sku}`);
    expect(product.body).toMatchObject({ name: 'Lamp', nameVersion: 3 });
    const [renameRow] = await stack.inventory.query<{ status: string }>(
      'SELECT status FROM product_renames WHERE rename_id = ?',
      [handle.workflowId],
    );
    expect(renameRow!.status).toBe('REVERTED');
    expect(await copies(orderId)).toEqual([{ product_name: 'Lamp', name_version: 1 }]);
  });
});

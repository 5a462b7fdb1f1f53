import { placeOrderWorkflowId } from '../sagas/place-order';
import { renameProductWorkflowId } from '../sagas/rename-product';
import type { SagaState } from '../shared/saga-types';
import { placeOrder } from '../workflows/place-order';
import { renameProduct, type RenameProductInput } from '../workflows/rename-product';
import { orderInput, putProduct } from './support/fixtures';
import { callAs, RunningService, startServices, uniqueId, type ServiceStack } from './support/services';
import {
  connectTemporal,
  FAST,
  finalState,
  startWorker,
  waitForState,
  type RunningWorker,
  type TemporalHarness,
} from './support/temporal';

/**
 * Two RenameProduct sagas on one SKU that overlap: A's rename lands in inventory, then B's, and only
 * then does the orders service answer either of them. Each saga runs on its own worker (its own task
 * queue) whose activities reach the orders service through a door of their own: the real orders app
 * and database on a port of its own, which the test closes and opens. While a saga's door is closed
 * its copy step keeps retrying; opening it lets the orders service answer that saga, so the order in
 * which the two answers (and so the two reverts) happen is the order the test opens the doors in.
 */

let stack: ServiceStack;
let t: TemporalHarness;

interface Lane {
  /** The orders service as this lane's worker reaches it. */
  door: RunningService;
  taskQueue: string;
  worker: RunningWorker;
}
let laneA: Lane;
let laneB: Lane;

async function openLane(label: string): Promise<Lane> {
  const door = new RunningService('orders', stack.orders.database, stack.orders.app);
  await door.start(); // binds a free port, which later starts reuse
  const taskQueue = uniqueId(`tq-overlap-${label}`);
  const worker = await startWorker({ ...t, taskQueue }, { ...stack, orders: door }, { httpTimeoutMs: 2000 });
  return { door, taskQueue, worker };
}

beforeAll(async () => {
  stack = await startServices('renameoverlap');
  t = await connectTemporal('renameoverlap');
  laneA = await openLane('a');
  laneB = await openLane('b');
});
afterAll(async () => {
  await laneA?.worker.stop();
  await laneB?.worker.stop();
  await laneA?.door.stop();
  await laneB?.door.stop();
  await t?.close();
  await stack?.stop();
});

/** Longer than the orders service keeps (100 characters): it answers 422 INVALID_PRODUCT_NAME. */
const refusedName = (label: string) => `${label} ${'x'.repeat(120)}`;

async function confirmedOrderWith(sku: string): Promise<string> {
  await laneA.door.start();
  const input = orderInput(sku, { options: FAST });
  const handle = await t.client.workflow.start(placeOrder, {
    taskQueue: laneA.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
  await handle.result();
  return input.orderId;
}

/** Starts a rename on `lane` and waits until it landed in inventory (its copy step has started). */
async function renameLanded(lane: Lane, sku: string, name: string) {
  const input: RenameProductInput = {
    sku,
    name,
    requestId: uniqueId('r'),
    options: { ...FAST, retriableRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 } },
  };
  const handle = await t.client.workflow.start(renameProduct, {
    taskQueue: lane.taskQueue,
    workflowId: renameProductWorkflowId(sku, input.requestId),
    args: [input],
  });
  await waitForState(handle, (s) => s.steps.some((st) => st.name === 'updateOrderProductNames'));
  return handle;
}

async function inventoryName(sku: string): Promise<{ name: string; nameVersion: number }> {
  const res = await callAs(stack.inventory.app).get(`/products/${sku}`);
  return { name: res.body.name, nameVersion: res.body.nameVersion };
}

async function copiedNames(orderId: string): Promise<string[]> {
  const rows = await stack.orders.query<{ product_name: string }>(
    'SELECT product_name FROM order_lines WHERE order_id = ?',
    [orderId],
  );
  return rows.map((r) => r.product_name);
}

async function renameStatus(renameId: string): Promise<string | undefined> {
  const [row] = await stack.inventory.query<{ status: string }>(
    'SELECT status FROM product_renames WHERE rename_id = ?',
    [renameId],
  );
  return row?.status;
}

const renameCompensated = (s: SagaState) =>
  s.status === 'COMPENSATED' &&
  s.failure?.type === 'INVALID_PRODUCT_NAME' &&
  s.steps.find((st) => st.name === 'renameProduct')?.compensation?.status === 'COMPENSATED';

describe('RenameProduct, two renames of one product overlapping', () => {
  beforeEach(async () => {
    await laneA.door.stop();
    await laneB.door.stop();
  });

  test.each([
    { first: 'B' as const, then: 'A' as const },
    { first: 'A' as const, then: 'B' as const },
  ])(
    'when the orders service refuses both names and $first is reverted before $then, then inventory and the copies hold the name from before both',
    async ({ first, then }) => {
      const sku = await putProduct(stack, { available: 10, name: 'Teapot' });
      const orderId = await confirmedOrderWith(sku);
      await laneA.door.stop();

      const a = await renameLanded(laneA, sku, refusedName('A'));
      const b = await renameLanded(laneB, sku, refusedName('B'));
      expect(await inventoryName(sku)).toEqual({ name: refusedName('B'), nameVersion: 3 });

      const sagas = { A: { lane: laneA, handle: a }, B: { lane: laneB, handle: b } };
      for (const which of [first, then]) {
        const { lane, handle } = sagas[which];
        await lane.door.start();
        expect(renameCompensated(await finalState(handle))).toBe(true);
        expect(await renameStatus(handle.workflowId)).toBe('REVERTED');
      }

      const after = await inventoryName(sku);
      expect(after.name).toBe('Teapot');
      expect(after.nameVersion).toBeGreaterThan(3);
      expect(await copiedNames(orderId)).toEqual([after.name]);
    },
  );

  test.each([
    { answered: 'B, then A', order: ['B', 'A'] as const },
    { answered: 'A, then B', order: ['A', 'B'] as const },
  ])(
    'when A is refused and B, which landed after it, is accepted (orders answers $answered), then B stays',
    async ({ order }) => {
      const sku = await putProduct(stack, { available: 10, name: 'Jug' });
      const orderId = await confirmedOrderWith(sku);
      await laneA.door.stop();

      const a = await renameLanded(laneA, sku, refusedName('A'));
      const b = await renameLanded(laneB, sku, 'Jug Deluxe');

      const sagas = { A: { lane: laneA, handle: a }, B: { lane: laneB, handle: b } };
      for (const which of order) {
        const { lane, handle } = sagas[which];
        await lane.door.start();
        const state = await finalState(handle);
        if (which === 'A') expect(renameCompensated(state)).toBe(true);
        else expect(state.status).toBe('COMPLETED');
      }

      expect(await inventoryName(sku)).toEqual({ name: 'Jug Deluxe', nameVersion: 3 });
      expect(await renameStatus(a.workflowId)).toBe('REVERTED');
      expect(await renameStatus(b.workflowId)).toBe('APPLIED');
      expect(await copiedNames(orderId)).toEqual(['Jug Deluxe']);
    },
  );

  test('when A is accepted, then B lands and is refused, then B reverts to A and A stays', async () => {
    const sku = await putProduct(stack, { available: 10, name: 'Bowl' });
    const orderId = await confirmedOrderWith(sku);
    await laneA.door.stop();

    const a = await renameLanded(laneA, sku, 'Bowl Large');
    const b = await renameLanded(laneB, sku, refusedName('B'));
    await laneB.door.start();
    expect(renameCompensated(await finalState(b))).toBe(true);
    expect(await inventoryName(sku)).toEqual({ name: 'Bowl Large', nameVersion: 4 });

    await laneA.door.start();
    expect((await finalState(a)).status).toBe('COMPLETED');
    expect(await inventoryName(sku)).toEqual({ name: 'Bowl Large', nameVersion: 4 });
    expect(await copiedNames(orderId)).toEqual(['Bowl Large']);
  });
});

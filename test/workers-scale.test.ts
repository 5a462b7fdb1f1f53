/**
 * Workers scale out: three worker processes poll one task queue; two of them are SIGKILLed while
 * 200 orders go through the API, and the survivor finishes every saga. Runs against whichever
 * Temporal the jest run targets (the dev server in `npm test`, the PostgreSQL cluster in
 * `npm run test:cluster`, where shard ownership, sticky queues and task timeouts are the real ones).
 */
import { runAudit } from '../audit/auditor';
import { seedProduct, startProcessStack, STACK_API_TOKEN, type ProcessStack } from '../harness/process-stack';

const ORDERS = 200;
const CONCURRENCY = 16;
const TERMINAL = new Set(['COMPLETED', 'COMPENSATED', 'CANCELLED', 'RESOLVED_MANUALLY', 'STUCK']);
const auth = { authorization: `Bearer ${STACK_API_TOKEN}` };

/** Tasks a worker completed, from the SDK's Prometheus endpoint: the sample counts of its task latency histograms. */
async function completedTasks(metricsUrl: string): Promise<{ workflowTasks: number; activities: number }> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const sum = (prefix: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(prefix) && /^[a-z_]+_count[{ ]/.test(line))
      .reduce((total, line) => total + Number(line.trim().split(/\s+/).pop()), 0);
  return {
    workflowTasks: sum('temporal_workflow_task_execution_latency'),
    activities: sum('temporal_activity_execution_latency'),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: ProcessStack;

beforeAll(async () => {
  stack = await startProcessStack({
    label: 'scale',
    workers: 3,
    withApi: true,
    temporalAddress: process.env.TEST_TEMPORAL_ADDRESS,
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

test('when two of three workers are SIGKILLed during 200 orders, then the survivor settles every saga, the audit is clean and each worker completed tasks', async () => {
  expect([...stack.workerMetricsUrls.keys()].sort()).toEqual(['worker', 'worker-2', 'worker-3']);
  const skus = ['SCALE-A', 'SCALE-B'];
  for (const sku of skus) {
    await seedProduct(stack, `${stack.dbPrefix}${sku}`, { name: `Scale ${sku}`, priceCents: 900, available: 10_000 });
  }

  // worker-2 dies a third of the way in, worker-3 at two thirds; each one's metrics are read just before.
  const killAt = new Map([
    [Math.floor(ORDERS / 3), 'worker-2'],
    [Math.floor((2 * ORDERS) / 3), 'worker-3'],
  ]);
  const tasksByWorker = new Map<string, { workflowTasks: number; activities: number }>();
  const sagaIds: string[] = [];
  let next = 0;
  const send = async () => {
    for (;;) {
      const i = next++;
      if (i >= ORDERS) return;
      const victim = killAt.get(i);
      if (victim) {
        // On a quick machine the first third is sent before the victim finished an activity: let it
        // finish one (its share of the work so far is running), then kill it mid-run.
        const url = stack.workerMetricsUrls.get(victim)!;
        let tasks = await completedTasks(url);
        for (
          const until = Date.now() + 30_000;
          tasks.activities === 0 && Date.now() < until;
          tasks = await completedTasks(url)
        )
          await sleep(100);
        tasksByWorker.set(victim, tasks);
        await stack.get(victim).kill('SIGKILL');
      }
      const declined = i % 10 === 9; // a business failure now and then: those sagas compensate
      const res = await fetch(`${stack.urls.api}/orders`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `scale-${stack.dbPrefix}-${i}` },
        body: JSON.stringify({
          customerId: `scale-${i % 13}`,
          items: [{ sku: `${stack.dbPrefix}${skus[i % 2]}`, quantity: 1 + (i % 3) }],
          payment: { cardNumber: declined ? '4000000000000002' : '4242424242424242' },
          shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'London', postalCode: 'N1', country: 'GB' },
        }),
      });
      expect(res.status).toBe(202);
      sagaIds.push(((await res.json()) as { sagaId: string }).sagaId);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, send));
  expect(sagaIds).toHaveLength(ORDERS);
  expect(stack.get('worker-2').running || stack.get('worker-3').running).toBe(false);

  const statuses = new Map<string, string>();
  const deadline = Date.now() + 240_000;
  while (statuses.size < ORDERS && Date.now() < deadline) {
    for (const id of sagaIds) {
      if (statuses.has(id)) continue;
      const res = await fetch(`${stack.urls.api}/sagas/${id}`, { headers: auth });
      const status = res.ok ? ((await res.json()) as { status: string }).status : undefined;
      if (status && TERMINAL.has(status)) statuses.set(id, status);
    }
    if (statuses.size < ORDERS) await sleep(1000);
  }
  tasksByWorker.set('worker', await completedTasks(stack.workerMetricsUrls.get('worker')!));

  const counts: Record<string, number> = {};
  for (const s of statuses.values()) counts[s] = (counts[s] ?? 0) + 1;
  expect(statuses.size).toBe(ORDERS);
  expect(counts).toEqual({ COMPLETED: ORDERS - ORDERS / 10, COMPENSATED: ORDERS / 10 });

  const audit = await runAudit({ mysqlUrl: stack.mysqlUrl, dbPrefix: stack.dbPrefix, settleMs: 0 });
  expect(audit.violations).toEqual([]);
  expect(audit.checkedOrders).toBe(ORDERS);

  for (const name of ['worker', 'worker-2', 'worker-3']) {
    const tasks = tasksByWorker.get(name)!;
    expect({ name, didWorkflowTasks: tasks.workflowTasks > 0, didActivities: tasks.activities > 0 }).toEqual({
      name,
      didWorkflowTasks: true,
      didActivities: true,
    });
  }
}, 420_000);

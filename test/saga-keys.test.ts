/**
 * The saga runtime's idempotency keys, read from what its steps were called with: scoped to the
 * workflow ID by default, and to the workflow ID and the run with `idempotencyScope: 'run'`, so a
 * workflow ID that runs again gets keys of its own.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { connectTemporal, type TemporalHarness } from './support/temporal';
import { uniqueId } from './support/services';
import { keyScopeSaga } from './support/key-scope-workflows';

let t: TemporalHarness;
let worker: Worker;
let running: Promise<void>;

beforeAll(async () => {
  t = await connectTemporal('sagakeys');
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./support/key-scope-workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  worker = await Worker.create({
    connection: t.nativeConnection,
    taskQueue: t.taskQueue,
    workflowBundle: bundle,
    activities: {
      async echoKey(input: { idempotencyKey: string; fail?: boolean }) {
        if (input.fail) throw ApplicationFailure.nonRetryable('refused', 'REFUSED');
        return { value: input.idempotencyKey, attempt: 1 };
      },
    },
  });
  running = worker.run();
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  await running;
  await t?.close();
});

async function run(workflowId: string, input: { scope?: 'workflow' | 'run'; failSecond?: boolean }) {
  const handle = await t.client.workflow.start(keyScopeSaga, {
    taskQueue: t.taskQueue,
    workflowId,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return {
    runId: handle.firstExecutionRunId,
    result: (await handle.result()) as { keys: string[]; keyScope: string; status: string },
  };
}

describe("the saga runtime's idempotency keys", () => {
  test('when the scope is the default, then every key is <workflowId>:<step>, the same for every run of the ID', async () => {
    const id = uniqueId('keys');
    const first = await run(id, {});
    const second = await run(id, {});
    expect(first.result).toEqual({ keys: [`${id}:first`, `${id}:second`], keyScope: id, status: 'COMPLETED' });
    expect(second.result.keys).toEqual(first.result.keys);
  });

  test('when the scope is the run, then keys are <workflowId>.<firstExecutionRunId>:<step>, and a second run of the ID has keys of its own', async () => {
    const id = uniqueId('keys');
    const first = await run(id, { scope: 'run' });
    const second = await run(id, { scope: 'run' });
    expect(first.result).toEqual({
      keys: [`${id}.${first.runId}:first`, `${id}.${first.runId}:second`],
      keyScope: `${id}.${first.runId}`,
      status: 'COMPLETED',
    });
    expect(second.result.keys).toEqual([`${id}.${second.runId}:first`, `${id}.${second.runId}:second`]);
    expect(second.runId).not.toBe(first.runId);
  });

  test('when a run-scoped saga compensates, then the compensation key is <workflowId>.<firstExecutionRunId>:<step>:compensate:0', async () => {
    const id = uniqueId('keys');
    const { runId, result } = await run(id, { scope: 'run', failSecond: true });
    expect(result).toEqual({
      keys: [`${id}.${runId}:first`, `${id}.${runId}:first:compensate:0`],
      keyScope: `${id}.${runId}`,
      status: 'COMPENSATED',
    });
  });
});

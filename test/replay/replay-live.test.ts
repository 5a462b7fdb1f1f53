/**
 * `npm run replay` (scripts/replay.ts) against the suite's real dev server: sagas run by the real
 * worker over the real services, then their live histories are fetched and replayed.
 */
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { placeOrder as placeOrderWorkflow, type PlaceOrderInput } from '../../workflows/place-order';
import { placeOrderWorkflowId } from '../../sagas/place-order';
import { renameProductWorkflowId } from '../../sagas/rename-product';
import { replayLive, type LiveReplayResult, type ReplayWorkflows } from '../../scripts/replay';
import { startServices, type ServiceStack } from '../support/services';
import {
  connectTemporal,
  startWorker,
  FAST,
  finalState,
  temporalAddress,
  type RunningWorker,
  type TemporalHarness,
} from '../support/temporal';
import { DECLINED_CARD, orderInput, putProduct } from '../support/fixtures';
import { parseFixture } from './fixture-files';
import { renameProduct } from '../../workflows/rename-product';
import { quietLogger } from '../support/quiet-logger';

const root = path.resolve(__dirname, '../..');

// One test replays against a non-deterministic variant on purpose: keep core's WARN about it off
// the console (the assertion reports the reason).
try {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
} catch {
  // a runtime already runs in this module registry
}

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;
let current: ReplayWorkflows;

beforeAll(async () => {
  stack = await startServices('replaylive');
  t = await connectTemporal('replaylive');
  worker = await startWorker(t, stack);
  current = { workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! } };
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

async function placeOrder(input: PlaceOrderInput): Promise<WorkflowHandle> {
  const handle = await t.client.workflow.start(placeOrderWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: placeOrderWorkflowId(input.orderId),
    args: [input],
  });
  await finalState(handle);
  return handle;
}

async function runIdOf(handle: WorkflowHandle): Promise<string> {
  return (await handle.describe()).runId;
}

/** Visibility is eventually consistent: wait until the query sees `n` workflows. */
async function waitForVisibility(query: string, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await t.client.workflow.count(query)).count < n) {
    if (Date.now() > deadline) throw new Error(`visibility never showed ${n} workflows for ${query}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/replay.ts', ...args],
      {
        cwd: root,
        env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_NAMESPACE: 'default' },
        timeout: 90_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run replay', () => {
  test('when a finished PlaceOrder saga is replayed by workflow ID, then its latest run is reported OK', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const handle = await placeOrder(orderInput(sku, { options: FAST }));
    const results = await replayLive(t.client, { workflowId: handle.workflowId }, current);
    expect(results).toEqual([{ workflowId: handle.workflowId, runId: await runIdOf(handle), ok: true }]);
  });

  test('when a visibility query matches several sagas, then each is replayed and reported OK', async () => {
    // Only the sagas this test closes: the earlier tests' closed before now.
    const since = new Date().toISOString();
    const sku = await putProduct(stack, { available: 5 });
    const completed = await placeOrder(orderInput(sku, { options: FAST }));
    const declined = await placeOrder(orderInput(sku, { options: FAST, cardNumber: DECLINED_CARD }));
    const rename = await t.client.workflow.start(renameProduct, {
      taskQueue: t.taskQueue,
      workflowId: renameProductWorkflowId(sku, 'r1'),
      args: [{ sku, name: 'Renamed while replaying', requestId: 'r1', options: FAST }],
    });
    await finalState(rename);
    const query = `SagaType = 'PlaceOrder' AND TaskQueue = '${t.taskQueue}' AND CloseTime > '${since}'`;
    await waitForVisibility(query, 2);
    const seen: LiveReplayResult[] = [];
    const results = await replayLive(t.client, { query }, current, (r) => seen.push(r));
    const byId = (rs: LiveReplayResult[]) => [...rs].sort((a, b) => a.workflowId.localeCompare(b.workflowId));
    expect(byId(results)).toEqual(
      byId([
        { workflowId: completed.workflowId, runId: await runIdOf(completed), ok: true },
        { workflowId: declined.workflowId, runId: await runIdOf(declined), ok: true },
      ]),
    );
    expect(seen).toEqual(results);
  });

  test('when a live history is replayed against a non-deterministic variant of the code, then it is reported FAILED with the reason', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const handle = await placeOrder(orderInput(sku, { options: FAST }));
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('./nondeterministic-workflows'),
      logger: quietLogger,
    });
    const [result, ...rest] = await replayLive(
      t.client,
      { workflowId: handle.workflowId },
      { workflowBundle: { code } },
    );
    expect(rest).toEqual([]);
    expect(result).toMatchObject({ workflowId: handle.workflowId, ok: false });
    expect(result!.error).toMatch(
      /^DeterminismViolationError: .*Activity type of scheduled event 'createOrder' does not match activity type of activity command 'reserveStock'/s,
    );
  });

  test('when a history is exported with `temporal workflow show --output json`, then the fixture reader reads it and it replays', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const handle = await placeOrder(orderInput(sku, { options: FAST, cardNumber: DECLINED_CARD }));
    const cli = process.env.TEST_TEMPORAL_CLI!;
    const json = execFileSync(
      cli,
      [
        'workflow',
        'show',
        '--workflow-id',
        handle.workflowId,
        '--address',
        temporalAddress(),
        '--namespace',
        'default',
        '--output',
        'json',
      ],
      {
        encoding: 'utf8',
      },
    );
    const fixture = parseFixture(`${handle.workflowId}.json`, json);
    expect(fixture).toMatchObject({ workflowType: placeOrderWorkflow.name, workflowId: handle.workflowId });
    expect(fixture.history.events?.length).toBe((await handle.fetchHistory()).events?.length);
    await expect(
      Worker.runReplayHistory({ ...current, replayName: 'cli-export' }, fixture.history, fixture.workflowId),
    ).resolves.toBeUndefined();
  });

  test('when the CLI replays a saga by workflow and run ID, then it prints OK and exits 0', async () => {
    const sku = await putProduct(stack, { available: 5 });
    const handle = await placeOrder(orderInput(sku, { options: FAST }));
    const runId = await runIdOf(handle);
    const out = await runCli(['--workflow-id', handle.workflowId, '--run-id', runId]);
    expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' });
    expect(out.stdout).toContain(`OK      ${handle.workflowId} (run ${runId})`);
    expect(out.stdout).toContain('1 workflow(s): 1 OK, 0 FAILED');
  });

  test('when the CLI is given a workflow that does not exist, then it prints FAILED with the reason and exits 1', async () => {
    const out = await runCli(['--workflow-id', 'order-does-not-exist']);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/FAILED {2}order-does-not-exist: could not list or describe: WorkflowNotFoundError: /);
  });

  test('when the CLI is given both --workflow-id and --query, then it prints the usage and exits 2', async () => {
    const out = await runCli(['--workflow-id', 'x', '--query', "SagaType = 'PlaceOrder'"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('usage:');
  });
});

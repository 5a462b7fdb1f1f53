import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import type { ServiceStack } from './services';
import { createSagaWorker } from '../../worker/create-worker';
import { SERVICE_TOKENS, uniqueId } from './services';
import { TEST_CARD_KEY } from './fixtures';
import type { SagaRunOptions } from '../../workflows/options';
import type { SagaState } from '../../shared/saga-types';
import { sagaStateQuery } from '../../workflows/saga';

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed by an earlier suite in this process
  }
}

export function temporalAddress(): string {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!address)
    throw new Error(
      'TEST_TEMPORAL_ADDRESS is not set: run the suites through jest (its global setup starts the dev server)',
    );
  return address;
}

export interface TemporalHarness {
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  taskQueue: string;
  close(): Promise<void>;
}

/** Connects to the suite-wide dev server with a task queue no other suite uses. */
export async function connectTemporal(label: string): Promise<TemporalHarness> {
  quietRuntime();
  const address = temporalAddress();
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  return {
    client,
    connection,
    nativeConnection,
    taskQueue: uniqueId(`tq-${label}`),
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** Runs the real saga worker in this process (workflows from the bundle built once per jest run). */
export async function startWorker(
  t: TemporalHarness,
  stack: ServiceStack,
  opts: { httpTimeoutMs?: number } = {},
): Promise<RunningWorker> {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('TEST_WORKFLOW_BUNDLE is not set');
  const { worker, close } = await createSagaWorker({
    connection: t.nativeConnection,
    namespace: 'default',
    taskQueue: t.taskQueue,
    workflows: { codePath },
    activities: {
      ordersUrl: stack.orders.url,
      inventoryUrl: stack.inventory.url,
      paymentsUrl: stack.payments.url,
      shippingUrl: stack.shipping.url,
      httpTimeoutMs: opts.httpTimeoutMs ?? 3000,
      httpConnections: 32,
      serviceToken: SERVICE_TOKENS.worker,
      cardKey: TEST_CARD_KEY,
    },
  });
  const running = worker.run();
  return {
    worker,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await close();
    },
  };
}

/** Short timers for tests: the time-skipping server is not available here. */
export const FAST: SagaRunOptions = {
  activityTimeoutMs: 5000,
  stepRetry: { initialIntervalMs: 100, maximumIntervalMs: 500, maximumAttempts: 5 },
  compensationRetry: { initialIntervalMs: 100, maximumIntervalMs: 500, maximumAttempts: 0 },
  retriableRetry: { initialIntervalMs: 100, maximumIntervalMs: 500, maximumAttempts: 0 },
};

/**
 * Short timers with small budgets: a step exhausts its retries, and so does its compensation, within
 * about a second while a service is down (so the saga goes STUCK quickly).
 */
export const STUCK_QUICKLY: SagaRunOptions = {
  ...FAST,
  stepRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 },
  compensationRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 },
};

/** The saga's final state, whether the workflow completed, compensated or was cancelled. */
export async function finalState(handle: WorkflowHandle): Promise<SagaState> {
  try {
    await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
  }
  return handle.query(sagaStateQuery);
}

/** Polls the saga's query until `predicate` holds (or fails after `timeoutMs`). */
export async function waitForState(
  handle: WorkflowHandle,
  predicate: (s: SagaState) => boolean,
  timeoutMs = 30_000,
): Promise<SagaState> {
  const deadline = Date.now() + timeoutMs;
  let last: SagaState | undefined;
  for (;;) {
    try {
      last = await handle.query(sagaStateQuery);
      if (predicate(last)) return last;
    } catch {
      // not started yet
    }
    if (Date.now() > deadline) throw new Error(`Saga state never matched; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Activity types in the order the workflow scheduled them (from the real history). */
export async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => typeof n === 'string');
}

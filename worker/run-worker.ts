import path from 'node:path';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  makeTelemetryFilterString,
  bundleWorkflowCode,
  type Worker,
} from '@temporalio/worker';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../config/worker';
import { parseCardKey } from '../lib/auth/card-token';
import { createSagaWorker } from './create-worker';
import { checkSagaNamespace } from './namespace-check';

export interface RunningWorker {
  /** The worker's own connection: a client built on it can ask for eager workflow start. */
  connection: NativeConnection;
  worker: Worker;
  /** Resolves once the worker stopped (after SIGINT/SIGTERM, the SDK's shutdown signals, or `worker.shutdown()`). */
  done: Promise<void>;
}

/**
 * Starts the saga worker of `config`: installs the SDK runtime (its log level and Prometheus
 * metrics), bundles the workflows once, connects and starts polling. Used by `worker.ts` and by an
 * API that hosts its worker (API_EMBEDDED_WORKER).
 */
export async function startSagaWorker(config: WorkerConfig, logger: Logger): Promise<RunningWorker> {
  Runtime.install({
    logger: new DefaultLogger(config.WORKER_SDK_LOG_LEVEL),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(config.WORKER_METRICS_PORT > 0
        ? { metrics: { prometheus: { bindAddress: `${config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}` } } }
        : {}),
    },
  });
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '../workflows'),
    logger: Runtime.instance().logger,
  });
  const connection = await NativeConnection.connect(config.temporal.connection);
  // A namespace without the sagas' search attributes fails here, naming what to run, not on every workflow task.
  const checked = await checkSagaNamespace(
    connection,
    config.temporal.namespace,
    config.temporal.connection.address ?? 'localhost:7233',
  );
  if (checked !== 'ok') logger.warn({ reason: checked.skipped }, 'search attributes not checked');
  const { worker, close } = await createSagaWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.TASK_QUEUE,
    workflows: { code: bundle.code },
    ...sagaWorkerSettings(config),
  });
  logger.info(
    { address: config.temporal.connection.address, namespace: config.temporal.namespace, taskQueue: config.TASK_QUEUE },
    'worker running',
  );
  const done = worker.run().finally(async () => {
    await close();
  });
  return { connection, worker, done };
}

/**
 * What a worker of `config` runs with besides its workflows: the activities' service URLs, HTTP
 * settings, token and card key, the task slots and cache, and the workflow thread. The product
 * worker and the bench's floor worker (bench/floor-ts) share it, so the floor is measured with the
 * saga worker's own settings.
 */
export function sagaWorkerSettings(config: WorkerConfig) {
  return {
    activities: {
      ordersUrl: config.ORDERS_URL,
      inventoryUrl: config.INVENTORY_URL,
      paymentsUrl: config.PAYMENTS_URL,
      shippingUrl: config.SHIPPING_URL,
      httpTimeoutMs: config.HTTP_TIMEOUT_MS,
      httpConnections: config.HTTP_CONNECTIONS,
      serviceToken: config.SERVICE_TOKEN,
      cardKey: parseCardKey(config.CARD_ENCRYPTION_KEY),
    },
    tuning: {
      maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
      workflowThreadPoolSize: config.WORKER_WORKFLOW_THREADS,
      ...(config.WORKER_POLLER_BEHAVIOR === 'autoscaling'
        ? {
            workflowTaskPollerBehavior: { type: 'autoscaling', maximum: config.WORKER_WORKFLOW_TASK_POLLS },
            activityTaskPollerBehavior: { type: 'autoscaling', maximum: config.WORKER_ACTIVITY_TASK_POLLS },
          }
        : {
            maxConcurrentWorkflowTaskPolls: config.WORKER_WORKFLOW_TASK_POLLS,
            maxConcurrentActivityTaskPolls: config.WORKER_ACTIVITY_TASK_POLLS,
          }),
    },
    workflowThread: config.WORKER_WORKFLOW_THREAD,
  } satisfies Pick<Parameters<typeof createSagaWorker>[0], 'activities' | 'tuning' | 'workflowThread'>;
}

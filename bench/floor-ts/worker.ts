/**
 * The floor-ts worker of the benchmark: the saga worker's configuration, SDK runtime settings,
 * activities and tuning (config/worker.ts, worker/run-worker.ts), with bench/floor-ts/workflows.ts
 * as its only workflow code instead of the saga runtime. Not part of the product.
 */
import path from 'node:path';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  bundleWorkflowCode,
  makeTelemetryFilterString,
} from '@temporalio/worker';
import { loadWorkerConfig } from '../../config/worker';
import { parseCardKey } from '../../lib/card-token';
import { createSagaWorker } from '../../worker/create-worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  Runtime.install({
    logger: new DefaultLogger(config.WORKER_SDK_LOG_LEVEL),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'workflows.ts'),
    logger: Runtime.instance().logger,
  });
  const connection = await NativeConnection.connect(config.temporal.connection);
  const { worker, close } = await createSagaWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.TASK_QUEUE,
    workflows: { code: bundle.code },
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
      maxConcurrentWorkflowTaskPolls: config.WORKER_WORKFLOW_TASK_POLLS,
      maxConcurrentActivityTaskPolls: config.WORKER_ACTIVITY_TASK_POLLS,
    },
    workflowThread: config.WORKER_WORKFLOW_THREAD,
  });
  console.log('worker running');
  await worker.run();
  await close();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * The saga worker process: connects to Temporal with the standard environment configuration,
 * bundles the workflows once, runs the activities against the four services, exposes the SDK's
 * metrics for Prometheus and shuts down gracefully on SIGINT/SIGTERM.
 */
import path from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString, bundleWorkflowCode } from '@temporalio/worker';
import { loadWorkerConfig } from './config/worker';
import { createLogger } from './lib/logger';
import { parseCardKey } from './lib/card-token';
import { createSagaWorker } from './worker/create-worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger('worker', config.LOG_LEVEL);
  Runtime.install({
    logger: new DefaultLogger(config.WORKER_SDK_LOG_LEVEL),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(config.WORKER_METRICS_PORT > 0
        ? { metrics: { prometheus: { bindAddress: `${config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}` } } }
        : {}),
    },
  });
  const bundle = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'workflows'), logger: Runtime.instance().logger });
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
  });
  logger.info({ address: config.temporal.connection.address, namespace: config.temporal.namespace, taskQueue: config.TASK_QUEUE }, 'worker running');
  // Worker.run() resolves after SIGINT/SIGTERM (the SDK's default shutdown signals) once in-flight tasks finish.
  await worker.run();
  await close();
  await connection.close();
  logger.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

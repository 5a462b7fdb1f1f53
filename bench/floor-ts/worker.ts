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
import { createSagaWorker } from '../../worker/create-worker';
import { sagaWorkerSettings } from '../../worker/run-worker';

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
    ...sagaWorkerSettings(config),
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

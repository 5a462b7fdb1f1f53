/**
 * The saga worker process: connects to Temporal with the standard environment configuration,
 * bundles the workflows once, runs the activities against the four services, exposes the SDK's
 * metrics for Prometheus and shuts down gracefully on SIGINT/SIGTERM.
 */
import { loadWorkerConfig } from './config/worker';
import { createLogger } from './lib/logger';
import { startSagaWorker } from './worker/run-worker';

async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger('worker', config.LOG_LEVEL);
  const { connection, done } = await startSagaWorker(config, logger);
  // Worker.run() resolves after SIGINT/SIGTERM (the SDK's default shutdown signals) once in-flight tasks finish.
  await done;
  await connection.close();
  logger.info('worker stopped');
}

main().catch((err) => {
  // a namespace that is not ready says what to run: its message is the whole story
  console.error(err instanceof Error && err.name === 'NamespaceNotReadyError' ? err.message : err);
  process.exit(1);
});

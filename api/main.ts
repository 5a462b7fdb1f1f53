/**
 * The API process: reads its config, connects to Temporal, listens, and shuts down gracefully on
 * SIGINT/SIGTERM (server.close → connection close → forced exit after a timeout).
 */
import { Client, Connection } from '@temporalio/client';
import { loadApiConfig } from '../config/api';
import { loadWorkerConfig } from '../config/worker';
import { startSagaWorker } from '../worker/run-worker';
import { createLogger } from '../lib/logger';
import { parseCardKey } from '../lib/auth/card-token';
import { stopGracefully } from '../lib/service';
import { listenWithJsonErrors } from '../lib/http/http-guards';
import { createApiApp } from './app';
import { runFullAudit } from '../audit/auditor';

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger('api', config.LOG_LEVEL);
  let client: Client;
  let closeTemporal: () => Promise<void>;
  if (config.API_EMBEDDED_WORKER) {
    // One process: the client shares the worker's native connection (which eager workflow start needs).
    const hosted = await startSagaWorker(loadWorkerConfig(), logger.child({ component: 'worker' }));
    client = new Client({ connection: hosted.connection, namespace: config.temporal.namespace });
    closeTemporal = async () => {
      if (hosted.worker.getState() === 'RUNNING') hosted.worker.shutdown();
      await hosted.done;
      await hosted.connection.close();
    };
  } else {
    // lazy: the API starts (and /healthz says 503) even when Temporal is not up yet
    const connection = Connection.lazy(config.temporal.connection);
    client = new Client({ connection, namespace: config.temporal.namespace });
    closeTemporal = () => connection.close();
  }
  const sagaOptions = {
    namespace: config.temporal.namespace,
    taskQueue: config.TASK_QUEUE,
    temporalUiUrl: config.TEMPORAL_UI_URL,
    sagaDeadlineMs: config.SAGA_DEADLINE_MS,
    cardKey: parseCardKey(config.CARD_ENCRYPTION_KEY),
    activityMode: config.SAGA_ACTIVITY_MODE,
    compensationMaxAttempts: config.SAGA_COMPENSATION_MAX_ATTEMPTS,
    eagerStart: config.SAGA_EAGER_START,
  };
  const audit = () =>
    runFullAudit({
      mysqlUrl: config.MYSQL_URL,
      dbPrefix: config.DB_PREFIX,
      settleMs: config.AUDIT_SETTLE_MS,
      natsUrl: config.NATS_URL,
    });
  const app = createApiApp({
    client,
    sagaOptions,
    logger,
    apiToken: config.API_TOKEN,
    waitMaxMs: config.API_WAIT_MAX_MS,
    audit,
  });
  const server = await listenWithJsonErrors(app, config.API_PORT, config.BIND_HOST);
  logger.info(
    {
      url: `http://${config.BIND_HOST}:${config.API_PORT}`,
      temporal: config.temporal.connection.address,
      embeddedWorker: config.API_EMBEDDED_WORKER,
      eagerStart: config.SAGA_EAGER_START,
    },
    'api listening',
  );
  stopGracefully(logger, server, closeTemporal);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

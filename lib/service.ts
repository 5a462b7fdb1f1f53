import { STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type express from 'express';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { baseApp, errorHandler, methodNotAllowedHandlers, notFoundHandler } from './http/http';
import { isReady, openDatabase, type Database, type Db } from './db';
import { ErrorCodes, errorBody } from './errors';
import { FAULTS_PATH, createFaultInjector, declaredRoutes } from './http/faults';
import { createLogger } from './logger';
import { serverTiming } from './http/server-timing';
import { assertWriteRoutesNameCallers, authenticateCallers, type ServiceCallers } from './auth/service-auth';
import { startEventConsumer, type EventConsumer, type EventConsumerSpec } from './events/event-consumer';
import { startEventRelay, type EventRelay } from './events/event-relay';
import type { EventSource } from './events/events';

export interface ServiceDeps<TSchema extends Record<string, unknown>> {
  db: Db<TSchema>;
  database: Database<TSchema>;
  logger: Logger;
  /** Who may call the service, by name and token (SERVICE_CALLERS; lib/auth/service-auth.ts). */
  callers: ServiceCallers;
  /** Fault injection (lib/http/faults.ts) behind this admin token; absent (the default), there is none. */
  faults?: { adminToken: string };
  /** The process's Prometheus registry, served at `GET /metrics` (outbox backlog, consumer lag). */
  metrics?: Registry;
}

/**
 * Builds a service's express app: `/healthz` (ready only when the database answers and is
 * migrated, and open to anyone), the service's routes behind the callers' bearer tokens (every
 * write route names the callers it serves), then JSON 405s and 404s and the shared error handler.
 * With `deps.faults`, fault injection sits in front of the routes and `/admin/faults` (behind
 * ADMIN_TOKEN) configures it.
 */
export function createServiceApp<TSchema extends Record<string, unknown>>(
  deps: ServiceDeps<TSchema>,
  routes: (app: express.Express) => void,
): express.Express {
  const faults = deps.faults
    ? createFaultInjector({ adminToken: deps.faults.adminToken, logger: deps.logger })
    : undefined;
  const authenticate = authenticateCallers({
    callers: deps.callers,
    logger: deps.logger,
    skip: (method, path) =>
      path === FAULTS_PATH ||
      ((path === '/healthz' || (path === '/metrics' && deps.metrics !== undefined)) &&
        (method === 'GET' || method === 'HEAD')),
  });
  const app = baseApp({ beforeBody: [serverTiming(), authenticate, ...(faults ? [faults.gate] : [])] });
  if (faults) app.use(faults.admin);
  app.get('/healthz', async (_req, res) => {
    const ready = await isReady(deps.database.pool);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', database: deps.database.name });
  });
  if (deps.metrics) {
    const registry = deps.metrics;
    // Like /healthz, open to the scraper: counts and lags only, no business data.
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }
  routes(app);
  assertWriteRoutesNameCallers(app);
  const declared = declaredRoutes(app);
  faults?.declareRoutes(declared);
  app.use(methodNotAllowedHandlers(declared));
  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger));
  return app;
}

export function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.keepAliveTimeout = 65_000;
    answerClientErrorsAsJson(server);
  });
}

/**
 * Requests Node's own HTTP parser refuses never reach express (headers over the limit, an unknown
 * method, a malformed request line): Node would answer them with an empty body. This gives them the
 * same JSON error shape as every other answer, then closes the connection as Node does.
 */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Already gone, or an answer already started on it (its headers were sent): nothing sensible can
    // be written. (A request still being handled is cut short, as Node's own answer would.)
    if (
      err.code === 'ECONNRESET' ||
      !socket.writable ||
      (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
    ) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, ErrorCodes.HEADERS_TOO_LARGE, 'Request headers too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, ErrorCodes.REQUEST_TIMEOUT, 'The request was not received in time']
          : [400, ErrorCodes.MALFORMED_REQUEST, `Malformed HTTP request${err.code ? ` (${err.code})` : ''}`];
    const body = JSON.stringify(errorBody(code, message));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** Closes the HTTP server (finishing in-flight requests, dropping idle keep-alive sockets). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * The `main` of every service: open and migrate its database, listen, and shut down gracefully on
 * SIGINT/SIGTERM (server.close → pool end → forced exit after a timeout).
 */
export async function runService<
  TSchema extends Record<string, unknown>,
  TConfig extends {
    LOG_LEVEL: string;
    BIND_HOST: string;
    MYSQL_URL: string;
    DB_POOL_SIZE: number;
    SERVICE_CALLERS: ServiceCallers;
    FAULTS_ENABLED: boolean;
    ADMIN_TOKEN?: string | undefined;
    NATS_URL?: string | undefined;
    NATS_STREAM_REPLICAS?: number;
    OUTBOX_BATCH_SIZE?: number;
    OUTBOX_POLL_MS?: number;
  },
>(spec: {
  name: string;
  config: TConfig;
  port: number;
  databaseName: string;
  schema: TSchema;
  migrationsFolder: string;
  createApp: (deps: ServiceDeps<TSchema>, config: TConfig) => express.Express;
  /**
   * Events (lib/events/events.ts): the stream this service's outbox relay publishes to (when it has an
   * outbox) and the durable consumers that keep its local copies. Both run in this process, on
   * NATS_URL; without NATS_URL events stay in the outbox and the copies are not updated.
   */
  events?: { source?: EventSource; consumers?: EventConsumerSpec<TSchema>[] };
}): Promise<void> {
  // The config refuses FAULTS_ENABLED without an ADMIN_TOKEN (lib/config.ts); checked again here for any other caller.
  if (spec.config.FAULTS_ENABLED && !spec.config.ADMIN_TOKEN)
    throw new Error(`${spec.name}: FAULTS_ENABLED needs an ADMIN_TOKEN`);
  const logger = createLogger(spec.name, spec.config.LOG_LEVEL);
  const database = await openDatabase({
    mysqlUrl: spec.config.MYSQL_URL,
    name: spec.databaseName,
    schema: spec.schema,
    migrationsFolder: spec.migrationsFolder,
    poolSize: spec.config.DB_POOL_SIZE,
  });
  const faults = spec.config.FAULTS_ENABLED ? { adminToken: spec.config.ADMIN_TOKEN! } : undefined;
  if (faults) logger.warn('fault injection is enabled (/admin/faults)');
  const callers = spec.config.SERVICE_CALLERS;
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const app = spec.createApp({ db: database.db, database, logger, callers, faults, metrics }, spec.config);
  const server = await listen(app, spec.port, spec.config.BIND_HOST);
  logger.info(
    {
      url: `http://${spec.config.BIND_HOST}:${boundPort(server)}`,
      database: database.name,
      callers: [...callers.keys()],
    },
    `${spec.name} listening`,
  );
  const background = startEvents(spec.name, spec.config, spec.events, { database, logger, metrics });
  stopGracefully(logger, server, async () => {
    for (const b of background) await b.stop();
    await database.close();
  });
}

/**
 * On SIGINT/SIGTERM: stop accepting requests and finish the ones in flight (server.close), then
 * release the process's resources (pools, connections), then exit; forced exit after 10 s.
 */
export function stopGracefully(logger: Logger, server: Server, release: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    await closeServer(server);
    await release();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Starts the service's outbox relay and event consumers (lib/events/event-relay.ts, lib/events/event-consumer.ts) when NATS_URL is set. */
function startEvents<TSchema extends Record<string, unknown>>(
  name: string,
  config: {
    NATS_URL?: string | undefined;
    NATS_STREAM_REPLICAS?: number;
    OUTBOX_BATCH_SIZE?: number;
    OUTBOX_POLL_MS?: number;
  },
  events: { source?: EventSource; consumers?: EventConsumerSpec<TSchema>[] } | undefined,
  deps: { database: Database<TSchema>; logger: Logger; metrics: Registry },
): (EventRelay | EventConsumer)[] {
  if (!events) return [];
  const natsUrl = config.NATS_URL;
  if (!natsUrl) {
    deps.logger.warn(
      `${name}: NATS_URL is not set: events stay in the outbox and local copies are not updated until it is`,
    );
    return [];
  }
  const started: (EventRelay | EventConsumer)[] = [];
  if (events.source) {
    started.push(
      startEventRelay({
        source: events.source,
        natsUrl,
        replicas: config.NATS_STREAM_REPLICAS,
        pool: deps.database.pool,
        logger: deps.logger,
        registry: deps.metrics,
        batchSize: config.OUTBOX_BATCH_SIZE,
        pollMs: config.OUTBOX_POLL_MS,
      }),
    );
  }
  for (const consumer of events.consumers ?? []) {
    started.push(
      startEventConsumer({
        ...consumer,
        natsUrl,
        replicas: config.NATS_STREAM_REPLICAS,
        db: deps.database.db,
        logger: deps.logger,
        registry: deps.metrics,
      }),
    );
  }
  deps.logger.info(
    {
      natsUrl,
      replicas: config.NATS_STREAM_REPLICAS ?? 1,
      relay: events.source ?? null,
      consumers: (events.consumers ?? []).map((c) => c.name),
    },
    'events: relay and consumers started',
  );
  return started;
}

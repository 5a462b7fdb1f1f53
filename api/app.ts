import type { RequestHandler } from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { AppError, errorBody } from '../lib/errors';
import { methodNotAllowed, requireHost } from '../lib/http/http-guards';
import { baseApp, errorHandler, jsonBody, notFoundHandler, parse } from '../lib/http/http';
import { bearerAuth } from '../lib/auth/bearer-auth';
import { openApiDocument } from './openapi';
import { SagaCounts, createMetrics } from './metrics';
import { ApiErrors } from './errors';
import { temporalReachable } from './health';
import { SagaLister } from './list';
import { SagaOperations } from './operations';
import type { SagaApiOptions } from './options';
import { SagaStarter, type Started } from './start';
import { isTemporalUnavailable } from './temporal-errors';
import { SagaReader } from './view';
import {
  idempotencyKeyHeader,
  listQuery,
  resolveBody,
  retryBody,
  sagaIdParam,
  startQuery,
  type AuditReportBody,
} from './schemas';
import { SAGAS, sagaByType, type SagaDefinition } from '../sagas';
import type { AuditReport, EventAuditReport } from '../audit/auditor';

export interface ApiDeps {
  /** The Temporal client every saga operation goes through. */
  client: Client;
  sagaOptions: SagaApiOptions;
  logger: Logger;
  apiToken: string;
  /** Upper bound of `?wait=true`. */
  waitMaxMs: number;
  /** Runs the consistency auditor over the services' databases (`GET /audit`). */
  audit: () => Promise<AuditReport & { events: EventAuditReport }>;
}

/** Temporal being down is a 503, never a 500 blamed on the client. */
function temporalErrors(logger: Logger): (err: unknown) => never {
  return (err) => {
    if (err instanceof AppError) throw err;
    if (isTemporalUnavailable(err)) {
      logger.warn({ err }, 'temporal unavailable');
      throw new AppError(503, ApiErrors.TEMPORAL_UNAVAILABLE, 'Temporal is not reachable; retry later');
    }
    throw err;
  };
}

/** Builds the API (it never listens: `main.ts` does): each job's module, wired to its routes. */
export function createApiApp(deps: ApiDeps) {
  const { client, sagaOptions, logger } = deps;
  const reader = new SagaReader(client, sagaOptions);
  const starter = new SagaStarter(client, sagaOptions);
  const lister = new SagaLister(client, sagaOptions, reader);
  const operations = new SagaOperations(client, reader);
  const app = baseApp();
  const metrics = createMetrics(new SagaCounts(client, sagaOptions.namespace));
  const onTemporalError = temporalErrors(logger);
  app.use(metrics.middleware);
  app.use(requireHost());
  app.use(methodNotAllowed(app));

  app.get('/healthz', async (_req, res) => {
    const ok = await temporalReachable(client);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', temporal: ok ? 'reachable' : 'unreachable' });
  });
  const doc = openApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use(bearerAuth(deps.apiToken, 'API_TOKEN'));

  const idempotencyKey = (raw: string | undefined) =>
    raw === undefined ? undefined : parse(idempotencyKeyHeader, raw, 'Idempotency-Key header');

  /**
   * 202 with the start answer; with ?wait=decided 200 and the view as soon as the saga's outcome is
   * decided: past its pivot (COMPLETING: it will complete), ended, or STUCK (waiting for an operator);
   * with ?wait=true 200 once it has ended or is STUCK. No polling: the saga answers an Update.
   */
  async function answerStarted(
    res: Parameters<RequestHandler>[1],
    saga: SagaDefinition,
    started: Started,
    wait: string | undefined,
    waitStarted: number,
    extra: Record<string, string>,
  ) {
    const { sagaId } = started;
    const decided =
      wait === 'true'
        ? await starter.awaitSettled(sagaId, started.decided, deps.waitMaxMs - (Date.now() - waitStarted))
        : started.decided;
    if (decided !== undefined) {
      const view = decided === 'closed' ? await reader.view(sagaId) : reader.toView(decided);
      // A business rejection the saga's definition answers as a client error (nothing it did is left).
      const rejection =
        view?.status === 'COMPENSATED' && view.failure ? saga.rejections?.[view.failure.type] : undefined;
      if (view && rejection) {
        res.status(rejection.status).json(
          errorBody(view.failure!.type, view.failure!.message, {
            sagaId,
            ...extra,
            step: view.failure!.step,
            links: reader.links(sagaId),
          }),
        );
        return;
      }
      if (view) {
        res.status(200).json(view);
        return;
      }
    }
    // not waited for (or the wait ran out): a new saga is RUNNING; a repeat says where it is
    const status = started.started ? 'RUNNING' : ((await reader.view(sagaId))?.status ?? 'RUNNING');
    res.status(202).json({ sagaId, ...extra, status, links: reader.links(sagaId) });
  }

  /** Validates the body, starts the saga once per Idempotency-Key, and answers (see answerStarted). */
  async function startSaga(
    req: Parameters<RequestHandler>[0],
    res: Parameters<RequestHandler>[1],
    saga: SagaDefinition,
    body: unknown,
  ) {
    const query = parse(startQuery, req.query, 'query');
    const key = idempotencyKey(req.header('idempotency-key'));
    const waitStarted = Date.now();
    const waitMs = query.wait === 'true' || query.wait === 'decided' ? deps.waitMaxMs : undefined;
    const started = await starter.start(saga, body, key, waitMs).catch(onTemporalError);
    if (started.started) metrics.sagaStarted(saga.type);
    await answerStarted(res, saga, started, query.wait, waitStarted, started.echo).catch(onTemporalError);
  }

  // Each saga's domain route (POST /orders, POST /products/:sku/rename, ...) and POST /sagas/{type}.
  for (const saga of SAGAS) {
    const { route } = saga;
    if (route) {
      app.post(route.path, async (req, res) => {
        const params = route.params ? parse(route.params, req.params, 'path') : {};
        const body = parse(route.body, jsonBody(req));
        await startSaga(req, res, saga, parse(saga.body, route.toSagaBody(params, body as never)));
      });
    }
  }
  app.post('/sagas/:type', async (req, res) => {
    const saga = sagaByType(String(req.params.type));
    if (!saga)
      throw new AppError(
        404,
        ApiErrors.SAGA_TYPE_NOT_FOUND,
        `No saga type ${JSON.stringify(req.params.type)}; registered: ${SAGAS.map((s) => s.type).join(', ')}`,
      );
    await startSaga(req, res, saga, parse(saga.body, jsonBody(req)));
  });

  app.get('/sagas', async (req, res) => {
    const query = parse(listQuery, req.query, 'query');
    res.json(await lister.list(query).catch(onTemporalError));
  });

  app.get('/sagas/:sagaId', async (req, res) => {
    const sagaId = parse(sagaIdParam, req.params.sagaId, 'saga ID');
    const view = await reader.view(sagaId).catch(onTemporalError);
    if (!view) throw new AppError(404, ApiErrors.SAGA_NOT_FOUND, `No saga ${sagaId}`);
    res.json(view);
  });

  app.get('/sagas/:sagaId/timeline', async (req, res) => {
    const sagaId = parse(sagaIdParam, req.params.sagaId, 'saga ID');
    const timeline = await reader.timeline(sagaId).catch(onTemporalError);
    if (!timeline) throw new AppError(404, ApiErrors.SAGA_NOT_FOUND, `No saga ${sagaId}`);
    res.json(timeline);
  });

  app.post('/sagas/:sagaId/cancel', async (req, res) => {
    const sagaId = parse(sagaIdParam, req.params.sagaId, 'saga ID');
    const { outcome } = await operations.cancel(sagaId).catch(onTemporalError);
    res.status(202).json({ sagaId, action: 'cancel', accepted: true, outcome });
  });

  app.post('/sagas/:sagaId/retry-compensation', async (req, res) => {
    const sagaId = parse(sagaIdParam, req.params.sagaId, 'saga ID');
    const { step } = parse(retryBody, jsonBody(req));
    await operations.operate(sagaId, 'retry-compensation', { step }).catch(onTemporalError);
    res.status(202).json({ sagaId, action: 'retry-compensation', accepted: true });
  });

  /** The consistency auditor's report over the four service databases (violations are a 200: the audit ran). */
  app.get('/audit', async (_req, res) => {
    const report = await deps.audit().catch((err: unknown) => {
      logger.error({ err }, 'audit failed');
      throw new AppError(
        503,
        ApiErrors.AUDIT_UNAVAILABLE,
        'The service databases could not be audited; see the API log',
      );
    });
    res.json(report satisfies AuditReportBody);
  });

  app.post('/sagas/:sagaId/resolve', async (req, res) => {
    const sagaId = parse(sagaIdParam, req.params.sagaId, 'saga ID');
    const body = parse(resolveBody, jsonBody(req));
    await operations.operate(sagaId, 'resolve', body).catch(onTemporalError);
    res.status(202).json({ sagaId, action: 'resolve', accepted: true });
  });

  app.use(notFoundHandler());
  app.use(errorHandler(logger));
  return app;
}

import { z } from 'zod';
import { SAGAS, type SagaDefinition } from '../sagas';
import {
  actionAcceptedResponse,
  auditReportResponse,
  errorResponse,
  healthResponse,
  listQuery,
  resolveBody,
  retryBody,
  sagaListResponse,
  sagaTimelineResponse,
  sagaStartedResponse,
  sagaViewResponse,
  SAGA_ID_PATTERN,
} from './schemas';

const schema = (s: z.ZodType, io: 'input' | 'output' = 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      json(
        'Error',
        {
          400: 'Invalid input',
          401: 'Missing or wrong bearer token',
          404: 'Unknown saga',
          409: "Conflict with the saga's state",
          413: 'Body too large',
          415: 'Body is not JSON',
          422: 'Idempotency-Key reused with a different request',
          503: 'Temporal unavailable',
        }[c] ?? 'Error',
      ),
    ]),
  );
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Two requests with the same key start one saga and both get its sagaId; the same key with another body is 422.',
  schema: { type: 'string', minLength: 1, maxLength: 200 },
};
const wait = {
  name: 'wait',
  in: 'query',
  required: false,
  description:
    "true: wait (up to the server's API_WAIT_MAX_MS) and answer 200 with the saga view once it has ended or is STUCK, or 202 if not yet. " +
    'decided: answer 200 as soon as its outcome is decided: past its pivot (status COMPLETING: only retriable steps are left, it will complete), ended, or STUCK.',
  schema: { type: 'string', enum: ['true', 'false', 'decided'] },
};
const sagaId = { name: 'sagaId', in: 'path', required: true, schema: { type: 'string', pattern: SAGA_ID_PATTERN } };

/** `/products/:sku/rename` → `/products/{sku}/rename`. */
const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z_]+)/g, '{$1}');

/** The business rejections a saga's start may be answered with (SagaDefinition.rejections), by status. */
function rejectionResponses(list: readonly SagaDefinition[]) {
  const byStatus = new Map<number, string[]>();
  for (const saga of list) {
    for (const [code, r] of Object.entries(saga.rejections ?? {}))
      byStatus.set(r.status, [
        ...(byStatus.get(r.status) ?? []),
        `${list.length > 1 ? `${saga.type}: ` : ''}${code}, ${r.description}`,
      ]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, what]) => [
      String(status),
      json(
        'Error',
        `With ?wait, the saga was refused and compensated completely (nothing it did is left): ${what.join('; ')}`,
      ),
    ]),
  );
}

/** Responses by status, the descriptions of a status both hold joined. */
function mergeDescriptions(a: Record<string, { description: string }>, b: Record<string, { description: string }>) {
  const out: Record<string, { description: string }> = { ...b };
  for (const [status, r] of Object.entries(a))
    if (out[status])
      out[status] = { ...out[status]!, description: `${r.description}; or: ${out[status]!.description}` };
  return out;
}

/** The domain route of a saga: its path parameters from the route's params schema, its body. */
function startOperation(saga: SagaDefinition, domain: boolean) {
  const params = saga.route?.params
    ? Object.entries(schema(saga.route.params, 'input').properties as Record<string, unknown>).map(([name, s]) => ({
        name,
        in: 'path',
        required: true,
        schema: s,
      }))
    : [];
  return {
    post: {
      summary: domain ? `${saga.route!.summary}: ${saga.summary}` : saga.summary,
      parameters: [...params, idempotencyKey, wait],
      requestBody: { required: true, content: { 'application/json': { schema: ref(`${saga.type}RouteRequest`) } } },
      responses: { ...started, ...errors(400, 401, 413, 415, 422, 503), ...rejectionResponses([saga]) },
    },
  };
}
const started = {
  '202': json('SagaStarted', 'Saga started (or, with a reused Idempotency-Key, the saga it started before)'),
  '200': json('SagaView', 'With ?wait=true: the saga has ended'),
};

/** The OpenAPI 3.1 document of the API, generated from the same zod schemas that validate requests. */
export function openApiDocument(): Record<string, unknown> {
  const listParams = Object.entries(schema(listQuery, 'input').properties as Record<string, unknown>).map(
    ([name, s]) => ({
      name,
      in: 'query',
      required: false,
      schema: s,
    }),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Saga Orchestrator API',
      version: '1.0.0',
      description:
        'Start and inspect sagas that keep the orders, inventory, payments and shipping services consistent, on Temporal.',
    },
    servers: [{ url: 'http://localhost:3000' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        // Each registered saga's body (POST /sagas/{type}) and its domain route's body.
        ...Object.fromEntries(
          SAGAS.flatMap((saga) => [
            [`${saga.type}Request`, schema(saga.body, 'input')],
            ...(saga.route ? [[`${saga.type}RouteRequest`, schema(saga.route.body, 'input')]] : []),
          ]),
        ),
        ResolveRequest: schema(resolveBody, 'input'),
        RetryRequest: schema(retryBody, 'input'),
        SagaStarted: schema(sagaStartedResponse),
        SagaView: schema(sagaViewResponse),
        SagaList: schema(sagaListResponse),
        SagaTimeline: schema(sagaTimelineResponse),
        ActionAccepted: schema(actionAcceptedResponse),
        Health: schema(healthResponse),
        AuditReport: schema(auditReportResponse),
        Error: schema(errorResponse),
      },
    },
    paths: {
      '/healthz': {
        get: {
          summary: 'Ready when Temporal answers',
          security: [],
          responses: { '200': json('Health', 'Temporal reachable'), '503': json('Health', 'Temporal unreachable') },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          security: [],
          responses: {
            '200': {
              description: 'OpenAPI 3.1 document',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [],
          responses: {
            '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      ...Object.fromEntries(
        SAGAS.filter((saga) => saga.route).map((saga) => [openApiPath(saga.route!.path), startOperation(saga, true)]),
      ),
      '/sagas/{type}': {
        post: {
          summary: "Start a saga of a registered type; the body is that type's (see the oneOf)",
          parameters: [
            {
              name: 'type',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: SAGAS.map((saga) => saga.type) },
            },
            idempotencyKey,
            wait,
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { oneOf: SAGAS.map((saga) => ref(`${saga.type}Request`)) } } },
          },
          responses: {
            ...started,
            ...errors(400, 401, 404, 413, 415, 422, 503),
            ...mergeDescriptions(errors(404), rejectionResponses(SAGAS)),
          },
        },
      },
      '/sagas': {
        get: {
          summary: 'List sagas by status and type (Temporal visibility), paginated',
          parameters: listParams,
          responses: { '200': json('SagaList', 'A page of sagas'), ...errors(400, 401, 503) },
        },
      },
      '/sagas/{sagaId}': {
        get: {
          summary: 'One saga: its status, steps, result or failure',
          parameters: [sagaId],
          responses: { '200': json('SagaView', 'The saga'), ...errors(400, 401, 404, 503) },
        },
      },
      '/sagas/{sagaId}/timeline': {
        get: {
          summary:
            "Where the saga's time went: workflow tasks, activities and the services' own time, from its history",
          parameters: [sagaId],
          responses: { '200': json('SagaTimeline', 'The timeline'), ...errors(400, 401, 404, 503) },
        },
      },
      '/sagas/{sagaId}/cancel': {
        post: {
          summary:
            'Cancel a running saga (it compensates and ends CANCELLED); 409 when it is past its pivot (also when the pivot won the race), STUCK, compensating, or its state is unknown',
          parameters: [sagaId],
          responses: { '202': json('ActionAccepted', 'Cancellation requested'), ...errors(400, 401, 404, 409, 503) },
        },
      },
      '/sagas/{sagaId}/retry-compensation': {
        post: {
          summary:
            'Operator: run the stuck steps of a STUCK saga again (its failed compensations, or a stuck pivot or retriable step): every one, or the `step` named',
          parameters: [sagaId],
          requestBody: { required: false, content: { 'application/json': { schema: ref('RetryRequest') } } },
          responses: {
            '202': json('ActionAccepted', 'Retry requested'),
            ...errors(400, 401, 404, 409, 413, 415, 503),
          },
        },
      },
      '/audit': {
        get: {
          summary:
            'Consistency audit of the four service databases: every violation of a cross-service invariant, with the order or SKU it concerns',
          responses: {
            '200': json('AuditReport', 'The audit ran (violations, if any, are listed in it)'),
            ...errors(401),
            '503': json('Error', 'The service databases could not be read'),
          },
        },
      },
      '/sagas/{sagaId}/resolve': {
        post: {
          summary:
            'Operator: a stuck step (the `step` named, or every one) was handled by hand: the saga ends RESOLVED_MANUALLY, with a note, undoing nothing more',
          parameters: [sagaId],
          requestBody: { required: true, content: { 'application/json': { schema: ref('ResolveRequest') } } },
          responses: {
            '202': json('ActionAccepted', 'Resolution recorded'),
            ...errors(400, 401, 404, 409, 413, 415, 503),
          },
        },
      },
    },
  };
}

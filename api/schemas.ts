import { z } from 'zod';
import { ID_CHARACTERS, idempotencyKeySchema, safeText } from '../lib/validation/text';
import { SAGAS } from '../sagas';
import { SAGA_STATUSES } from '../shared/saga-types';
import { EVENT_VIOLATION_CLASSES, VIOLATION_CLASSES } from '../audit/auditor';
import { LEG_KINDS } from '../lib/temporal/saga-timeline';

/**
 * The API's HTTP contract: request schemas validate input, response schemas document (and, in
 * tests, check) what the API answers. The OpenAPI document is generated from these.
 */
/** The registered saga types (sagas/index.ts). */
const sagaTypes = SAGAS.map((s) => s.type) as [string, ...string[]];
export const sagaTypeParam = z.enum(sagaTypes);

/** A saga step's name (as the saga view lists them): an operator action may name the stuck step it is for. */
export const stepName = z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, "a step's name, as the saga view lists it");
export const resolveBody = z.strictObject({
  note: safeText(1, 1000),
  operator: safeText(0, 200).optional(),
  step: stepName.optional(),
});
/** POST /sagas/{id}/retry-compensation: optionally the stuck step to retry (default: every stuck step). */
export const retryBody = z.strictObject({ step: stepName.optional() });
/** A saga ID: a registered saga's prefix (`order-`, `rename-`, ...) and its business key. */
export const SAGA_ID_PATTERN = `^(${SAGAS.map((s) => s.idPrefix).join('|')})-[${ID_CHARACTERS}]{1,200}$`;
export const sagaIdParam = z
  .string()
  .regex(new RegExp(SAGA_ID_PATTERN), `a saga ID such as ${SAGAS[0]!.idPrefix}-<key>`);
export const idempotencyKeyHeader = idempotencyKeySchema;
export { startQuery } from '../lib/http/http';
export const listQuery = z.strictObject({
  status: z.enum(['TERMINATED', 'TIMED_OUT', ...SAGA_STATUSES] as [string, ...string[]]).optional(),
  type: sagaTypeParam.optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  pageToken: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,4096}$/, 'a pageToken from a previous answer')
    .optional(),
});

const links = z.object({ self: z.string(), temporalUi: z.string().url() });
const sagaStatus = z.enum(SAGA_STATUSES as unknown as [string, ...string[]]);
const problem = z.object({ type: z.string(), message: z.string() });

export const sagaStartedResponse = z.object({
  sagaId: z.string(),
  orderId: z.string().optional(),
  sku: z.string().optional(),
  status: sagaStatus,
  links,
});

const planStage = z.object({
  steps: z.array(z.string()).describe('Step names; more than one run in parallel'),
  parallel: z.boolean(),
  kind: z.enum(['compensatable', 'pivot', 'retriable']).describe('pivot: the point of no return'),
  when: z.string().optional().describe('The stage runs only under this condition'),
  status: z.enum(['DONE', 'ACTIVE', 'AHEAD']),
});
const sagaProgressSchema = z.object({
  done: z.number().int().describe('Steps of the plan that succeeded'),
  total: z.number().int().describe('Steps in the plan (a conditional stage passed over is not counted)'),
  stages: z.array(planStage),
  ahead: z.array(planStage).describe('The stages not started yet, while the saga still goes forward'),
  summary: z
    .string()
    .describe('e.g. "2 of 6 done, next: chargePayment ‖ scheduleShipment, then the pivot, then commitStock"'),
});
export const sagaViewResponse = z.object({
  sagaId: z.string(),
  type: z.string(),
  status: sagaStatus
    .or(z.enum(['TERMINATED', 'TIMED_OUT']))
    .or(z.literal('COMPLETING').describe('Running past its pivot: only retriable steps are left, so it will complete')),
  steps: z.array(
    z.object({
      name: z.string(),
      kind: z.string().optional(),
      status: z.string(),
      attempts: z.number().int(),
      error: problem.optional(),
      compensation: z.object({ status: z.string(), attempts: z.number().int(), error: problem.optional() }).optional(),
    }),
  ),
  progress: sagaProgressSchema
    .optional()
    .describe("Where the saga stands against its definition's plan: the steps done and the stages still ahead"),
  result: z.unknown().optional(),
  failure: z.object({ type: z.string(), message: z.string(), step: z.string().optional() }).optional(),
  stuck: z
    .object({
      since: z.string(),
      steps: z.array(z.string()).describe('Every step waiting for an operator'),
      error: problem,
      reason: z.enum(['REJECTED', 'OUTCOME_UNKNOWN', 'COMPENSATION_FAILED']).optional(),
      waits: z
        .array(
          z.object({
            steps: z.array(z.string()),
            phase: z.enum(['forward', 'compensation']),
            reason: z.enum(['REJECTED', 'OUTCOME_UNKNOWN', 'COMPENSATION_FAILED']),
            round: z.number().int(),
            since: z.string(),
            error: problem,
          }),
        )
        .optional()
        .describe('One per stuck episode: each accepts one operator action (name one of its steps, or none for all)'),
    })
    .optional(),
  cancellation: z
    .object({
      requestedAt: z.string(),
      outcome: z.enum(['ACCEPTED', 'DEFERRED', 'REFUSED_PAST_PIVOT', 'REFUSED_COMPENSATING']),
      step: z.string().optional(),
    })
    .optional()
    .describe('What the saga did with a cancellation request (from the API, the Web UI or the CLI)'),
  resolution: z.object({ note: z.string(), operator: z.string().optional(), at: z.string() }).optional(),
  startedAt: z.string(),
  closedAt: z.string().optional(),
  links,
});
export type SagaView = z.infer<typeof sagaViewResponse>;

const legKind = z.enum(LEG_KINDS);
const legSummary = z.object({ count: z.number().int(), totalMs: z.number(), maxMs: z.number() });
/** `GET /sagas/{sagaId}/timeline`: where the saga's time went, read from its history (lib/temporal/saga-timeline.ts). */
export const sagaTimelineResponse = z.object({
  sagaId: z.string(),
  totalMs: z.number().describe('Start to close (or to the last event, while it runs)'),
  closed: z.boolean(),
  events: z.number().int(),
  workflowTasks: z.number().int(),
  activities: z.number().int(),
  localActivities: z.number().int(),
  legs: z.array(
    z.object({
      kind: legKind,
      name: z.string().optional().describe('The activity type, for activity and service legs'),
      atMs: z.number().describe('Offset from the saga start'),
      durationMs: z.number(),
    }),
  ),
  summary: z.object(
    Object.fromEntries(LEG_KINDS.map((k) => [k, legSummary.optional()])) as Record<
      (typeof LEG_KINDS)[number],
      z.ZodOptional<typeof legSummary>
    >,
  ),
});

export const sagaListResponse = z.object({
  sagas: z.array(
    z.object({
      sagaId: z.string(),
      type: z.string(),
      status: z.string(),
      startedAt: z.string(),
      closedAt: z.string().optional(),
      links,
    }),
  ),
  nextPageToken: z.string().optional(),
});

export const actionAcceptedResponse = z.object({
  sagaId: z.string(),
  action: z.enum(['cancel', 'retry-compensation', 'resolve']),
  accepted: z.literal(true),
  outcome: z
    .enum(['ACCEPTED', 'DEFERRED', 'REQUESTED'])
    .optional()
    .describe(
      'cancel only: ACCEPTED (the saga compensates), DEFERRED (a local-activity saga takes it at its next step boundary), REQUESTED (sent; the saga had not answered yet)',
    ),
});

export const errorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

const violationClass = z.enum(VIOLATION_CLASSES);
export const auditReportResponse = z.object({
  auditedAt: z.string().describe('The instant the settle time is measured from (the database clock)'),
  settleMs: z.number().int().describe('Orders younger than this are in flight and not judged'),
  checkedOrders: z.number().int(),
  inFlightOrders: z.number().int(),
  checkedSkus: z.number().int(),
  violations: z.array(
    z.object({
      class: violationClass,
      orderId: z.string().optional(),
      sku: z.string().optional(),
      message: z.string(),
    }),
  ),
  byClass: z.object(
    Object.fromEntries(VIOLATION_CLASSES.map((c) => [c, z.number().int()])) as Record<
      (typeof VIOLATION_CLASSES)[number],
      z.ZodNumber
    >,
  ),
  events: z
    .object({
      drained: z
        .boolean()
        .describe('Every consumer at lag 0 and every outbox empty (false when the API has no NATS_URL)'),
      consumers: z.array(z.object({ stream: z.string(), consumer: z.string(), lag: z.number().int() })),
      checkedCopies: z.number().int().describe('Product-name copies in orders checked against inventory'),
      checkedHistory: z.number().int().describe('Order-history rows checked against the owning services'),
      violations: z.array(
        z.object({
          class: z.enum(EVENT_VIOLATION_CLASSES),
          orderId: z.string().optional(),
          sku: z.string().optional(),
          consumer: z.string().optional(),
          message: z.string(),
        }),
      ),
      byClass: z.object(
        Object.fromEntries(EVENT_VIOLATION_CLASSES.map((c) => [c, z.number().int()])) as Record<
          (typeof EVENT_VIOLATION_CLASSES)[number],
          z.ZodNumber
        >,
      ),
    })
    .describe('The copies kept from events: against their sources, no version ahead, consumer lag, outbox backlog'),
});
export type AuditReportBody = z.infer<typeof auditReportResponse>;

export const healthResponse = z.object({ status: z.enum(['ok', 'unavailable']), temporal: z.string() });

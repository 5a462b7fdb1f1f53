import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestHandler } from 'express';
import type { Client } from '@temporalio/client';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import { SAGA_STATE_MEMO, TERMINAL_STATUSES, type SagaState } from '../shared/saga-types';
import { SAGAS } from '../sagas';
import { sagaTypeOf } from './view';

interface StuckStepCount {
  type: string;
  step: string;
  reason: string;
  pivot: boolean;
  count: number;
}

/** Where the saga gauges come from: Temporal visibility, read at scrape time. */
export class SagaCounts {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  /** Counts sagas by type and status (the SagaType and SagaStatus search attributes). */
  async byStatus(): Promise<{ type: string; status: string; count: number }[]> {
    const out: { type: string; status: string; count: number }[] = [];
    for (const { type } of SAGAS) {
      for (const status of ['RUNNING', 'COMPENSATING', 'STUCK', ...TERMINAL_STATUSES]) {
        const resp = await this.client.workflowService.countWorkflowExecutions({
          namespace: this.namespace,
          query: `${SagaTypeKey.name} = '${type}' AND ${SagaStatusKey.name} = '${status}'`,
        });
        out.push({ type, status, count: Number(resp.count ?? 0) });
      }
    }
    return out;
  }

  /**
   * Every stuck step of the running STUCK sagas (at most `limit` sagas), from their memo (the saga
   * leaves its state there whenever a step joins STUCK): by saga type, step, reason and phase. A
   * pivot whose outcome is unknown shows as reason OUTCOME_UNKNOWN with phase forward.
   */
  async stuckSteps(limit = 1000): Promise<StuckStepCount[]> {
    const counts = new Map<string, StuckStepCount>();
    let seen = 0;
    for await (const wf of this.client.workflow.list({
      query: `${SagaStatusKey.name} = 'STUCK' AND ExecutionStatus = 'Running'`,
      pageSize: 100,
    })) {
      if (++seen > limit) break;
      const state = wf.memo?.[SAGA_STATE_MEMO] as SagaState | undefined;
      const type = state?.type ?? sagaTypeOf(wf.type) ?? wf.type;
      const waits = state?.stuck?.waits ?? [
        { steps: state?.stuck?.steps ?? ['unknown'], reason: state?.stuck?.reason ?? 'UNKNOWN' },
      ];
      for (const w of waits) {
        for (const step of w.steps) {
          const pivot = state?.steps.some((st) => st.name === step && st.kind === 'pivot') ?? false;
          const key = `${type}\u0000${step}\u0000${w.reason}`;
          const c = counts.get(key) ?? { type, step, reason: w.reason, pivot, count: 0 };
          c.count++;
          counts.set(key, c);
        }
      }
    }
    return [...counts.values()];
  }
}

/** The API's Prometheus metrics: requests, sagas started by type, and saga outcomes from Temporal visibility. */
export function createMetrics(sagas: SagaCounts) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'api_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'api_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const started = new Counter({
    name: 'sagas_started_total',
    help: 'Sagas started through the API, by type',
    labelNames: ['type'],
    registers: [registry],
  });
  new Gauge({
    name: 'sagas',
    help: 'Sagas by type and status (SagaStatus search attribute), read from Temporal visibility at scrape time',
    labelNames: ['type', 'status'],
    registers: [registry],
    async collect() {
      try {
        for (const c of await sagas.byStatus()) this.set({ type: c.type, status: c.status }, c.count);
      } catch {
        // Temporal unreachable: /healthz says so; keep the last known values.
      }
    },
  });

  // Both from one listing of the STUCK sagas, at scrape time; the pivot gauge is registered after
  // the one whose collect() fills both, so a scrape shows this listing's values in both.
  const waitingOnPivot = new Gauge({
    name: 'sagas_waiting_on_pivot',
    help: 'Sagas STUCK on a pivot whose outcome is unknown (it ran out of attempts on technical failures; nothing is undone): they need a retry once the service is back, or a resolve',
    labelNames: ['type'],
    registers: [],
  });
  new Gauge({
    name: 'saga_stuck_steps',
    help: 'Steps that STUCK sagas wait on an operator for, by saga type, step and reason (REJECTED, OUTCOME_UNKNOWN, COMPENSATION_FAILED), from their memo at scrape time',
    labelNames: ['type', 'step', 'reason'],
    registers: [registry],
    async collect() {
      try {
        const steps = await sagas.stuckSteps();
        this.reset();
        waitingOnPivot.reset();
        for (const { type, step, reason, pivot, count } of steps) {
          this.inc({ type, step, reason }, count);
          if (pivot && reason === 'OUTCOME_UNKNOWN') waitingOnPivot.inc({ type }, count);
        }
      } catch {
        // Temporal unreachable: keep the last known values.
      }
    },
  });
  registry.registerMetric(waitingOnPivot);

  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      // The route pattern (not the raw path) keeps label cardinality bounded.
      const route = (req.route?.path as string | undefined) ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      end({ method: req.method, route });
    });
    next();
  };
  return { registry, middleware, sagaStarted: (type: string) => started.inc({ type }) };
}

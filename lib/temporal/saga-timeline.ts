/**
 * Where a saga's time went, read from its own workflow history: "why is my saga slow" answered
 * from what Temporal recorded, not from guesses. Used by `GET /sagas/:id/timeline`,
 * `npm run timeline` and the benchmark's per-leg breakdown.
 *
 * Legs (all in milliseconds, from the events' own timestamps):
 * - `workflowTask.scheduleToStart`: a workflow task waiting for a worker (matching, polling);
 * - `workflowTask.startToComplete`: the worker running workflow code (and, in local-activity
 *   mode, the local activities it ran inside that task) plus the server recording the result;
 * - `activity.scheduleToStart`: an activity task waiting for a worker (eager dispatch makes it ~0);
 * - `activity.startToClose`: one activity attempt, from the worker receiving it to the server
 *   recording its result;
 * - `service`: the service's own handling time of the call (its `Server-Timing`, carried in the
 *   activity's result), so `startToClose - service` is network, worker and server overhead.
 *
 * Local activities leave markers, not activity events: their time is inside the workflow task that
 * ran them, and their markers carry workflow time, not wall-clock time, so they add no leg of their
 * own; their `service` legs are still there.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

export type LegKind =
  | 'workflowTask.scheduleToStart'
  | 'workflowTask.startToComplete'
  | 'activity.scheduleToStart'
  | 'activity.startToClose'
  | 'service';

export const LEG_KINDS: LegKind[] = [
  'workflowTask.scheduleToStart',
  'workflowTask.startToComplete',
  'activity.scheduleToStart',
  'activity.startToClose',
  'service',
];

export interface Leg {
  kind: LegKind;
  /** The activity type, for activity and service legs. */
  name?: string;
  /** Offset from the workflow's start, ms. */
  atMs: number;
  durationMs: number;
}

export interface SagaTimeline {
  /** Start to close (or to the last event, while running), ms. */
  totalMs: number;
  closed: boolean;
  events: number;
  workflowTasks: number;
  activities: number;
  localActivities: number;
  legs: Leg[];
  /** Per leg kind: how many, their sum and the largest, ms. */
  summary: Partial<Record<LegKind, { count: number; totalMs: number; maxMs: number }>>;
}

function toMs(ts: Timestamp): number | undefined {
  if (!ts) return undefined;
  const seconds =
    ts.seconds === undefined || ts.seconds === null ? 0 : Number(ts.seconds as number | { toString(): string });
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

/** Numbers kept to 0.01 ms: enough to read, small in JSON. */
const round = (n: number) => Math.round(n * 100) / 100;

function firstPayload(payloads: Payloads): unknown {
  const p = payloads?.payloads?.[0];
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p);
  } catch {
    return undefined;
  }
}

function serviceMsOf(result: unknown): number | undefined {
  const ms = (result as { serviceMs?: unknown } | undefined)?.serviceMs;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : undefined;
}

/** The part of core's local-activity marker data used here (its field names are core's). */
interface LocalActivityMarkerData {
  activity_type?: string;
}

/** Builds the timeline of one workflow history (as `getWorkflowExecutionHistory` or `fetchHistory` returns it). */
export function sagaTimeline(history: { events?: HistoryEvent[] | null }): SagaTimeline {
  const events = history.events ?? [];
  const t0 = toMs(events[0]?.eventTime) ?? 0;
  const legs: Leg[] = [];
  const at = (e: HistoryEvent) => (toMs(e.eventTime) ?? t0) - t0;
  const byId = new Map<string, HistoryEvent>();
  let closed = false;
  let workflowTasks = 0;
  let activities = 0;
  let localActivities = 0;
  const push = (kind: LegKind, atMs: number, durationMs: number, name?: string) =>
    legs.push({ kind, ...(name ? { name } : {}), atMs: round(atMs), durationMs: round(Math.max(0, durationMs)) });

  for (const e of events) {
    const id = String(e.eventId ?? '');
    byId.set(id, e);
    const ref = (eventId: unknown) => byId.get(String(eventId ?? ''));
    if (e.workflowTaskStartedEventAttributes) {
      const scheduled = ref(e.workflowTaskStartedEventAttributes.scheduledEventId);
      if (scheduled) push('workflowTask.scheduleToStart', at(scheduled), at(e) - at(scheduled));
    } else if (e.workflowTaskCompletedEventAttributes) {
      workflowTasks++;
      const started = ref(e.workflowTaskCompletedEventAttributes.startedEventId);
      if (started) push('workflowTask.startToComplete', at(started), at(e) - at(started));
    } else if (e.activityTaskStartedEventAttributes) {
      const scheduled = ref(e.activityTaskStartedEventAttributes.scheduledEventId);
      const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? undefined;
      if (scheduled) push('activity.scheduleToStart', at(scheduled), at(e) - at(scheduled), name);
    } else if (
      e.activityTaskCompletedEventAttributes ||
      e.activityTaskFailedEventAttributes ||
      e.activityTaskTimedOutEventAttributes
    ) {
      activities++;
      const attrs = (e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes)!;
      const scheduled = ref(attrs.scheduledEventId);
      const started = ref((attrs as { startedEventId?: unknown }).startedEventId);
      const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? undefined;
      if (started) push('activity.startToClose', at(started), at(e) - at(started), name);
      const serviceMs = serviceMsOf(firstPayload(e.activityTaskCompletedEventAttributes?.result));
      if (serviceMs !== undefined && started) push('service', at(started), serviceMs, name);
    } else if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
      localActivities++;
      const details = e.markerRecordedEventAttributes.details ?? {};
      const name = (firstPayload(details.data) as LocalActivityMarkerData | undefined)?.activity_type;
      const serviceMs = serviceMsOf(firstPayload(details.result));
      if (serviceMs !== undefined) push('service', at(e), serviceMs, name);
    } else if (
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionCanceledEventAttributes ||
      e.workflowExecutionTerminatedEventAttributes ||
      e.workflowExecutionTimedOutEventAttributes ||
      e.workflowExecutionContinuedAsNewEventAttributes
    ) {
      closed = true;
    }
  }
  const summary: SagaTimeline['summary'] = {};
  for (const l of legs) {
    const s = (summary[l.kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
    s.count++;
    s.totalMs = round(s.totalMs + l.durationMs);
    s.maxMs = Math.max(s.maxMs, l.durationMs);
  }
  const last = events[events.length - 1];
  return {
    totalMs: round(last ? at(last) : 0),
    closed,
    events: events.length,
    workflowTasks,
    activities,
    localActivities,
    legs,
    summary,
  };
}

/** p50 / p95 of each leg kind over many timelines (the benchmark's breakdown). */
export function legPercentiles(
  timelines: SagaTimeline[],
): Partial<Record<LegKind | 'total', { n: number; p50: number; p95: number }>> {
  const values = new Map<LegKind | 'total', number[]>();
  const add = (k: LegKind | 'total', v: number) => (values.get(k) ?? values.set(k, []).get(k)!).push(v);
  for (const t of timelines) {
    add('total', t.totalMs);
    for (const l of t.legs) add(l.kind, l.durationMs);
  }
  const out: Partial<Record<LegKind | 'total', { n: number; p50: number; p95: number }>> = {};
  for (const [k, v] of values) {
    v.sort((a, b) => a - b);
    const pct = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
    out[k] = { n: v.length, p50: round(pct(50)), p95: round(pct(95)) };
  }
  return out;
}

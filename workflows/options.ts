import { proxyActivities, proxyLocalActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { CompensationPolicy, SagaOptions } from './saga';

/** A retry policy in plain milliseconds, so it can travel in a workflow's input. */
export interface RetrySettings {
  initialIntervalMs?: number;
  maximumIntervalMs?: number;
  backoffCoefficient?: number;
  /** 0 = unlimited. */
  maximumAttempts?: number;
}

/**
 * Timing knobs of a saga run. They travel in the workflow input (so replays see the same values)
 * and let tests keep timers short; production callers normally leave them out.
 */
export interface SagaRunOptions {
  /** Start-to-close timeout of one activity attempt (default 10 s). */
  activityTimeoutMs?: number;
  /** Retries of forward steps on technical failures (default: 1 s backoff ×2 up to 30 s, 10 attempts). */
  stepRetry?: RetrySettings;
  /** Retries of compensations (default: 1 s backoff ×2 capped at 60 s, unlimited). */
  compensationRetry?: RetrySettings;
  /** Retries of steps that must eventually succeed (after the pivot; default unlimited, capped at 60 s). */
  retriableRetry?: RetrySettings;
  /** Saga deadline: past it the running step is cancelled and the saga compensates. */
  deadlineMs?: number;
  compensation?: Partial<CompensationPolicy>;
  /**
   * `regular` (default): every call is a Temporal activity task. `local`: the calls run as local
   * activities inside the workflow task (no task-queue round trip per step). Same guarantees here:
   * every call carries its idempotency key, so a call re-run after a worker crash (a local
   * activity whose marker was not recorded yet) is answered from the service's stored response.
   * Trade-off: local activities appear as markers, not activity events, in the history and UI.
   */
  activityMode?: 'regular' | 'local';
  /**
   * The starter set the `SagaType` and `SagaStatus=RUNNING` search attributes in its start options
   * (the API does), so the saga does not upsert them again in its first workflow task. It travels
   * in the input, not read back from the start options, so that runs started before it existed
   * (which did upsert) still replay.
   */
  searchAttributesAtStart?: boolean;
}

export const DEFAULT_STEP_RETRY: Required<RetrySettings> = {
  initialIntervalMs: 1000,
  maximumIntervalMs: 30_000,
  backoffCoefficient: 2,
  maximumAttempts: 10,
};
export const DEFAULT_COMPENSATION_RETRY: Required<RetrySettings> = {
  initialIntervalMs: 1000,
  maximumIntervalMs: 60_000,
  backoffCoefficient: 2,
  maximumAttempts: 0,
};
export const DEFAULT_RETRIABLE_RETRY: Required<RetrySettings> = {
  initialIntervalMs: 1000,
  maximumIntervalMs: 60_000,
  backoffCoefficient: 2,
  maximumAttempts: 0,
};

function retryPolicy(base: Required<RetrySettings>, override: RetrySettings | undefined): RetryPolicy {
  const r = { ...base, ...override };
  return {
    initialInterval: r.initialIntervalMs,
    maximumInterval: Math.max(r.maximumIntervalMs, r.initialIntervalMs),
    backoffCoefficient: r.backoffCoefficient,
    // The SDK expresses "unlimited" as an absent maximumAttempts.
    ...(r.maximumAttempts > 0 ? { maximumAttempts: r.maximumAttempts } : {}),
  };
}

/** Activity options for the three kinds of calls a saga makes. */
export function sagaActivityOptions(opts: SagaRunOptions = {}): {
  forward: ActivityOptions;
  compensation: ActivityOptions;
  retriable: ActivityOptions;
} {
  const startToCloseTimeout = opts.activityTimeoutMs ?? 10_000;
  return {
    forward: { startToCloseTimeout, retry: retryPolicy(DEFAULT_STEP_RETRY, opts.stepRetry) },
    compensation: { startToCloseTimeout, retry: retryPolicy(DEFAULT_COMPENSATION_RETRY, opts.compensationRetry) },
    retriable: { startToCloseTimeout, retry: retryPolicy(DEFAULT_RETRIABLE_RETRY, opts.retriableRetry) },
  };
}

/** The three activity proxies of a saga (forward, compensation, retriable), regular or local. */
export function sagaProxies<A extends object>(opts: SagaRunOptions = {}): { forward: A; undo: A; retriable: A } {
  const o = sagaActivityOptions(opts);
  if (opts.activityMode === 'local') {
    // Retries beyond a second back off with workflow timers instead of holding the workflow task.
    const local = (x: ActivityOptions) =>
      proxyLocalActivities<A>({
        startToCloseTimeout: x.startToCloseTimeout!,
        retry: x.retry,
        localRetryThreshold: 1000,
      }) as unknown as A;
    return { forward: local(o.forward), undo: local(o.compensation), retriable: local(o.retriable) };
  }
  const regular = (x: ActivityOptions) => proxyActivities<A>(x) as unknown as A;
  return { forward: regular(o.forward), undo: regular(o.compensation), retriable: regular(o.retriable) };
}

/**
 * What the saga runtime takes from a run's options (deadline, compensation policy, search attributes
 * set at start, local activities): the one mapping every saga workflow uses.
 */
export function sagaOptionsFrom(
  options: SagaRunOptions = {},
): Pick<SagaOptions, 'deadlineMs' | 'compensation' | 'searchAttributesAtStart' | 'localActivities'> {
  return {
    deadlineMs: options.deadlineMs,
    compensation: options.compensation,
    searchAttributesAtStart: options.searchAttributesAtStart,
    localActivities: options.activityMode === 'local',
  };
}

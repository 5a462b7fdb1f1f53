import {
  patched,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import { PATCHES_UP_FRONT, type CompensationPolicy, type SagaOptions } from './saga';

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
  /** Retries of forward steps on technical failures (default: 1 s backoff ×2 up to 5 s, 20 attempts: about 90 s). */
  stepRetry?: RetrySettings;
  /** Retries of compensations (default: 1 s backoff ×2 capped at 5 s, unlimited). */
  compensationRetry?: RetrySettings;
  /** Retries of steps that must eventually succeed (after the pivot; default unlimited, capped at 5 s). */
  retriableRetry?: RetrySettings;
  /**
   * Retries of the pivot on technical failures (default: as stepRetry's, 20 attempts; 0 = unlimited).
   * A pivot that runs out of them may have landed: the saga goes STUCK on it (OUTCOME_UNKNOWN) and
   * undoes nothing; only a business rejection of the pivot compensates the steps before it.
   */
  pivotRetry?: RetrySettings;
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

/**
 * The back-off of every call is capped at RETRY_CAP_MS: a service call that fails during an outage
 * tries again within seconds of the service's return, so the backlog drains in seconds, not in
 * the minutes an exponential back-off reaches (issue 19: 170 s to settle after a chaos run with a
 * 30–60 s cap). The service's own failure answers add jitter to each pause
 * (activities/http-client.ts: jitteredRetryDelayMs), so the sagas an outage stopped together do
 * not come back in waves. The step budget keeps about the time it had (20 attempts ≈ 90 s of waits).
 */
export const RETRY_CAP_MS = 5000;

export const DEFAULT_STEP_RETRY: Required<RetrySettings> = {
  initialIntervalMs: 1000,
  maximumIntervalMs: RETRY_CAP_MS,
  backoffCoefficient: 2,
  maximumAttempts: 20,
};
export const DEFAULT_COMPENSATION_RETRY: Required<RetrySettings> = {
  initialIntervalMs: 1000,
  maximumIntervalMs: RETRY_CAP_MS,
  backoffCoefficient: 2,
  maximumAttempts: 0,
};
export const DEFAULT_PIVOT_RETRY: Required<RetrySettings> = { ...DEFAULT_STEP_RETRY };
export const DEFAULT_RETRIABLE_RETRY: Required<RetrySettings> = {
  initialIntervalMs: 1000,
  maximumIntervalMs: RETRY_CAP_MS,
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

/** Activity options for the four kinds of calls a saga makes. */
export function sagaActivityOptions(opts: SagaRunOptions = {}): {
  forward: ActivityOptions;
  compensation: ActivityOptions;
  retriable: ActivityOptions;
  pivot: ActivityOptions;
} {
  const startToCloseTimeout = opts.activityTimeoutMs ?? 10_000;
  return {
    forward: { startToCloseTimeout, retry: retryPolicy(DEFAULT_STEP_RETRY, opts.stepRetry) },
    compensation: { startToCloseTimeout, retry: retryPolicy(DEFAULT_COMPENSATION_RETRY, opts.compensationRetry) },
    retriable: { startToCloseTimeout, retry: retryPolicy(DEFAULT_RETRIABLE_RETRY, opts.retriableRetry) },
    pivot: { startToCloseTimeout, retry: retryPolicy(DEFAULT_PIVOT_RETRY, opts.pivotRetry ?? opts.stepRetry) },
  };
}

/**
 * Patch ID of the change that bounds a local-activity saga's history: a local call whose retries
 * are unlimited gets LOCAL_ATTEMPTS_BEFORE_REGULAR attempts as a local activity, then goes on as a
 * regular activity, which the server retries without a history event per attempt.
 */
export const BOUNDED_LOCAL_RETRIES = 'bounded-local-retries';
/** Local attempts of an unlimited local call before it becomes a regular activity (at most one backoff timer). */
export const LOCAL_ATTEMPTS_BEFORE_REGULAR = 3;

/** The four activity proxies of a saga (forward, compensation, retriable, pivot), regular or local. */
export function sagaProxies<A extends object>(
  opts: SagaRunOptions = {},
): { forward: A; undo: A; retriable: A; pivot: A } {
  const o = sagaActivityOptions(opts);
  const regular = (x: ActivityOptions) => proxyActivities<A>(x) as unknown as A;
  if (opts.activityMode === 'local') {
    // the marker in the first task, wherever the first unlimited call comes (see askPatchesUpFront)
    if (patched(PATCHES_UP_FRONT)) patched(BOUNDED_LOCAL_RETRIES);
    // Retries beyond a second back off with workflow timers instead of holding the workflow task.
    const local = (x: ActivityOptions) =>
      proxyLocalActivities<A>({
        startToCloseTimeout: x.startToCloseTimeout!,
        retry: x.retry,
        localRetryThreshold: 1000,
      }) as unknown as A;
    // Each backoff past a second is a workflow timer (about five events): with unlimited retries a
    // saga waiting on a service that stays down would grow its history until the server terminates
    // it. Those calls fall back to a regular activity after a few local attempts instead.
    const unlimited = (x: ActivityOptions) =>
      x.retry?.maximumAttempts === undefined
        ? boundedLocal<A>(
            local(x),
            local({ ...x, retry: { ...x.retry, maximumAttempts: LOCAL_ATTEMPTS_BEFORE_REGULAR } }),
            regular(x),
          )
        : local(x);
    return {
      forward: local(o.forward),
      undo: unlimited(o.compensation),
      retriable: unlimited(o.retriable),
      pivot: unlimited(o.pivot),
    };
  }
  return {
    forward: regular(o.forward),
    undo: regular(o.compensation),
    retriable: regular(o.retriable),
    pivot: regular(o.pivot),
  };
}

/** A failure that is a business rejection (non-retryable ApplicationFailure) or a cancellation: not worth a regular retry. */
function finalFailure(err: unknown): boolean {
  let cur = err as { nonRetryable?: unknown; cause?: unknown; name?: string } | undefined;
  for (let depth = 0; cur && depth < 4; depth++) {
    if (cur.nonRetryable === true || cur.name === 'CancelledFailure') return true;
    cur = cur.cause as typeof cur;
  }
  return false;
}

/**
 * Local first, then regular (see BOUNDED_LOCAL_RETRIES): runs started before the change keep the
 * unlimited local calls on replay. The attempt a result reports counts the local attempts too.
 */
function boundedLocal<A extends object>(unlimitedLocal: A, firstAttempts: A, thenRegular: A): A {
  type Fn = (...args: unknown[]) => Promise<unknown>;
  const call = (proxy: A, name: string) => (proxy as unknown as Record<string, Fn>)[name]!;
  return new Proxy({} as A, {
    get(_target, name) {
      if (typeof name !== 'string') return undefined;
      return async (...args: unknown[]) => {
        if (!patched(BOUNDED_LOCAL_RETRIES)) return call(unlimitedLocal, name)(...args);
        try {
          return await call(firstAttempts, name)(...args);
        } catch (err) {
          if (finalFailure(err)) throw err;
          const out = (await call(thenRegular, name)(...args)) as { attempt?: number } | undefined;
          return out && typeof out.attempt === 'number'
            ? { ...out, attempt: out.attempt + LOCAL_ATTEMPTS_BEFORE_REGULAR }
            : out;
        }
      };
    },
  });
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

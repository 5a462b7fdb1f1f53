import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import type { CompensationPolicy } from './saga';

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
}

export const DEFAULT_STEP_RETRY: Required<RetrySettings> = { initialIntervalMs: 1000, maximumIntervalMs: 30_000, backoffCoefficient: 2, maximumAttempts: 10 };
export const DEFAULT_COMPENSATION_RETRY: Required<RetrySettings> = { initialIntervalMs: 1000, maximumIntervalMs: 60_000, backoffCoefficient: 2, maximumAttempts: 0 };
export const DEFAULT_RETRIABLE_RETRY: Required<RetrySettings> = { initialIntervalMs: 1000, maximumIntervalMs: 60_000, backoffCoefficient: 2, maximumAttempts: 0 };

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
export function sagaActivityOptions(opts: SagaRunOptions = {}): { forward: ActivityOptions; compensation: ActivityOptions; retriable: ActivityOptions } {
  const startToCloseTimeout = opts.activityTimeoutMs ?? 10_000;
  return {
    forward: { startToCloseTimeout, retry: retryPolicy(DEFAULT_STEP_RETRY, opts.stepRetry) },
    compensation: { startToCloseTimeout, retry: retryPolicy(DEFAULT_COMPENSATION_RETRY, opts.compensationRetry) },
    retriable: { startToCloseTimeout, retry: retryPolicy(DEFAULT_RETRIABLE_RETRY, opts.retriableRetry) },
  };
}

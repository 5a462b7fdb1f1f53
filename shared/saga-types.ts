/** Types of the saga runtime's visible state, shared by workflows, the API and tests (no runtime deps). */

export type SagaStatus =
  'RUNNING' | 'COMPLETED' | 'COMPENSATING' | 'COMPENSATED' | 'CANCELLED' | 'STUCK' | 'RESOLVED_MANUALLY';
export const SAGA_STATUSES: readonly SagaStatus[] = [
  'RUNNING',
  'COMPLETED',
  'COMPENSATING',
  'COMPENSATED',
  'CANCELLED',
  'STUCK',
  'RESOLVED_MANUALLY',
];
export const TERMINAL_STATUSES: readonly SagaStatus[] = ['COMPLETED', 'COMPENSATED', 'CANCELLED', 'RESOLVED_MANUALLY'];

export type StepKind = 'compensatable' | 'pivot' | 'retriable';
/** RETRYING: an operator's retry is re-running this step, which was stuck (see SagaState.stuck). */
export type StepStatus = 'RUNNING' | 'RETRYING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export type CompensationStatus = 'COMPENSATING' | 'COMPENSATED' | 'FAILED' | 'NOT_NEEDED' | 'RESOLVED_MANUALLY';

export interface FailureInfo {
  type: string;
  message: string;
  step?: string;
  attempt?: number;
}

export interface CompensationState {
  status: CompensationStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: { type: string; message: string };
}

export interface StepState {
  name: string;
  kind: StepKind;
  status: StepStatus;
  attempts: number;
  startedAt: string;
  finishedAt?: string;
  error?: { type: string; message: string };
  compensation?: CompensationState;
}

export interface SagaState {
  sagaId: string;
  type: string;
  status: SagaStatus;
  steps: StepState[];
  result?: unknown;
  failure?: FailureInfo;
  startedAt: string;
  closedAt?: string;
  /**
   * Present while the saga is STUCK: every step that waits for an operator (`steps`), and one wait
   * per stuck episode (`waits`); `since`, `round`, `error` and `reason` are the first wait's.
   */
  stuck?: {
    since: string;
    round: number;
    steps: string[];
    error: { type: string; message: string };
    reason?: StuckReason;
    waits?: StuckWait[];
  };
  resolution?: { note: string; operator?: string; at: string; steps: string[] };
  /** What the saga did with a cancellation request (Temporal's: from the API, the Web UI or the CLI). */
  cancellation?: CancellationRecord;
}

/**
 * Why a step waits for an operator. REJECTED: the service refused a step that cannot be
 * compensated (a pivot's rejection compensates instead; a retriable step's goes STUCK).
 * OUTCOME_UNKNOWN: a pivot or retriable step ran out of attempts on technical failures, so it may
 * have landed: nothing is undone, and a retry re-sends it with the same idempotency key.
 * COMPENSATION_FAILED: compensations ran out of attempts.
 */
export type StuckReason = 'REJECTED' | 'OUTCOME_UNKNOWN' | 'COMPENSATION_FAILED';

/** One stuck episode: a forward step (one name) or a round of failed compensations, waiting for one operator action. */
export interface StuckWait {
  steps: string[];
  phase: 'forward' | 'compensation';
  reason: StuckReason;
  round: number;
  since: string;
  error: { type: string; message: string };
}

/**
 * ACCEPTED: the saga stops going forward and compensates. DEFERRED: local-activity mode, taken at
 * the next step boundary once what ran is known (see Saga.onStopRequested). REFUSED_PAST_PIVOT: the
 * pivot had started; nothing changes, the saga goes on. REFUSED_COMPENSATING: it was compensating already.
 */
export type CancellationOutcome = 'ACCEPTED' | 'DEFERRED' | 'REFUSED_PAST_PIVOT' | 'REFUSED_COMPENSATING';

export interface CancellationRecord {
  requestedAt: string;
  outcome: CancellationOutcome;
  /** For REFUSED_PAST_PIVOT: the pivot. */
  step?: string;
}

/** `type`s of the ApplicationFailures a saga workflow ends with (details[0] is the final SagaState). */
export const SagaFailureTypes = {
  COMPENSATED: 'SagaCompensated',
  RESOLVED_MANUALLY: 'SagaResolvedManually',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  CANCELLED: 'CANCELLED',
} as const;

/** Memo key under which a finished saga leaves its final state (readable with no worker running). */
export const SAGA_STATE_MEMO = 'sagaState';

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
export type StepStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
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
  stuck?: { since: string; round: number; steps: string[]; error: { type: string; message: string } };
  resolution?: { note: string; operator?: string; at: string; steps: string[] };
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

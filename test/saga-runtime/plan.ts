/** What a runtime test saga runs and how its fake activities behave (shared by the workflow, the fakes and the test). */
import type { Attempted } from '../../shared/attempted';
import type { StepKind } from '../../shared/saga-types';
import type { SagaRunOptions } from '../../workflows/options';

/**
 * How one fake call behaves: it waits `delayMs` (or, with `hang`, until it is cancelled), then fails
 * when its round is below `rounds` (every round if absent) and its attempt is at most `attempts`
 * (every attempt if absent): `reject` as a business rule does (non-retryable: nothing landed),
 * `break` as an outage does (retried until the budget is spent). No cue: it succeeds at once.
 * With `lands`, a `break` is a lost answer: the call's effect landed (once: the fakes are idempotent,
 * as the services are), then the caller saw a timeout.
 */
export interface Cue {
  fail?: 'reject' | 'break';
  lands?: boolean;
  rounds?: number;
  attempts?: number;
  delayMs?: number;
  hang?: boolean;
}

export interface PlannedStep {
  name: string;
  kind?: StepKind;
  forward?: Cue;
  /** The step's compensation (compensatable steps only). */
  undo?: Cue;
}

export interface RuntimePlan {
  /** In order; an array is a parallel group. */
  steps: (PlannedStep | PlannedStep[])[];
  options: SagaRunOptions;
}

export interface FakeCall {
  name: string;
  round: number;
  cue?: Cue;
}

export interface FakeActivities {
  fakeStep(call: FakeCall): Promise<Attempted<string>>;
  fakeCompensation(call: FakeCall): Promise<Attempted<string>>;
}

/** The `type` of a fake's business rejection and of its outage. */
export const REJECTED = 'REJECTED';
export const OUTAGE = 'OUTAGE';

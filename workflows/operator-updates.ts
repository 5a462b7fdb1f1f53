import { defineUpdate } from '@temporalio/workflow';
import { ErrorCodes } from '../lib/errors';

/**
 * Operator actions on a STUCK saga as Temporal Updates (the API's path; the older signals
 * `retryCompensation` / `resolveManually` stay for histories and direct callers). An Update has a
 * validator and an answer, so of several concurrent actions on one stuck episode exactly one is accepted and the
 * others are rejected with `SAGA_NOT_STUCK`, instead of every caller hearing "accepted".
 */
export const retryStuckCompensationUpdate = defineUpdate<void, [OperatorTarget]>('retryStuckCompensation');
export const resolveStuckSagaUpdate = defineUpdate<void, [{ note: string; operator?: string } & OperatorTarget]>(
  'resolveStuckSaga',
);

/**
 * Which stuck step an action is for: without `step`, every stuck step (each stuck episode of the
 * saga takes it); with it, the episode that lists that step (a forward step, or a round of failed
 * compensations that includes it).
 */
export interface OperatorTarget {
  step?: string;
}

/** The `type` of the ApplicationFailure a rejected operator Update fails with. */
export const SAGA_NOT_STUCK = ErrorCodes.SAGA_NOT_STUCK;

import { defineUpdate } from '@temporalio/workflow';
import { ErrorCodes } from '../lib/errors';

/**
 * Operator actions on a STUCK saga as Temporal Updates (the API's path; the older signals
 * `retryCompensation` / `resolveManually` stay for histories and direct callers). An Update has a
 * validator and an answer, so of several concurrent actions exactly one is accepted and the
 * others are rejected with `SAGA_NOT_STUCK`, instead of every caller hearing "accepted".
 */
export const retryStuckCompensationUpdate = defineUpdate<void>('retryStuckCompensation');
export const resolveStuckSagaUpdate = defineUpdate<void, [{ note: string; operator?: string }]>('resolveStuckSaga');

/** The `type` of the ApplicationFailure a rejected operator Update fails with. */
export const SAGA_NOT_STUCK = ErrorCodes.SAGA_NOT_STUCK;

import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { SAGA_STATE_MEMO, type SagaState } from '../../shared/saga-types';

/** True for a value shaped like the runtime's SagaState (what a saga returns, throws with, or leaves in its memo). */
export function isSagaState(value: unknown): value is SagaState {
  const v = value as Partial<SagaState> | null | undefined;
  return typeof v?.sagaId === 'string' && typeof v.status === 'string' && Array.isArray(v.steps);
}

/**
 * The final SagaState a saga ended with, read from how it ended (no query, so no worker needs to
 * run), whichever way it ends:
 * - its result, when the workflow returns the state (a fully compensated saga ending Completed);
 * - `details[0]` of the failure it ended with (ApplicationFailure `SagaCompensated` /
 *   `SagaResolvedManually`);
 * - else the memo the saga leaves its final state in: a cancelled workflow closes as Canceled and
 *   Temporal keeps no details of the CancelledFailure it threw, and a completed saga returns its
 *   own result.
 */
export async function sagaOutcome(handle: WorkflowHandle): Promise<SagaState> {
  try {
    const result = await handle.result();
    if (isSagaState(result)) return result;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const details = (err.cause as { details?: unknown[] } | undefined)?.details;
    if (isSagaState(details?.[0])) return details[0];
  }
  const memo = (await handle.describe()).memo?.[SAGA_STATE_MEMO];
  if (isSagaState(memo)) return memo;
  throw new Error(`Saga ${handle.workflowId} ended without a SagaState in its result, its failure or its memo`);
}

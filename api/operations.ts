/**
 * What an operator (or a client) does to a saga that runs: cancel it while it can still be
 * cancelled, and act on a STUCK one (retry its compensation, resolve it by hand).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { AppError } from '../lib/errors';
import { SagaStatusKey } from '../shared/search-attributes';
import { TERMINAL_STATUSES, type CancellationOutcome } from '../shared/saga-types';
import { SAGA_NOT_STUCK, resolveStuckSagaUpdate, retryStuckCompensationUpdate } from '../workflows/operator-updates';
import { ApiErrors } from './errors';
import { isUpdateNotTakenInTime, isWorkflowNotFound, updateFailure } from './temporal-errors';
import { withTimeout } from './timeout';
import type { SagaReader } from './view';

/** How long an operator action waits for a worker to take its Update before answering 503. */
const OPERATOR_DEADLINE_MS = 10_000;
/** How long a cancel waits to read what the saga did with it before answering 202 REQUESTED. */
const CANCEL_OUTCOME_WAIT_MS = 3000;
/** How often a cancel reads the saga's state while it waits for the outcome. */
const CANCEL_POLL_MS = 50;
/** The saga's clock (the workflow task's time) may lag the API's by this much. */
const CLOCK_SKEW_MS = 2000;

/** Cancels sagas and runs the operator actions on STUCK ones. */
export class SagaOperations {
  constructor(
    private readonly client: Client,
    private readonly reader: Pick<SagaReader, 'queryState' | 'stateOf'>,
  ) {}

  private async describeOr404(sagaId: string) {
    const handle = this.client.workflow.getHandle(sagaId);
    try {
      return { handle, desc: await handle.describe() };
    } catch (err) {
      if (isWorkflowNotFound(err)) throw new AppError(404, ApiErrors.SAGA_NOT_FOUND, `No saga ${sagaId}`);
      throw err;
    }
  }

  /**
   * Cancels a saga that can still be cancelled: running, not compensating, not STUCK, and not past
   * its point of no return (a pivot or retriable step has started: PlaceOrder's confirmOrder). 409
   * otherwise, naming the saga's status; 409 SAGA_STATE_UNKNOWN when no worker tells the saga's
   * state (cancelling blind could cut short a saga that had already passed its pivot). Once sent, the
   * answer is what the saga did with it (its `cancellation`): a cancellation that raced the pivot
   * and lost is a 409 too, since the saga goes on and completes.
   */
  async cancel(sagaId: string): Promise<{ outcome: CancellationOutcome | 'REQUESTED' }> {
    const { handle, desc } = await this.describeOr404(sagaId);
    if (desc.status.name !== 'RUNNING') {
      const state = await this.reader.stateOf(handle, desc);
      throw new AppError(409, ApiErrors.SAGA_CLOSED, `Saga ${sagaId} has already ended (${state.status})`);
    }
    const state = await this.reader.queryState(handle);
    if (!state) {
      throw new AppError(
        409,
        ApiErrors.SAGA_STATE_UNKNOWN,
        `Saga ${sagaId}: no worker answered with its state, so whether it passed its point of no return is unknown; nothing was cancelled, retry once its workers run`,
      );
    }
    if (state.status === 'STUCK') {
      throw new AppError(
        409,
        ApiErrors.SAGA_NOT_CANCELLABLE,
        `Saga ${sagaId} is STUCK: cancelling cannot compensate it; use retry-compensation or resolve`,
      );
    }
    if (state.status === 'COMPENSATING') {
      throw new AppError(
        409,
        ApiErrors.SAGA_NOT_CANCELLABLE,
        `Saga ${sagaId} is COMPENSATING already: it will end COMPENSATED (or STUCK)`,
      );
    }
    const pastPivot = state.steps.find((st) => st.kind !== 'compensatable' && st.status !== 'FAILED');
    if (pastPivot) {
      throw new AppError(
        409,
        ApiErrors.SAGA_NOT_CANCELLABLE,
        `Saga ${sagaId} is ${state.status} past its point of no return (${pastPivot.name}): it can no longer be cancelled`,
      );
    }
    const sentAt = Date.now();
    await handle.cancel();
    // What the saga did with it: it records the request as soon as a worker delivers it.
    const deadline = sentAt + CANCEL_OUTCOME_WAIT_MS;
    while (Date.now() < deadline) {
      const now = await this.reader.queryState(handle, Math.max(1, deadline - Date.now()));
      const c = now?.cancellation;
      if (c && Date.parse(c.requestedAt) >= sentAt - CLOCK_SKEW_MS) {
        if (c.outcome === 'REFUSED_PAST_PIVOT' || c.outcome === 'REFUSED_COMPENSATING') {
          throw new AppError(
            409,
            ApiErrors.SAGA_NOT_CANCELLABLE,
            c.outcome === 'REFUSED_PAST_PIVOT'
              ? `Saga ${sagaId} passed its point of no return (${c.step ?? 'its pivot'}) before the cancellation reached it: it goes on and will complete`
              : `Saga ${sagaId} was compensating already when the cancellation reached it`,
          );
        }
        return { outcome: c.outcome };
      }
      if (now && TERMINAL_STATUSES.includes(now.status)) break;
      await sleep(CANCEL_POLL_MS);
    }
    return { outcome: 'REQUESTED' };
  }

  /**
   * An operator action on a STUCK saga, as a Temporal Update: the workflow's validator accepts only
   * the first action on a STUCK saga, so of concurrent calls exactly one is answered 202 and the
   * others 409 SAGA_NOT_STUCK. 503 when no worker takes the Update within OPERATOR_DEADLINE_MS.
   */
  async operate(
    sagaId: string,
    action: 'retry-compensation' | 'resolve',
    input: { note?: string; operator?: string; step?: string } = {},
  ): Promise<void> {
    const { handle, desc } = await this.describeOr404(sagaId);
    const notStuck = async (d: WorkflowExecutionDescription) => {
      const status =
        d.status.name === 'RUNNING'
          ? (d.typedSearchAttributes.get(SagaStatusKey) ?? 'RUNNING')
          : (await this.reader.stateOf(handle, d)).status;
      return new AppError(409, ApiErrors.SAGA_NOT_STUCK, `Saga ${sagaId} is ${status}, not STUCK`);
    };
    if (desc.status.name !== 'RUNNING' || desc.typedSearchAttributes.get(SagaStatusKey) !== 'STUCK')
      throw await notStuck(desc);
    const noWorker = () =>
      new AppError(
        503,
        ApiErrors.NO_WORKER,
        `No worker took the ${action} of saga ${sagaId} within ${OPERATOR_DEADLINE_MS} ms; retry later`,
      );
    let taken: true | undefined;
    try {
      taken = await withTimeout(OPERATOR_DEADLINE_MS, (signal) =>
        this.client.withAbortSignal(signal, async () => {
          if (action === 'resolve') {
            await handle.executeUpdate(resolveStuckSagaUpdate, {
              args: [
                {
                  note: input.note ?? '',
                  ...(input.operator !== undefined ? { operator: input.operator } : {}),
                  ...(input.step !== undefined ? { step: input.step } : {}),
                },
              ],
            });
          } else {
            await handle.executeUpdate(retryStuckCompensationUpdate, {
              args: [input.step !== undefined ? { step: input.step } : {}],
            });
          }
          return true as const;
        }),
      );
    } catch (err) {
      const failed = updateFailure(err);
      if (failed?.type === SAGA_NOT_STUCK) {
        throw new AppError(409, ApiErrors.SAGA_NOT_STUCK, failed.message);
      }
      // it closed between the describe and the Update (another operator's action ended it)
      if (isWorkflowNotFound(err)) throw await notStuck(await handle.describe());
      if (isUpdateNotTakenInTime(err)) throw noWorker();
      throw err;
    }
    if (!taken) throw noWorker();
  }
}

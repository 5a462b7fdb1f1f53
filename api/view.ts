/**
 * Reading a saga: its view (GET /sagas/{id}, and the answer of a waited-for start), the state the
 * cancel and operator actions decide on, and its timeline (GET /sagas/{id}/timeline).
 */
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import { SAGA_STATE_MEMO, TERMINAL_STATUSES, type SagaState, type SagaStatus } from '../shared/saga-types';
import { sagaByType, sagaByWorkflowType } from '../sagas';
import { sagaProgress } from '../sagas/plan';
import { sagaTimeline, type SagaTimeline } from '../lib/temporal/saga-timeline';
import { sagaStateQuery } from '../workflows/saga';
import type { SagaApiOptions } from './options';
import type { SagaView } from './schemas';
import { isWorkflowNotFound } from './temporal-errors';
import { withTimeout } from './timeout';

/** How long the API waits for a worker to answer the `sagaState` query. */
const QUERY_WAIT_MS = 3000;

/** The saga type of a workflow type, for workflows that lack the SagaType search attribute. */
export const sagaTypeOf = (workflowType: string | undefined) =>
  workflowType ? (sagaByWorkflowType(workflowType)?.type ?? workflowType) : undefined;

/**
 * A running step's retries happen on the server, out of the workflow's sight (a pivot retried
 * without limit, a compensation): its attempts so far and last failure come from the workflow's
 * pending activity of the same name.
 */
function withPendingAttempts(state: SagaState, desc: WorkflowExecutionDescription): SagaState {
  const pending = desc.raw.pendingActivities ?? [];
  if (pending.length === 0) return state;
  const steps = state.steps.map((st) => {
    const act = pending.find((p) => p.activityType?.name === st.name);
    if (!act || (st.status !== 'RUNNING' && st.status !== 'RETRYING')) return st;
    const attempt = Number(act.attempt ?? 0);
    const lastError = act.lastFailure?.message;
    return {
      ...st,
      attempts: Math.max(st.attempts, attempt),
      ...(lastError && !st.error
        ? { error: { type: act.lastFailure?.applicationFailureInfo?.type ?? 'RETRYING', message: lastError } }
        : {}),
    };
  });
  return { ...state, steps };
}

/** Reads sagas: their state, their view and their timeline. */
export class SagaReader {
  constructor(
    private readonly client: Client,
    private readonly opts: Pick<SagaApiOptions, 'namespace' | 'temporalUiUrl'>,
  ) {}

  links(sagaId: string) {
    return {
      self: `/sagas/${encodeURIComponent(sagaId)}`,
      temporalUi: `${this.opts.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(this.opts.namespace)}/workflows/${encodeURIComponent(sagaId)}`,
    };
  }

  /**
   * The saga view: from the `sagaState` query while it runs (falling back to the memo when no
   * worker answers), and from the final state the saga left in its memo once closed, so it works
   * with no worker running.
   */
  async view(sagaId: string): Promise<SagaView | undefined> {
    const handle = this.client.workflow.getHandle(sagaId);
    let desc;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (isWorkflowNotFound(err)) return undefined;
      throw err;
    }
    return this.toView(withPendingAttempts(await this.stateOf(handle, desc), desc));
  }

  /** The running saga's own answer to its state query, or undefined when no worker answered within `ms`. */
  async queryState(handle: WorkflowHandle, ms = QUERY_WAIT_MS): Promise<SagaState | undefined> {
    return withTimeout(ms, (signal) =>
      this.client.withAbortSignal(signal, () => handle.query(sagaStateQuery)).catch(() => undefined),
    );
  }

  /** The saga's state (see `view`) from a describe answer. */
  async stateOf(handle: WorkflowHandle, desc: WorkflowExecutionDescription): Promise<SagaState> {
    const sagaId = handle.workflowId;
    const memoState = desc.memo?.[SAGA_STATE_MEMO] as SagaState | undefined;
    const type = desc.typedSearchAttributes.get(SagaTypeKey) ?? sagaTypeOf(desc.type) ?? desc.type;
    let state: SagaState | undefined;
    if (desc.status.name === 'RUNNING') {
      state = await this.queryState(handle);
      state ??= memoState;
    } else if (memoState && (TERMINAL_STATUSES as string[]).includes(memoState.status)) {
      state = memoState;
    }
    if (!state) {
      // No worker answered, or the workflow was closed from outside (terminated, timed out).
      const closedStatus =
        desc.status.name === 'TERMINATED' ? 'TERMINATED' : desc.status.name === 'TIMED_OUT' ? 'TIMED_OUT' : undefined;
      state = {
        sagaId,
        type,
        status: (closedStatus ?? desc.typedSearchAttributes.get(SagaStatusKey) ?? 'RUNNING') as SagaStatus,
        steps: [],
        startedAt: desc.startTime.toISOString(),
        ...(desc.closeTime ? { closedAt: desc.closeTime.toISOString() } : {}),
        ...(closedStatus
          ? {
              failure: {
                type: closedStatus,
                message: `The workflow was ${closedStatus.toLowerCase().replace('_', ' ')} outside the saga`,
              },
            }
          : {}),
      };
    }
    return state;
  }

  toView(state: SagaState): SagaView {
    // Past its pivot a running saga only has retriable steps left: it will complete (see docs/runtime.md).
    const completing =
      state.status === 'RUNNING' && state.steps.some((s) => s.kind === 'pivot' && s.status === 'SUCCEEDED');
    const plan = sagaByType(state.type)?.plan;
    return {
      sagaId: state.sagaId,
      type: state.type,
      status: completing ? 'COMPLETING' : state.status,
      steps: state.steps.map((s) => ({
        name: s.name,
        kind: s.kind,
        status: s.status,
        attempts: s.attempts,
        ...(s.error ? { error: s.error } : {}),
        ...(s.compensation
          ? {
              compensation: {
                status: s.compensation.status,
                attempts: s.compensation.attempts,
                ...(s.compensation.error ? { error: s.compensation.error } : {}),
              },
            }
          : {}),
      })),
      ...(plan && state.steps.length > 0 ? { progress: sagaProgress(plan, state) } : {}),
      ...(state.result !== undefined ? { result: state.result } : {}),
      ...(state.failure ? { failure: state.failure } : {}),
      ...(state.stuck
        ? {
            stuck: {
              since: state.stuck.since,
              steps: state.stuck.steps,
              error: state.stuck.error,
              ...(state.stuck.reason ? { reason: state.stuck.reason } : {}),
              ...(state.stuck.waits ? { waits: state.stuck.waits } : {}),
            },
          }
        : {}),
      ...(state.cancellation ? { cancellation: state.cancellation } : {}),
      ...(state.resolution
        ? { resolution: { note: state.resolution.note, operator: state.resolution.operator, at: state.resolution.at } }
        : {}),
      startedAt: state.startedAt,
      ...(state.closedAt ? { closedAt: state.closedAt } : {}),
      links: this.links(state.sagaId),
    };
  }

  /** Where the saga's time went, from its history (undefined when there is no such saga). */
  async timeline(sagaId: string): Promise<(SagaTimeline & { sagaId: string }) | undefined> {
    try {
      const history = await this.client.workflow.getHandle(sagaId).fetchHistory();
      return { sagaId, ...sagaTimeline(history) };
    } catch (err) {
      // fetchHistory passes the service's own error through (a raw NOT_FOUND)
      if (isWorkflowNotFound(err)) return undefined;
      throw err;
    }
  }
}

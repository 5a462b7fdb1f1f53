import { randomUUID, timingSafeEqual } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AppError, ErrorCodes } from '../lib/errors';
import { requestHash } from '../lib/idempotency';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import {
  SAGA_STATE_MEMO,
  TERMINAL_STATUSES,
  type CancellationOutcome,
  type SagaState,
  type SagaStatus,
} from '../shared/saga-types';
import { SAGAS, sagaByWorkflowType, type SagaDefinition } from '../sagas';
import { workflowIdPolicies, type StartContext } from '../sagas/definition';
import type { SagaRunOptions } from '../workflows/options';
import type { SagaView } from './schemas';
import { sealCardNumber } from '../lib/card-token';
import { sagaTimeline, type SagaTimeline } from '../lib/saga-timeline';
import { sagaDecidedUpdate, sagaStateQuery } from '../workflows/saga';
import { SAGA_NOT_STUCK, resolveStuckSagaUpdate, retryStuckCompensationUpdate } from '../workflows/operator-updates';
import { deriveKey, keyedDigest } from '../lib/keyed-hash';

export const ApiErrors = {
  SAGA_NOT_FOUND: 'SAGA_NOT_FOUND',
  /** POST /sagas/{type} with a type the registry does not have. */
  SAGA_TYPE_NOT_FOUND: 'SAGA_TYPE_NOT_FOUND',
  SAGA_NOT_STUCK: ErrorCodes.SAGA_NOT_STUCK,
  SAGA_CLOSED: 'SAGA_CLOSED',
  IDEMPOTENCY_KEY_REUSED: ErrorCodes.IDEMPOTENCY_KEY_REUSED,
  TEMPORAL_UNAVAILABLE: 'TEMPORAL_UNAVAILABLE',
  /** Cancel on a saga that is STUCK, compensating, or past its point of no return. */
  SAGA_NOT_CANCELLABLE: 'SAGA_NOT_CANCELLABLE',
  /** An operator action no worker took in time (the saga is unchanged). */
  NO_WORKER: 'NO_WORKER',
  /** Cancel on a running saga whose state no worker could tell: cancelling blind could undo what it must not. */
  SAGA_STATE_UNKNOWN: 'SAGA_STATE_UNKNOWN',
  /** GET /audit could not read the service databases. */
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
} as const;

export interface SagaDirectoryOptions {
  namespace: string;
  taskQueue: string;
  temporalUiUrl: string;
  /** Deadline given to every saga started (0 = none). */
  sagaDeadlineMs: number;
  /** Seals card numbers before they enter a workflow input. */
  cardKey: Buffer;
  /** PlaceOrder's activity mode (default regular). */
  activityMode?: 'regular' | 'local';
  /** Attempts per compensation before STUCK (0 or absent: retry until it succeeds). */
  compensationMaxAttempts?: number;
  /** Ask for eager workflow start (the client must share a NativeConnection with a worker of the task queue). */
  eagerStart?: boolean;
}

export interface Started {
  sagaId: string;
  handle: WorkflowHandle;
  /** False when an Idempotency-Key repeat found the saga an earlier request started. */
  started: boolean;
  /**
   * With `waitMs`: the saga's state once its outcome was decided (`sagaDecidedUpdate`), `closed`
   * when it had already ended, undefined when the wait ran out first.
   */
  decided?: SagaState | 'closed';
}

/** Resolves to undefined after `ms` (and never keeps the process up). */
const after = (ms: number) => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref());

/** How long GET /sagas waits for visibility before answering 503. */
const LIST_DEADLINE_MS = 10_000;
/** How long an operator action waits for a worker to take its Update before answering 503. */
const OPERATOR_DEADLINE_MS = 10_000;
/** How long a cancel waits to read what the saga did with it before answering 202 REQUESTED. */
const CANCEL_OUTCOME_WAIT_MS = 3000;
/** The saga's clock (the workflow task's time) may lag the API's by this much. */
const CLOCK_SKEW_MS = 2000;

/** The saga type of a workflow type, for workflows that lack the SagaType search attribute. */
const sagaTypeOf = (workflowType: string | undefined) =>
  workflowType ? (sagaByWorkflowType(workflowType)?.type ?? workflowType) : undefined;

/** A keyword search attribute's first value from a list answer (payloads hold a JSON value or list). */
function keyword(fields: Record<string, Payload> | null | undefined, key: string): string | undefined {
  const payload = fields?.[key];
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** A protobuf timestamp as a Date (undefined when absent). */
function tsToDate(
  ts: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined,
): Date | undefined {
  if (!ts) return undefined;
  return new Date(Number(ts.seconds?.toString() ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

function isNotFound(err: unknown): boolean {
  return (err as { name?: string })?.name === 'WorkflowNotFoundError';
}

/** The saga's workflow ID is taken (an Idempotency-Key repeat), from a start or an Update-with-Start. */
function isAlreadyStarted(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } } | undefined;
  return (
    e?.name === 'WorkflowExecutionAlreadyStartedError' || e?.cause?.name === 'WorkflowExecutionAlreadyStartedError'
  );
}

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

/** Everything the API does with Temporal: start sagas, read their state, list them, operate on them. */
export class SagaDirectory {
  /** Keys the request digests in the memo: without it, a digest cannot be tested against guessed card numbers. */
  private readonly digestKey: Buffer;
  /** Keys the order and rename IDs derived from an Idempotency-Key, so they cannot be computed from the key. */
  private readonly idKey: Buffer;
  /** Signs the page tokens GET /sagas hands out, so a forged one never reaches Temporal. */
  private readonly pageKey: Buffer;

  constructor(
    private readonly client: Client,
    private readonly opts: SagaDirectoryOptions,
  ) {
    this.digestKey = deriveKey(opts.cardKey, 'api/request-digest');
    this.idKey = deriveKey(opts.cardKey, 'api/idempotent-ids');
    this.pageKey = deriveKey(opts.cardKey, 'api/page-tokens');
  }

  /**
   * What a keyed start stores in the memo and compares a repeat with: HMAC-SHA256 (key derived from
   * CARD_ENCRYPTION_KEY) of the request's canonical hash. (Sagas started before these digests had
   * unkeyed IDs too, so no new keyed request can ever reach one: there is nothing older to compare.)
   */
  private requestDigest(req: { method: string; path: string; body: unknown }): string {
    return keyedDigest(this.digestKey, requestHash(req));
  }

  /** The ID a keyed start uses: the same for the same key, unpredictable without the server's secret. */
  private idFor(namespace: string, idempotencyKey: string): string {
    return `k${keyedDigest(this.idKey, `${namespace}:${idempotencyKey}`).slice(0, 32)}`;
  }

  links(sagaId: string) {
    return {
      self: `/sagas/${encodeURIComponent(sagaId)}`,
      temporalUi: `${this.opts.temporalUiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(this.opts.namespace)}/workflows/${encodeURIComponent(sagaId)}`,
    };
  }

  /**
   * Starts a workflow once per Idempotency-Key: the key (keyed-hashed) is part of the workflow ID,
   * the request's keyed digest rides in the memo, and a conflicting start returns the existing saga.
   * `started` says whether this call started it (false: a repeat of an earlier start).
   */
  private async startOnce(
    saga: SagaDefinition,
    workflowId: string,
    input: unknown,
    requestDigest: string,
    checkKey: boolean,
    waitMs?: number,
  ): Promise<Started> {
    const options = {
      taskQueue: this.opts.taskQueue,
      workflowId,
      args: [input] as [unknown],
      memo: { requestDigest },
      typedSearchAttributes: [
        { key: SagaTypeKey, value: saga.type },
        { key: SagaStatusKey, value: 'RUNNING' },
      ],
      ...workflowIdPolicies(saga.workflowIdentity),
    };
    try {
      if (waitMs !== undefined && !this.opts.eagerStart) {
        // Update-with-Start: one call starts the saga and waits for its outcome to be decided.
        const startWorkflowOperation = new WithStartWorkflowOperation(saga.workflow, options);
        const decided = await Promise.race([
          this.client.workflow.executeUpdateWithStart(sagaDecidedUpdate, { startWorkflowOperation }),
          after(waitMs),
        ]);
        return { sagaId: workflowId, handle: await startWorkflowOperation.workflowHandle(), started: true, decided };
      }
      // Eager start hands the first workflow task to this process's worker (not offered with Update-with-Start).
      const handle = await this.client.workflow.start(saga.workflow, {
        ...options,
        ...(this.opts.eagerStart ? { requestEagerStart: true } : {}),
      });
      return {
        sagaId: workflowId,
        handle,
        started: true,
        ...(waitMs !== undefined ? { decided: await this.awaitDecision(handle, waitMs) } : {}),
      };
    } catch (err) {
      if (!isAlreadyStarted(err)) throw err;
      const businessKey = saga.workflowIdentity === 'business-key';
      // A business key's open run is joined by any request for it; a request-derived ID is met only
      // by a repeat of its request (an Idempotency-Key), which must be the same request.
      if (!businessKey && !checkKey) throw err;
      const handle = this.client.workflow.getHandle(workflowId);
      if (!businessKey) await this.sameRequest(handle, requestDigest);
      return {
        sagaId: workflowId,
        handle,
        started: false,
        ...(waitMs !== undefined ? { decided: await this.awaitDecision(handle, waitMs) } : {}),
      };
    }
  }

  /**
   * Waits until the saga's outcome is decided (`sagaDecidedUpdate`: past its pivot, ended or
   * STUCK), at most `timeoutMs`: its state then, `closed` if it had already ended, undefined when
   * the time ran out.
   */
  async awaitDecision(handle: WorkflowHandle, timeoutMs: number): Promise<SagaState | 'closed' | undefined> {
    const update = handle.executeUpdate(sagaDecidedUpdate).catch((err: unknown) => {
      // an update needs a running workflow: one that already ended is read from its memo instead
      if (isNotFound(err) || /already completed|not running/i.test((err as Error).message ?? ''))
        return 'closed' as const;
      throw err;
    });
    return Promise.race([update, after(timeoutMs)]);
  }

  /**
   * From a decided saga to a settled one: a saga past its pivot (still RUNNING) is waited for until
   * its workflow closes (the server's long poll on the result), at most `timeoutMs`; `closed` then,
   * else what was decided.
   */
  async awaitSettled(
    sagaId: string,
    decided: SagaState | 'closed' | undefined,
    timeoutMs: number,
  ): Promise<SagaState | 'closed' | undefined> {
    if (decided === undefined || decided === 'closed' || decided.status !== 'RUNNING') return decided;
    const closed = this.client.workflow
      .getHandle(sagaId)
      .result()
      .then(
        () => 'closed' as const,
        // a saga that compensated or was cancelled has closed too; anything else is a real error
        (err: { name?: string }) => {
          if (err?.name === 'WorkflowFailedError') return 'closed' as const;
          throw err;
        },
      );
    return (await Promise.race([closed, after(timeoutMs)])) ?? undefined;
  }

  /** Throws 422 when the saga behind a reused key was started by a different request. */
  private async sameRequest(handle: WorkflowHandle, requestDigest: string): Promise<void> {
    const desc = await handle.describe();
    if (desc.memo?.requestDigest !== requestDigest) {
      throw new AppError(
        422,
        ApiErrors.IDEMPOTENCY_KEY_REUSED,
        `This Idempotency-Key already started saga ${handle.workflowId} with a different request`,
      );
    }
  }

  /** The saga options every start gets from the API's configuration. */
  private commonOptions(): SagaRunOptions {
    return {
      // startOnce sets SagaType and SagaStatus in the start options: the saga need not upsert them
      searchAttributesAtStart: true,
      ...(this.opts.sagaDeadlineMs > 0 ? { deadlineMs: this.opts.sagaDeadlineMs } : {}),
      ...(this.opts.compensationMaxAttempts
        ? { compensationRetry: { maximumAttempts: this.opts.compensationMaxAttempts } }
        : {}),
    };
  }

  /**
   * Starts a saga of a registered type from its validated body. `waitMs`: also wait (at most that
   * long) for the saga's outcome to be decided (see `Started.decided`). `echo`: the fields the start
   * answer carries besides the saga ID (e.g. the new order's ID).
   */
  async start(
    saga: SagaDefinition,
    body: unknown,
    idempotencyKey?: string,
    waitMs?: number,
  ): Promise<Started & { echo: Record<string, string> }> {
    const digestOf = saga.digestRequest(body);
    const digest = this.requestDigest({ method: 'POST', ...digestOf });
    const ctx: StartContext = {
      newId: (namespace) => (idempotencyKey ? this.idFor(namespace, idempotencyKey) : randomUUID()),
      sealCard: (cardNumber, boundTo) => sealCardNumber(cardNumber, this.opts.cardKey, boundTo),
      options: {
        ...this.commonOptions(),
        ...(this.opts.activityMode === 'local' ? { activityMode: 'local' as const } : {}),
      },
    };
    const input = saga.toInput(body, ctx);
    const started = await this.startOnce(
      saga,
      saga.workflowId(input),
      input,
      digest,
      idempotencyKey !== undefined,
      waitMs,
    );
    return { ...started, echo: saga.echo(input) };
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
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return this.toView(withPendingAttempts(await this.stateOf(handle, desc), desc));
  }

  /** The running saga's own answer to its state query, or undefined when no worker answered within `ms`. */
  private async queryState(handle: WorkflowHandle, ms = 3000): Promise<SagaState | undefined> {
    return Promise.race([handle.query(sagaStateQuery).catch(() => undefined), after(ms)]);
  }

  /** The saga's state (see `view`) from a describe answer. */
  private async stateOf(handle: WorkflowHandle, desc: WorkflowExecutionDescription): Promise<SagaState> {
    const sagaId = handle.workflowId;
    const memoState = desc.memo?.[SAGA_STATE_MEMO] as SagaState | undefined;
    const type = (desc.searchAttributes?.SagaType?.[0] as string | undefined) ?? sagaTypeOf(desc.type) ?? desc.type;
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
        status: (closedStatus ??
          (desc.searchAttributes?.SagaStatus?.[0] as SagaStatus | undefined) ??
          'RUNNING') as SagaStatus,
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
    // Past its pivot a running saga only has retriable steps left: it will complete (see the README).
    const completing =
      state.status === 'RUNNING' && state.steps.some((s) => s.kind === 'pivot' && s.status === 'SUCCEEDED');
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
      // fetchHistory passes the service's own error through: gRPC NOT_FOUND (5)
      if (isNotFound(err) || (err as { code?: number }).code === 5) return undefined;
      throw err;
    }
  }

  /**
   * Lists sagas through Temporal visibility (the SagaStatus / SagaType search attributes), paginated.
   * TERMINATED / TIMED_OUT are Temporal's execution statuses (a workflow closed from outside keeps
   * its last SagaStatus). Page tokens are Temporal's, signed by the API and bound to the query: a
   * forged or foreign token is a 400 here, never sent to Temporal.
   */
  async list(q: { status?: string; type?: string; limit?: number; pageToken?: string }) {
    const clauses = [
      q.type ? `SagaType = '${q.type}'` : `SagaType IN (${SAGAS.map((saga) => `'${saga.type}'`).join(', ')})`,
    ];
    if (q.status === 'TERMINATED') clauses.push(`ExecutionStatus = 'Terminated'`);
    else if (q.status === 'TIMED_OUT') clauses.push(`ExecutionStatus = 'TimedOut'`);
    else if (q.status) {
      clauses.push(`SagaStatus = '${q.status}'`);
      // a workflow terminated mid-way keeps SagaStatus RUNNING (or STUCK): it is TERMINATED, not that
      if (!(TERMINAL_STATUSES as readonly string[]).includes(q.status)) clauses.push(`ExecutionStatus = 'Running'`);
    }
    const query = clauses.join(' AND ');
    const nextPageToken = q.pageToken === undefined ? undefined : this.openPageToken(q.pageToken, query);
    const resp = await this.client.withDeadline(Date.now() + LIST_DEADLINE_MS, () =>
      this.client.workflowService.listWorkflowExecutions({
        namespace: this.opts.namespace,
        pageSize: q.limit ?? 20,
        query,
        nextPageToken,
      }),
    );
    const sagas = (resp.executions ?? []).map((e) => {
      const fields = e.searchAttributes?.indexedFields as Record<string, Payload> | null | undefined;
      const sagaId = e.execution?.workflowId ?? '';
      const workflowStatus = e.status;
      // 1 = RUNNING in temporal.api.enums.v1.WorkflowExecutionStatus; 5 TERMINATED, 7 TIMED_OUT
      const status =
        workflowStatus === 5
          ? 'TERMINATED'
          : workflowStatus === 7
            ? 'TIMED_OUT'
            : (keyword(fields, SagaStatusKey.name) ?? 'RUNNING');
      const closedAt = tsToDate(e.closeTime);
      return {
        sagaId,
        type: String(keyword(fields, SagaTypeKey.name) ?? sagaTypeOf(e.type?.name ?? undefined)),
        status,
        startedAt: (tsToDate(e.startTime) ?? new Date(0)).toISOString(),
        ...(closedAt ? { closedAt: closedAt.toISOString() } : {}),
        links: this.links(sagaId),
      };
    });
    const token =
      resp.nextPageToken && resp.nextPageToken.length > 0
        ? this.sealPageToken(Buffer.from(resp.nextPageToken), query)
        : undefined;
    return { sagas, ...(token ? { nextPageToken: token } : {}) };
  }

  private pageTokenMac(raw: Buffer, query: string): string {
    return keyedDigest(this.pageKey, `${query}\n${raw.toString('base64url')}`).slice(0, 32);
  }

  private sealPageToken(raw: Buffer, query: string): string {
    return `${raw.toString('base64url')}.${this.pageTokenMac(raw, query)}`;
  }

  /** Temporal's token inside a pageToken this API issued for this query; 400 for anything else. */
  private openPageToken(token: string, query: string): Buffer {
    const [data, mac, extra] = token.split('.');
    const raw = Buffer.from(data ?? '', 'base64url');
    const expected = raw.length > 0 && extra === undefined ? this.pageTokenMac(raw, query) : '';
    if (!mac || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) {
      throw new AppError(
        400,
        ErrorCodes.VALIDATION_FAILED,
        'Invalid pageToken: pass the nextPageToken of a previous answer, with the same status and type filters',
      );
    }
    return raw;
  }

  private async describeOr404(sagaId: string) {
    const handle = this.client.workflow.getHandle(sagaId);
    try {
      return { handle, desc: await handle.describe() };
    } catch (err) {
      if (isNotFound(err)) throw new AppError(404, ApiErrors.SAGA_NOT_FOUND, `No saga ${sagaId}`);
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
      const state = await this.stateOf(handle, desc);
      throw new AppError(409, ApiErrors.SAGA_CLOSED, `Saga ${sagaId} has already ended (${state.status})`);
    }
    const state = await this.queryState(handle);
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
      const now = await this.queryState(handle, Math.max(1, deadline - Date.now()));
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
      await new Promise((r) => setTimeout(r, 50));
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
          ? String(d.searchAttributes?.SagaStatus?.[0] ?? 'RUNNING')
          : (await this.stateOf(handle, d)).status;
      return new AppError(409, ApiErrors.SAGA_NOT_STUCK, `Saga ${sagaId} is ${status}, not STUCK`);
    };
    if (desc.status.name !== 'RUNNING' || desc.searchAttributes?.SagaStatus?.[0] !== 'STUCK')
      throw await notStuck(desc);
    try {
      await this.client.withDeadline(Date.now() + OPERATOR_DEADLINE_MS, () =>
        action === 'resolve'
          ? handle.executeUpdate(resolveStuckSagaUpdate, {
              args: [
                {
                  note: input.note ?? '',
                  ...(input.operator !== undefined ? { operator: input.operator } : {}),
                  ...(input.step !== undefined ? { step: input.step } : {}),
                },
              ],
            })
          : handle.executeUpdate(retryStuckCompensationUpdate, {
              args: [input.step !== undefined ? { step: input.step } : {}],
            }),
      );
    } catch (err) {
      const e = err as { name?: string; cause?: { type?: string; message?: string }; code?: number };
      if (e.name === 'WorkflowUpdateFailedError' && e.cause?.type === SAGA_NOT_STUCK) {
        throw new AppError(409, ApiErrors.SAGA_NOT_STUCK, e.cause.message ?? `Saga ${sagaId} is not STUCK`);
      }
      // it closed between the describe and the Update (another operator's action ended it)
      if (isNotFound(err)) throw await notStuck(await handle.describe());
      if (e.name === 'WorkflowUpdateRPCTimeoutOrCancelledError' || e.code === 4) {
        throw new AppError(
          503,
          ApiErrors.NO_WORKER,
          `No worker took the ${action} of saga ${sagaId} within ${OPERATOR_DEADLINE_MS} ms; retry later`,
        );
      }
      throw err;
    }
  }

  /** Counts sagas by type and status (for the metrics endpoint). */
  async countByStatus(): Promise<{ type: string; status: string; count: number }[]> {
    const out: { type: string; status: string; count: number }[] = [];
    for (const { type } of SAGAS) {
      for (const status of ['RUNNING', 'COMPENSATING', 'STUCK', ...TERMINAL_STATUSES]) {
        const resp = await this.client.workflowService.countWorkflowExecutions({
          namespace: this.opts.namespace,
          query: `SagaType = '${type}' AND SagaStatus = '${status}'`,
        });
        out.push({ type, status, count: Number(resp.count ?? 0) });
      }
    }
    return out;
  }

  /**
   * Every stuck step of the running STUCK sagas (at most `limit` sagas), from their memo (the saga
   * leaves its state there whenever a step joins STUCK): by saga type, step, reason and phase. A
   * pivot whose outcome is unknown shows as reason OUTCOME_UNKNOWN with phase forward.
   */
  async stuckSteps(
    limit = 1000,
  ): Promise<{ type: string; step: string; reason: string; pivot: boolean; count: number }[]> {
    const counts = new Map<string, { type: string; step: string; reason: string; pivot: boolean; count: number }>();
    let seen = 0;
    for await (const wf of this.client.workflow.list({
      query: `SagaStatus = 'STUCK' AND ExecutionStatus = 'Running'`,
      pageSize: 100,
    })) {
      if (++seen > limit) break;
      const state = wf.memo?.[SAGA_STATE_MEMO] as SagaState | undefined;
      const type = state?.type ?? sagaTypeOf(wf.type) ?? wf.type;
      const waits = state?.stuck?.waits ?? [
        { steps: state?.stuck?.steps ?? ['unknown'], reason: state?.stuck?.reason ?? 'UNKNOWN' },
      ];
      for (const w of waits) {
        for (const step of w.steps) {
          const pivot = state?.steps.some((st) => st.name === step && st.kind === 'pivot') ?? false;
          const key = `${type}\u0000${step}\u0000${w.reason}`;
          const c = counts.get(key) ?? { type, step, reason: w.reason, pivot, count: 0 };
          c.count++;
          counts.set(key, c);
        }
      }
    }
    return [...counts.values()];
  }

  /** True when the Temporal frontend answers. */
  async temporalReachable(timeoutMs = 2000): Promise<boolean> {
    try {
      await Promise.race([
        this.client.workflowService.getSystemInfo({}),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
      ]);
      return true;
    } catch {
      return false;
    }
  }
}

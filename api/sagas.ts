import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { AppError } from '../lib/errors';
import { requestHash } from '../lib/idempotency';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import { SAGA_STATE_MEMO, TERMINAL_STATUSES, type SagaState, type SagaStatus } from '../shared/saga-types';
import { PLACE_ORDER, RENAME_PRODUCT, placeOrderWorkflowId, renameProductWorkflowId } from '../shared/saga-names';
import type { PlaceOrderInput } from '../workflows/place-order';
import type { RenameProductInput } from '../workflows/rename-product';
import type { SagaRunOptions } from '../workflows/options';
import type { PlaceOrderBody, SagaView } from './schemas';
import { sealCardNumber } from '../lib/card-token';
import { deriveKey, keyedDigest } from '../lib/keyed-hash';

export const ApiErrors = {
  SAGA_NOT_FOUND: 'SAGA_NOT_FOUND',
  SAGA_NOT_STUCK: 'SAGA_NOT_STUCK',
  SAGA_CLOSED: 'SAGA_CLOSED',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  TEMPORAL_UNAVAILABLE: 'TEMPORAL_UNAVAILABLE',
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
}

export interface Started {
  sagaId: string;
  handle: WorkflowHandle;
  /** False when an Idempotency-Key repeat found the saga an earlier request started. */
  started: boolean;
}

const WORKFLOW_TYPES: Record<string, string> = { placeOrder: PLACE_ORDER, renameProduct: RENAME_PRODUCT };

function isNotFound(err: unknown): boolean {
  return (err as { name?: string })?.name === 'WorkflowNotFoundError';
}

/** What a keyed start compares a repeat against: the memo's keyed digest (or, for sagas started before it, the old hash). */
interface RequestFingerprint {
  /** HMAC-SHA256 (key derived from CARD_ENCRYPTION_KEY) of the request's canonical hash: stored in the memo. */
  digest: string;
  /** The unkeyed hash older sagas kept as `requestHash`: compared, never stored any more. */
  legacyHash: string;
}

/** Everything the API does with Temporal: start sagas, read their state, list them, operate on them. */
export class SagaDirectory {
  /** Keys the request digests in the memo: without it, a digest cannot be tested against guessed card numbers. */
  private readonly digestKey: Buffer;
  /** Keys the order and rename IDs derived from an Idempotency-Key, so they cannot be computed from the key. */
  private readonly idKey: Buffer;

  constructor(
    private readonly client: Client,
    private readonly opts: SagaDirectoryOptions,
  ) {
    this.digestKey = deriveKey(opts.cardKey, 'api/request-digest');
    this.idKey = deriveKey(opts.cardKey, 'api/idempotent-ids');
  }

  private fingerprint(req: { method: string; path: string; body: unknown }): RequestFingerprint {
    const legacyHash = requestHash(req);
    return { digest: keyedDigest(this.digestKey, legacyHash), legacyHash };
  }

  /** The ID a keyed start uses: the same for the same key, unpredictable without the server's secret. */
  private idFor(namespace: 'orders' | 'rename', idempotencyKey: string): string {
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
    workflowType: 'placeOrder' | 'renameProduct',
    workflowId: string,
    args: unknown[],
    request: RequestFingerprint,
    checkKey: boolean,
  ): Promise<Started> {
    const type = WORKFLOW_TYPES[workflowType]!;
    try {
      const handle = await this.client.workflow.start(workflowType, {
        taskQueue: this.opts.taskQueue,
        workflowId,
        args,
        memo: { requestDigest: request.digest },
        typedSearchAttributes: [
          { key: SagaTypeKey, value: type },
          { key: SagaStatusKey, value: 'RUNNING' },
        ],
        // FAIL (not USE_EXISTING): a start that returns started something; a repeat lands in the catch.
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      return { sagaId: workflowId, handle, started: true };
    } catch (err) {
      if ((err as { name?: string }).name !== 'WorkflowExecutionAlreadyStartedError' || !checkKey) throw err;
      const handle = this.client.workflow.getHandle(workflowId);
      await this.sameRequest(handle, request);
      return { sagaId: workflowId, handle, started: false };
    }
  }

  /** Throws 422 when the saga behind a reused key was started by a different request. */
  private async sameRequest(handle: WorkflowHandle, request: RequestFingerprint): Promise<void> {
    const desc = await handle.describe();
    const same = desc.memo?.requestDigest !== undefined ? desc.memo.requestDigest === request.digest : desc.memo?.requestHash === request.legacyHash;
    if (!same) {
      throw new AppError(422, ApiErrors.IDEMPOTENCY_KEY_REUSED, `This Idempotency-Key already started saga ${handle.workflowId} with a different request`);
    }
  }

  /** The saga options every start gets from the API's configuration. */
  private commonOptions(): SagaRunOptions {
    return {
      ...(this.opts.sagaDeadlineMs > 0 ? { deadlineMs: this.opts.sagaDeadlineMs } : {}),
      ...(this.opts.compensationMaxAttempts ? { compensationRetry: { maximumAttempts: this.opts.compensationMaxAttempts } } : {}),
    };
  }

  async startPlaceOrder(body: PlaceOrderBody, idempotencyKey?: string): Promise<Started & { orderId: string }> {
    const request = this.fingerprint({ method: 'POST', path: '/orders', body });
    const orderId = idempotencyKey ? this.idFor('orders', idempotencyKey) : randomUUID();
    const { payment, ...rest } = body;
    const sealed = { cardToken: sealCardNumber(payment.cardNumber, this.opts.cardKey, orderId), last4: payment.cardNumber.slice(-4) };
    const options = {
      ...this.commonOptions(),
      ...(this.opts.activityMode === 'local' ? { activityMode: 'local' as const } : {}),
    };
    const input: PlaceOrderInput = { ...rest, payment: sealed, orderId, ...(Object.keys(options).length > 0 ? { options } : {}) };
    const started = await this.startOnce('placeOrder', placeOrderWorkflowId(orderId), [input], request, idempotencyKey !== undefined);
    return { ...started, orderId };
  }

  async startRename(sku: string, name: string, idempotencyKey?: string): Promise<Started> {
    const request = this.fingerprint({ method: 'POST', path: `/products/${sku}/rename`, body: { name } });
    const requestId = idempotencyKey ? this.idFor('rename', idempotencyKey) : randomUUID();
    const options = this.commonOptions();
    const input: RenameProductInput = { sku, name, ...(Object.keys(options).length > 0 ? { options } : {}) };
    return this.startOnce('renameProduct', renameProductWorkflowId(sku, requestId), [input], request, idempotencyKey !== undefined);
  }

  /**
   * Waits until the saga's workflow closes or `timeoutMs` passes; true when it closed. Uses the
   * server's long poll on the result (no polling delay added to the answer).
   */
  async waitForClose(sagaId: string, timeoutMs: number): Promise<boolean> {
    const handle = this.client.workflow.getHandle(sagaId);
    let timer: NodeJS.Timeout | undefined;
    const closed = handle.result().then(
      () => true,
      (err: { name?: string }) => {
        // a saga that compensated or was cancelled has closed too; anything else is a real error
        if (err?.name === 'WorkflowFailedError') return true;
        throw err;
      },
    );
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([closed, timedOut]);
    } finally {
      clearTimeout(timer);
      closed.catch(() => undefined);
    }
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
    const memoState = desc.memo?.[SAGA_STATE_MEMO] as SagaState | undefined;
    const type = (desc.searchAttributes?.SagaType?.[0] as string | undefined) ?? WORKFLOW_TYPES[desc.type] ?? desc.type;
    let state: SagaState | undefined;
    if (desc.status.name === 'RUNNING') {
      state = await Promise.race([
        handle.query<SagaState>('sagaState').catch(() => undefined),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000).unref()),
      ]);
      state ??= memoState;
    } else if (memoState && (TERMINAL_STATUSES as string[]).includes(memoState.status)) {
      state = memoState;
    }
    if (!state) {
      // No worker answered, or the workflow was closed from outside (terminated, timed out).
      const closedStatus = desc.status.name === 'TERMINATED' ? 'TERMINATED' : desc.status.name === 'TIMED_OUT' ? 'TIMED_OUT' : undefined;
      state = {
        sagaId,
        type,
        status: (closedStatus ?? (desc.searchAttributes?.SagaStatus?.[0] as SagaStatus | undefined) ?? 'RUNNING') as SagaStatus,
        steps: [],
        startedAt: desc.startTime.toISOString(),
        ...(desc.closeTime ? { closedAt: desc.closeTime.toISOString() } : {}),
        ...(closedStatus ? { failure: { type: closedStatus, message: `The workflow was ${closedStatus.toLowerCase().replace('_', ' ')} outside the saga` } } : {}),
      };
    }
    return this.toView(state);
  }

  toView(state: SagaState): SagaView {
    return {
      sagaId: state.sagaId,
      type: state.type,
      status: state.status,
      steps: state.steps.map((s) => ({
        name: s.name,
        kind: s.kind,
        status: s.status,
        attempts: s.attempts,
        ...(s.error ? { error: s.error } : {}),
        ...(s.compensation
          ? { compensation: { status: s.compensation.status, attempts: s.compensation.attempts, ...(s.compensation.error ? { error: s.compensation.error } : {}) } }
          : {}),
      })),
      ...(state.result !== undefined ? { result: state.result } : {}),
      ...(state.failure ? { failure: state.failure } : {}),
      ...(state.stuck ? { stuck: { since: state.stuck.since, steps: state.stuck.steps, error: state.stuck.error } } : {}),
      ...(state.resolution ? { resolution: { note: state.resolution.note, operator: state.resolution.operator, at: state.resolution.at } } : {}),
      startedAt: state.startedAt,
      ...(state.closedAt ? { closedAt: state.closedAt } : {}),
      links: this.links(state.sagaId),
    };
  }

  /** Lists sagas through Temporal visibility (the SagaStatus / SagaType search attributes), paginated. */
  async list(q: { status?: string; type?: string; limit?: number; pageToken?: string }) {
    const clauses = [q.type ? `SagaType = '${q.type}'` : `SagaType IN ('${PLACE_ORDER}', '${RENAME_PRODUCT}')`];
    if (q.status) clauses.push(`SagaStatus = '${q.status}'`);
    const resp = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.opts.namespace,
      pageSize: q.limit ?? 20,
      query: clauses.join(' AND '),
      nextPageToken: q.pageToken ? Buffer.from(q.pageToken, 'base64url') : undefined,
    });
    const sagas = (resp.executions ?? []).map((e) => {
      const sa = decodeSearchAttributes(e.searchAttributes?.indexedFields);
      const sagaId = e.execution?.workflowId ?? '';
      const workflowStatus = e.status;
      // 1 = RUNNING in temporal.api.enums.v1.WorkflowExecutionStatus; 5 TERMINATED, 7 TIMED_OUT
      const status = workflowStatus === 5 ? 'TERMINATED' : workflowStatus === 7 ? 'TIMED_OUT' : String(sa.SagaStatus?.[0] ?? 'RUNNING');
      const closedAt = optionalTsToDate(e.closeTime);
      return {
        sagaId,
        type: String(sa.SagaType?.[0] ?? WORKFLOW_TYPES[e.type?.name ?? ''] ?? e.type?.name),
        status,
        startedAt: (optionalTsToDate(e.startTime) ?? new Date(0)).toISOString(),
        ...(closedAt ? { closedAt: closedAt.toISOString() } : {}),
        links: this.links(sagaId),
      };
    });
    const token = resp.nextPageToken && resp.nextPageToken.length > 0 ? Buffer.from(resp.nextPageToken).toString('base64url') : undefined;
    return { sagas, ...(token ? { nextPageToken: token } : {}) };
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

  async cancel(sagaId: string): Promise<void> {
    const { handle, desc } = await this.describeOr404(sagaId);
    if (desc.status.name !== 'RUNNING') throw new AppError(409, ApiErrors.SAGA_CLOSED, `Saga ${sagaId} has already ended (${desc.status.name})`);
    await handle.cancel();
  }

  /** Sends an operator signal, only to a saga whose SagaStatus is STUCK (409 otherwise). */
  async operate(sagaId: string, signal: 'retryCompensation' | 'resolveManually', args: unknown[] = []): Promise<void> {
    const { handle, desc } = await this.describeOr404(sagaId);
    const status = desc.searchAttributes?.SagaStatus?.[0];
    if (desc.status.name !== 'RUNNING' || status !== 'STUCK') {
      throw new AppError(409, ApiErrors.SAGA_NOT_STUCK, `Saga ${sagaId} is ${desc.status.name === 'RUNNING' ? String(status) : desc.status.name}, not STUCK`);
    }
    await handle.signal(signal, ...args);
  }

  /** Counts sagas by type and status (for the metrics endpoint). */
  async countByStatus(): Promise<{ type: string; status: string; count: number }[]> {
    const out: { type: string; status: string; count: number }[] = [];
    for (const type of [PLACE_ORDER, RENAME_PRODUCT]) {
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

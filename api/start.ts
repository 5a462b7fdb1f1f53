/**
 * Starting a saga (POST /orders, POST /sagas/{type}, ...): once per Idempotency-Key, optionally
 * waiting until its outcome is decided (`?wait=decided`) or until it has settled (`?wait=true`).
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { AppError } from '../lib/errors';
import { requestHash } from '../lib/http/idempotency';
import { sealCardNumber } from '../lib/auth/card-token';
import { deriveKey, keyedDigest } from '../lib/auth/keyed-hash';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import type { SagaState } from '../shared/saga-types';
import type { SagaDefinition } from '../sagas';
import { workflowIdPolicies, type StartContext } from '../sagas/definition';
import type { SagaRunOptions } from '../workflows/options';
import { sagaDecidedUpdate } from '../workflows/saga';
import { ApiErrors } from './errors';
import type { SagaApiOptions } from './options';
import { isWorkflowAlreadyStarted, isWorkflowClosed, isWorkflowFailed } from './temporal-errors';
import { withTimeout } from './timeout';

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

/** Starts sagas once per Idempotency-Key and waits for their outcome. */
export class SagaStarter {
  /** Keys the request digests in the memo: without it, a digest cannot be tested against guessed card numbers. */
  private readonly digestKey: Buffer;
  /** Keys the order and rename IDs derived from an Idempotency-Key, so they cannot be computed from the key. */
  private readonly idKey: Buffer;

  constructor(
    private readonly client: Client,
    private readonly opts: SagaApiOptions,
  ) {
    this.digestKey = deriveKey(opts.cardKey, 'api/request-digest');
    this.idKey = deriveKey(opts.cardKey, 'api/idempotent-ids');
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
        // (not cancelled when the wait runs out: the start it carries must land)
        const decided = await withTimeout(waitMs, () =>
          this.client.workflow.executeUpdateWithStart(sagaDecidedUpdate, { startWorkflowOperation }),
        );
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
      if (!isWorkflowAlreadyStarted(err)) throw err;
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
    return withTimeout(timeoutMs, () =>
      handle.executeUpdate(sagaDecidedUpdate).catch((err: unknown) => {
        // an update needs a running workflow: one that already ended is read from its memo instead
        if (isWorkflowClosed(err)) return 'closed' as const;
        throw err;
      }),
    );
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
    return withTimeout(timeoutMs, () =>
      this.client.workflow
        .getHandle(sagaId)
        .result()
        .then(
          () => 'closed' as const,
          // a saga that compensated or was cancelled has closed too; anything else is a real error
          (err: unknown) => {
            if (isWorkflowFailed(err)) return 'closed' as const;
            throw err;
          },
        ),
    );
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
}

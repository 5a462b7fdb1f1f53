/**
 * The saga runtime: workflow-safe (no I/O), used by every saga workflow in this project.
 *
 * What it guarantees, and why:
 * - A step's compensation is registered *before* its forward action runs, so a step that timed
 *   out but may have landed is still compensated (compensations are idempotent and a no-op, or a
 *   tombstone, when the step never happened).
 * - A step the service rejected as a business rule (a non-retryable failure: nothing landed) is
 *   not compensated; every step that succeeded or may have landed is, in reverse order (or in
 *   parallel), inside a non-cancellable scope.
 * - Pivot and retriable steps (Garcia-Molina & Salem): the pivot is the point of no return; it and
 *   the steps after it run to completion even if the saga is cancelled or its deadline passes.
 * - A compensation that exhausts its retry budget never ends the saga silently: the saga moves to
 *   STUCK and waits for an operator (`retryCompensation` / `resolveManually`).
 * - The state is visible through the `sagaState` query and the `SagaStatus` / `SagaType` search
 *   attributes.
 */
import {
  CancellationScope,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  CancelledFailure,
  workflowInfo,
  log,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import type { Attempted } from '../shared/attempted';
import type { SagaRuntimeActivities } from '../activities/checkpoint';
import {
  SAGA_STATE_MEMO,
  SagaFailureTypes,
  TERMINAL_STATUSES,
  type FailureInfo,
  type SagaState,
  type SagaStatus,
  type StepKind,
  type StepState,
} from '../shared/saga-types';
import { SAGA_NOT_STUCK, resolveStuckSagaUpdate, retryStuckCompensationUpdate } from './operator-updates';

export const sagaStateQuery = defineQuery<SagaState>('sagaState');

/**
 * Patch ID of the change that made a fully compensated saga *complete* in Temporal, with its final
 * state (status COMPENSATED) as the workflow result, instead of failing with SagaCompensated.
 */
export const COMPENSATED_SAGA_COMPLETES = 'compensated-saga-completes';

/** Patch ID of the change that closes a local-activity saga in a workflow task of its own (see Saga.persistLocalResults). */
export const LOCAL_RESULTS_BEFORE_CLOSE = 'local-results-before-close';

/** What a saga workflow returns when it compensated completely (see COMPENSATED_SAGA_COMPLETES). */
export type CompensatedSaga = SagaState & { status: 'COMPENSATED' };

/** Whether a saga workflow's result is a compensated saga's final state rather than its business result. */
export function isCompensatedSaga(result: unknown): result is CompensatedSaga {
  const r = result as Partial<SagaState> | undefined;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.status === 'COMPENSATED' &&
    typeof r.sagaId === 'string' &&
    Array.isArray(r.steps)
  );
}
/**
 * Answers once the saga's outcome is decided, with its state then: its pivot succeeded (what is
 * left are retriable steps, retried until they succeed, so it will complete), or it ended, or it
 * is STUCK waiting for an operator. The API sends it with the start (Update-with-Start) so that
 * `?wait=true` answers as soon as the customer's answer is known, without polling.
 */
export const sagaDecidedUpdate = defineUpdate<SagaState>('sagaDecided');
/** Operator: run the failed compensations again (after fixing what made them fail). */
export const retryCompensationSignal = defineSignal('retryCompensation');
/** Operator: the failed compensations were handled by hand; end the saga as RESOLVED_MANUALLY. */
export const resolveManuallySignal = defineSignal<[{ note: string; operator?: string }]>('resolveManually');

export interface CompensationPolicy {
  /** Reverse order (default) or all at once. */
  order: 'reverse' | 'parallel';
  /** Keep compensating the other steps when one compensation fails (default true). */
  continueOnCompensationError: boolean;
}

export interface SagaOptions {
  type: string;
  compensation?: Partial<CompensationPolicy>;
  /** After this many milliseconds the running step is cancelled and the saga compensates. */
  deadlineMs?: number;
  /** The starter already set SagaType and SagaStatus=RUNNING (see SagaRunOptions.searchAttributesAtStart). */
  searchAttributesAtStart?: boolean;
  /**
   * Asked once, when the saga has compensated: complete with the final state (true) or fail with
   * SagaCompensated. Default: `patched(COMPENSATED_SAGA_COMPLETES)`; the replay suite passes
   * `() => true` to show that the change without its guard breaks the older histories.
   */
  compensatedCompletes?: () => boolean;
  /** The steps run as local activities (SagaRunOptions.activityMode 'local'): see `persistLocalResults`. */
  localActivities?: boolean;
  /**
   * What the runtime's idempotency keys are scoped to (see `idempotencyKeyScope`). `workflow`
   * (default): the workflow ID, for a saga whose workflow ID runs once. `run`: the workflow ID and
   * the run, for a saga whose workflow ID (a business key) may run again once a run has closed, so
   * that a new run is never answered with the replies the services stored for an earlier run's keys.
   */
  idempotencyScope?: 'workflow' | 'run';
}

/**
 * Context handed to a compensation. `round` grows with each operator retry; `idempotencyKey` is the
 * runtime's key for this compensation and round: `<scope>:<step>:compensate:<round>`, where the
 * scope is the workflow ID (or, with `idempotencyScope: 'run'`, `<workflowId>.<firstExecutionRunId>`).
 */
export interface CompensationContext {
  round: number;
  idempotencyKey: string;
}

/**
 * Context handed to a step's action. `idempotencyKey` is the runtime's key for the step:
 * `<scope>:<step>`, and `<scope>:<step>:retry:<round>` when an operator retried a stuck retriable
 * step (round > 0), so each retry is a new request. Derived from the workflow ID (and, with
 * `idempotencyScope: 'run'`, the run) and the step's name, the keys are the same on every retry
 * and replay.
 */
export interface StepContext {
  round: number;
  idempotencyKey: string;
}

export interface StepSpec<T> {
  name: string;
  /** compensatable (default when a compensation is given), pivot, or retriable (after the pivot). */
  kind?: StepKind;
  /** `round` is 0, and grows when an operator retries a stuck retriable step (the key changes with it). */
  action: (ctx: StepContext) => Promise<Attempted<T>>;
  compensate?: (ctx: CompensationContext) => Promise<Attempted<unknown>>;
}

interface Registered {
  step: StepState;
  compensate: (ctx: CompensationContext) => Promise<Attempted<unknown>>;
}

/**
 * The prefix of a saga's idempotency keys: its workflow ID, or for `idempotencyScope: 'run'`
 * `<workflowId>.<firstExecutionRunId>` (firstExecutionRunId, not runId: a reset or a retry of the
 * run keeps it, and with it the keys of the steps already done). An ID in the services' alphabet.
 */
export function idempotencyKeyScope(
  workflowId: string,
  firstExecutionRunId: string,
  scope: 'workflow' | 'run' = 'workflow',
): string {
  return scope === 'run' ? `${workflowId}.${firstExecutionRunId}` : workflowId;
}

/** The idempotency key of a step's action in `round` (see StepContext). */
export function stepIdempotencyKey(sagaId: string, step: string, round: number): string {
  return round ? `${sagaId}:${step}:retry:${round}` : `${sagaId}:${step}`;
}

/** The idempotency key of a step's compensation in `round` (see CompensationContext). */
export function compensationIdempotencyKey(sagaId: string, step: string, round: number): string {
  return `${sagaId}:${step}:compensate:${round}`;
}

function actionKey(sagaId: string, step: string, round: number): StepContext {
  return { round, idempotencyKey: stepIdempotencyKey(sagaId, step, round) };
}

/** Failure types that come from the services' business rules (nothing landed), not from outages. */
function describeFailure(err: unknown): FailureInfo & { business: boolean } {
  // Branch on failure.type / nonRetryable, never on instanceof (unreliable across the sandbox).
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 6; depth++) {
    const f = cur as {
      type?: unknown;
      nonRetryable?: unknown;
      message?: string;
      cause?: unknown;
      timeoutType?: unknown;
      details?: unknown[];
    };
    if (typeof f.type === 'string' && typeof f.nonRetryable === 'boolean') {
      const detail = Array.isArray(f.details)
        ? (f.details[0] as { attempt?: number; status?: number } | undefined)
        : undefined;
      return {
        type: f.type,
        message: f.message ?? f.type,
        business: f.nonRetryable,
        ...(detail?.attempt !== undefined ? { attempt: detail.attempt } : {}),
      };
    }
    if (f.timeoutType !== undefined) return { type: 'TIMEOUT', message: f.message ?? 'timed out', business: false };
    cur = f.cause;
  }
  const e = err as { message?: string; name?: string };
  return { type: e?.name ?? 'Error', message: e?.message ?? String(err), business: false };
}

/** The runtime's own activity (activities/checkpoint.ts), registered by every saga worker. */
const checkpoint = proxyActivities<SagaRuntimeActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', maximumInterval: '1s' },
});

function now(): string {
  return new Date(Date.now()).toISOString();
}

export class Saga {
  readonly state: SagaState;
  /** What this saga's idempotency keys start with (see `idempotencyKeyScope`): also an identity of the run the services can record. */
  readonly keyScope: string;
  private readonly registered: Registered[] = [];
  private readonly policy: CompensationPolicy;
  private pivotPassed = false;
  private resolvedWithoutCompensation = false;
  private deadlineHit = false;
  private operatorAction: { kind: 'retry' } | { kind: 'resolve'; note: string; operator?: string } | undefined;
  private readonly forwardScope = new CancellationScope();
  private readonly deadlineScope = new CancellationScope();

  constructor(private readonly options: SagaOptions) {
    this.policy = { order: 'reverse', continueOnCompensationError: true, ...options.compensation };
    const info = workflowInfo();
    this.keyScope = idempotencyKeyScope(info.workflowId, info.firstExecutionRunId, options.idempotencyScope);
    this.state = {
      sagaId: info.workflowId,
      type: options.type,
      status: 'RUNNING',
      steps: [],
      startedAt: now(),
    };
    setHandler(sagaStateQuery, () => this.state);
    setHandler(sagaDecidedUpdate, async () => {
      await condition(() => this.decided());
      return this.state;
    });
    setHandler(retryCompensationSignal, () => {
      if (this.state.status === 'STUCK') this.operatorAction = { kind: 'retry' };
    });
    setHandler(resolveManuallySignal, (input) => {
      if (this.state.status === 'STUCK')
        this.operatorAction = { kind: 'resolve', note: input?.note ?? '', operator: input?.operator };
    });
    // The same actions as Updates: the validator accepts only the first action on a STUCK saga (no
    // commands are emitted: old histories replay unchanged).
    const onlyWhenStuck = () => {
      if (this.operatorAction !== undefined) {
        const taken = this.operatorAction.kind === 'retry' ? 'retry-compensation' : 'resolve';
        throw ApplicationFailure.nonRetryable(
          `Saga ${this.state.sagaId} already accepted an operator action (${taken}): it is no longer STUCK`,
          SAGA_NOT_STUCK,
          this.state.status,
        );
      }
      if (this.state.status !== 'STUCK') {
        throw ApplicationFailure.nonRetryable(
          `Saga ${this.state.sagaId} is ${this.state.status}, not STUCK`,
          SAGA_NOT_STUCK,
          this.state.status,
        );
      }
    };
    setHandler(
      retryStuckCompensationUpdate,
      () => {
        this.operatorAction = { kind: 'retry' };
      },
      { validator: onlyWhenStuck },
    );
    setHandler(
      resolveStuckSagaUpdate,
      (input: { note: string; operator?: string }) => {
        this.operatorAction = { kind: 'resolve', note: input.note, operator: input.operator };
      },
      { validator: (_input: { note: string; operator?: string }) => onlyWhenStuck() },
    );
    // A starter that set both in its start options says so in the input (which, unlike the start
    // options read back, keeps replays of runs started before this option deterministic): upserting
    // them again would cost a history event and a visibility write per saga for nothing.
    if (!options.searchAttributesAtStart) {
      upsertSearchAttributes([
        { key: SagaTypeKey, value: options.type },
        { key: SagaStatusKey, value: 'RUNNING' },
      ]);
    }
  }

  /** See `sagaDecidedUpdate`. */
  private decided(): boolean {
    const { status, steps } = this.state;
    return (
      status === 'STUCK' ||
      TERMINAL_STATUSES.includes(status) ||
      steps.some((s) => s.kind === 'pivot' && s.status === 'SUCCEEDED')
    );
  }

  /** Lets a `sagaDecided` update still in flight answer before the workflow closes (no commands: replays are unchanged). */
  private async handlersFinished(): Promise<void> {
    if (!allHandlersFinished()) await condition(allHandlersFinished);
  }

  private setStatus(status: SagaStatus): void {
    if (this.state.status === status) return;
    this.state.status = status;
    upsertSearchAttributes([{ key: SagaStatusKey, value: status }]);
    // Final (and STUCK) states are also left in the memo, so they can be read with no worker running.
    if (status !== 'RUNNING' && status !== 'COMPENSATING') upsertMemo({ [SAGA_STATE_MEMO]: this.state });
    // The happy path logs nothing: each workflow log line is a sink call out of the sandbox, and the
    // status is in the search attribute anyway. What an operator must see is logged.
    if (status !== 'RUNNING' && status !== 'COMPLETED') log.info('saga status', { sagaId: this.state.sagaId, status });
  }

  /** Runs one step: registers its compensation first, then the forward action. */
  async step<T>(spec: StepSpec<T>): Promise<T> {
    const kind: StepKind = spec.kind ?? (spec.compensate ? 'compensatable' : 'retriable');
    if (kind !== 'compensatable' && spec.compensate) {
      throw ApplicationFailure.nonRetryable(
        `Step ${spec.name}: only compensatable steps take a compensation`,
        'SagaDefinitionError',
      );
    }
    if (kind === 'compensatable' && this.pivotPassed) {
      throw ApplicationFailure.nonRetryable(
        `Step ${spec.name}: compensatable steps must come before the pivot`,
        'SagaDefinitionError',
      );
    }
    const step: StepState = { name: spec.name, kind, status: 'RUNNING', attempts: 0, startedAt: now() };
    this.state.steps.push(step);
    if (spec.compensate) this.registered.push({ step, compensate: spec.compensate });
    if (kind === 'pivot') this.passPivot();
    try {
      // Past the pivot the saga only goes forward: cancellation and the deadline no longer apply.
      const out =
        kind === 'compensatable'
          ? await spec.action(actionKey(this.keyScope, spec.name, 0))
          : await this.runForward(spec, step, kind);
      step.attempts += out.attempt;
      step.status = 'SUCCEEDED';
      step.finishedAt = now();
      return out.value;
    } catch (err) {
      const failure = describeFailure(err);
      // runForward already counted a retriable step's failed rounds (it throws only once an operator resolved it)
      if (kind !== 'retriable') step.attempts += failure.attempt ?? 1;
      step.finishedAt = now();
      step.status = isCancellation(err) ? 'CANCELLED' : 'FAILED';
      step.error = { type: isCancellation(err) ? 'CANCELLED' : failure.type, message: failure.message };
      // A business rejection means the service changed nothing: there is nothing to compensate.
      const reg = this.registered.find((r) => r.step === step);
      if (reg && failure.business && !isCancellation(err)) {
        step.compensation = { status: 'NOT_NEEDED', attempts: 0 };
      }
      if (kind === 'pivot') this.pivotPassed = false;
      throw err;
    }
  }

  /**
   * Pivot and retriable steps run in a non-cancellable scope. A retriable step that still fails
   * (its retry budget is unlimited, so only a business rejection gets here) cannot be compensated:
   * the saga goes STUCK on it and an operator retries it or resolves the saga by hand.
   */
  private async runForward<T>(spec: StepSpec<T>, step: StepState, kind: StepKind): Promise<Attempted<T>> {
    for (let round = 0; ; round++) {
      try {
        const out = await CancellationScope.nonCancellable(() =>
          spec.action(actionKey(this.keyScope, spec.name, round)),
        );
        if (round > 0) {
          delete this.state.stuck;
          this.setStatus('RUNNING');
        }
        return out;
      } catch (err) {
        if (kind === 'pivot') throw err;
        const f = describeFailure(err);
        step.attempts += f.attempt ?? 1;
        step.error = { type: f.type, message: f.message };
        const action = await this.waitForOperator(round, [step.name], step.error);
        if (action.kind === 'resolve') {
          this.resolvedWithoutCompensation = true;
          step.status = 'FAILED';
          step.finishedAt = now();
          throw err;
        }
        delete step.error;
      }
    }
  }

  /** Moves to STUCK, records why, and waits for `retryCompensation` or `resolveManually`. */
  private async waitForOperator(
    round: number,
    steps: string[],
    error: { type: string; message: string },
  ): Promise<NonNullable<Saga['operatorAction']>> {
    this.state.stuck = { since: now(), round, steps, error };
    this.operatorAction = undefined;
    this.setStatus('STUCK');
    await condition(() => this.operatorAction !== undefined);
    const action = this.operatorAction!;
    this.operatorAction = undefined;
    if (action.kind === 'resolve') {
      this.state.resolution = { note: action.note, operator: action.operator, at: now(), steps };
    }
    return action;
  }

  /** Runs independent steps concurrently; if one fails, the others are awaited, then it rethrows. */
  async parallel<T extends unknown[]>(specs: { [K in keyof T]: StepSpec<T[K]> }): Promise<T> {
    const settled = await Promise.allSettled(specs.map((s) => this.step(s as StepSpec<unknown>)));
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
  }

  private passPivot(): void {
    this.pivotPassed = true;
    this.deadlineScope.cancel();
  }

  /**
   * Runs the saga body. Returns its result when every step succeeded, and the final `SagaState`
   * (status COMPENSATED) when a step failed and every compensation succeeded. Otherwise throws an
   * ApplicationFailure (SagaResolvedManually, or SagaCompensated for runs from before
   * COMPENSATED_SAGA_COMPLETES) or a cancellation, each carrying the final `SagaState` as its details.
   */
  async run<R>(body: () => Promise<R>): Promise<R | CompensatedSaga> {
    if (this.options.deadlineMs !== undefined) this.armDeadline(this.options.deadlineMs);
    let failure: unknown;
    try {
      const result = await this.forwardScope.run(body);
      this.deadlineScope.cancel();
      this.state.result = result;
      await this.persistLocalResults();
      this.state.closedAt = now();
      this.setStatus('COMPLETED');
      await this.handlersFinished();
      return result;
    } catch (err) {
      failure = err;
    }
    this.deadlineScope.cancel();
    const cancelledByUser = isCancellation(failure) && !this.deadlineHit;
    const info = describeFailure(failure);
    const failedStep = [...this.state.steps].reverse().find((s) => s.status === 'FAILED' || s.status === 'CANCELLED');
    this.state.failure = this.deadlineHit
      ? {
          type: SagaFailureTypes.DEADLINE_EXCEEDED,
          message: `Saga deadline of ${this.options.deadlineMs} ms passed`,
          step: failedStep?.name,
        }
      : cancelledByUser
        ? { type: SagaFailureTypes.CANCELLED, message: 'Saga was cancelled', step: failedStep?.name }
        : { type: info.type, message: info.message, step: failedStep?.name };
    const outcome = this.resolvedWithoutCompensation
      ? 'resolved'
      : await CancellationScope.nonCancellable(() => this.compensate());
    await this.persistLocalResults();
    this.state.closedAt = now();
    if (outcome === 'resolved') {
      this.setStatus('RESOLVED_MANUALLY');
      await this.handlersFinished();
      throw ApplicationFailure.create({
        type: SagaFailureTypes.RESOLVED_MANUALLY,
        message: `Saga ${this.state.sagaId} was resolved manually: ${this.state.resolution?.note ?? ''}`,
        nonRetryable: true,
        details: [this.state],
      });
    }
    if (cancelledByUser) {
      this.setStatus('CANCELLED');
      await this.handlersFinished();
      // A cancellation ends the workflow as Canceled in Temporal's own terms.
      throw new CancelledFailure(`Saga ${this.state.sagaId} was cancelled and compensated`, [this.state]);
    }
    this.setStatus('COMPENSATED');
    await this.handlersFinished();
    // A saga that compensated completely handled its failure (a declined card is routine business):
    // the workflow completes with its final state, so that Temporal's Failed (what operators alert
    // on) means what the runtime could not handle. Runs whose history lacks the marker (started by
    // older workers) still fail with SagaCompensated on replay.
    if ((this.options.compensatedCompletes ?? (() => patched(COMPENSATED_SAGA_COMPLETES)))())
      return this.state as CompensatedSaga;
    throw ApplicationFailure.create({
      type: SagaFailureTypes.COMPENSATED,
      message: `Saga ${this.state.sagaId} compensated: ${this.state.failure.message}`,
      nonRetryable: true,
      details: [this.state],
    });
  }

  /**
   * With local activities, a whole saga can run in one workflow task whose completion carries the
   * steps' markers *and* the command that closes the workflow. If a cancel request (or any event)
   * arrived meanwhile, the server refuses that completion (UNHANDLED_COMMAND) and every marker in
   * it is lost: the retried task replays with the cancel first, and the steps that had run (whose
   * effects are in the services) are neither re-run nor compensated. A timer before closing makes
   * the markers land in a completion of their own (the server accepts one without a closing command
   * whatever arrived), so the closing command only ever shares a task with nothing to lose.
   */
  private async persistLocalResults(): Promise<void> {
    if (!this.options.localActivities || !patched(LOCAL_RESULTS_BEFORE_CLOSE)) return;
    // A no-op regular activity: its result comes back in a later task (with eager dispatch, to this
    // worker straight away), without a timer's latency.
    await CancellationScope.nonCancellable(() => checkpoint.sagaCheckpoint());
  }

  private armDeadline(ms: number): void {
    this.deadlineScope
      .run(() => sleep(ms))
      .then(() => {
        if (!this.pivotPassed) {
          this.deadlineHit = true;
          this.forwardScope.cancel();
        }
      })
      .catch((err) => {
        if (!isCancellation(err)) throw err;
      });
  }

  /** Compensates every registered step that needs it; on failures, STUCK until an operator acts. */
  private async compensate(): Promise<'done' | 'resolved'> {
    let pending = this.registered.filter((r) => r.step.compensation?.status !== 'NOT_NEEDED').reverse();
    if (pending.length > 0) this.setStatus('COMPENSATING');
    let round = 0;
    for (;;) {
      const failed: Registered[] = [];
      if (this.policy.order === 'parallel') {
        const results = await Promise.all(pending.map((r) => this.compensateOne(r, round)));
        pending.forEach((r, i) => {
          if (!results[i]) failed.push(r);
        });
      } else {
        for (let i = 0; i < pending.length; i++) {
          const r = pending[i]!;
          if (!(await this.compensateOne(r, round))) {
            failed.push(r);
            if (!this.policy.continueOnCompensationError) {
              failed.push(...pending.slice(i + 1));
              break;
            }
          }
        }
      }
      if (failed.length === 0) return 'done';
      const first = failed.find((r) => r.step.compensation?.status === 'FAILED') ?? failed[0]!;
      const action = await this.waitForOperator(
        round,
        failed.map((r) => r.step.name),
        first.step.compensation?.error ?? { type: 'UNKNOWN', message: 'compensation failed' },
      );
      if (action.kind === 'resolve') {
        for (const r of failed) r.step.compensation = { ...r.step.compensation!, status: 'RESOLVED_MANUALLY' };
        return 'resolved';
      }
      delete this.state.stuck;
      this.setStatus('COMPENSATING');
      round++;
      pending = failed;
    }
  }

  private async compensateOne(r: Registered, round: number): Promise<boolean> {
    const c = (r.step.compensation = {
      status: 'COMPENSATING',
      attempts: r.step.compensation?.attempts ?? 0,
      startedAt: now(),
    });
    try {
      const out = await r.compensate({
        round,
        idempotencyKey: compensationIdempotencyKey(this.keyScope, r.step.name, round),
      });
      c.attempts += out.attempt;
      r.step.compensation = { ...c, status: 'COMPENSATED', finishedAt: now() };
      return true;
    } catch (err) {
      const f = describeFailure(err);
      c.attempts += f.attempt ?? 1;
      r.step.compensation = { ...c, status: 'FAILED', finishedAt: now(), error: { type: f.type, message: f.message } };
      log.warn('compensation failed', { sagaId: this.state.sagaId, step: r.step.name, error: f.message });
      return false;
    }
  }
}

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
 *   Only a business rejection of the pivot compensates the steps before it: a pivot whose outcome
 *   is unknown (its attempts ran out on technical failures) goes STUCK and undoes nothing.
 * - A compensation that exhausts its retry budget never ends the saga silently: the saga moves to
 *   STUCK and waits for an operator (`retryCompensation` / `resolveManually`).
 * - Each stuck step waits in a slot of its own (two stuck steps of a parallel group are two
 *   episodes), an operator action names a step or applies to every stuck one, and each episode
 *   accepts exactly one action.
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
  type StuckReason,
  type StuckWait,
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

/** Patch ID of the change that makes a pivot whose outcome is unknown go STUCK instead of compensating (see Saga.runForward). */
export const PIVOT_OUTCOME_UNKNOWN_WAITS = 'pivot-outcome-unknown-waits';

/**
 * Patch ID of the change that gives each stuck step its own slot: a retried step leaves STUCK (and
 * shows RETRYING) when its action is taken, not when its re-run succeeds, and the memo lists a
 * stuck step that joins others.
 */
export const STUCK_STEP_SLOTS = 'stuck-step-slots';

/** Patch ID of the change that takes a cancellation or deadline of a local-activity saga at a step boundary (see Saga.onStopRequested). */
export const LOCAL_STOPS_AT_STEP_BOUNDARIES = 'local-stops-at-step-boundaries';

/**
 * Patch ID of the change that asks a local-activity saga's patches at its start (askPatchesUpFront).
 * Runs recorded before it have their markers where the code first reached them, some in the first
 * task after other commands: asked at the start, those would be out of place, so only runs that
 * record this marker (first thing) ask them up front.
 */
export const PATCHES_UP_FRONT = 'patches-up-front';

/**
 * Patch ID of the change that lets a local-activity saga's deadline timer run out instead of
 * cancelling it once the deadline no longer matters (see Saga.deadlineNoLongerMatters).
 */
export const LOCAL_DEADLINE_RUNS_OUT = 'local-deadline-runs-out';

/** The runtime's patches whose first question a local-activity saga asks at its start (see askPatchesUpFront). */
const LOCAL_MODE_PATCHES = [
  PIVOT_OUTCOME_UNKNOWN_WAITS,
  STUCK_STEP_SLOTS,
  LOCAL_STOPS_AT_STEP_BOUNDARIES,
  LOCAL_RESULTS_BEFORE_CLOSE,
  LOCAL_DEADLINE_RUNS_OUT,
];

/**
 * Asks each patch once, at the start of the workflow, so that a run started on this code records
 * their markers in its first workflow task. Asked lazily, a patch's marker lands in whichever task
 * the code first reached it in, and with local activities that is not always the task a replay
 * reaches it in: a task can close with a local activity's result before the code has seen it (a
 * task heartbeat under load), and the replay then hands the result over in that earlier task, so
 * the code asks the patch one task too early, is told no (its marker comes later), takes the old
 * path and fails on the marker (found by the property-based tests: test/saga-runtime/found.ts).
 * Runs recorded before this ask them where they first reach them, as they did (see PATCHES_UP_FRONT).
 */
export function askPatchesUpFront(ids: readonly string[]): void {
  for (const id of ids) patched(id);
}

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
/** Operator: run the stuck steps (failed compensations, stuck pivot or retriable steps) again, every one. */
export const retryCompensationSignal = defineSignal('retryCompensation');
/** Operator: every stuck step was handled by hand; end the saga as RESOLVED_MANUALLY. */
export const resolveManuallySignal = defineSignal<[{ note: string; operator?: string }]>('resolveManually');

type OperatorAction = { kind: 'retry' } | { kind: 'resolve'; note: string; operator?: string };

/** One stuck episode (see StuckWait) and the operator action it took, once taken. */
interface Wait extends StuckWait {
  action?: OperatorAction;
}

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
  private pivotName: string | undefined;
  private compensating = false;
  private resolvedWithoutCompensation = false;
  private deadlineHit = false;
  /** The stuck episodes waiting for (or just given) an operator action. */
  private readonly waits: Wait[] = [];
  /**
   * A cancellation or deadline that a local-activity saga takes at its next step boundary (see
   * onStopRequested); `stopTaken` once taken: every later step is refused too.
   */
  private pendingStop: 'cancel' | 'deadline' | undefined;
  private stopTaken = false;
  /** A local-activity saga past its pivot or its body's end: its deadline, when it fires, changes nothing (see deadlineNoLongerMatters). */
  private deadlineOver = false;
  /** Whether the last step's answer was new (not a service's stored reply): see onStopRequested. */
  private lastAnswerFresh = false;
  /**
   * The body runs in a cancellable scope under a non-cancellable one: a cancellation request does
   * not reach it by itself (the SDK shields scopes below a non-cancellable one), the runtime
   * decides (onStopRequested) and cancels it explicitly, and never past the pivot.
   */
  private readonly forwardScope: CancellationScope;
  private readonly deadlineScope: CancellationScope;

  constructor(private readonly options: SagaOptions) {
    if (options.localActivities && patched(PATCHES_UP_FRONT))
      askPatchesUpFront([...LOCAL_MODE_PATCHES, ...(options.compensatedCompletes ? [] : [COMPENSATED_SAGA_COMPLETES])]);
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
    this.forwardScope = new CancellationScope({
      cancellable: true,
      parent: new CancellationScope({ cancellable: false }),
    });
    // The workflow's own cancellation (API, Web UI, CLI): no commands until the runtime acts on it.
    // Registered before the deadline's scope is made, so that a cancellation's commands come in the
    // order they did when the body's scope was the root's child (the replay suite holds such runs).
    CancellationScope.current().cancelRequested.catch(() => this.onStopRequested('cancel'));
    this.deadlineScope = new CancellationScope();
    setHandler(sagaStateQuery, () => this.state);
    setHandler(sagaDecidedUpdate, async () => {
      await condition(() => this.decided());
      return this.state;
    });
    setHandler(retryCompensationSignal, () => this.act({ kind: 'retry' }));
    setHandler(resolveManuallySignal, (input) =>
      this.act({ kind: 'resolve', note: input?.note ?? '', operator: input?.operator }),
    );
    // The same actions as Updates: the validator accepts an action only for an episode that has
    // none yet (no commands are emitted: old histories replay unchanged).
    setHandler(retryStuckCompensationUpdate, (input?: { step?: string }) => this.act({ kind: 'retry' }, input?.step), {
      validator: (input?: { step?: string }) => this.assertActionable(input?.step),
    });
    setHandler(
      resolveStuckSagaUpdate,
      (input: { note: string; operator?: string; step?: string }) =>
        this.act({ kind: 'resolve', note: input.note, operator: input.operator }, input.step),
      { validator: (input: { note: string; operator?: string; step?: string }) => this.assertActionable(input?.step) },
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

  /** The episodes still waiting for an action (those listing `step`, when given). */
  private waiting(step?: string): Wait[] {
    return this.waits.filter((w) => !w.action && (step === undefined || w.steps.includes(step)));
  }

  /** The operator Updates' validator: refuses an action no stuck episode can take. */
  private assertActionable(step?: string): void {
    if (this.waiting(step).length > 0) return;
    const retrying = this.state.steps.filter((s) => s.status === 'RETRYING').map((s) => s.name);
    const stuckOn = this.waiting().flatMap((w) => w.steps);
    const message =
      step !== undefined && stuckOn.length > 0
        ? `Saga ${this.state.sagaId} is not stuck on ${step} (stuck on: ${stuckOn.join(', ')})`
        : `Saga ${this.state.sagaId} is ${this.state.status}${retrying.length ? ` (retrying ${retrying.join(', ')})` : ''}, not STUCK`;
    throw ApplicationFailure.nonRetryable(message, SAGA_NOT_STUCK, this.state.status);
  }

  /** Gives `action` to every waiting episode (those listing `step`, when given). */
  private act(action: OperatorAction, step?: string): void {
    for (const w of this.waiting(step)) w.action = action;
  }

  /** state.stuck from the episodes still waiting (absent when none is). */
  private refreshStuck(): void {
    const open = this.waiting();
    const first = open[0];
    if (!first) {
      delete this.state.stuck;
      return;
    }
    this.state.stuck = {
      since: first.since,
      round: first.round,
      steps: open.flatMap((w) => w.steps),
      error: first.error,
      reason: first.reason,
      waits: open.map(({ action: _taken, ...w }) => w),
    };
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
    if (!this.pivotPassed) this.takePendingStop();
    // A cancellation taken before the pivot started: the pivot does not start (it would not be undone).
    if (kind === 'pivot' && this.forwardScope.consideredCancelled) {
      throw new CancelledFailure(`Saga ${this.state.sagaId} was cancelled before its pivot ${spec.name}`);
    }
    const step: StepState = { name: spec.name, kind, status: 'RUNNING', attempts: 0, startedAt: now() };
    this.state.steps.push(step);
    if (spec.compensate) this.registered.push({ step, compensate: spec.compensate });
    if (kind === 'pivot') this.passPivot(spec.name);
    try {
      // Past the pivot the saga only goes forward: cancellation and the deadline no longer apply.
      const out =
        kind === 'compensatable'
          ? await spec.action(actionKey(this.keyScope, spec.name, 0))
          : await this.runForward(spec, step, kind);
      step.attempts += out.attempt;
      step.status = 'SUCCEEDED';
      step.finishedAt = now();
      this.lastAnswerFresh = !out.replayed;
      return out.value;
    } catch (err) {
      const failure = describeFailure(err);
      // runForward counts a pivot's and a retriable step's failed rounds
      if (kind === 'compensatable') step.attempts += failure.attempt ?? 1;
      step.finishedAt = now();
      step.status = isCancellation(err) ? 'CANCELLED' : 'FAILED';
      step.error = { type: isCancellation(err) ? 'CANCELLED' : failure.type, message: failure.message };
      // A business rejection means the service changed nothing: there is nothing to compensate.
      const reg = this.registered.find((r) => r.step === step);
      if (reg && failure.business && !isCancellation(err)) {
        step.compensation = { status: 'NOT_NEEDED', attempts: 0 };
      }
      // Only a rejected pivot (nothing landed) lets the saga compensate; a resolved one ends it as it is.
      if (kind === 'pivot' && !this.resolvedWithoutCompensation) this.pivotPassed = false;
      throw err;
    }
  }

  /**
   * Pivot and retriable steps run in a non-cancellable scope. A retriable step that is rejected, or
   * a pivot or retriable step that runs out of attempts (its outcome is unknown: it may have
   * landed), cannot be compensated: the saga goes STUCK on it and an operator retries it or
   * resolves the saga by hand. A retry after an unknown outcome re-sends the same idempotency key
   * (a landed call is answered from the service's stored reply); after a rejection, a new one.
   * Only a business rejection of the pivot is thrown (the steps before it are compensated).
   */
  private async runForward<T>(spec: StepSpec<T>, step: StepState, kind: StepKind): Promise<Attempted<T>> {
    let keyRound = 0;
    let legacyStuck = false;
    for (let round = 0; ; round++) {
      try {
        const out = await CancellationScope.nonCancellable(() =>
          spec.action({ round, idempotencyKey: stepIdempotencyKey(this.keyScope, spec.name, keyRound) }),
        );
        if (legacyStuck) {
          // runs from before STUCK_STEP_SLOTS left STUCK only here
          delete this.state.stuck;
          this.setStatus('RUNNING');
        }
        return out;
      } catch (err) {
        const f = describeFailure(err);
        step.attempts += f.attempt ?? 1;
        if (kind === 'pivot' && (f.business || !patched(PIVOT_OUTCOME_UNKNOWN_WAITS))) throw err;
        step.error = { type: f.type, message: f.message };
        const reason: StuckReason = f.business ? 'REJECTED' : 'OUTCOME_UNKNOWN';
        if (f.business) keyRound = round + 1;
        step.status = 'RUNNING';
        const action = await this.waitForOperator({
          steps: [step.name],
          phase: 'forward',
          reason,
          round,
          error: step.error,
        });
        if (action.kind === 'resolve') {
          this.resolvedWithoutCompensation = true;
          step.status = 'FAILED';
          step.finishedAt = now();
          this.leaveStuck();
          throw err;
        }
        delete step.error;
        if (patched(STUCK_STEP_SLOTS)) {
          step.status = 'RETRYING';
          this.leaveStuck();
        } else legacyStuck = true;
      }
    }
  }

  /** After an episode took its action: out of STUCK unless another step still waits. */
  private leaveStuck(): void {
    if (this.waiting().length > 0 || this.state.status !== 'STUCK') return;
    this.setStatus(this.compensating ? 'COMPENSATING' : 'RUNNING');
  }

  /** Opens a stuck episode (STUCK, the reason recorded) and waits for its operator action. */
  private async waitForOperator(episode: Omit<StuckWait, 'since'>): Promise<OperatorAction> {
    const wait: Wait = { ...episode, since: now() };
    this.waits.push(wait);
    const wasStuck = this.state.status === 'STUCK';
    this.refreshStuck();
    if (!wasStuck) this.setStatus('STUCK');
    else if (patched(STUCK_STEP_SLOTS)) upsertMemo({ [SAGA_STATE_MEMO]: this.state });
    // Not even a cancellation of the workflow ends this wait: only an operator does.
    await CancellationScope.nonCancellable(() => condition(() => wait.action !== undefined));
    this.waits.splice(this.waits.indexOf(wait), 1);
    this.refreshStuck();
    const action = wait.action!;
    if (action.kind === 'resolve') {
      this.state.resolution = {
        note: action.note,
        operator: action.operator,
        at: now(),
        steps: [...(this.state.resolution?.steps ?? []), ...wait.steps],
      };
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

  private passPivot(name: string): void {
    this.pivotPassed = true;
    this.pivotName = name;
    this.deadlineNoLongerMatters();
    if (this.pendingStop === 'cancel' && this.state.cancellation)
      this.state.cancellation = { ...this.state.cancellation, outcome: 'REFUSED_PAST_PIVOT', step: name };
    this.pendingStop = undefined;
  }

  /**
   * A cancellation request or the deadline. Past the pivot, or while compensating, it changes
   * nothing (recorded in `state.cancellation`). Otherwise the running step is cancelled and the
   * saga compensates, except with local activities: there a workflow task that runs several steps
   * and is lost (a worker crash) leaves effects the retried task does not know about, and a
   * cancellation delivered first would stop it before it re-runs them, leaving them uncompensated.
   * So a local saga takes the stop at a step boundary, once the last step's answer was new (not a
   * service's stored reply: then no lost task had gone further); until then it goes on, each
   * re-run answered from the services' stored replies.
   */
  private onStopRequested(kind: 'cancel' | 'deadline'): void {
    if (kind === 'cancel') {
      const requestedAt = now();
      if (this.pivotPassed) {
        this.state.cancellation = { requestedAt, outcome: 'REFUSED_PAST_PIVOT', step: this.pivotName };
        return;
      }
      if (this.compensating || this.stopTaken) {
        this.state.cancellation = { requestedAt, outcome: 'REFUSED_COMPENSATING' };
        return;
      }
      const deferred = this.options.localActivities === true && patched(LOCAL_STOPS_AT_STEP_BOUNDARIES);
      this.state.cancellation = { requestedAt, outcome: deferred ? 'DEFERRED' : 'ACCEPTED' };
      if (deferred) this.pendingStop = 'cancel';
      else this.forwardScope.cancel();
      return;
    }
    if (this.pivotPassed || this.compensating || this.deadlineOver) return;
    if (this.options.localActivities === true && patched(LOCAL_STOPS_AT_STEP_BOUNDARIES)) {
      this.pendingStop ??= 'deadline';
      return;
    }
    this.deadlineHit = true;
    this.forwardScope.cancel();
  }

  /** At a step boundary before the pivot: takes a deferred stop once it is safe (see onStopRequested). */
  private takePendingStop(): void {
    if (!this.stopTaken && !(this.pendingStop && this.lastAnswerFresh)) return;
    if (!this.stopTaken) {
      this.stopTaken = true;
      if (this.pendingStop === 'deadline') this.deadlineHit = true;
      else if (this.state.cancellation) this.state.cancellation = { ...this.state.cancellation, outcome: 'ACCEPTED' };
    }
    throw new CancelledFailure(`Saga ${this.state.sagaId} was ${this.deadlineHit ? 'past its deadline' : 'cancelled'}`);
  }

  /**
   * Runs the saga body. Returns its result when every step succeeded, and the final `SagaState`
   * (status COMPENSATED) when a step failed and every compensation succeeded. Otherwise throws an
   * ApplicationFailure (SagaResolvedManually, or SagaCompensated for runs from before
   * COMPENSATED_SAGA_COMPLETES) or a cancellation, each carrying the final `SagaState` as its details.
   */
  async run<R>(body: () => Promise<R>): Promise<R | CompensatedSaga> {
    // Nothing but the runtime's own decisions (onStopRequested) cancels what follows.
    return CancellationScope.nonCancellable(() => this.runToEnd(body));
  }

  private async runToEnd<R>(body: () => Promise<R>): Promise<R | CompensatedSaga> {
    if (this.options.deadlineMs !== undefined) this.armDeadline(this.options.deadlineMs);
    let failure: unknown;
    try {
      const result = await this.forwardScope.run(body);
      this.deadlineNoLongerMatters();
      this.state.result = result;
      await this.persistLocalResults();
      this.state.closedAt = now();
      this.setStatus('COMPLETED');
      await this.handlersFinished();
      return result;
    } catch (err) {
      failure = err;
    }
    this.deadlineNoLongerMatters();
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

  /**
   * Past the pivot, or once the body ended, the deadline changes nothing. A regular saga cancels its
   * timer. A local-activity saga lets it run out (LOCAL_DEADLINE_RUNS_OUT; when it fires it does
   * nothing): the timer starts in the first workflow task, and when the first step's answer is what
   * ends the deadline, whether its cancel is a command of its own depends on the task the code saw
   * that answer in. Live, a task can close with a local activity's result before the code has seen
   * it (the timer's start is sent, its cancel comes in the next task); a replay hands the result
   * over in that first task, the timer is started and cancelled before any command is sent, and the
   * replay fails on the history's TimerStarted (found by the property-based tests under load:
   * test/saga-runtime/found.ts).
   */
  private deadlineNoLongerMatters(): void {
    if (this.options.localActivities && patched(LOCAL_DEADLINE_RUNS_OUT)) this.deadlineOver = true;
    else this.deadlineScope.cancel();
  }

  private armDeadline(ms: number): void {
    this.deadlineScope
      .run(() => sleep(ms))
      .then(() => this.onStopRequested('deadline'))
      .catch((err) => {
        if (!isCancellation(err)) throw err;
      });
  }

  /** Compensates every registered step that needs it; on failures, STUCK until an operator acts. */
  private async compensate(): Promise<'done' | 'resolved'> {
    this.compensating = true;
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
      const action = await this.waitForOperator({
        steps: failed.map((r) => r.step.name),
        phase: 'compensation',
        reason: 'COMPENSATION_FAILED',
        round,
        error: first.step.compensation?.error ?? { type: 'UNKNOWN', message: 'compensation failed' },
      });
      if (action.kind === 'resolve') {
        for (const r of failed) r.step.compensation = { ...r.step.compensation!, status: 'RESOLVED_MANUALLY' };
        return 'resolved';
      }
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

/**
 * Runs one generated Schedule (test/saga-runtime/schedule.ts) as a real saga on the dev server, acts
 * on it as the schedule says, and checks what a saga engine must never do, whatever the order of
 * events (the invariants, each named in the violation it reports):
 *
 * - SETTLES: the saga ends (or waits STUCK, actionable) within its time; it never fails with an error
 *   of its own (a TypeError), never sits RUNNING with nothing to wait for, never STUCK with no wait an
 *   operator can act on.
 * - PAST_PIVOT: once the pivot's effect landed, nothing is ever undone: no compensation starts.
 * - CONSISTENT: COMPLETED ⇒ every step's effect stands; COMPENSATED or CANCELLED ⇒ no effect stands
 *   (every step that landed was undone) and the pivot never landed.
 * - REVERSE: with the reverse policy, the first compensations start in the reverse order of the steps
 *   (a parallel group in any order among itself), and none before its step started.
 * - ONE_ACTION: copies of one operator action sent at once to a STUCK saga: exactly one is accepted;
 *   an accepted retry re-runs what it names.
 * - CONSISTENT also: no effect is undone twice.
 * - REPLAYS: the history it left has no workflow task failure and replays on the same workflow code
 *   (determinism on every path, a worker restart included).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { sagaStateQuery } from '../../workflows/saga';
import { resolveStuckSagaUpdate, retryStuckCompensationUpdate } from '../../workflows/operator-updates';
import type { SagaState } from '../../shared/saga-types';
import type { runtimePlan } from './workflows';
import type { Effects, JournalEntry } from './fakes';
import type { RuntimePlan } from './plan';
import { stepsOf, type OperatorMove, type Schedule, type Trigger } from './schedule';
import { sagaOutcome } from '../support/saga-outcome';
import type { SagaRunOptions } from '../../workflows/options';

/** Budgets small enough that a failing step or compensation gives up within about a second. */
export const EXPLORE_OPTIONS: SagaRunOptions = {
  activityTimeoutMs: 1000,
  stepRetry: { initialIntervalMs: 50, maximumIntervalMs: 50, maximumAttempts: 2 },
  compensationRetry: { initialIntervalMs: 50, maximumIntervalMs: 50, maximumAttempts: 2 },
  retriableRetry: { initialIntervalMs: 50, maximumIntervalMs: 50, maximumAttempts: 0 },
};

/**
 * How long a schedule may take before it counts as wedged, how long without a call before a saga
 * that is not STUCK does, and how long an accepted retry may take to re-run: generous, since the
 * suites share two cores with the dev server (a server-side retry alone waits about a second).
 */
const SETTLE_MS = 90_000;
const IDLE_MS = 30_000;
const RERUN_MS = 15_000;

export interface ExploreContext {
  client: Client;
  taskQueue: string;
  journal: Map<string, JournalEntry[]>;
  effects: Effects;
  /** The workflow bundle the worker runs, for the replay check. */
  workflowBundle: { code: string };
  newWorkflowId(): string;
  /** Stops the worker (in-flight calls cancelled, its cache gone) and starts a new one on the same task queue. */
  restartWorker(): Promise<void>;
}

export interface Outcome {
  workflowId: string;
  state?: SagaState;
  /** What happened, in order: the test prints it with a counterexample. */
  log: string[];
  violations: string[];
}

export function planOf(s: Schedule): RuntimePlan {
  return {
    steps: s.steps,
    options: {
      ...EXPLORE_OPTIONS,
      activityMode: s.mode,
      compensation: { order: s.order, continueOnCompensationError: s.continueOnCompensationError },
      ...(s.deadlineMs !== undefined ? { deadlineMs: s.deadlineMs } : {}),
    },
  };
}

export async function runSchedule(ctx: ExploreContext, s: Schedule): Promise<Outcome> {
  const workflowId = ctx.newWorkflowId();
  const log: string[] = [];
  const violations: string[] = [];
  const started = Date.now();
  const note = (line: string) => log.push(`+${Date.now() - started}ms ${line}`);
  const handle = await ctx.client.workflow.start<typeof runtimePlan>('runtimePlan', {
    taskQueue: ctx.taskQueue,
    workflowId,
    args: [planOf(s)],
  });
  const calls = () => ctx.journal.get(workflowId) ?? [];
  const hasStarted = (t: Trigger) => calls().some((e) => e.call === t.call && e.name === t.name && e.event === 'start');

  let cancelled = false;
  let earlySent = false;
  let restarted = false;
  const moves = [...s.onStuck];
  let fallbacks = 0;
  let lastEpisode = '';
  let lastProgress = Date.now();
  let lastCalls = 0;
  let state: SagaState | undefined;
  while (true) {
    if (s.cancelAt && !cancelled && hasStarted(s.cancelAt)) {
      cancelled = true;
      note(`cancel at ${s.cancelAt.call} ${s.cancelAt.name}`);
      await handle.cancel();
    }
    if (s.restartAt && !restarted && hasStarted(s.restartAt)) {
      restarted = true;
      note(`worker restart at ${s.restartAt.call} ${s.restartAt.name}`);
      if (
        !(await within(ctx.restartWorker(), 30_000).then(
          () => true,
          () => false,
        ))
      )
        violations.push('SETTLES: the worker did not stop within 30 s to restart');
    }
    if (s.early && !earlySent && hasStarted(s.early)) {
      earlySent = true;
      const accepted = await send(handle, s.early.move, undefined);
      note(`early ${describeMove(s.early.move)} at ${s.early.name}: ${accepted} accepted`);
    }
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') break;
    state = await within(handle.query(sagaStateQuery), 5000).catch(() => state);
    if (calls().length !== lastCalls) {
      lastCalls = calls().length;
      lastProgress = Date.now();
    }
    if (state?.status === 'STUCK') {
      const waits = stuckSteps(state);
      const episode = `${state.stuck?.round}:${waits.join(',')}:${JSON.stringify(state.stuck?.waits ?? [])}`;
      if (waits.length === 0) violations.push(`SETTLES: STUCK with no step to act on: ${JSON.stringify(state.stuck)}`);
      if (episode !== lastEpisode && waits.length > 0) {
        lastEpisode = episode;
        lastProgress = Date.now();
        const planned = moves.shift();
        // When the schedule's moves are spent: retry everything (every failure cue passes within
        // two rounds), and after a few rounds resolve, so every schedule ends.
        const m: OperatorMove = planned ?? {
          kind: fallbacks++ < 3 ? 'retry' : 'resolve',
          target: 'all',
          copies: 1,
        };
        const callsBefore = calls().length;
        const accepted = await send(handle, m, waits);
        note(`STUCK on ${waits.join(' ')} (round ${state.stuck?.round}): ${describeMove(m)}: ${accepted} accepted`);
        // a cancel changes no wait (nothing more is undone, or the compensations go on): the next move acts on the same ones
        if (m.kind === 'cancel') lastEpisode = '';
        if (m.kind === 'resolve' && accepted !== 1)
          violations.push(`ONE_ACTION: ${describeMove(m)} on STUCK ${waits.join(' ')}: ${accepted} accepted`);
        if (m.kind === 'retry' && accepted === 0)
          violations.push(`ONE_ACTION: ${describeMove(m)} on STUCK ${waits.join(' ')}: every copy refused`);
        if (m.kind === 'retry' && accepted > 0) {
          // Each accepted copy is one re-run (a new round): a second copy may be accepted only by a new
          // episode, when the first re-run already failed again (it can, in milliseconds, locally).
          // (a copy for all may also be taken by a step that got stuck meanwhile: any step counts then)
          // a step is retried with the wait it is in: behind a failed compensation (continueOnCompensationError
          // false) the others wait in its episode, and a retry naming one of them re-runs it from the failed one
          const target = pick(waits, m.target === 'all' ? 'first' : m.target);
          const named = m.target === 'all' ? waits : waitOf(state, target);
          const counts = (name: string) => m.target === 'all' || named.includes(name);
          const rounds = () =>
            new Set(
              calls()
                .slice(callsBefore)
                .filter((e) => e.event === 'start' && e.round > 0 && counts(e.name))
                .map((e) => `${e.name}:${e.round}`),
            ).size;
          const reran = await eventually(async () => rounds() >= accepted, RERUN_MS);
          if (!reran)
            violations.push(
              `ONE_ACTION: ${accepted} of ${describeMove(m)} on ${named.join(' ')} accepted, ${rounds()} re-run(s): an accepted action was dropped`,
            );
          if (reran && m.again) {
            // the impatient operator: the same action again while the re-run is in flight. Refused, or
            // (if the re-run already failed again and waits anew) honoured by a later round: never
            // accepted and then dropped.
            const seen = new Map<string, number>();
            for (const e of calls())
              if (e.event === 'start') seen.set(e.name, Math.max(seen.get(e.name) ?? 0, e.round));
            const again = await send(handle, { ...m, copies: 1 }, waits);
            note(`again while ${named.join(' ')} re-runs: ${again} accepted`);
            if (again === 1) {
              const honoured = await eventually(
                async () =>
                  calls().some((e) => e.event === 'start' && counts(e.name) && e.round > (seen.get(e.name) ?? 0)),
                RERUN_MS,
              );
              if (!honoured)
                violations.push(`ONE_ACTION: a retry accepted while ${named.join(' ')} re-ran was dropped`);
            }
          }
        }
      }
    }
    if (Date.now() - started > SETTLE_MS || (state?.status !== 'STUCK' && Date.now() - lastProgress > IDLE_MS)) {
      violations.push(
        `SETTLES: still ${state?.status} after ${Date.now() - started} ms (no call for ${Date.now() - lastProgress} ms): ${JSON.stringify(
          state?.stuck ?? state?.steps.map((x) => `${x.name}=${x.status}`),
        )}`,
      );
      await handle.terminate('explore: did not settle').catch(() => undefined);
      return { workflowId, state, log, violations };
    }
    await new Promise((r) => setTimeout(r, 30));
  }

  try {
    state = await sagaOutcome(handle);
    note(`ended ${state.status}${state.failure ? ` (${state.failure.type} at ${state.failure.step})` : ''}`);
  } catch (err) {
    violations.push(`SETTLES: the workflow ended without a saga state: ${(err as Error).message}`);
  }
  const desc = await handle.describe();
  if (desc.status.name === 'FAILED' && state?.status !== 'COMPENSATED' && state?.status !== 'RESOLVED_MANUALLY') {
    violations.push(`SETTLES: the workflow FAILED while the saga says ${state?.status}`);
  }
  if (state) violations.push(...checkEffects(s, state, calls(), ctx.effects.get(workflowId) ?? new Map()));
  violations.push(...(await checkReplay(ctx, handle)));
  return { workflowId, state, log, violations };
}

/** The steps a STUCK saga waits on: from its waits where the runtime lists them, else `stuck.steps`. */
/** The steps of the wait that `step` is in (all the stuck steps where the runtime lists no waits). */
function waitOf(state: SagaState, step: string): string[] {
  const wait = state.stuck?.waits?.find((w) => w.steps.includes(step));
  return wait ? wait.steps : (state.stuck?.steps ?? [step]);
}

function stuckSteps(state: SagaState): string[] {
  const waits = state.stuck?.waits;
  return waits ? [...new Set(waits.flatMap((w) => w.steps))] : (state.stuck?.steps ?? []);
}

const pick = (waits: string[], target: 'first' | 'last') => (target === 'first' ? waits[0]! : waits[waits.length - 1]!);
const describeMove = (m: OperatorMove) => `${m.copies > 1 ? `${m.copies}× ` : ''}${m.kind} ${m.target}`;

/** Sends a move's copies at once; how many the saga accepted. */
async function send(handle: WorkflowHandle, m: OperatorMove, waits: string[] | undefined): Promise<number> {
  if (m.kind === 'cancel') {
    await handle.cancel();
    return 1;
  }
  const step = m.target === 'all' || !waits ? undefined : pick(waits, m.target);
  const target = step ? { step } : {};
  const sent = await Promise.allSettled(
    Array.from({ length: m.copies }, () =>
      m.kind === 'retry'
        ? handle.executeUpdate(retryStuckCompensationUpdate, { args: [target] })
        : handle.executeUpdate(resolveStuckSagaUpdate, { args: [{ note: 'explore', operator: 'explore', ...target }] }),
    ),
  );
  return sent.filter((r) => r.status === 'fulfilled').length;
}

function checkEffects(
  s: Schedule,
  state: SagaState,
  entries: JournalEntry[],
  effects: Map<string, { state: string; landed: number; undone: number; blocked: number }>,
): string[] {
  const out: string[] = [];
  const steps = stepsOf(s);
  const pivot = steps.find((x) => x.kind === 'pivot');
  const stands = (name: string) => effects.get(name)?.state === 'applied';
  const undoStarts = entries.filter((e) => e.call === 'undo' && e.event === 'start');
  if (pivot && effects.get(pivot.name)?.landed && undoStarts.length > 0) {
    out.push(
      `PAST_PIVOT: the pivot ${pivot.name} landed, yet ${[...new Set(undoStarts.map((e) => e.name))].join(' ')} were undone (saga ${state.status})`,
    );
  }
  if (state.status === 'COMPLETED') {
    const missing = steps.filter((x) => !stands(x.name)).map((x) => x.name);
    if (missing.length) out.push(`CONSISTENT: COMPLETED, but the effects of ${missing.join(' ')} do not stand`);
  }
  if (state.status === 'COMPENSATED' || state.status === 'CANCELLED') {
    const left = steps.filter((x) => stands(x.name)).map((x) => x.name);
    if (left.length) out.push(`CONSISTENT: ${state.status}, but the effects of ${left.join(' ')} still stand`);
  }
  for (const [name, e] of effects) {
    if (e.undone > 1) out.push(`CONSISTENT: ${name} was undone ${e.undone} times`);
  }
  for (const u of undoStarts) {
    const i = entries.indexOf(u);
    if (!entries.slice(0, i).some((e) => e.call === 'step' && e.name === u.name && e.event === 'start'))
      out.push(`REVERSE: ${u.name} was compensated before it started`);
  }
  if (s.order === 'reverse') {
    // the first attempt of each first-round compensation, against the order the steps started in
    const first = entries.filter((e) => e.call === 'undo' && e.event === 'start' && e.round === 0 && e.attempt === 1);
    const position = new Map<string, number>();
    s.steps.forEach((item, i) => (Array.isArray(item) ? item : [item]).forEach((x) => position.set(x.name, i)));
    for (let i = 1; i < first.length; i++) {
      if (position.get(first[i]!.name)! > position.get(first[i - 1]!.name)!)
        out.push(`REVERSE: ${first[i]!.name} was compensated after ${first[i - 1]!.name}`);
    }
  }
  return out;
}

async function checkReplay(ctx: ExploreContext, handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  // Temporal's own races are not failures of the workflow: a completion that raced a new event
  // (UNHANDLED_COMMAND / UNHANDLED_UPDATE) or a dead sticky queue after a restart is retried at once.
  const benign = new Set([
    temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_UPDATE,
    temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
  ]);
  const taskFailures = (history.events ?? [])
    .map((e) => e.workflowTaskFailedEventAttributes)
    .filter((a) => a && !benign.has(a.cause ?? 0));
  if (taskFailures.length) {
    const message = taskFailures[0]!.failure?.message ?? 'no message';
    return [`SETTLES: ${taskFailures.length} workflow task failure(s): ${message.split('\n')[0]}`];
  }
  try {
    await Worker.runReplayHistory({ workflowBundle: ctx.workflowBundle, replayName: handle.workflowId }, history);
    return [];
  } catch (err) {
    // EXPLORE_HISTORIES=dir keeps the history that did not replay, for `npm run replay` or a look
    const dir = process.env.EXPLORE_HISTORIES;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${handle.workflowId}.json`), JSON.stringify(history, null, 1));
    }
    return [`REPLAYS: ${(err as Error).message.split('\n')[0]}`];
  }
}

/** The promise's value, or a rejection once `ms` have passed. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 30));
  }
  return false;
}

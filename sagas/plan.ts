/**
 * A saga's plan: the steps its workflow runs, in stages (a stage of several steps is a parallel
 * group), with the pivot and the retriable steps marked. It is what `GET /sagas/{id}` shows as the
 * steps still ahead ("2 of 6 done, next: chargePayment ‖ scheduleShipment, then the pivot").
 *
 * The workflow code is what runs; the plan describes its current shape. test/saga-plan.test.ts
 * checks every plan against the committed replay histories of its saga: each completed run
 * scheduled exactly the plan's steps, stage after stage, and the newest runs in the plan's groups.
 * Runs started before a step became parallel ran it in sequence; their view still shows the plan.
 */
import type { SagaState, StepKind } from '../shared/saga-types';

export interface PlanStage {
  /** The step names (the runtime's `StepSpec.name`); more than one: they run in parallel. */
  steps: readonly string[];
  /** compensatable (default), pivot or retriable: the kind of every step of the stage. */
  kind?: StepKind;
  /** The stage runs only under this condition (said in words, e.g. "the total is above APPROVAL_THRESHOLD_CENTS"). */
  when?: string;
}

export type SagaPlan = readonly PlanStage[];

/** One stage of the plan as the view shows it. */
export interface StageProgress {
  steps: string[];
  parallel: boolean;
  kind: StepKind;
  when?: string;
  /** DONE: every step succeeded; ACTIVE: a step started (running, retrying, stuck or failed); AHEAD: none started. */
  status: 'DONE' | 'ACTIVE' | 'AHEAD';
}

export interface SagaProgress {
  /** Steps of the plan that succeeded, and all the plan's steps (conditional stages included). */
  done: number;
  total: number;
  stages: StageProgress[];
  /** The stages not started yet, while the saga can still go forward (empty once it compensates or ends). */
  ahead: StageProgress[];
  /** One line for a person, e.g. "2 of 6 done, next: chargePayment ‖ scheduleShipment, then the pivot". */
  summary: string;
}

const label = (s: Pick<StageProgress, 'steps' | 'kind'>) =>
  s.kind === 'pivot' && s.steps.length === 1 ? 'the pivot' : s.steps.join(' ‖ ');

/** Where a saga stands against its plan. */
export function sagaProgress(plan: SagaPlan, state: Pick<SagaState, 'status' | 'steps'>): SagaProgress {
  const byName = new Map(state.steps.map((s) => [s.name, s]));
  const stages: StageProgress[] = plan.map((p) => {
    const found = p.steps.map((n) => byName.get(n));
    const status = found.every((s) => s?.status === 'SUCCEEDED') ? 'DONE' : found.some(Boolean) ? 'ACTIVE' : 'AHEAD';
    return {
      steps: [...p.steps],
      parallel: p.steps.length > 1,
      kind: p.kind ?? 'compensatable',
      ...(p.when ? { when: p.when } : {}),
      status,
    };
  });
  const forward = (['RUNNING', 'STUCK', 'AWAITING_APPROVAL'] as string[]).includes(state.status);
  const compensating = state.status === 'COMPENSATING' || state.steps.some((s) => s.compensation !== undefined);
  const goingForward = forward && !compensating;
  // A stage is ahead only after the last one that started: a conditional stage passed over was skipped.
  const lastStarted = stages.reduce((i, s, k) => (s.status !== 'AHEAD' ? k : i), -1);
  const skipped = (s: StageProgress, k: number) =>
    s.when !== undefined && s.status === 'AHEAD' && (k < lastStarted || !goingForward);
  const total = stages.reduce((n, s, k) => n + (skipped(s, k) ? 0 : s.steps.length), 0);
  const done = state.steps.filter(
    (s) => s.status === 'SUCCEEDED' && stages.some((st) => st.steps.includes(s.name)),
  ).length;
  const ahead = goingForward ? stages.filter((s, k) => k > lastStarted) : [];
  const active = goingForward ? stages.filter((s) => s.status === 'ACTIVE') : [];
  const parts = [`${done} of ${total} done`];
  if (active.length > 0) parts.push(`now: ${active.map(label).join(', ')}`);
  if (ahead.length > 0) {
    const [next, ...then] = ahead.map((s) => `${label(s)}${s.when ? ` (if ${s.when})` : ''}`);
    parts.push(`next: ${next}`);
    if (then.length > 0) parts.push(`then ${then.join(', then ')}`);
  }
  if (state.status === 'COMPENSATING' || (forward && compensating)) parts.push('compensating what was done');
  return { done, total, stages, ahead, summary: parts.join(', ') };
}

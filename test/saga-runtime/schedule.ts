/**
 * The space the property-based runtime tests explore (test/saga-runtime-properties.test.ts): a
 * Schedule is one saga's shape (steps, parallel groups, a pivot, retriable steps after it), how
 * each fake call behaves (test/saga-runtime/plan.ts cues: rejections, outages, lost answers whose
 * effect landed, slow calls), and the order in which the world acts on it: a cancel at some call, a
 * deadline, a worker restart, operator actions sent while it runs, and what the operator does each time it is STUCK
 * (retry or resolve, one step or all, sent once or several times at once, or a cancel).
 * fast-check generates and shrinks them; every field is plain JSON so a counterexample can be kept
 * as it was printed (test/saga-runtime/found.ts).
 */
import fc from 'fast-check';
import type { Cue, PlannedStep, RuntimePlan } from './plan';

export type Trigger = { call: 'step' | 'undo'; name: string };
export interface OperatorMove {
  kind: 'retry' | 'resolve' | 'cancel';
  /** Which wait it names: all of them (no step), or the first or last stuck step. */
  target: 'all' | 'first' | 'last';
  /** Copies sent at once (an impatient operator, two operators, a retried HTTP call). */
  copies: number;
  /** A retry sent once more while the step it re-runs is in flight. */
  again?: boolean;
}

export interface Schedule {
  mode: 'regular' | 'local';
  order: 'reverse' | 'parallel';
  continueOnCompensationError: boolean;
  steps: RuntimePlan['steps'];
  deadlineMs?: number;
  /** Cancel the workflow when this call starts. */
  cancelAt?: Trigger;
  /** Restart the worker when this call starts: its cache is gone, the saga goes on from its history on a new one. */
  restartAt?: Trigger;
  /** An operator action sent when this call starts (the saga may or may not be STUCK then). */
  early?: Trigger & { move: OperatorMove };
  /** What the operator does each time the saga is STUCK with a new set of waits, in turn. */
  onStuck: OperatorMove[];
}

const none = fc.constant<Cue | undefined>(undefined);
const delay = fc.constantFrom(undefined, 150, 400);
const withDelay = (cue: fc.Arbitrary<Cue | undefined>) =>
  fc.tuple(cue, delay).map(([c, d]) => (d === undefined ? c : { ...c, delayMs: d }));

/**
 * A forward action of a compensatable step or a pivot: fine; rejected; an outage that passes after
 * one attempt; one that outlasts the budget (until an operator's retry, for a pivot); and both with
 * the answer lost after the effect landed.
 */
const forwardCue = withDelay(
  fc.oneof(
    { weight: 6, arbitrary: none },
    { weight: 2, arbitrary: fc.constant<Cue>({ fail: 'reject' }) },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'break', attempts: 1 }) },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'break', rounds: 1 }) },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'break', lands: true, attempts: 1 }) },
    { weight: 2, arbitrary: fc.constant<Cue>({ fail: 'break', lands: true, rounds: 1 }) },
  ),
);
/** A retriable step is retried without limit: an outage always passes; a rejection lasts 1 or 2 rounds. */
const retriableCue = withDelay(
  fc.oneof(
    { weight: 4, arbitrary: none },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 2 }).map((rounds): Cue => ({ fail: 'reject', rounds })) },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'break', attempts: 1 }) },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'break', lands: true, attempts: 1 }) },
  ),
);
/** A compensation: fine, or failing (outage or rejection) until an operator's first or second retry. */
const undoCue = withDelay(
  fc.oneof(
    { weight: 5, arbitrary: none },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'break', attempts: 1 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 }).map((rounds): Cue => ({ fail: 'break', rounds })) },
    { weight: 1, arbitrary: fc.constant<Cue>({ fail: 'reject', rounds: 1 }) },
  ),
);

const compensatable = fc.record({ forward: forwardCue, undo: undoCue });
const pivotArb = fc.record({ forward: forwardCue });
const retriable = fc.record({ forward: retriableCue });

type Unnamed = Omit<PlannedStep, 'name'>;
/** One item or a parallel group of two. */
const item = (step: fc.Arbitrary<Unnamed>) =>
  fc.oneof({ weight: 3, arbitrary: step.map((x) => [x]) }, { weight: 1, arbitrary: fc.tuple(step, step) });

const move: fc.Arbitrary<OperatorMove> = fc.record({
  kind: fc.oneof(
    { weight: 5, arbitrary: fc.constant('retry' as const) },
    { weight: 1, arbitrary: fc.constant('resolve' as const) },
    { weight: 1, arbitrary: fc.constant('cancel' as const) },
  ),
  target: fc.constantFrom('all' as const, 'first' as const, 'last' as const),
  copies: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 4 }) }),
  again: fc.boolean(),
});

/** `arb` in `percent` of the cases, else `absent` (fast-check shrinks towards `absent`). */
function sometimes<T, A extends null | undefined>(
  percent: number,
  arb: fc.Arbitrary<T>,
  absent: A,
): fc.Arbitrary<T | A> {
  return fc.oneof(
    { withCrossShrink: true },
    { weight: 100 - percent, arbitrary: fc.constant(absent) },
    { weight: percent, arbitrary: arb },
  );
}

/** Names the steps a, b, c… in order and drops empty cues, so a printed schedule reads as a plan. */
function shape(
  before: Unnamed[][],
  pivot: Unnamed | null,
  after: Unnamed[][],
): { steps: RuntimePlan['steps']; names: string[] } {
  const names: string[] = [];
  const named = (x: Unnamed, kind?: PlannedStep['kind']): PlannedStep => {
    const name = String.fromCharCode(97 + names.length);
    names.push(name);
    return {
      name,
      ...(kind ? { kind } : {}),
      ...(x.forward ? { forward: x.forward } : {}),
      ...(x.undo ? { undo: x.undo } : {}),
    };
  };
  const group = (g: Unnamed[], kind?: PlannedStep['kind']) =>
    g.length === 1 ? named(g[0]!, kind) : g.map((x) => named(x, kind));
  const steps: RuntimePlan['steps'] = [
    ...before.map((g) => group(g)),
    ...(pivot ? [named(pivot, 'pivot')] : []),
    ...after.map((g) => group(g, 'retriable')),
  ];
  return { steps, names };
}

export const scheduleArb: fc.Arbitrary<Schedule> = fc
  .record({
    mode: fc.constantFrom('regular' as const, 'local' as const),
    order: fc.constantFrom('reverse' as const, 'parallel' as const),
    continueOnCompensationError: fc.boolean(),
    before: fc.array(item(compensatable), { minLength: 1, maxLength: 3 }),
    pivot: sometimes(70, pivotArb, null),
    after: fc.array(item(retriable), { minLength: 0, maxLength: 2 }),
    deadlineMs: sometimes(15, fc.integer({ min: 200, max: 2000 }), undefined),
    cancelPick: sometimes(25, fc.tuple(fc.constantFrom('step' as const, 'undo' as const), fc.nat()), undefined),
    restartPick: sometimes(25, fc.tuple(fc.constantFrom('step' as const, 'undo' as const), fc.nat()), undefined),
    earlyPick: sometimes(25, fc.tuple(fc.nat(), move), undefined),
    onStuck: fc.array(move, { maxLength: 4 }),
  })
  .map((r): Schedule => {
    const { steps, names } = shape(r.before, r.pivot, r.after);
    const pick = (n: number) => names[n % names.length]!;
    return {
      mode: r.mode,
      order: r.order,
      continueOnCompensationError: r.continueOnCompensationError,
      steps,
      ...(r.deadlineMs !== undefined ? { deadlineMs: r.deadlineMs } : {}),
      ...(r.cancelPick ? { cancelAt: { call: r.cancelPick[0], name: pick(r.cancelPick[1]) } } : {}),
      ...(r.restartPick ? { restartAt: { call: r.restartPick[0], name: pick(r.restartPick[1]) } } : {}),
      ...(r.earlyPick ? { early: { call: 'step' as const, name: pick(r.earlyPick[0]), move: r.earlyPick[1] } } : {}),
      onStuck: r.onStuck,
    };
  });

/** The steps of a schedule, flat, in order. */
export const stepsOf = (s: Schedule): PlannedStep[] => s.steps.flat();

/**
 * A tiny saga for testing the runtime (workflows/saga.ts) on its own: it runs the steps a plan lists
 * through the real `Saga`, against two fake activities (test/saga-runtime/fakes.ts) that do what the
 * plan's cues say. No service, no database: what is under test is the runtime's policies.
 */
import { Saga } from '../../workflows/saga';
import { sagaOptionsFrom, sagaProxies } from '../../workflows/options';
import type { FakeActivities, PlannedStep, RuntimePlan } from './plan';

/** Runs `plan` as a saga; ends like every saga (throws with the final state on failure), else returns its final state. */
export async function runtimePlan(plan: RuntimePlan): Promise<unknown> {
  const { forward, undo, retriable } = sagaProxies<FakeActivities>(plan.options);
  const saga = new Saga({ type: 'RuntimeTest', ...sagaOptionsFrom(plan.options) });
  const spec = (s: PlannedStep) => ({
    name: s.name,
    kind: s.kind ?? 'compensatable',
    action: ({ round }: { round: number }) =>
      (s.kind === 'retriable' ? retriable : forward).fakeStep({ name: s.name, round, cue: s.forward }),
    ...(s.kind === undefined || s.kind === 'compensatable'
      ? { compensate: ({ round }: { round: number }) => undo.fakeCompensation({ name: s.name, round, cue: s.undo }) }
      : {}),
  });
  await saga.run(async () => {
    for (const s of plan.steps) {
      if (Array.isArray(s)) await saga.parallel(s.map(spec));
      else await saga.step(spec(s));
    }
  });
  // The final state as the result: the tests read it the same way whatever the saga ended with.
  return saga.state;
}

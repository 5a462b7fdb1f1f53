/**
 * The plans in the saga definitions (sagas/plan.ts: what `GET /sagas/{id}` shows as the steps
 * ahead) against what the workflows really do, read from the committed replay histories: every
 * completed run scheduled exactly its plan's steps, each once, stage after stage; the run through
 * the most patches (the current code) scheduled each stage in one workflow task, as one parallel
 * group. And `sagaProgress` on the states a person would look at.
 */
import { SAGAS, sagaByWorkflowType } from '../sagas';
import { sagaProgress, type SagaPlan } from '../sagas/plan';
import type { SagaState, StepState } from '../shared/saga-types';
import { readFixtures, type History } from './replay/fixture-files';

/** The activity types a run scheduled, grouped by the workflow task whose completion scheduled them. */
function scheduledGroups(history: History): string[][] {
  const groups = new Map<string, string[]>();
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    const name = a?.activityType?.name;
    if (!a || !name || name === 'sagaCheckpoint') continue;
    const task = String(a.workflowTaskCompletedEventId);
    groups.set(task, [...(groups.get(task) ?? []), name]);
  }
  return [...groups.values()];
}

const completed = readFixtures().filter((f) => /-completed(--|$)/.test(f.name) && !f.name.includes('-local-'));

describe('each saga plan matches its completed runs', () => {
  test.each(SAGAS.map((s) => [s.type, s] as const))('%s', (_type, saga) => {
    const runs = completed.filter((f) => sagaByWorkflowType(f.workflowType) === saga);
    expect(runs.length).toBeGreaterThan(0);
    const stageOf = new Map(saga.plan.flatMap((stage, i) => stage.steps.map((s) => [s, i] as const)));
    for (const run of runs) {
      const groups = scheduledGroups(run.history);
      const steps = groups.flat();
      expect({ run: run.name, steps: [...steps].sort() }).toEqual({
        run: run.name,
        steps: saga.plan.flatMap((s) => s.steps).sort(),
      });
      // stage after stage: no step scheduled before a step of an earlier stage
      const stages = steps.map((s) => stageOf.get(s)!);
      expect({ run: run.name, stages }).toEqual({ run: run.name, stages: [...stages].sort((a, b) => a - b) });
    }
    const newest = runs.reduce((a, b) => (b.patches.length > a.patches.length ? b : a));
    expect({ run: newest.name, groups: scheduledGroups(newest.history).map((g) => [...g].sort()) }).toEqual({
      run: newest.name,
      groups: saga.plan.map((s) => [...s.steps].sort()),
    });
  });
});

const PLAN: SagaPlan = [
  { steps: ['createOrder', 'reserveStock'] },
  { steps: ['approval'], when: 'the total is above the threshold' },
  { steps: ['chargePayment', 'scheduleShipment'] },
  { steps: ['confirmOrder'], kind: 'pivot' },
  { steps: ['commitStock'], kind: 'retriable' },
];

const step = (name: string, status: StepState['status'], extra: Partial<StepState> = {}): StepState => ({
  name,
  kind: 'compensatable',
  status,
  attempts: 1,
  startedAt: '2026-12-04T00:00:00.000Z',
  ...extra,
});
const state = (status: SagaState['status'], steps: StepState[]) => ({ status, steps });

describe('sagaProgress', () => {
  test('two of six done: the next stage and the pivot ahead, the conditional stage marked', () => {
    const p = sagaProgress(
      PLAN,
      state('RUNNING', [step('createOrder', 'SUCCEEDED'), step('reserveStock', 'SUCCEEDED')]),
    );
    expect(p.summary).toBe(
      '2 of 7 done, next: approval (if the total is above the threshold), then chargePayment ‖ scheduleShipment, then the pivot, then commitStock',
    );
    expect(p.ahead.map((s) => s.steps)).toEqual([
      ['approval'],
      ['chargePayment', 'scheduleShipment'],
      ['confirmOrder'],
      ['commitStock'],
    ]);
    expect(p.ahead.map((s) => s.parallel)).toEqual([false, true, false, false]);
    expect(p.ahead[2]!.kind).toBe('pivot');
  });

  test('a conditional stage passed over is not counted and not ahead', () => {
    const p = sagaProgress(
      PLAN,
      state('RUNNING', [
        step('createOrder', 'SUCCEEDED'),
        step('reserveStock', 'SUCCEEDED'),
        step('chargePayment', 'SUCCEEDED'),
        step('scheduleShipment', 'RUNNING'),
      ]),
    );
    expect(p.summary).toBe('3 of 6 done, now: chargePayment ‖ scheduleShipment, next: the pivot, then commitStock');
    expect(p.stages.map((s) => s.status)).toEqual(['DONE', 'AHEAD', 'ACTIVE', 'AHEAD', 'AHEAD']);
  });

  test('a stuck step is the active one; the rest stays ahead (a retry goes on)', () => {
    const p = sagaProgress(
      PLAN,
      state('STUCK', [
        ...['createOrder', 'reserveStock', 'chargePayment', 'scheduleShipment'].map((n) => step(n, 'SUCCEEDED')),
        step('confirmOrder', 'RUNNING', { kind: 'pivot' }),
      ]),
    );
    expect(p.summary).toBe('4 of 6 done, now: the pivot, next: commitStock');
  });

  test('nothing is ahead once the saga compensates, nor once it ended', () => {
    const compensating = sagaProgress(
      PLAN,
      state('COMPENSATING', [
        step('createOrder', 'SUCCEEDED', { compensation: { status: 'COMPENSATING', attempts: 0 } }),
        step('reserveStock', 'FAILED'),
      ]),
    );
    expect(compensating.ahead).toEqual([]);
    expect(compensating.summary).toBe('1 of 6 done, compensating what was done');
    const completedAll = sagaProgress(
      PLAN,
      state(
        'COMPLETED',
        ['createOrder', 'reserveStock', 'chargePayment', 'scheduleShipment', 'confirmOrder', 'commitStock'].map((n) =>
          step(n, 'SUCCEEDED'),
        ),
      ),
    );
    expect(completedAll).toMatchObject({ done: 6, total: 6, ahead: [], summary: '6 of 6 done' });
  });
});

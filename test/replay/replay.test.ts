/**
 * The replay suite: every committed history (test/replay/histories/, recorded by
 * `npm run histories:record`) is replayed against the current workflow code. A workflow change that
 * would make a saga in flight decide differently fails here, naming the fixture and the reason,
 * before it is deployed. The negative tests prove the suite can fail.
 */
import { readFileSync } from 'node:fs';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { activitiesIn, cardNumbersIn, readFixtures, type Fixture, type History } from './fixture-files';
import { DECLINED_CARD, GOOD_CARD } from '../support/fixtures';
import {
  PARALLEL_CHARGE_AND_SHIP,
  PARALLEL_CREATE_AND_RESERVE,
  PLACE_ORDER,
  placeOrder,
} from '../../workflows/place-order';
import {
  COMPENSATED_SAGA_COMPLETES,
  LOCAL_RESULTS_BEFORE_CLOSE,
  PATCHES_UP_FRONT,
  compensationIdempotencyKey,
  idempotencyKeyScope,
  stepIdempotencyKey,
} from '../../workflows/saga';
import { RENAME_PRODUCT } from '../../workflows/rename-product';
import { SAGAS } from '../../sagas';
import { quietLogger } from '../support/quiet-logger';
import { SCENARIOS, SCENARIOS_BY_SAGA } from './scenarios';

/** The scenario a fixture recorded: its name up to the first `--` (the patches come after). */
const scenarioOf = (f: Fixture) => SCENARIOS.find((s) => s.scenario.name === f.name.split('--')[0]);
const COMPLETES = `--patched-${COMPENSATED_SAGA_COMPLETES}`;
/** A fixture recorded before the runtime's later patches (those runs are counted by their own tests). */
const beforeLaterPatches = (f: Fixture) =>
  !f.patches.includes(COMPENSATED_SAGA_COMPLETES) &&
  !f.patches.includes(LOCAL_RESULTS_BEFORE_CLOSE) &&
  !f.patches.includes(PARALLEL_CREATE_AND_RESERVE);
/** The sagas that ran before compensated sagas completed: only they have compensated histories without the marker. */
const BEFORE_COMPENSATED_COMPLETES = [PLACE_ORDER, RENAME_PRODUCT];

/** PlaceOrder paths that reach the charge, recorded before and after the parallel charge-and-ship change. */
const CHARGING_PLACE_ORDER_SCENARIOS = [
  'place-order-cancelled',
  'place-order-card-declined-compensated',
  'place-order-completed',
  'place-order-deadline-compensated',
  'place-order-payments-outage-healed',
  'place-order-stuck-resolved-manually',
  'place-order-stuck-retried-compensated',
  'place-order-unserviceable-address-compensated',
];
const PATCHED = `--patched-${PARALLEL_CHARGE_AND_SHIP}`;
/** PlaceOrder in local-activity mode (markers instead of activity events), recorded on the new path only. */
const LOCAL_PLACE_ORDER_SCENARIOS = ['place-order-local-card-declined-compensated', 'place-order-local-completed'];
/** Every PlaceOrder scenario: each has a history recorded since the parallel create-and-reserve change. */
const PLACE_ORDER_SCENARIOS = SCENARIOS.filter((s) => s.saga.type === PLACE_ORDER).map((s) => s.scenario.name);

const fixtures = readFixtures();

type WorkflowBundle = NonNullable<ReplayWorkerOptions['workflowBundle']>;

// The failures this suite provokes on purpose would each log a core WARN to the console: keep the
// runtime (installed once per test file; re-created with the same options after idle shutdowns)
// to errors. A failing replay is reported by the assertions, with its reason.
try {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
} catch {
  // a runtime already runs in this module registry
}

/** 'OK', or why the replay failed ("<ErrorName>: <message>"), per fixture name. */
async function replay(workflowBundle: WorkflowBundle, subset: Fixture[]): Promise<Map<string, string>> {
  const outcomes = new Map<string, string>();
  const results = Worker.runReplayHistories(
    { workflowBundle, replayName: 'replay-suite' },
    subset.map((f) => ({ workflowId: f.workflowId, history: f.history })),
  );
  let i = 0;
  // Histories are replayed one at a time, in order: the i-th result is the i-th fixture's.
  for await (const r of results) {
    const f = subset[i++]!;
    if (r.workflowId !== f.workflowId) throw new Error(`replay results out of order: ${r.workflowId} for ${f.name}`);
    outcomes.set(f.name, r.error ? `${r.error.name}: ${r.error.message}` : 'OK');
  }
  return outcomes;
}

/** The workflows as the worker runs them: the bundle the jest global setup built once with bundleWorkflowCode. */
function currentBundle(): WorkflowBundle {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!codePath)
    throw new Error(
      'TEST_WORKFLOW_BUNDLE is not set: run the suites through jest (its global setup bundles the workflows)',
    );
  return { codePath };
}

const byFixture = (a: { fixture: string }, b: { fixture: string }) =>
  a.fixture < b.fixture ? -1 : a.fixture > b.fixture ? 1 : 0;

/** Whether the two activities were scheduled by the same workflow task (i.e. concurrently). */
function scheduledInSameTask(history: History, a: string, b: string): boolean {
  const taskOf = (type: string) =>
    (history.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
      ?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
  return String(taskOf(a)) === String(taskOf(b));
}

async function bundleOf(workflowsPath: string): Promise<WorkflowBundle> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  return { code };
}

describe('Replay of the committed workflow histories', () => {
  test('when the scenarios are read, then every registered saga has some and each belongs to a registered saga', () => {
    expect(Object.keys(SCENARIOS_BY_SAGA).sort()).toEqual(SAGAS.map((s) => s.type).sort());
    expect(SAGAS.filter((s) => (SCENARIOS_BY_SAGA[s.type] ?? []).length === 0).map((s) => s.type)).toEqual([]);
  });

  test('when the fixtures folder is read, then every scenario of every registered saga has a history, and every history is of a registered scenario and its workflow', () => {
    expect(SCENARIOS.filter((s) => !fixtures.some((f) => scenarioOf(f) === s)).map((s) => s.scenario.name)).toEqual([]);
    expect(fixtures.map((f) => ({ fixture: f.name, workflow: scenarioOf(f)?.saga.workflow.name }))).toEqual(
      fixtures.map((f) => ({ fixture: f.name, workflow: f.workflowType })),
    );
  });

  test('when a scenario compensates, then it has a history recorded since compensated sagas complete (with the marker), beside the older ones for the sagas that ran before the change', () => {
    const compensating = SCENARIOS.filter((s) => s.scenario.ends === 'COMPENSATED');
    expect(compensating.length).toBeGreaterThanOrEqual(7);
    for (const { saga, scenario } of compensating) {
      const { name } = scenario;
      const own = fixtures.filter((f) => scenarioOf(f)?.scenario.name === name);
      const older = BEFORE_COMPENSATED_COMPLETES.includes(saga.type);
      expect({
        name,
        withMarker: own.some((f) => f.name.endsWith(COMPLETES) && f.patches.includes(COMPENSATED_SAGA_COMPLETES)),
        withoutMarker: own.some((f) => !f.patches.includes(COMPENSATED_SAGA_COMPLETES)),
      }).toEqual({
        name,
        withMarker: true,
        // a saga added since has no run that could have failed the old way
        withoutMarker: older,
      });
    }
    // only compensated runs reach the marker (a run that asks its patches up front records them all at its start)
    expect(
      fixtures
        .filter(
          (f) =>
            f.patches.includes(COMPENSATED_SAGA_COMPLETES) &&
            !f.patches.includes(PATCHES_UP_FRONT) &&
            scenarioOf(f)?.scenario.ends !== 'COMPENSATED',
        )
        .map((f) => f.name),
    ).toEqual([]);
  });

  test('when a fixture was recorded after the change, then it holds the patch marker and charged and shipped in one workflow task; before it, one after the other', () => {
    const paths = fixtures
      .filter(
        (f) =>
          activitiesIn(f.history).includes('scheduleShipment') &&
          !f.patches.includes(COMPENSATED_SAGA_COMPLETES) &&
          // the runs recorded since the second change (both changes): the next test
          !f.patches.includes(PARALLEL_CREATE_AND_RESERVE),
      )
      .map((f) => ({
        fixture: f.name,
        patches: f.patches,
        chargeAndShipTogether: scheduledInSameTask(f.history, 'chargePayment', 'scheduleShipment'),
      }))
      .sort(byFixture);
    expect(paths).toEqual(
      CHARGING_PLACE_ORDER_SCENARIOS.flatMap((n) => [
        { fixture: `${n}${PATCHED}`, patches: [PARALLEL_CHARGE_AND_SHIP], chargeAndShipTogether: true },
        // Before the change a declined card or a cancelled charge never got to the shipment.
        ...(n === 'place-order-card-declined-compensated' || n === 'place-order-cancelled'
          ? []
          : [{ fixture: n, patches: [], chargeAndShipTogether: false }]),
      ]).sort(byFixture),
    );
  });

  test('when a fixture was recorded after the parallel create-and-reserve change, then it holds the marker and created the order and reserved the stock in one workflow task (and, reaching the charge, charged and shipped in one); before it, one after the other', () => {
    const placeOrders = fixtures.filter((f) => f.workflowType === placeOrder.name);
    // every PlaceOrder scenario, local-activity ones included, has a run on the new path
    expect(
      [...new Set(placeOrders.filter((f) => f.patches.includes(PARALLEL_CREATE_AND_RESERVE)).map(scenarioOf))]
        .map((s) => s?.scenario.name)
        .sort(),
    ).toEqual([...PLACE_ORDER_SCENARIOS].sort());
    // with activity events (not local-activity markers), the two steps were scheduled by one task exactly when the run took the new path
    const withActivities = placeOrders.filter((f) => activitiesIn(f.history).includes('reserveStock'));
    expect(withActivities.filter((f) => f.patches.includes(PARALLEL_CREATE_AND_RESERVE)).length).toBe(
      PLACE_ORDER_SCENARIOS.length - LOCAL_PLACE_ORDER_SCENARIOS.length,
    );
    const paths = withActivities.map((f) => ({
      fixture: f.name,
      createAndReserveTogether: scheduledInSameTask(f.history, 'createOrder', 'reserveStock'),
      chargeAndShipTogether: activitiesIn(f.history).includes('scheduleShipment')
        ? scheduledInSameTask(f.history, 'chargePayment', 'scheduleShipment')
        : undefined,
    }));
    expect(paths).toEqual(
      withActivities.map((f) => {
        const newPath = f.patches.includes(PARALLEL_CREATE_AND_RESERVE);
        return {
          fixture: f.name,
          createAndReserveTogether: newPath,
          chargeAndShipTogether: activitiesIn(f.history).includes('scheduleShipment')
            ? f.patches.includes(PARALLEL_CHARGE_AND_SHIP)
            : undefined,
        };
      }),
    );
  });

  test('when a fixture was recorded in local-activity mode, then its steps are local-activity markers, not activity events', () => {
    const local = fixtures.filter((f) => LOCAL_PLACE_ORDER_SCENARIOS.some((n) => f.name.startsWith(`${n}--`)));
    expect(local.length).toBeGreaterThanOrEqual(LOCAL_PLACE_ORDER_SCENARIOS.length);
    for (const f of local) {
      // the only activity event is the runtime's checkpoint before closing (since local-results-before-close)
      const expected = f.patches.includes(LOCAL_RESULTS_BEFORE_CLOSE) ? ['sagaCheckpoint'] : [];
      expect({ fixture: f.name, activities: activitiesIn(f.history) }).toEqual({
        fixture: f.name,
        activities: expected,
      });
      const markers = (f.history.events ?? []).filter(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      expect(markers.length).toBeGreaterThanOrEqual(5);
    }
  });

  test('when the activity inputs of the fixtures are read, then every idempotency key is the one the runtime derives today (keys recorded by the older hand-written code included)', () => {
    let checked = 0;
    for (const f of fixtures) {
      // a saga whose workflow ID is a business key scopes its keys to the run (SagaDefinition.workflowIdentity)
      const started = f.history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const scope = idempotencyKeyScope(
        f.workflowId,
        started?.firstExecutionRunId ?? '',
        scenarioOf(f)?.saga.workflowIdentity === 'business-key' ? 'run' : 'workflow',
      );
      const scheduled = (f.history.events ?? []).flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        const data = a?.input?.payloads?.[0]?.data;
        if (!a?.activityType?.name || !data) return [];
        const input = JSON.parse(Buffer.from(data as Uint8Array).toString('utf8')) as { idempotencyKey?: string };
        return [{ activity: a.activityType.name, key: input.idempotencyKey ?? '' }];
      });
      const steps = scheduled.map((s) => s.activity);
      for (const { activity, key } of scheduled) {
        // a forward step is named for its activity; a compensation's key names the step it undoes
        const tail = key.slice(scope.length + 1);
        const [step = '', kind, round = '0'] = tail.split(':');
        const derived =
          kind === 'compensate'
            ? compensationIdempotencyKey(scope, step, Number(round))
            : stepIdempotencyKey(scope, activity, kind === 'retry' ? Number(round) : 0);
        expect({ fixture: f.name, activity, key }).toEqual({ fixture: f.name, activity, key: derived });
        if (kind === 'compensate')
          expect({ fixture: f.name, activity, undoes: steps.includes(step) }).toEqual({
            fixture: f.name,
            activity,
            undoes: true,
          });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  test('when the fixtures are read, then none holds a full card number (only sealed tokens and last four digits)', () => {
    for (const f of fixtures)
      expect({
        fixture: f.name,
        cardNumbers: cardNumbersIn(readFileSync(f.file, 'utf8'), [GOOD_CARD, DECLINED_CARD]),
      }).toEqual({ fixture: f.name, cardNumbers: [] });
  });

  describe('against the current workflow code', () => {
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(currentBundle(), fixtures);
    });

    test.each(fixtures.map((f) => f.name))(
      'when %s is replayed, then it replays without a determinism error',
      (name) => {
        expect(`${name}: ${outcomes.get(name)}`).toBe(`${name}: OK`);
      },
    );
  });

  describe('against a deliberately non-deterministic PlaceOrder (test/replay/nondeterministic-workflows.ts)', () => {
    const placeOrders = fixtures.filter((f) => f.workflowType === placeOrder.name);
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./nondeterministic-workflows')), placeOrders);
    });

    test('when its steps are swapped, then every PlaceOrder fixture fails replay with a DeterminismViolationError', () => {
      expect(placeOrders.length).toBeGreaterThanOrEqual(9);
      for (const f of placeOrders) {
        expect(`${f.name}: ${outcomes.get(f.name)}`).toMatch(
          new RegExp(`^${f.name}: DeterminismViolationError: .*nondeterminism`, 's'),
        );
      }
    });
  });

  describe('against PlaceOrder with the parallel charge-and-ship change but no patched() guard (test/replay/unpatched-workflows.ts)', () => {
    const placeOrders = fixtures.filter((f) => f.workflowType === placeOrder.name);
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./unpatched-workflows')), placeOrders);
    });

    test('when it replays the old histories in which the charge failed or was cancelled before a shipment was scheduled, then each fails with a DeterminismViolationError', () => {
      // The unguarded code schedules the shipment where these histories compensate instead.
      const broken = placeOrders.filter(
        (f) =>
          f.patches.length === 0 &&
          activitiesIn(f.history).includes('chargePayment') &&
          !activitiesIn(f.history).includes('scheduleShipment'),
      );
      expect(broken.map((f) => f.name)).toEqual(['place-order-cancelled', 'place-order-card-declined-compensated']);
      for (const f of broken)
        expect(`${f.name}: ${outcomes.get(f.name)}`).toMatch(
          new RegExp(`^${f.name}: DeterminismViolationError: .*Nondeterminism error`, 's'),
        );
    });

    test('when it replays the histories that recorded the patch marker, then each fails: the patched() call cannot simply be dropped', () => {
      const patched = placeOrders.filter((f) => f.patches.includes(PARALLEL_CHARGE_AND_SHIP));
      expect(patched.filter(beforeLaterPatches)).toHaveLength(
        CHARGING_PLACE_ORDER_SCENARIOS.length + LOCAL_PLACE_ORDER_SCENARIOS.length,
      );
      for (const f of patched) {
        // a run with a later patch marker meets that one first (the reason names it instead)
        const reason = beforeLaterPatches(f)
          ? `patch marker encountered for change ${PARALLEL_CHARGE_AND_SHIP}, but there is no corresponding change command`
          : PARALLEL_CHARGE_AND_SHIP;
        expect(`${f.name}: ${outcomes.get(f.name)}`).toMatch(
          new RegExp(`^${f.name}: DeterminismViolationError: .*${reason}`, 's'),
        );
      }
    });

    test('when it replays the old histories that scheduled both steps one after the other or never reached the charge, then they replay (the SDK matches commands in order, not by workflow task)', () => {
      const replayable = placeOrders.filter(
        (f) =>
          f.patches.length === 0 &&
          (activitiesIn(f.history).includes('scheduleShipment') || !activitiesIn(f.history).includes('chargePayment')),
      );
      expect(replayable.map((f) => f.name).sort()).toEqual(
        [
          'place-order-completed',
          'place-order-deadline-compensated',
          'place-order-insufficient-stock-compensated',
          'place-order-payments-outage-healed',
          'place-order-stuck-resolved-manually',
          'place-order-stuck-retried-compensated',
          'place-order-unserviceable-address-compensated',
        ].sort(),
      );
      for (const f of replayable) expect(`${f.name}: ${outcomes.get(f.name)}`).toBe(`${f.name}: OK`);
    });
  });

  describe('against PlaceOrder at the next stage of the patch, deprecatePatch and the new path only (test/replay/deprecated-patch-workflows.ts)', () => {
    const newPath = fixtures.filter((f) => f.patches.includes(PARALLEL_CHARGE_AND_SHIP));
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./deprecated-patch-workflows')), newPath);
    });

    test('when it replays every history that took the new path, then they all replay', () => {
      expect(newPath.filter(beforeLaterPatches)).toHaveLength(
        CHARGING_PLACE_ORDER_SCENARIOS.length + LOCAL_PLACE_ORDER_SCENARIOS.length,
      );
      for (const f of newPath) expect(`${f.name}: ${outcomes.get(f.name)}`).toBe(`${f.name}: OK`);
    });
  });

  describe('against PlaceOrder with the parallel create-and-reserve change but no patched() guard (test/replay/unpatched-create-and-reserve-workflows.ts)', () => {
    const placeOrders = fixtures.filter((f) => f.workflowType === placeOrder.name);
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./unpatched-create-and-reserve-workflows')), placeOrders);
    });

    test('when it replays the histories that recorded the patch marker, then each fails: the patched() call cannot simply be dropped', () => {
      const patched = placeOrders.filter((f) => f.patches.includes(PARALLEL_CREATE_AND_RESERVE));
      expect(patched.length).toBeGreaterThanOrEqual(PLACE_ORDER_SCENARIOS.length);
      for (const f of patched)
        expect(`${f.name}: ${outcomes.get(f.name)}`).toMatch(
          new RegExp(`^${f.name}: DeterminismViolationError: .*${PARALLEL_CREATE_AND_RESERVE}`, 's'),
        );
    });

    test('when it replays the histories recorded before the change, then each replays: every recorded run got past createOrder, and the SDK matches commands in order, not by workflow task', () => {
      // What the guard protects is a run in flight whose createOrder was rejected or cancelled
      // before reserveStock was scheduled: no such history is recorded, and the unguarded code
      // would schedule the reservation where that history compensates.
      const old = placeOrders.filter((f) => !f.patches.includes(PARALLEL_CREATE_AND_RESERVE));
      expect(old.length).toBeGreaterThanOrEqual(20);
      for (const f of old) {
        expect(
          activitiesIn(f.history).includes('reserveStock') ||
            f.patches.includes(PATCHES_UP_FRONT) ||
            f.name.includes('-local-'),
        ).toBe(true);
        expect(`${f.name}: ${outcomes.get(f.name)}`).toBe(`${f.name}: OK`);
      }
    });
  });

  describe('against PlaceOrder at the next stage of the create-and-reserve patch, deprecatePatch and the new path only (test/replay/deprecated-create-and-reserve-workflows.ts)', () => {
    const newPath = fixtures.filter((f) => f.patches.includes(PARALLEL_CREATE_AND_RESERVE));
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./deprecated-create-and-reserve-workflows')), newPath);
    });

    test('when it replays every history that took the new path, then they all replay', () => {
      expect(newPath.length).toBeGreaterThanOrEqual(PLACE_ORDER_SCENARIOS.length);
      for (const f of newPath) expect(`${f.name}: ${outcomes.get(f.name)}`).toBe(`${f.name}: OK`);
    });
  });

  describe('against PlaceOrder whose compensated runs complete without the patched() guard (test/replay/unguarded-completion-workflows.ts)', () => {
    const placeOrders = fixtures.filter((f) => f.workflowType === placeOrder.name);
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./unguarded-completion-workflows')), placeOrders);
    });

    test('when it replays a compensated run, old (it failed) or new (it recorded the marker), then each fails with a DeterminismViolationError; every other run replays', () => {
      const compensated = placeOrders.filter((f) => scenarioOf(f)?.scenario.ends === 'COMPENSATED');
      expect(compensated.length).toBeGreaterThanOrEqual(12);
      // a run that asked its patches up front holds the marker whatever its end: the unguarded code never asks it
      const upFront = placeOrders.filter((f) => f.patches.includes(PATCHES_UP_FRONT));
      expect(upFront.length).toBeGreaterThanOrEqual(2);
      for (const f of placeOrders) {
        const expected =
          compensated.includes(f) || upFront.includes(f) ? /DeterminismViolationError: .*nondeterminism/s : /^OK$/;
        expect(`${f.name}: ${outcomes.get(f.name)}`).toMatch(
          new RegExp(`^${f.name}: ${expected.source.replace(/^\^/, '')}`, 's'),
        );
      }
    });
  });
});

/**
 * The replay suite: every committed history (test/replay/histories/, recorded by
 * `npm run histories:record`) is replayed against the current workflow code. A workflow change that
 * would make a saga in flight decide differently fails here, naming the fixture and the reason,
 * before it is deployed. The negative tests prove the suite can fail.
 */
import { readFileSync } from 'node:fs';
import { bundleWorkflowCode, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { cardNumbersIn, readFixtures, type Fixture } from './fixture-files';
import { DECLINED_CARD, GOOD_CARD } from '../support/fixtures';
import { quietRuntime } from '../support/temporal';

/** One name per recorded scenario and code path. A new fixture is added here on purpose. */
const EXPECTED_FIXTURES = [
  'place-order-cancelled',
  'place-order-card-declined-compensated',
  'place-order-completed',
  'place-order-deadline-compensated',
  'place-order-insufficient-stock-compensated',
  'place-order-payments-outage-healed',
  'place-order-stuck-resolved-manually',
  'place-order-stuck-retried-compensated',
  'place-order-unserviceable-address-compensated',
  'rename-product-completed',
  'rename-product-orders-outage-converged',
  'rename-product-rejected-reverted',
];

const fixtures = readFixtures();
quietRuntime();

type WorkflowBundle = NonNullable<ReplayWorkerOptions['workflowBundle']>;

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
  if (!codePath) throw new Error('TEST_WORKFLOW_BUNDLE is not set: run the suites through jest (its global setup bundles the workflows)');
  return { codePath };
}

async function bundleOf(workflowsPath: string): Promise<WorkflowBundle> {
  const noop = () => undefined;
  const logger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string, meta?: unknown) => console.error(m, meta), log: noop };
  const { code } = await bundleWorkflowCode({ workflowsPath, logger });
  return { code };
}

describe('Replay of the committed workflow histories', () => {
  test('when the fixtures folder is read, then it holds one history per recorded scenario and code path', () => {
    expect(fixtures.length).toBe(EXPECTED_FIXTURES.length);
    expect(fixtures.map((f) => f.name)).toEqual(EXPECTED_FIXTURES);
  });

  test('when the fixtures are read, then none holds a full card number (only sealed tokens and last four digits)', () => {
    for (const f of fixtures) expect({ fixture: f.name, cardNumbers: cardNumbersIn(readFileSync(f.file, 'utf8'), [GOOD_CARD, DECLINED_CARD]) }).toEqual({ fixture: f.name, cardNumbers: [] });
  });

  describe('against the current workflow code', () => {
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(currentBundle(), fixtures);
    });

    test.each(fixtures.map((f) => f.name))('when %s is replayed, then it replays without a determinism error', (name) => {
      expect(`${name}: ${outcomes.get(name)}`).toBe(`${name}: OK`);
    });
  });

  describe('against a deliberately non-deterministic PlaceOrder (test/replay/nondeterministic-workflows.ts)', () => {
    const placeOrders = fixtures.filter((f) => f.workflowType === 'placeOrder');
    let outcomes: Map<string, string>;
    beforeAll(async () => {
      outcomes = await replay(await bundleOf(require.resolve('./nondeterministic-workflows')), placeOrders);
    });

    test('when its steps are swapped, then every PlaceOrder fixture fails replay with a DeterminismViolationError', () => {
      expect(placeOrders.length).toBeGreaterThanOrEqual(9);
      for (const f of placeOrders) {
        expect(`${f.name}: ${outcomes.get(f.name)}`).toMatch(new RegExp(`^${f.name}: DeterminismViolationError: .*nondeterminism`, 's'));
      }
    });
  });
});

import { runChaos } from './run';

/**
 * The short chaos run of `npm test`: 50 orders through the saga API with 5xx and
 * crash-after-commit faults on every service route, payments down for 2 s, and the worker
 * SIGKILLed and restarted once mid-run. Every order must end consistent.
 */
test('when the saga runs 50 orders under faults and a worker SIGKILL, then every order ends consistent with zero anomalies', async () => {
  const report = await runChaos({
    orders: 50,
    concurrency: 8,
    seed: 7,
    kills: 1,
    approaches: ['saga'],
    failureRate: 0.05,
    crashAfterCommitRate: 0.03,
    downService: 'payments',
    downForMs: 2000,
    settleTimeoutMs: 120_000,
    temporalAddress: process.env.TEST_TEMPORAL_ADDRESS,
    log: () => undefined,
  });
  const saga = report.results.find((r) => r.approach === 'saga')!;
  expect(saga.sent).toBe(50);
  expect(saga.coordinatorKills).toBe(1);
  expect(saga.noAnswer + saga.stillRunning + saga.stuck).toBe(0);
  expect(saga.completed + saga.compensated).toBe(50);
  // the mix has business failures, so both outcomes occur
  expect(saga.completed).toBeGreaterThan(0);
  expect(saga.compensated).toBeGreaterThan(0);
  // the auditor judged (nearly) every order: a tombstone-only order has no lines to attribute
  expect(saga.auditedOrders).toBeGreaterThanOrEqual(48);
  expect(report.violations.saga).toEqual([]);
  expect(saga.anomalies).toBe(0);
  expect(saga.duplicateCharges + saga.unrefundedCharges).toBe(0);
}, 300_000);

import { runChaos, type Approach } from './run';

/**
 * The short chaos run of `npm test`, once per saga mode: 50 orders through the saga API with 5xx
 * and crash-after-commit faults on every service route, payments down for 2 s, and the
 * coordinator SIGKILLed and restarted once mid-run: the worker (regular activities), or the API
 * process that hosts its worker (the fastest mode: eager start, local activities, so a kill loses
 * local activities that ran but whose markers were not recorded yet). Every order must end consistent.
 */
test.each<[Approach, string]>([
  ['saga', 'the worker'],
  ['saga-fast', 'the API process hosting the worker'],
])(
  'when the %s mode runs 50 orders under faults and a SIGKILL of %s, then every order ends consistent with zero anomalies',
  async (approach) => {
    const report = await runChaos({
      orders: 50,
      concurrency: 8,
      seed: 7,
      kills: 1,
      approaches: [approach],
      failureRate: 0.05,
      crashAfterCommitRate: 0.03,
      downService: 'payments',
      downForMs: 2000,
      settleTimeoutMs: 120_000,
      temporalAddress: process.env.TEST_TEMPORAL_ADDRESS,
      log: () => undefined,
    });
    const saga = report.results.find((r) => r.approach === approach)!;
    expect(saga.sent).toBe(50);
    expect(saga.coordinatorKills).toBe(1);
    expect(saga.noAnswer + saga.stillRunning + saga.stuck).toBe(0);
    expect(saga.completed + saga.compensated).toBe(50);
    // the mix has business failures, so both outcomes occur
    expect(saga.completed).toBeGreaterThan(0);
    expect(saga.compensated).toBeGreaterThan(0);
    // the auditor judged (nearly) every order: a tombstone-only order has no lines to attribute
    expect(saga.auditedOrders).toBeGreaterThanOrEqual(48);
    expect(report.violations[approach]).toEqual([]);
    expect(saga.anomalies).toBe(0);
    expect(saga.duplicateCharges + saga.unrefundedCharges).toBe(0);
  },
  300_000,
);

/**
 * `npm run chaos`: the same seeded fault schedule against the gateway coordinator and against the
 * saga API, over the same services and databases, then the consistency auditor on the result.
 *
 * Per approach: N orders (mixed with business failures: short stock, declined cards, an
 * unserviceable country), service 5xx and crash-after-commit faults on every route, one service
 * down for a while, and the coordinator process (gateway / worker) SIGKILLed and restarted several
 * times mid-run. After the run settles, the auditor checks every cross-service invariant.
 *
 * Knobs (env): CHAOS_ORDERS (500), CHAOS_CONCURRENCY (16), CHAOS_SEED (42), CHAOS_KILLS (3),
 * CHAOS_APPROACHES (gateway,saga), CHAOS_OUT (docs/chaos), CHAOS_DOWN_MS (5000), CHAOS_CLOSED_LOOP (false:
 * starts wait for the saga's end), CHAOS_SETTLE_TIMEOUT_MS (180000), CHAOS_EXPLAIN_LAST (print the
 * gaps in the histories of the sagas that closed last).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Client, Connection } from '@temporalio/client';
import { sagaEnd } from './saga-end';
import { seedProduct, startProcessStack, STACK_API_TOKEN, type ProcessStack } from '../harness/process-stack';
import { runAudit, type AuditReport } from '../audit/auditor';
import { mulberry32 } from '../lib/http/faults';

/**
 * `saga-fast`: the fastest saga mode, an API that hosts its worker (eager start, local
 * activities); its coordinator is that API process, so a kill also drops the API's answers and
 * the client retries its start with the same key until the restarted process answers.
 */
export type Approach = 'gateway' | 'saga' | 'saga-fast';

export interface ChaosOptions {
  orders: number;
  concurrency: number;
  seed: number;
  /** SIGKILL + restart of the coordinator process (gateway / worker) during each run. */
  kills: number;
  approaches: Approach[];
  /** Fault rates on every service route. */
  failureRate: number;
  crashAfterCommitRate: number;
  /** One service refuses every connection for this long, a third of the way into each run. */
  downService: 'orders' | 'inventory' | 'payments' | 'shipping';
  downForMs: number;
  /** How long to wait for sagas to reach a final state after the last order was sent. */
  settleTimeoutMs: number;
  /**
   * Saga starts wait for the saga's end (`?wait=true`), as the bench's load does: at most
   * `concurrency` sagas are open, so what follows a fault is its own recovery, not a backlog of
   * starts the worker could not keep up with (the default sends starts as fast as they are accepted).
   */
  closedLoop?: boolean;
  outDir?: string;
  temporalAddress?: string;
  log?: (line: string) => void;
}

export interface ApproachResult {
  approach: Approach;
  sent: number;
  completed: number;
  compensated: number;
  /** Gateway: answered FAILED (a rollback failed). Saga: never (it retries). */
  failed: number;
  /** The client got no answer (connection dropped when the coordinator was killed). */
  noAnswer: number;
  stillRunning: number;
  stuck: number;
  anomalies: number;
  anomaliesByClass: Record<string, number>;
  /** Two captures for one order, or a capture that is not the order's total. */
  duplicateCharges: number;
  /** Money taken for an order that was cancelled and never refunded. */
  unrefundedCharges: number;
  ordersWithAnomalies: number;
  /** Orders of this approach the auditor found in the databases and judged. */
  auditedOrders: number;
  settleMs: number;
  /**
   * Sagas: from the end of the service outage until the last saga started before that end closed
   * (close times read from Temporal): how long the outage's sagas took to recover once it was over.
   */
  outageRecoveryMs?: number;
  runMs: number;
  coordinatorKills: number;
}

export interface ChaosReport {
  startedAt: string;
  options: Omit<ChaosOptions, 'log' | 'outDir' | 'temporalAddress'>;
  results: ApproachResult[];
  violations: Record<Approach, AuditReport['violations']>;
}

interface PlannedOrder {
  index: number;
  key: string;
  body: {
    customerId: string;
    items: { sku: string; quantity: number }[];
    payment: { cardNumber: string };
    shippingAddress: { name: string; line1: string; city: string; postalCode: string; country: string };
  };
}

const SKUS_PER_RUN = 5;

/** The same seeded mix of orders for both approaches (only the SKU prefix differs). */
function planOrders(
  approach: Approach,
  opts: ChaosOptions,
  runTag: string,
): { orders: PlannedOrder[]; stock: Record<string, number> } {
  const rnd = mulberry32(opts.seed);
  const skus = Array.from({ length: SKUS_PER_RUN }, (_, i) => `${runTag}-${approach}-SKU${i}`);
  const orders: PlannedOrder[] = [];
  let requested = 0;
  for (let i = 0; i < opts.orders; i++) {
    const first = Math.floor(rnd() * SKUS_PER_RUN);
    const items = [{ sku: skus[first]!, quantity: 1 + Math.floor(rnd() * 3) }];
    if (rnd() < 0.3) items.push({ sku: skus[(first + 1) % SKUS_PER_RUN]!, quantity: 1 });
    requested += items.reduce((s, it) => s + it.quantity, 0);
    const r = rnd();
    orders.push({
      index: i,
      key: `${runTag}-${approach}-${i}`,
      body: {
        customerId: `chaos-${i % 37}`,
        items,
        payment: { cardNumber: r < 0.08 ? '4000000000000002' : '4242424242424242' },
        shippingAddress: {
          name: 'Chaos Monkey',
          line1: '1 Fault Line',
          city: 'Berlin',
          postalCode: '10115',
          country: r > 0.95 ? 'AQ' : 'DE',
        },
      },
    });
  }
  // enough stock for ~85% of the units asked for: the rest fail with INSUFFICIENT_STOCK
  const perSku = Math.floor((requested * 0.85) / SKUS_PER_RUN);
  return { orders, stock: Object.fromEntries(skus.map((s) => [s, perSku])) };
}

const SERVICES = ['orders', 'inventory', 'payments', 'shipping'] as const;

async function adminFaults(
  stack: ProcessStack,
  adminToken: string,
  body: unknown | undefined,
  services: readonly (typeof SERVICES)[number][] = SERVICES,
) {
  await Promise.all(
    services.map(async (s) => {
      const url = `${stack.urls[s]}/admin/faults`;
      const res = await fetch(url, {
        method: body === undefined ? 'DELETE' : 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${s} refused the fault config: ${res.status} ${await res.text()}`);
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ status: number; json: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  } catch {
    return undefined; // connection dropped: the coordinator died mid-request
  }
}

async function runApproach(
  stack: ProcessStack,
  approach: Approach,
  opts: ChaosOptions,
  adminToken: string,
  runTag: string,
): Promise<{ result: ApproachResult; skus: string[] }> {
  const log = opts.log ?? (() => undefined);
  const { orders, stock } = planOrders(approach, opts, runTag);
  for (const [sku, available] of Object.entries(stock)) {
    await seedProduct(stack, sku, { name: `Chaos ${sku}`, priceCents: 700 + (sku.length % 5) * 100, available });
  }
  const faultRules = {
    seed: opts.seed,
    rules: [
      { route: '*', failureRate: opts.failureRate, latencyMs: 0, crashAfterCommitRate: opts.crashAfterCommitRate },
    ],
  };
  await adminFaults(stack, adminToken, faultRules);

  const coordinator = stack.get(approach === 'gateway' ? 'gateway' : approach === 'saga' ? 'worker' : 'api-fast');
  const killAt = new Set(
    Array.from({ length: opts.kills }, (_, k) => Math.floor(((k + 1) * opts.orders) / (opts.kills + 1))),
  );
  const downAt = Math.floor(opts.orders / 3);
  const outcomes: { status?: string; sagaId?: string; startedAt?: number; closedAt?: number }[] = orders.map(
    () => ({}),
  );
  let outageEnd: number | undefined;
  let next = 0;
  let kills = 0;
  let coordinatorDown: Promise<void> = Promise.resolve();
  const started = Date.now();
  const base =
    approach === 'gateway' ? stack.urls.gateway! : approach === 'saga' ? stack.urls.api! : stack.urls.apiFast!;
  // a restarted API that hosts its worker answers once it has bundled the workflows again: a few seconds
  const startAttempts = approach === 'saga-fast' ? 120 : 5;
  const auth = { authorization: `Bearer ${STACK_API_TOKEN}` };

  const loop = async () => {
    for (;;) {
      const i = next++;
      if (i >= orders.length) return;
      if (killAt.has(i)) {
        // a kill waits for the last restart to be up: a process killed while starting never ran
        await coordinatorDown;
        kills++;
        log(`${approach}: SIGKILL ${coordinator.name} at order ${i}`);
        coordinatorDown = coordinator.kill('SIGKILL').then(async () => {
          await sleep(500);
          await coordinator.start();
        });
      }
      if (i === downAt) {
        log(`${approach}: ${opts.downService} down for ${opts.downForMs} ms at order ${i}`);
        await adminFaults(stack, adminToken, { ...faultRules, downForMs: opts.downForMs }, [opts.downService]);
        outageEnd = Date.now() + opts.downForMs;
      }
      const o = orders[i]!;
      if (approach === 'gateway') {
        // The gateway has no durable state: an order in flight when it dies gets no answer.
        const r = await postJson(`${base}/orders`, o.body, { ...auth, 'idempotency-key': o.key });
        outcomes[i] = { status: r ? String(r.json.status ?? `HTTP_${r.status}`) : 'NO_ANSWER' };
        if (!r) await coordinatorDown;
      } else {
        // A start is retried on a network error with its key (the same key never starts a second saga).
        let r: Awaited<ReturnType<typeof postJson>>;
        for (let attempt = 0; ; attempt++) {
          r = await postJson(`${base}/orders${opts.closedLoop ? '?wait=true' : ''}`, o.body, {
            ...auth,
            'idempotency-key': o.key,
          });
          if (r || attempt >= startAttempts) break;
          await sleep(500);
        }
        // a waited start answers 200 with the view, or a rejection's 4xx naming the saga: the settle loop reads its end
        outcomes[i] =
          r && (r.status === 202 || (opts.closedLoop && typeof r.json.sagaId === 'string'))
            ? { sagaId: String(r.json.sagaId), status: 'RUNNING' }
            : { status: r ? `HTTP_${r.status}` : 'NO_ANSWER' };
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  await coordinatorDown;
  const runMs = Date.now() - started;
  await adminFaults(stack, adminToken, undefined);

  // Settle: the saga keeps working after the last start; the gateway has nothing left to do. The
  // clock starts when the last fault has cleared: the last coordinator restart is done, the
  // failure and crash rates are off (the service outage ended a third of the way in).
  const settleStart = Date.now();
  let settledAt = settleStart;
  if (approach !== 'gateway') {
    // Each saga's state from Temporal itself (describe: no query, so no wait on a worker that was
    // just killed), its close time when it closed: the settle time does not depend on the polling.
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection });
    const terminal = new Set(['COMPLETED', 'COMPENSATED', 'CANCELLED', 'RESOLVED_MANUALLY', 'STUCK']);
    try {
      for (;;) {
        const open = outcomes.filter((o) => o.sagaId && !terminal.has(o.status ?? ''));
        for (let k = 0; k < open.length; k += 32) {
          await Promise.all(
            open.slice(k, k + 32).map(async (o) => {
              const d = await client.workflow.getHandle(o.sagaId!).describe();
              o.startedAt = d.startTime.getTime();
              const end = sagaEnd(d);
              if (end) {
                o.status = end.status;
                o.closedAt = end.closedAt ?? Date.now();
                settledAt = Math.max(settledAt, o.closedAt);
              }
            }),
          );
        }
        const left = outcomes.filter((o) => o.sagaId && !terminal.has(o.status ?? ''));
        if (left.length === 0) {
          if (process.env.CHAOS_EXPLAIN_LAST) await explainLast(client, outcomes, log);
          break;
        }
        if (Date.now() - settleStart > opts.settleTimeoutMs) {
          settledAt = Date.now();
          // what the sagas that did not settle wait on, from their own view (the pending step, its attempts, its last failure)
          for (const o of left.slice(0, 3)) {
            const res = await fetch(`${base}/sagas/${o.sagaId}`, { headers: auth });
            log(`${approach}: not settled: ${o.sagaId}: HTTP ${res.status} ${(await res.text()).slice(0, 1500)}`);
          }
          break;
        }
        await sleep(500);
      }
    } finally {
      await connection.close();
    }
  }
  const settleMs = settledAt - settleStart;
  const outageSagas = outcomes.filter((o) => outageEnd && o.startedAt && o.startedAt < outageEnd && o.closedAt);
  const outageRecoveryMs =
    approach !== 'gateway' && outageEnd && outageSagas.length
      ? Math.max(0, Math.max(...outageSagas.map((o) => o.closedAt!)) - outageEnd)
      : undefined;
  const count = (s: string) => outcomes.filter((o) => o.status === s).length;
  log(
    `${approach}: sent ${orders.length} in ${runMs} ms, settled ${(settleMs / 1000).toFixed(1)} s after the last fault cleared` +
      (outageRecoveryMs !== undefined
        ? `, the outage's sagas ${(outageRecoveryMs / 1000).toFixed(1)} s after it ended`
        : ''),
  );
  return {
    skus: Object.keys(stock),
    result: {
      approach,
      sent: orders.length,
      completed: count('COMPLETED'),
      compensated: count('COMPENSATED'),
      failed: count('FAILED'),
      noAnswer: count('NO_ANSWER'),
      stillRunning: count('RUNNING') + count('COMPENSATING'),
      stuck: count('STUCK'),
      anomalies: 0,
      anomaliesByClass: {},
      duplicateCharges: 0,
      unrefundedCharges: 0,
      ordersWithAnomalies: 0,
      auditedOrders: 0,
      settleMs,
      outageRecoveryMs,
      runMs,
      coordinatorKills: kills,
    },
  };
}

/** Debugging the settle time: the gaps over 3 s in the histories of the sagas that closed last. */
async function explainLast(
  client: Client,
  outcomes: { sagaId?: string; closedAt?: number }[],
  log: (l: string) => void,
): Promise<void> {
  // the close times the settle loop read: no second describe of every saga
  const closed = outcomes
    .filter((o) => o.sagaId)
    .map((o) => ({ id: o.sagaId!, close: o.closedAt ?? 0 }))
    .sort((a, b) => b.close - a.close);
  for (const { id } of closed.slice(0, 4)) {
    const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const t = (e: (typeof events)[number]) =>
      Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    const lines: string[] = [];
    for (let k = 1; k < events.length; k++) {
      const gap = t(events[k]!) - t(events[k - 1]!);
      if (gap > 3000)
        lines.push(
          `${(gap / 1000).toFixed(1)} s before #${k + 1} ${events[k]!.eventType} (after ${events[k - 1]!.eventType})`,
        );
    }
    log(`last to close: ${id}, ${events.length} events: ${lines.join('; ')}`);
  }
}

/** Which approach an order belongs to: by the SKUs on its lines. */
async function orderApproaches(
  stack: ProcessStack,
  skusByApproach: Record<string, string[]>,
): Promise<Map<string, Approach>> {
  const conn = await mysql.createConnection(`${stack.mysqlUrl.replace(/\/$/, '')}/${stack.dbPrefix}orders`);
  try {
    const [rows] = await conn.query('SELECT order_id, sku FROM order_lines');
    const out = new Map<string, Approach>();
    for (const r of rows as { order_id: string; sku: string }[]) {
      for (const [a, skus] of Object.entries(skusByApproach))
        if (skus.includes(r.sku)) out.set(r.order_id, a as Approach);
    }
    return out;
  } finally {
    await conn.end();
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const adminToken = 'chaos-admin-token-0123456789';
  const stack = await startProcessStack({
    label: 'chaos',
    adminToken,
    withWorker: opts.approaches.includes('saga'),
    withApi: opts.approaches.includes('saga'),
    withFastApi: opts.approaches.includes('saga-fast'),
    withGateway: opts.approaches.includes('gateway'),
    temporalAddress: opts.temporalAddress,
  });
  const runTag = `c${opts.seed}`;
  try {
    const results: ApproachResult[] = [];
    const skusByApproach: Record<string, string[]> = {};
    for (const approach of opts.approaches) {
      const { result, skus } = await runApproach(stack, approach, { ...opts, log }, adminToken, runTag);
      results.push(result);
      skusByApproach[approach] = skus;
    }
    const audit = await runAudit({ mysqlUrl: stack.mysqlUrl, dbPrefix: stack.dbPrefix, settleMs: 0 });
    const owner = await orderApproaches(stack, skusByApproach);
    const violations = Object.fromEntries(opts.approaches.map((a) => [a, [] as AuditReport['violations']])) as Record<
      Approach,
      AuditReport['violations']
    >;
    for (const v of audit.violations) {
      const approach = v.orderId
        ? owner.get(v.orderId)
        : v.sku
          ? (Object.entries(skusByApproach).find(([, skus]) => skus.includes(v.sku!))?.[0] as Approach | undefined)
          : undefined;
      if (approach) violations[approach].push(v);
    }
    for (const r of results) {
      const vs = violations[r.approach];
      r.anomalies = vs.length;
      r.auditedOrders = [...owner.values()].filter((a) => a === r.approach).length;
      r.ordersWithAnomalies = new Set(vs.map((v) => v.orderId).filter(Boolean)).size;
      for (const v of vs) r.anomaliesByClass[v.class] = (r.anomaliesByClass[v.class] ?? 0) + 1;
      r.duplicateCharges = vs.filter(
        (v) => v.class === 'DUPLICATE_PAYMENT' || v.class === 'CONFIRMED_PAYMENT_AMOUNT_MISMATCH',
      ).length;
      r.unrefundedCharges = vs.filter((v) => v.class === 'CANCELLED_PAYMENT_NOT_REFUNDED').length;
    }
    const { log: _l, outDir: _o, temporalAddress: _t, ...options } = opts;
    const report: ChaosReport = { startedAt: new Date().toISOString(), options, results, violations };
    if (opts.outDir) writeReport(report, opts.outDir);
    return report;
  } finally {
    await stack.stop();
  }
}

export function markdownTable(report: ChaosReport): string {
  const rows = [
    '| approach | orders sent | COMPLETED | COMPENSATED | FAILED (gateway) | no answer | still running | STUCK | anomalies | orders with anomalies | duplicate charges | charged, cancelled, not refunded | coordinator kills | run | settled after the last fault cleared | outage sagas settled after it ended |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of report.results) {
    rows.push(
      `| ${r.approach} | ${r.sent} | ${r.completed} | ${r.compensated} | ${r.failed} | ${r.noAnswer} | ${r.stillRunning} | ${r.stuck} | ${r.anomalies} | ${r.ordersWithAnomalies} | ${r.duplicateCharges} | ${r.unrefundedCharges} | ${r.coordinatorKills} | ${(r.runMs / 1000).toFixed(1)} s | ${(r.settleMs / 1000).toFixed(1)} s | ${r.outageRecoveryMs === undefined ? '–' : `${(r.outageRecoveryMs / 1000).toFixed(1)} s`} |`,
    );
  }
  const classes = [...new Set(report.results.flatMap((r) => Object.keys(r.anomaliesByClass)))].sort();
  if (classes.length > 0) {
    rows.push(
      '',
      `| anomaly class | ${report.results.map((r) => r.approach).join(' | ')} |`,
      `|---|${report.results.map(() => '---:').join('|')}|`,
    );
    for (const c of classes)
      rows.push(`| ${c} | ${report.results.map((r) => r.anomaliesByClass[c] ?? 0).join(' | ')} |`);
  }
  return rows.join('\n') + '\n';
}

function writeReport(report: ChaosReport, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  const o = report.options;
  writeFileSync(
    path.join(outDir, 'results.md'),
    `${markdownTable(report)}\nSettings: ${o.orders} orders per approach, ${o.concurrency} in flight, seed ${o.seed}, ` +
      `${o.failureRate * 100}% 5xx and ${o.crashAfterCommitRate * 100}% crash-after-commit on every service route, ` +
      `${o.downService} down for ${o.downForMs / 1000} s a third of the way in, the coordinator SIGKILLed ${o.kills} times per run. ` +
      `Run at ${report.startedAt}.\n`,
  );
}

if (require.main === module) {
  const env = process.env;
  const opts: ChaosOptions = {
    orders: Number(env.CHAOS_ORDERS ?? 500),
    concurrency: Number(env.CHAOS_CONCURRENCY ?? 16),
    seed: Number(env.CHAOS_SEED ?? 42),
    kills: Number(env.CHAOS_KILLS ?? 3),
    approaches: (env.CHAOS_APPROACHES ?? 'gateway,saga').split(',') as Approach[],
    failureRate: Number(env.CHAOS_FAILURE_RATE ?? 0.05),
    crashAfterCommitRate: Number(env.CHAOS_CRASH_RATE ?? 0.03),
    downService: (env.CHAOS_DOWN_SERVICE ?? 'payments') as ChaosOptions['downService'],
    downForMs: Number(env.CHAOS_DOWN_MS ?? 5000),
    settleTimeoutMs: Number(env.CHAOS_SETTLE_TIMEOUT_MS ?? 180_000),
    closedLoop: env.CHAOS_CLOSED_LOOP === 'true',
    outDir: path.resolve(env.CHAOS_OUT ?? path.join(__dirname, '../docs/chaos')),
  };
  runChaos(opts)
    .then((report) => {
      console.log('\n' + markdownTable(report));
      process.exit(0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

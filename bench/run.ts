/**
 * `npm run bench`: saga vs gateway vs the direct floor, in one run, on one machine, against the
 * same services and databases. Prints its numbers and writes JSON, Markdown and SVG charts.
 *
 * Knobs (env): BENCH_LEVELS (default 1,8,32,128), BENCH_DURATION_S (20), BENCH_WARMUP_S (5),
 * BENCH_MODES (direct,gateway,saga,saga-local,saga-fast; also floor-ts and floor-go, the reference floors:
 * docs/bench/floor.md), BENCH_OUT (docs/bench; docs/bench/cluster with the cluster),
 * BENCH_TEMPORAL (dev-server | cluster: the Temporal server on PostgreSQL, harness/temporal-cluster.ts),
 * BENCH_DEV_SERVER_ARGS (extra dev-server flags, e.g. `--sqlite-pragma journal_mode=wal`), WORKER_* (the worker's settings).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  seedProduct,
  startProcessStack,
  ManagedProcess,
  STACK_API_TOKEN,
  STACK_CARD_KEY,
  type ProcessStack,
} from '../harness/process-stack';
import { Client, Connection } from '@temporalio/client';
import { legPercentiles, sagaTimeline } from '../lib/temporal/saga-timeline';
import { FLOOR_MODES, LoadClient, type FloorMode, type Mode, type RunResult } from './load';
import { parseCardKey } from '../lib/auth/card-token';
import { markdown, svgChart, type BenchReport, type CpuShare, type LegBreakdown } from './report';

export interface BenchOptions {
  levels: number[];
  durationS: number;
  warmupS: number;
  modes: Mode[];
  outDir: string;
  /** Reuse a running Temporal server (tests); otherwise the bench starts its own. */
  temporalAddress?: string;
  log?: (line: string) => void;
  workerEnv?: Record<string, string>;
  /** Eager activity dispatch on the bench's own dev server (default true). */
  eagerActivities?: boolean;
  /** Extra flags for the bench's own dev server (BENCH_DEV_SERVER_ARGS, space-separated; docs/bench/settings.md). */
  devServerArgs?: string[];
  /** End each point once this many orders completed (durationS then only bounds it): the smoke test's way to never end with none. */
  orders?: number;
  /** How many sagas per point have their history read for the per-leg breakdown (default 40; 0 = none). */
  timelineSample?: number;
  /** Orders per saga mode for the answered-vs-settled comparison of one order alone (default 20; 0 = skip). */
  answeredOrders?: number;
  /** What the bench starts when no temporalAddress is given: the dev server (default) or the PostgreSQL cluster. */
  temporal?: 'dev-server' | 'cluster';
}

const percentiles = (v: number[]) => {
  const sorted = [...v].sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { n: sorted.length, p50: Math.round(pct(50) * 100) / 100, p95: Math.round(pct(95) * 100) / 100 };
};

/** Reads the histories of (a sample of) the point's sagas and summarises each leg (lib/temporal/saga-timeline.ts). */
async function legBreakdown(
  client: Client | undefined,
  r: RunResult,
  sample: number,
): Promise<LegBreakdown | undefined> {
  if (r.mode === 'direct' && r.serviceMs?.length)
    return { mode: r.mode, concurrency: r.concurrency, sagas: 0, legs: { service: percentiles(r.serviceMs) } };
  if (!client || !r.sagaIds?.length || sample <= 0) return undefined;
  // evenly spread over the window, not only its first orders
  const step = Math.max(1, Math.floor(r.sagaIds.length / sample));
  const ids = r.sagaIds.filter((_, i) => i % step === 0).slice(0, sample);
  const timelines = await Promise.all(
    ids.map(async (id) => sagaTimeline(await client.workflow.getHandle(id).fetchHistory())),
  );
  const perSaga = (f: (t: (typeof timelines)[number]) => number) => percentiles(timelines.map(f));
  return {
    mode: r.mode,
    concurrency: r.concurrency,
    sagas: timelines.length,
    legs: legPercentiles(timelines),
    perSaga: { events: perSaga((t) => t.events), workflowTasks: perSaga((t) => t.workflowTasks) },
  };
}

/**
 * The floor workers (bench/floor-ts, bench/floor-go) on task queues of their own, with the saga
 * worker's environment: the same services, token, card key and tuning knobs (WORKER_*).
 */
async function startFloorWorkers(
  root: string,
  stack: ProcessStack,
  modes: FloorMode[],
  workerEnv: Record<string, string> = {},
): Promise<{ processes: ManagedProcess[]; taskQueues: Partial<Record<FloorMode, string>> }> {
  const processes: ManagedProcess[] = [];
  const taskQueues: Partial<Record<FloorMode, string>> = {};
  for (const mode of modes) {
    const taskQueue = `${stack.taskQueue}-${mode}`;
    const [command, args] =
      mode === 'floor-go'
        ? [
            execFileSync('bash', [path.join(root, 'scripts/floor-go.sh')], {
              encoding: 'utf8',
              stdio: ['ignore', 'pipe', 'inherit'],
            }).trim(),
            [],
          ]
        : [process.execPath, ['--import', 'tsx', path.join(root, 'bench/floor-ts/worker.ts')]];
    const worker: ManagedProcess = new ManagedProcess(
      `${mode}-worker`,
      command,
      args,
      {
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_NAMESPACE: 'default',
        TASK_QUEUE: taskQueue,
        ORDERS_URL: stack.urls.orders,
        INVENTORY_URL: stack.urls.inventory,
        PAYMENTS_URL: stack.urls.payments,
        SHIPPING_URL: stack.urls.shipping,
        SERVICE_TOKEN: stack.serviceTokens.worker,
        CARD_ENCRYPTION_KEY: STACK_CARD_KEY,
        WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        ...workerEnv,
      },
      async (): Promise<boolean> => worker.output.join('').includes('worker running'),
      false,
    );
    await worker.start();
    processes.push(worker);
    taskQueues[mode] = taskQueue;
  }
  return { processes, taskQueues };
}

const CLK_TCK = 100;

/** User+system CPU seconds of a process so far (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Every process of a server that forks one per connection (PostgreSQL), by name. */
function pidsNamed(name: string): number[] {
  try {
    return execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function mysqlPid(): number | undefined {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      const out = execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).trim().split('\n')[0];
      if (out) return Number(out);
    } catch {
      // not this one
    }
  }
  return undefined;
}

function versions(root: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const out: Record<string, string> = {
    node: process.version,
    '@temporalio/worker': pkg.dependencies['@temporalio/worker'] ?? '?',
  };
  try {
    const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    out['temporal CLI'] = execFileSync(cli, ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^temporal version /, '');
  } catch {
    out['temporal CLI'] = '?';
  }
  try {
    out.mysql = execFileSync('mariadbd', ['--version'], { encoding: 'utf8' }).trim().split(/\s+/).slice(2, 3).join(' ');
  } catch {
    out.mysql = '?';
  }
  return out;
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const root = path.resolve(__dirname, '..');
  const needsApi = opts.modes.includes('saga') || opts.modes.includes('saga-local');
  const floorModes = FLOOR_MODES.filter((m) => opts.modes.includes(m));
  const needsTemporal = needsApi || opts.modes.includes('saga-fast') || floorModes.length > 0;
  const stack: ProcessStack = await startProcessStack({
    label: 'bench',
    temporalAddress: opts.temporalAddress,
    withWorker: needsApi,
    withApi: opts.modes.includes('saga'),
    withLocalApi: opts.modes.includes('saga-local'),
    withFastApi: opts.modes.includes('saga-fast'),
    withGateway: opts.modes.includes('gateway'),
    workerEnv: opts.workerEnv,
    eagerActivities: opts.eagerActivities,
    devServerArgs: opts.devServerArgs,
    temporal: opts.temporal,
  });
  let floor: Awaited<ReturnType<typeof startFloorWorkers>> | undefined;
  try {
    floor = await startFloorWorkers(root, stack, floorModes, opts.workerEnv);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  for (const p of floor.processes) stack.processes.set(p.name, p);
  const connection = needsTemporal ? await Connection.connect({ address: stack.temporalAddress }) : undefined;
  const temporal = connection ? new Client({ connection, namespace: 'default' }) : undefined;
  const client = new LoadClient({
    ...stack.urls,
    token: STACK_API_TOKEN,
    serviceToken: stack.serviceTokens.gateway,
    ...(temporal && floorModes.length > 0
      ? { floor: { workflow: temporal.workflow, taskQueues: floor.taskQueues, cardKey: parseCardKey(STACK_CARD_KEY) } }
      : {}),
  });
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()} ${os.release()}`,
    },
    versions: {
      ...versions(root),
      ...(opts.temporal === 'cluster'
        ? { 'temporal server': 'v1.29.1 built from source, PostgreSQL 15, 4 history shards' }
        : {}),
    },
    settings: { warmupS: opts.warmupS, durationS: opts.durationS, levels: opts.levels, modes: opts.modes },
    results: [],
    cpu: [],
    legs: [],
    answered: [],
  };
  try {
    const sku = 'BENCH-1';
    await seedProduct(stack, sku, { name: 'Benchmark widget', priceCents: 1000, available: 100_000_000 });
    const pids: Record<string, number | undefined> = { mysql: mysqlPid() };
    for (const [name, p] of stack.processes) pids[name] = p.proc?.pid;
    // The cluster's PostgreSQL runs a process per connection: its CPU is the sum over them, at each end
    // of the run (a connection opened and closed within the run is missed).
    const postgresCpu = () =>
      opts.temporal === 'cluster' ? pidsNamed('postgres').reduce((sum, pid) => sum + cpuSeconds(pid), 0) : 0;
    for (const mode of opts.modes) {
      for (const c of opts.levels) {
        const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuSeconds(pid)]));
        const postgresBefore = postgresCpu();
        const runStarted = Date.now();
        const r: RunResult = await client.run(mode, sku, c, {
          warmupS: opts.warmupS,
          durationS: opts.durationS,
          orders: opts.orders,
        });
        const runS = (Date.now() - runStarted) / 1000;
        const cpuMsPerOrder = Object.fromEntries(
          Object.entries(pids)
            .map(
              ([n, pid]) => [n, r.completed > 0 ? ((cpuSeconds(pid) - before[n]!) * 1000) / r.completed : 0] as const,
            )
            .filter(([, v]) => v > 0.005),
        );
        if (opts.temporal === 'cluster' && r.completed > 0)
          cpuMsPerOrder.postgres = ((postgresCpu() - postgresBefore) * 1000) / r.completed;
        // CPU includes the warm-up; scale it to the measured window's share of the run
        const share = Math.min(1, r.durationS / runS);
        for (const k of Object.keys(cpuMsPerOrder)) cpuMsPerOrder[k] = cpuMsPerOrder[k]! * share;
        const legs = await legBreakdown(temporal, r, opts.timelineSample ?? 40);
        const { sagaIds: _ids, serviceMs: _svc, ...kept } = r;
        report.results.push(kept);
        report.cpu.push({ mode, concurrency: c, cpuMsPerOrder } satisfies CpuShare);
        if (legs) report.legs!.push(legs);
        log(
          `${mode.padEnd(10)} c=${String(c).padStart(3)}  ${r.throughput.toFixed(1).padStart(7)} orders/s  p50 ${r.p50} ms  p95 ${r.p95} ms  p99 ${r.p99} ms  errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`,
        );
      }
      // one order alone, answered at the pivot (?wait=decided) and settled (?wait=true), back to back
      const n = opts.answeredOrders ?? 20;
      if (mode.startsWith('saga') && n > 0) {
        const length = { warmupS: 0, durationS: 120, orders: n };
        const answered = await client.run(mode, sku, 1, length, 'decided');
        const settled = await client.run(mode, sku, 1, length, 'true');
        report.answered!.push({
          mode,
          orders: answered.completed,
          answeredP50: answered.p50,
          answeredP95: answered.p95,
          settledP50: settled.p50,
          settledP95: settled.p95,
        });
        log(
          `${mode.padEnd(10)} alone: answered p50 ${answered.p50} ms (wait=decided), settled p50 ${settled.p50} ms (wait=true)`,
        );
      }
    }
  } finally {
    await client.close();
    await connection?.close();
    // the floor workers before the stack (its Temporal server last)
    for (const p of floor.processes) await p.kill('SIGTERM');
    await stack.stop();
  }
  mkdirSync(opts.outDir, { recursive: true });
  writeFileSync(path.join(opts.outDir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(path.join(opts.outDir, 'results.md'), markdown(report));
  writeFileSync(
    path.join(opts.outDir, 'throughput.svg'),
    svgChart(report, 'throughput', 'Throughput by orders in flight', 'orders / s'),
  );
  writeFileSync(
    path.join(opts.outDir, 'latency-p50.svg'),
    svgChart(report, 'p50', 'Median latency (start to final state)', 'p50 ms'),
  );
  return report;
}

if (require.main === module) {
  const env = process.env;
  const list = (v: string | undefined, d: string) =>
    (v ?? d)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const opts: BenchOptions = {
    levels: list(env.BENCH_LEVELS, '1,8,32,128').map(Number),
    durationS: Number(env.BENCH_DURATION_S ?? 20),
    warmupS: Number(env.BENCH_WARMUP_S ?? 5),
    modes: list(env.BENCH_MODES, 'direct,gateway,saga,saga-local,saga-fast') as Mode[],
    outDir: path.resolve(
      env.BENCH_OUT ??
        path.join(__dirname, env.BENCH_TEMPORAL === 'cluster' ? '../docs/bench/cluster' : '../docs/bench'),
    ),
    temporal: env.BENCH_TEMPORAL === 'cluster' ? 'cluster' : 'dev-server',
    eagerActivities: env.BENCH_EAGER !== 'false',
    devServerArgs: (env.BENCH_DEV_SERVER_ARGS ?? '').split(/\s+/).filter(Boolean),
    workerEnv: Object.fromEntries(
      Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('WORKER_') && e[1] !== undefined),
    ),
  };
  runBench(opts)
    .then((report) => {
      console.log('\n' + markdown(report));
      console.log(`written to ${opts.outDir}`);
      process.exit(0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

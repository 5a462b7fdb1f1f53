/**
 * `npm run bench:sweep`: the worker and dev-server settings of issue 19, each measured against the
 * defaults in one run (the defaults first and last, so drift over the run shows), on the bench's own
 * stack (a fresh one per variant: bench/run.ts). Writes docs/bench/settings.json and prints a
 * Markdown table; docs/bench/settings.md says which were kept and why.
 *
 * Knobs (env): SWEEP_MODES (saga,saga-fast), SWEEP_LEVELS (1,32), SWEEP_DURATION_S (10),
 * SWEEP_VARIANTS (comma-separated names, default all), SWEEP_OUT (docs/bench).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from './run';
import type { Mode } from './load';
import type { BenchReport } from './report';

interface Variant {
  name: string;
  what: string;
  workerEnv?: Record<string, string>;
  devServerArgs?: (dir: string) => string[];
  eagerActivities?: boolean;
}

export const VARIANTS: Variant[] = [
  { name: 'defaults', what: 'the committed defaults (in-memory SQLite dev server, eager activities, fixed pollers)' },
  {
    name: 'poller-autoscaling',
    what: 'WORKER_POLLER_BEHAVIOR=autoscaling (PollerBehavior autoscaling, 1 up to 10 polls)',
    workerEnv: { WORKER_POLLER_BEHAVIOR: 'autoscaling' },
  },
  {
    name: 'cache-100',
    what: 'WORKER_MAX_CACHED_WORKFLOWS=100 (default 1000)',
    workerEnv: { WORKER_MAX_CACHED_WORKFLOWS: '100' },
  },
  {
    name: 'wft-slots-10',
    what: 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS=10 (default 100)',
    workerEnv: { WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '10' },
  },
  {
    name: 'workflow-threads-2',
    what: 'WORKER_WORKFLOW_THREADS=2 (workflowThreadPoolSize; default 1 with the reused V8 context)',
    workerEnv: { WORKER_WORKFLOW_THREADS: '2' },
  },
  {
    name: 'main-thread',
    what: 'WORKER_WORKFLOW_THREAD=main (the SDK debug mode, deadlock timeout kept)',
    workerEnv: { WORKER_WORKFLOW_THREAD: 'main' },
  },
  { name: 'no-eager-activities', what: 'eager activity dispatch off on the dev server', eagerActivities: false },
  {
    name: 'sqlite-file',
    what: 'dev server on a SQLite file (--db-filename, what `npm run dev` uses), default pragmas',
    devServerArgs: (dir) => ['--db-filename', path.join(dir, 'file.db')],
  },
  {
    name: 'sqlite-file-wal',
    what: 'SQLite file with --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=NORMAL',
    devServerArgs: (dir) => [
      '--db-filename',
      path.join(dir, 'wal.db'),
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=NORMAL',
    ],
  },
  {
    name: 'sqlite-file-sync-off',
    what: 'SQLite file with journal_mode=wal and synchronous=OFF (loses the last writes on a power cut)',
    devServerArgs: (dir) => [
      '--db-filename',
      path.join(dir, 'off.db'),
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=OFF',
    ],
  },
  { name: 'defaults-again', what: 'the defaults once more, last: the run-to-run drift' },
];

export interface SweepRow {
  variant: string;
  what: string;
  mode: Mode;
  concurrency: number;
  throughput: number;
  p50: number;
  cpuMsPerOrder: number;
  temporalCpuMsPerOrder: number;
  errors: number;
}

export function rowsOf(v: Variant, report: BenchReport): SweepRow[] {
  return report.results.map((r) => {
    const cpu = report.cpu.find((c) => c.mode === r.mode && c.concurrency === r.concurrency)?.cpuMsPerOrder ?? {};
    return {
      variant: v.name,
      what: v.what,
      mode: r.mode,
      concurrency: r.concurrency,
      throughput: r.throughput,
      p50: r.p50,
      cpuMsPerOrder: Object.values(cpu).reduce((a, b) => a + b, 0),
      temporalCpuMsPerOrder: cpu.temporal ?? 0,
      errors: r.errors,
    };
  });
}

export function sweepTable(rows: SweepRow[]): string {
  const base = (r: SweepRow) =>
    rows.find((b) => b.variant === 'defaults' && b.mode === r.mode && b.concurrency === r.concurrency);
  const ratio = (a: number, b: number | undefined) => (b ? `${((a / b) * 100).toFixed(0)}%` : '–');
  const out = [
    '| variant | mode | c | orders/s | vs defaults | p50 ms | vs defaults | CPU ms / order (Temporal) | vs defaults | errors |',
    '|---|---|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  for (const r of rows) {
    const b = base(r);
    out.push(
      `| ${r.variant} | ${r.mode} | ${r.concurrency} | ${r.throughput.toFixed(1)} | ${ratio(r.throughput, b?.throughput)} | ${r.p50.toFixed(0)} | ${ratio(r.p50, b?.p50)} | ${r.cpuMsPerOrder.toFixed(0)} (${r.temporalCpuMsPerOrder.toFixed(0)}) | ${ratio(r.cpuMsPerOrder, b?.cpuMsPerOrder)} | ${r.errors} |`,
    );
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const env = process.env;
  const startedAt = new Date().toISOString();
  const list = (v: string | undefined, d: string) =>
    (v ?? d)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const modes = list(env.SWEEP_MODES, 'saga,saga-fast') as Mode[];
  const levels = list(env.SWEEP_LEVELS, '1,32').map(Number);
  const durationS = Number(env.SWEEP_DURATION_S ?? 10);
  const names = env.SWEEP_VARIANTS ? list(env.SWEEP_VARIANTS, '') : VARIANTS.map((v) => v.name);
  const outDir = path.resolve(env.SWEEP_OUT ?? path.join(__dirname, '../docs/bench'));
  const scratch = path.join(os.tmpdir(), `bench-sweep-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  const rows: SweepRow[] = [];
  for (const name of names) {
    const v = VARIANTS.find((x) => x.name === name);
    if (!v) throw new Error(`unknown SWEEP_VARIANTS entry ${name}: one of ${VARIANTS.map((x) => x.name).join(', ')}`);
    console.error(`sweep: ${v.name}: ${v.what}`);
    const report = await runBench({
      levels,
      durationS,
      warmupS: 3,
      modes,
      outDir: path.join(scratch, v.name),
      workerEnv: v.workerEnv,
      devServerArgs: v.devServerArgs?.(scratch),
      eagerActivities: v.eagerActivities ?? true,
      timelineSample: 0,
      answeredOrders: 0,
    });
    rows.push(...rowsOf(v, report));
    console.error(sweepTable(rows.filter((r) => r.variant === v.name)));
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    path.join(outDir, 'settings.json'),
    JSON.stringify({ startedAt, finishedAt: new Date().toISOString(), modes, levels, durationS, rows }, null, 2) + '\n',
  );
  console.log(sweepTable(rows));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

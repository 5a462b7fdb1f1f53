/**
 * `npm run bench`: saga vs gateway vs the direct floor, in one run, on one machine, against the
 * same services and databases. Prints its numbers and writes JSON, Markdown and SVG charts.
 *
 * Knobs (env): BENCH_LEVELS (default 1,8,32,128), BENCH_DURATION_S (20), BENCH_WARMUP_S (5),
 * BENCH_MODES (direct,gateway,saga,saga-local), BENCH_OUT (docs/bench).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stackAuth, startProcessStack, STACK_API_TOKEN, type ProcessStack } from '../harness/process-stack';
import { LoadClient, type Mode, type RunResult } from './load';
import { markdown, svgChart, type BenchReport, type CpuShare } from './report';

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
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const out: Record<string, string> = { node: process.version, '@temporalio/worker': pkg.dependencies['@temporalio/worker'] ?? '?' };
  try {
    const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    out['temporal CLI'] = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim().replace(/^temporal version /, '');
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
  const stack: ProcessStack = await startProcessStack({
    label: 'bench',
    temporalAddress: opts.temporalAddress,
    withWorker: needsApi,
    withApi: opts.modes.includes('saga'),
    withLocalApi: opts.modes.includes('saga-local'),
    withGateway: opts.modes.includes('gateway'),
    workerEnv: opts.workerEnv,
    eagerActivities: opts.eagerActivities,
  });
  const client = new LoadClient({ ...stack.urls, token: STACK_API_TOKEN, serviceToken: stack.serviceTokens.gateway, apiLocal: stack.urls.apiLocal });
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}` },
    versions: versions(root),
    settings: { warmupS: opts.warmupS, durationS: opts.durationS, levels: opts.levels, modes: opts.modes },
    results: [],
    cpu: [],
  };
  try {
    const sku = 'BENCH-1';
    const put = await fetch(`${stack.urls.inventory}/products/${sku}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: stackAuth(stack, 'operator') },
      body: JSON.stringify({ name: 'Benchmark widget', priceCents: 1000, available: 100_000_000 }),
    });
    if (!put.ok) throw new Error(`could not seed the benchmark product: ${put.status}`);
    const pids: Record<string, number | undefined> = { mysql: mysqlPid() };
    for (const [name, p] of stack.processes) pids[name] = p.proc?.pid;
    for (const mode of opts.modes) {
      for (const c of opts.levels) {
        const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuSeconds(pid)]));
        const r: RunResult = await client.run(mode, sku, c, opts.warmupS, opts.durationS);
        const cpuMsPerOrder = Object.fromEntries(
          Object.entries(pids)
            .map(([n, pid]) => [n, r.completed > 0 ? ((cpuSeconds(pid) - before[n]!) * 1000) / r.completed : 0] as const)
            .filter(([, v]) => v > 0.005),
        );
        // CPU includes the warm-up; scale it to the measured window's share of the run
        const share = opts.durationS / (opts.durationS + opts.warmupS);
        for (const k of Object.keys(cpuMsPerOrder)) cpuMsPerOrder[k] = cpuMsPerOrder[k]! * share;
        report.results.push(r);
        report.cpu.push({ mode, concurrency: c, cpuMsPerOrder } satisfies CpuShare);
        log(
          `${mode.padEnd(10)} c=${String(c).padStart(3)}  ${r.throughput.toFixed(1).padStart(7)} orders/s  p50 ${r.p50} ms  p95 ${r.p95} ms  p99 ${r.p99} ms  errors ${r.errors}${r.firstError ? ` (${r.firstError})` : ''}`,
        );
      }
    }
  } finally {
    await client.close();
    await stack.stop();
  }
  mkdirSync(opts.outDir, { recursive: true });
  writeFileSync(path.join(opts.outDir, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(path.join(opts.outDir, 'results.md'), markdown(report));
  writeFileSync(path.join(opts.outDir, 'throughput.svg'), svgChart(report, 'throughput', 'Throughput by orders in flight', 'orders / s'));
  writeFileSync(path.join(opts.outDir, 'latency-p50.svg'), svgChart(report, 'p50', 'Median latency (start to final state)', 'p50 ms'));
  return report;
}

if (require.main === module) {
  const env = process.env;
  const list = (v: string | undefined, d: string) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
  const opts: BenchOptions = {
    levels: list(env.BENCH_LEVELS, '1,8,32,128').map(Number),
    durationS: Number(env.BENCH_DURATION_S ?? 20),
    warmupS: Number(env.BENCH_WARMUP_S ?? 5),
    modes: list(env.BENCH_MODES, 'direct,gateway,saga,saga-local') as Mode[],
    outDir: path.resolve(env.BENCH_OUT ?? path.join(__dirname, '../docs/bench')),
    eagerActivities: env.BENCH_EAGER !== 'false',
    workerEnv: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('WORKER_') && e[1] !== undefined)),
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

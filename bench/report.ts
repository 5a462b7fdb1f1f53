/** Renders benchmark results as a Markdown table and SVG line charts (no dependencies needed for two charts). */
import type { Mode, RunResult } from './load';

export interface CpuShare {
  mode: Mode;
  concurrency: number;
  /** CPU milliseconds per completed order, by process. */
  cpuMsPerOrder: Record<string, number>;
}

type Pct = { n: number; p50: number; p95: number };

/** Per mode and level: p50/p95 of each leg read from the sagas' own histories (lib/temporal/saga-timeline.ts). */
export interface LegBreakdown {
  mode: Mode;
  concurrency: number;
  /** How many sagas' histories were read (0 for direct, whose service times come from its own calls). */
  sagas: number;
  legs: Partial<Record<string, Pct>>;
  perSaga?: { events: Pct; workflowTasks: Pct };
}

export interface BenchReport {
  startedAt: string;
  machine: { cores: number; cpuModel: string; memoryGiB: number; platform: string };
  versions: Record<string, string>;
  settings: { warmupS: number; durationS: number; levels: number[]; modes: Mode[] };
  results: RunResult[];
  cpu: CpuShare[];
  legs?: LegBreakdown[];
  /** One order alone, per saga mode: the answer with `?wait=decided` (at the pivot) against `?wait=true` (settled). */
  answered?: {
    mode: Mode;
    orders: number;
    answeredP50: number;
    answeredP95: number;
    settledP50: number;
    settledP95: number;
  }[];
  notes?: string[];
}

/** The Temporal server's process names in the CPU table (the dev server, or a cluster's server). */
const TEMPORAL_PROCESSES = new Set(['temporal', 'temporal-server']);

/**
 * A projection, not a measurement: orders/s on this machine's cores if the Temporal server ran on
 * machines of its own (as with a cluster or Temporal Cloud), i.e. cores × 1000 / CPU-ms per order
 * without the server's share. Only meaningful where CPU, not latency, is the limit (high concurrency).
 */
export function projectedThroughput(report: BenchReport, cpu: CpuShare): number | undefined {
  const without = Object.entries(cpu.cpuMsPerOrder)
    .filter(([name]) => !TEMPORAL_PROCESSES.has(name))
    .reduce((s, [, v]) => s + v, 0);
  return without > 0 ? (report.machine.cores * 1000) / without : undefined;
}

/** The services and their databases: what every mode pays for the same six local transactions. */
const SERVICE_PROCESSES = ['orders', 'inventory', 'payments', 'shipping', 'mysql'];
/**
 * The processes that orchestrate each mode's orders (the rest of a run's processes sit idle in that
 * mode: a saga worker while the floors run, the floor workers while the sagas run).
 */
const ORCHESTRATION: Partial<Record<Mode, string[]>> = {
  saga: ['temporal', 'temporal-server', 'postgres', 'worker', 'api'],
  'saga-local': ['temporal', 'temporal-server', 'postgres', 'worker', 'api-local'],
  'saga-fast': ['temporal', 'temporal-server', 'postgres', 'api-fast'],
  'floor-ts': ['temporal', 'temporal-server', 'postgres', 'floor-ts-worker'],
  'floor-go': ['temporal', 'temporal-server', 'postgres', 'floor-go-worker'],
};

export interface FloorSplit {
  mode: Mode;
  concurrency: number;
  /** CPU-ms per order of the services and MySQL, in this mode's run. */
  services: number;
  /** The Temporal server's CPU-ms per order at the Go floor (the least any worker makes it do). */
  temporalAtFloor: number;
  /** The Go SDK worker's CPU-ms per order. */
  goWorker: number;
  /** floor-go's orchestration: the server and the Go worker. */
  goFloor: number;
  /** floor-ts's orchestration minus floor-go's: the same workflow, the TypeScript SDK instead of Go's. */
  tsSdkOverhead: number;
  /**
   * This mode's orchestration minus floor-ts's: what the saga runtime (and the API in front of it)
   * adds. Only for `saga`, whose steps are regular activities like the floors'; NaN for the
   * local-activity modes, whose server and worker do different work (no floor of their kind here).
   */
  runtime: number;
  /** This mode's orchestration: everything but the services and MySQL. */
  orchestration: number;
  /** orchestration / goFloor (the issue's target: at most 1.5). */
  vsGoFloor: number;
}

const sumOf = (cpu: Record<string, number>, names: string[]) => names.reduce((s, n) => s + (cpu[n] ?? 0), 0);

/** The CPU split of each saga mode against the two floors at the same level (docs/bench/floor.md). */
export function floorSplits(report: BenchReport): FloorSplit[] {
  const cpuOf = (mode: Mode, c: number) => report.cpu.find((x) => x.mode === mode && x.concurrency === c);
  const out: FloorSplit[] = [];
  for (const cpu of report.cpu) {
    if (!cpu.mode.startsWith('saga')) continue;
    const go = cpuOf('floor-go', cpu.concurrency);
    const ts = cpuOf('floor-ts', cpu.concurrency);
    if (!go || !ts) continue;
    const orch = (x: CpuShare) => sumOf(x.cpuMsPerOrder, ORCHESTRATION[x.mode] ?? []);
    const goFloor = orch(go);
    const orchestration = orch(cpu);
    out.push({
      mode: cpu.mode,
      concurrency: cpu.concurrency,
      services: sumOf(cpu.cpuMsPerOrder, SERVICE_PROCESSES),
      temporalAtFloor: goFloor - (go.cpuMsPerOrder['floor-go-worker'] ?? 0),
      goWorker: go.cpuMsPerOrder['floor-go-worker'] ?? 0,
      goFloor,
      tsSdkOverhead: orch(ts) - goFloor,
      runtime: cpu.mode === 'saga' ? orchestration - orch(ts) : NaN,
      orchestration,
      vsGoFloor: goFloor > 0 ? orchestration / goFloor : NaN,
    });
  }
  return out;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

function find(results: RunResult[], mode: Mode, c: number) {
  return results.find((r) => r.mode === mode && r.concurrency === c);
}

export function markdown(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(
    `Machine: ${report.machine.cores} cores (${report.machine.cpuModel}), ${report.machine.memoryGiB} GiB, ${report.machine.platform}.`,
  );
  lines.push(
    `Versions: ${Object.entries(report.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  );
  lines.push(
    `Each point: ${report.settings.warmupS} s warm-up, then ${report.settings.durationS} s measured, closed loop; latency is start to final state of one order.`,
  );
  lines.push('');
  lines.push(
    '| mode | in flight | orders/s | p50 ms | p95 ms | p99 ms | errors | throughput vs gateway | p50 vs gateway |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of report.results) {
    const g = find(report.results, 'gateway', r.concurrency);
    const tput = g && g.throughput > 0 ? `${fmt((r.throughput / g.throughput) * 100, 0)}%` : '–';
    const p50 = g && g.p50 > 0 ? `${fmt(r.p50 / g.p50, 2)}×` : '–';
    lines.push(
      `| ${r.mode} | ${r.concurrency} | ${fmt(r.throughput)} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.errors} | ${tput} | ${p50} |`,
    );
  }
  if (report.cpu.length > 0) {
    const procs = [...new Set(report.cpu.flatMap((c) => Object.keys(c.cpuMsPerOrder)))];
    lines.push('');
    lines.push('CPU milliseconds per completed order, by process (where the time goes):');
    lines.push('');
    lines.push(`| mode | in flight | ${procs.join(' | ')} | total |`);
    lines.push(`|---|---:|${procs.map(() => '---:').join('|')}|---:|`);
    for (const c of report.cpu) {
      const total = Object.values(c.cpuMsPerOrder).reduce((s, x) => s + x, 0);
      lines.push(
        `| ${c.mode} | ${c.concurrency} | ${procs.map((p) => fmt(c.cpuMsPerOrder[p] ?? 0, 2)).join(' | ')} | ${fmt(total, 2)} |`,
      );
    }
    lines.push('');
    lines.push(
      `Projection (not measured): orders/s if the Temporal server ran on machines of its own, = ${report.machine.cores} cores × 1000 / (CPU-ms per order without the server's share); it holds only where CPU is the limit (high concurrency):`,
    );
    lines.push('');
    lines.push('| mode | in flight | measured orders/s | projected orders/s | projected vs gateway (measured) |');
    lines.push('|---|---:|---:|---:|---:|');
    for (const c of report.cpu) {
      const r = find(report.results, c.mode, c.concurrency);
      const g = find(report.results, 'gateway', c.concurrency);
      const proj = projectedThroughput(report, c);
      const vs = proj !== undefined && g && g.throughput > 0 ? `${fmt((proj / g.throughput) * 100, 0)}%` : '–';
      lines.push(
        `| ${c.mode} | ${c.concurrency} | ${fmt(r?.throughput ?? NaN)} | ${proj !== undefined ? fmt(proj) : '–'} | ${vs} |`,
      );
    }
  }
  const splits = floorSplits(report);
  if (splits.length > 0) {
    lines.push('');
    lines.push(
      "CPU-ms per order split against the floors at the same level (docs/bench/floor.md): orchestration is everything but the services and MySQL; Go floor = floor-go's server + Go worker; TS SDK overhead = floor-ts's orchestration − floor-go's; runtime = the mode's orchestration − floor-ts's (only for saga: the local-activity modes have no floor of their kind):",
    );
    lines.push('');
    lines.push(
      '| mode | in flight | services + MySQL | Temporal server (at the Go floor) | Go SDK worker | Go floor (server + worker) | TS SDK overhead | saga runtime + API | orchestration | orchestration / Go floor |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of splits)
      lines.push(
        `| ${x.mode} | ${x.concurrency} | ${fmt(x.services)} | ${fmt(x.temporalAtFloor)} | ${fmt(x.goWorker)} | ${fmt(x.goFloor)} | ${fmt(x.tsSdkOverhead)} | ${fmt(x.runtime)} | ${fmt(x.orchestration)} | ${fmt(x.vsGoFloor, 2)}× |`,
      );
  }
  if (report.legs && report.legs.length > 0) {
    const kinds = [...new Set(report.legs.flatMap((l) => Object.keys(l.legs)))];
    lines.push('');
    lines.push(
      "Where a saga's time goes: p50 / p95 ms of each leg, read from the sagas' own histories (a sample per point; `service` is the services' own handling time from their `Server-Timing`):",
    );
    lines.push('');
    lines.push(`| mode | in flight | sagas read | events / saga | workflow tasks / saga | ${kinds.join(' | ')} |`);
    lines.push(`|---|---:|---:|---:|---:|${kinds.map(() => '---:').join('|')}|`);
    for (const l of report.legs) {
      const cell = (x: Pct | undefined) => (x ? `${fmt(x.p50, 1)} / ${fmt(x.p95, 1)}` : '–');
      lines.push(
        `| ${l.mode} | ${l.concurrency} | ${l.sagas} | ${l.perSaga ? fmt(l.perSaga.events.p50, 0) : '–'} | ${l.perSaga ? fmt(l.perSaga.workflowTasks.p50, 0) : '–'} | ${kinds.map((k) => cell(l.legs[k])).join(' | ')} |`,
      );
    }
  }
  if (report.answered && report.answered.length > 0) {
    lines.push('');
    lines.push(
      'One order alone, answered vs settled: `?wait=decided` answers when the saga passed its pivot (Update-with-Start; COMPLETING), `?wait=true` when it has ended (ms, client-side):',
    );
    lines.push('');
    lines.push('| mode | orders | answered p50 | answered p95 | settled p50 | settled p95 |');
    lines.push('|---|---:|---:|---:|---:|---:|');
    for (const a of report.answered)
      lines.push(
        `| ${a.mode} | ${a.orders} | ${a.answeredP50} | ${a.answeredP95} | ${a.settledP50} | ${a.settledP95} |`,
      );
  }
  for (const n of report.notes ?? []) lines.push('', n);
  return lines.join('\n') + '\n';
}

const COLORS: Record<string, string> = {
  direct: '#6b7280',
  gateway: '#2563eb',
  saga: '#dc2626',
  'saga-local': '#16a34a',
  'saga-fast': '#9333ea',
  'floor-ts': '#ea580c',
  'floor-go': '#0891b2',
};

/** A small line chart: x = concurrency (log scale), y = metric, one line per mode. */
export function svgChart(report: BenchReport, metric: 'throughput' | 'p50', title: string, yLabel: string): string {
  const W = 720;
  const H = 420;
  const m = { left: 70, right: 140, top: 40, bottom: 50 };
  const levels = report.settings.levels;
  const values = report.results.map((r) => r[metric]);
  const yMax = Math.max(1, ...values) * 1.1;
  const xOf = (c: number) => {
    const i = levels.indexOf(c);
    return m.left + (levels.length === 1 ? 0.5 : i / (levels.length - 1)) * (W - m.left - m.right);
  };
  const yOf = (v: number) => H - m.bottom - (v / yMax) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${title}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    const y = yOf(v);
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${m.left - 8}" y="${y + 4}" text-anchor="end">${fmt(v, v < 10 ? 1 : 0)}</text>`);
  }
  for (const c of levels) parts.push(`<text x="${xOf(c)}" y="${H - m.bottom + 18}" text-anchor="middle">${c}</text>`);
  parts.push(`<text x="${(W - m.right + m.left) / 2}" y="${H - 12}" text-anchor="middle">orders in flight</text>`);
  parts.push(`<text transform="translate(18 ${H / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`);
  report.settings.modes.forEach((mode, k) => {
    const pts = levels.map((c) => find(report.results, mode, c)).filter((r): r is RunResult => r !== undefined);
    const color = COLORS[mode] ?? '#000';
    if (pts.length > 0) {
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.map((r) => `${xOf(r.concurrency)},${yOf(r[metric])}`).join(' ')}"/>`,
      );
      for (const r of pts)
        parts.push(`<circle cx="${xOf(r.concurrency)}" cy="${yOf(r[metric])}" r="3.5" fill="${color}"/>`);
    }
    parts.push(`<rect x="${W - m.right + 16}" y="${m.top + k * 22}" width="14" height="4" fill="${color}"/>`);
    parts.push(`<text x="${W - m.right + 36}" y="${m.top + k * 22 + 6}">${mode}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

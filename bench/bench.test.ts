import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench } from './run';
import type { BenchReport } from './report';

/** The benchmark measures, it does not assert speed: this smoke run only checks that it runs and writes its files. */
test('when the benchmark runs briefly, then every mode (and the TypeScript floor) completes orders without errors, each saga point has its per-leg breakdown, and the JSON, Markdown and charts are written', async () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  try {
    const report = await runBench({
      levels: [1, 2],
      // each point ends after 4 completed orders; the time is only a bound, so a slow machine still completes some
      orders: 4,
      durationS: 60,
      warmupS: 0,
      timelineSample: 4,
      answeredOrders: 2,
      // floor-go is left out: it needs Go to build bench/floor-go (docs/bench/floor.md)
      modes: ['direct', 'gateway', 'saga', 'saga-local', 'saga-fast', 'floor-ts'],
      outDir,
      temporalAddress: process.env.TEST_TEMPORAL_ADDRESS,
      log: () => undefined,
    });
    expect(report.results).toHaveLength(12);
    // the floor's CPU is its own worker's: no saga process worked for it
    const floorCpu = report.cpu.find((c) => c.mode === 'floor-ts')!.cpuMsPerOrder;
    expect(floorCpu['floor-ts-worker']).toBeGreaterThan(0);
    for (const r of report.results) {
      expect(r.completed).toBeGreaterThan(0);
      expect(r.errors).toBe(0);
      expect(r.p50).toBeGreaterThan(0);
    }
    // the saga modes' legs come from their histories: workflow tasks, (local) activities and the services' own time
    const legs = (mode: string) => report.legs!.filter((l) => l.mode === mode);
    for (const l of [...legs('saga'), ...legs('saga-local'), ...legs('saga-fast')]) {
      expect(l.sagas).toBeGreaterThan(0);
      expect(l.legs['workflowTask.startToComplete']!.n).toBeGreaterThan(0);
      expect(l.legs.service!.p50).toBeGreaterThan(0);
    }
    for (const l of legs('saga')) expect(l.legs['activity.startToClose']!.n).toBeGreaterThanOrEqual(l.sagas * 6);
    for (const l of [...legs('saga'), ...legs('saga-local'), ...legs('saga-fast')])
      expect(l.legs.service!.n).toBeGreaterThanOrEqual(l.sagas * 6);
    for (const l of legs('direct')) expect(l.legs.service!.n).toBeGreaterThanOrEqual(6);
    expect(readFileSync(path.join(outDir, 'results.md'), 'utf8')).toContain('workflowTask.startToComplete');
    // every saga mode also answered one order alone at its pivot (wait=decided) and once settled (wait=true)
    expect(report.answered!.map((a) => a.mode)).toEqual(['saga', 'saga-local', 'saga-fast']);
    for (const a of report.answered!) expect(a.answeredP50 > 0 && a.settledP50 > 0).toBe(true);
    for (const f of ['results.json', 'results.md', 'throughput.svg', 'latency-p50.svg'])
      expect(existsSync(path.join(outDir, f))).toBe(true);
    const written = JSON.parse(readFileSync(path.join(outDir, 'results.json'), 'utf8')) as BenchReport;
    expect(written.machine.cores).toBeGreaterThan(0);
    expect(written.results.map((r) => `${r.mode}@${r.concurrency}`)).toEqual(
      report.results.map((r) => `${r.mode}@${r.concurrency}`),
    );
    expect(readFileSync(path.join(outDir, 'results.md'), 'utf8')).toContain('| saga-local |');
    expect(readFileSync(path.join(outDir, 'throughput.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}, 600_000);

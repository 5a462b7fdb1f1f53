/**
 * `npm run bench:profile`: where the worker's and the API's CPU goes under load. Starts the process
 * stack with `node --cpu-prof` for the saga processes, drives one saga mode at a fixed concurrency
 * for a while, stops the processes gracefully (which writes their profiles, one per thread) and
 * prints the top frames by self time, per thread, in CPU-ms per completed order. Writes
 * `profile.md` and `profile.json` to BENCH_OUT (default docs/bench).
 *
 * Knobs (env): PROFILE_MODE (saga-fast; saga, saga-local), PROFILE_CONCURRENCY (8),
 * PROFILE_DURATION_S (20), PROFILE_TOP (15), BENCH_OUT, and any WORKER_* setting.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedProduct, startProcessStack, STACK_API_TOKEN } from '../harness/process-stack';
import { LoadClient, type Mode } from './load';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  frame: string;
  selfMs: number;
  msPerOrder: number;
  share: number;
}

export interface ThreadProfile {
  process: string;
  thread: string;
  file: string;
  busyMs: number;
  busyMsPerOrder: number;
  top: Frame[];
}

/** Where a frame comes from, short: our files by path, packages by name, node internals as `node:`. */
function where(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const root = path.resolve(__dirname, '..') + '/';
  return url.replace('file://', '').replace(root, '');
}

/** Self time by frame (function + where it comes from), in ms; `(idle)` left out. */
export function summarizeProfile(profile: CpuProfile, orders: number, top: number): { busyMs: number; top: Frame[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  }
  const frames = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([frame, ms]) => ({
      frame,
      selfMs: Math.round(ms),
      msPerOrder: Math.round((ms / Math.max(1, orders)) * 100) / 100,
      share: Math.round((ms / Math.max(busy, 1e-9)) * 1000) / 10,
    }));
  return { busyMs: Math.round(busy), top: frames };
}

function threadName(file: string, all: string[]): string {
  // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile: thread 0 is the main thread
  const tid = Number(file.split('.')[4]);
  const tids = [...new Set(all.map((f) => Number(f.split('.')[4])))].sort((a, b) => a - b);
  return tid === tids[0] ? 'main thread' : `worker thread ${tids.indexOf(tid)}`;
}

export function renderProfile(r: {
  mode: Mode;
  concurrency: number;
  durationS: number;
  orders: number;
  threads: ThreadProfile[];
}): string {
  const lines = [
    `# CPU profile: ${r.mode} at ${r.concurrency} in flight`,
    '',
    `${r.orders} orders completed in ${r.durationS} s (\`npm run bench:profile\`, \`node --cpu-prof\`, ${os.cpus().length} cores). Self time per frame, in CPU-ms per completed order; \`(program)\` is V8/native work outside JS frames (the core bridge, message passing), \`(garbage collector)\` is GC.`,
  ];
  for (const t of r.threads) {
    lines.push(
      '',
      `## ${t.process}, ${t.thread}: ${t.busyMsPerOrder} CPU-ms per order busy`,
      '',
      '| frame | ms / order | share |',
      '|---|---:|---:|',
    );
    for (const f of t.top) lines.push(`| \`${f.frame.replace(/\|/g, '\\|')}\` | ${f.msPerOrder} | ${f.share}% |`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const env = process.env;
  const mode = (env.PROFILE_MODE ?? 'saga-fast') as Mode;
  const concurrency = Number(env.PROFILE_CONCURRENCY ?? 8);
  const durationS = Number(env.PROFILE_DURATION_S ?? 20);
  const top = Number(env.PROFILE_TOP ?? 15);
  const outDir = path.resolve(env.BENCH_OUT ?? path.join(__dirname, '../docs/bench'));
  const profDir = mkdtempSync(path.join(os.tmpdir(), 'saga-prof-'));
  const workerEnv = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('WORKER_') && e[1] !== undefined),
  );
  const profiled = (name: string) => ['--cpu-prof', `--cpu-prof-dir=${path.join(profDir, name)}`];
  const stack = await startProcessStack({
    label: 'profile',
    withWorker: mode !== 'saga-fast',
    withApi: mode === 'saga',
    withLocalApi: mode === 'saga-local',
    withFastApi: mode === 'saga-fast',
    workerEnv,
    // the worker and the API process get the profiler: each writes its own folder, a file per thread
    nodeArgs: { worker: profiled('worker'), api: profiled('api') },
  });
  const client = new LoadClient({ ...stack.urls, token: STACK_API_TOKEN, serviceToken: stack.serviceTokens.gateway });
  let orders: number;
  try {
    const sku = 'PROFILE-1';
    await seedProduct(stack, sku, { name: 'Profiled widget', priceCents: 1000, available: 100_000_000 });
    // warm up without the profile mattering much (JIT), then measure
    const r = await client.run(mode, sku, concurrency, { warmupS: 3, durationS });
    orders = r.completed;
    console.log(
      `${mode} c=${concurrency}: ${r.completed} orders in ${r.durationS} s, p50 ${r.p50} ms, errors ${r.errors}`,
    );
  } finally {
    await client.close();
    await stack.stop();
  }
  const threads: ThreadProfile[] = [];
  for (const proc of ['worker', 'api']) {
    let files: string[];
    try {
      files = readdirSync(path.join(profDir, proc)).filter((f) => f.endsWith('.cpuprofile'));
    } catch {
      continue;
    }
    // with warm-up included, the per-order numbers are an upper bound (a few percent over)
    for (const file of files) {
      const profile = JSON.parse(readFileSync(path.join(profDir, proc, file), 'utf8')) as CpuProfile;
      const s = summarizeProfile(profile, orders, top);
      if (s.busyMs < 50) continue; // a thread that did nothing (e.g. the bundler's)
      threads.push({
        process: mode === 'saga-fast' && proc === 'api' ? 'api (hosting the worker)' : proc,
        thread: threadName(file, files),
        file,
        busyMs: s.busyMs,
        busyMsPerOrder: Math.round((s.busyMs / Math.max(1, orders)) * 100) / 100,
        top: s.top,
      });
    }
  }
  rmSync(profDir, { recursive: true, force: true });
  const result = { mode, concurrency, durationS, orders, threads };
  mkdirSync(outDir, { recursive: true });
  const md = renderProfile(result);
  writeFileSync(path.join(outDir, `profile-${mode}.md`), md);
  writeFileSync(path.join(outDir, `profile-${mode}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log('\n' + md);
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

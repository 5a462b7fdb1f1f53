/**
 * `npm run dev`: the whole stack on its defaults, in one terminal.
 *
 * Provides the Temporal CLI (building it from source the first time), makes sure MySQL answers,
 * starts the Temporal dev server with its Web UI (history kept in .data/), the four services
 * (each migrates its own database), the worker(s) and the API, seeds a small demo catalog, prints
 * the URLs, and stops everything cleanly on Ctrl-C. Logs are one stream, prefixed by process.
 *
 * `--temporal=cluster` runs the production shape instead of the dev server: the Temporal server
 * built from source on PostgreSQL, its standalone Web UI (harness/temporal-cluster.ts), and the
 * event broker as a three-node JetStream cluster (harness/nats-server.ts) with 3-replica streams.
 * `--nodes=<n>` (cluster mode) runs n server processes, each with every role, behind one local
 * balancer on TEMPORAL_ADDRESS (7233); node k's own ports are the config's defaults + 20k.
 * `WORKERS=<n>` runs n worker processes on the task queue (metrics ports 9464, 9465, ...).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { httpOk, portOpen, waitUntil, type ManagedProcess } from '../harness/process-stack';
import { startNatsCluster, startNatsServer } from '../harness/nats-server';
import { startTemporalCluster } from '../harness/temporal-cluster';
import { DEV_BROKER_URL_FILE } from '../config/streams';
import { ensureStreams } from '../lib/events/nats';
import { formatServiceCallers, type ServiceCaller } from '../lib/auth/service-auth';
import { DEV_SERVER_DYNAMIC_CONFIG_ARGS, DEV_SERVER_SEARCH_ATTRIBUTE_ARGS } from '../shared/search-attributes';

const root = path.resolve(__dirname, '..');
/** The documented local default; any real deployment sets its own API_TOKEN. */
export const DEV_API_TOKEN = 'dev-token-change-me';
/** The documented local card-sealing key (32 bytes); any real deployment sets its own CARD_ENCRYPTION_KEY. */
export const DEV_CARD_KEY = Buffer.from('dev-card-key-change-me-32-bytes!').toString('base64');

/**
 * The documented local service-caller tokens (lib/auth/service-auth.ts): each service accepts these, the
 * worker and the gateway send their own, and the operator's seeds the demo catalog. Any real
 * deployment sets its own SERVICE_CALLERS and SERVICE_TOKENs.
 */
export const DEV_SERVICE_TOKENS: Record<ServiceCaller, string> = {
  worker: 'dev-worker-token-change-me',
  gateway: 'dev-gateway-token-change-me',
  operator: 'dev-operator-token-change-me',
};

const env: Record<string, string | undefined> & { API_TOKEN: string; TEMPORAL_ADDRESS: string } = {
  ...process.env,
  SERVICE_CALLERS: formatServiceCallers(DEV_SERVICE_TOKENS),
  API_TOKEN: process.env.API_TOKEN ?? DEV_API_TOKEN,
  CARD_ENCRYPTION_KEY: process.env.CARD_ENCRYPTION_KEY ?? DEV_CARD_KEY,
  TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
};
const temporalPort = Number(env.TEMPORAL_ADDRESS.split(':').pop());
const temporalMode = parseTemporalMode(process.argv.slice(2));
const temporalNodes = parseTemporalNodes(process.argv.slice(2), temporalMode);
const workerCount = Number(process.env.WORKERS ?? 1);
const firstMetricsPort = Number(env.WORKER_METRICS_PORT ?? 9464);

function parseTemporalMode(args: string[]): 'dev-server' | 'cluster' {
  let mode: 'dev-server' | 'cluster' = 'dev-server';
  for (const arg of args) {
    if (arg === '--temporal=cluster') mode = 'cluster';
    else if (arg === '--temporal=dev-server' || arg === '--temporal=dev') mode = 'dev-server';
    else if (!arg.startsWith('--nodes='))
      throw new Error(`unknown argument ${arg}; usage: npm run dev [-- --temporal=dev-server|cluster [--nodes=<n>]]`);
  }
  return mode;
}

/** `--nodes=<n>`: the cluster mode's Temporal server processes (default 1); harness/temporal-cluster.ts checks n. */
function parseTemporalNodes(args: string[], mode: 'dev-server' | 'cluster'): number {
  const arg = args.filter((a) => a.startsWith('--nodes=')).pop();
  if (arg === undefined) return 1;
  if (mode !== 'cluster') throw new Error(`${arg} needs --temporal=cluster: the dev server is one process`);
  const value = arg.slice('--nodes='.length);
  return /^-?\d+$/.test(value) ? Number(value) : NaN;
}
const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
const ports = {
  orders: Number(env.ORDERS_PORT ?? 3001),
  inventory: Number(env.INVENTORY_PORT ?? 3002),
  payments: Number(env.PAYMENTS_PORT ?? 3003),
  shipping: Number(env.SHIPPING_PORT ?? 3004),
  api: Number(env.API_PORT ?? 3000),
  gateway: Number(env.GATEWAY_PORT ?? 3005),
  'order-history': Number(env.ORDER_HISTORY_PORT ?? 3006),
};

// The worker and the gateway call the services, and the API links into the UI, where this stack runs them.
for (const svc of ['orders', 'inventory', 'payments', 'shipping'] as const) {
  const key = `${svc.toUpperCase()}_URL`;
  env[key] ??= `http://127.0.0.1:${ports[svc]}`;
}
env.TEMPORAL_UI_URL ??= `http://localhost:${uiPort}`;

const children: { name: string; proc: ChildProcess }[] = [];
/** The cluster's node frontends behind TEMPORAL_ADDRESS (cluster mode with --nodes > 1). */
let temporalFrontends: string[] = [];
/** The cluster's server and UI (cluster mode): stopped after everything else. */
const clusterProcesses: ManagedProcess[] = [];
const colors = [36, 33, 35, 32, 34, 31, 90];

function prefixed(name: string, stream: NodeJS.ReadableStream | null) {
  if (!stream) return;
  const color = colors[children.length % colors.length];
  const rl = readline.createInterface({ input: stream });
  rl.on('line', (line) => process.stdout.write(`\x1b[${color}m${name.padEnd(9)}|\x1b[0m ${line}\n`));
}

function start(name: string, command: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  return adopt(
    name,
    spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

/** Prefixes the process's output and stops the stack when it exits unexpectedly. */
function adopt(name: string, proc: ChildProcess): ChildProcess {
  prefixed(name, proc.stdout);
  prefixed(name, proc.stderr);
  children.push({ name, proc });
  proc.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping the stack`);
      void stopAll(1);
    }
  });
  return proc;
}

/** Waits for `check`, giving up at once when the stack is stopping. */
function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  return waitUntil(
    what,
    async () => {
      if (stopping) throw new Error('stopping');
      return check();
    },
    timeoutMs,
  );
}

const DEMO_CATALOG = [
  { sku: 'TEAPOT-1', name: 'Cast-iron teapot', priceCents: 3900, available: 100 },
  { sku: 'MUG-2', name: 'Stoneware mug', priceCents: 1200, available: 250 },
  { sku: 'KETTLE-3', name: 'Whistling kettle', priceCents: 5400, available: 20 },
];

/** Seeds the demo catalog once, as the operator: existing products are left as they are. */
async function seedCatalog(): Promise<void> {
  const authorization = `Bearer ${DEV_SERVICE_TOKENS.operator}`;
  for (const p of DEMO_CATALOG) {
    const url = `http://127.0.0.1:${ports.inventory}/products/${p.sku}`;
    const existing = await fetch(url, { headers: { authorization } });
    if (existing.status === 404) {
      const { sku: _sku, ...body } = p;
      const put = await fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify(body),
      });
      if (!put.ok) throw new Error(`seeding ${p.sku}: ${put.status} ${await put.text()}`);
    } else if (!existing.ok) {
      throw new Error(`reading ${p.sku}: ${existing.status} ${await existing.text()}`);
    }
  }
}

let stopping = false;
async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping: api, worker, services, then Temporal...');
  // reverse start order: the API and worker go first, Temporal last
  for (const { proc } of [...children].reverse()) {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve();
        }, 10_000);
        proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  for (const p of [...clusterProcesses].reverse()) await p.kill('SIGTERM');
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  execFileSync('bash', [path.join(root, 'scripts/ensure-mysql.sh')], { stdio: 'inherit', env });

  for (const [name, port] of [['temporal', temporalPort], ['temporal-ui', uiPort], ...Object.entries(ports)] as [
    string,
    number,
  ][]) {
    if (await portOpen(port)) throw new Error(`port ${port} (${name}) is already in use: is another stack running?`);
  }

  if (!Number.isInteger(workerCount) || workerCount < 1)
    throw new Error(`WORKERS must be a whole number >= 1, not ${process.env.WORKERS}`);
  for (let i = 0; i < workerCount && firstMetricsPort > 0; i++) {
    if (await portOpen(firstMetricsPort + i))
      throw new Error(`port ${firstMetricsPort + i} (worker metrics) is already in use: is another stack running?`);
  }

  if (temporalMode === 'cluster') {
    console.log(
      'Temporal cluster mode: PostgreSQL, the server and its Web UI built from source (first time: several minutes)...',
    );
    const cluster = await startTemporalCluster({
      frontendPort: temporalPort,
      uiPort,
      defaultInternalPorts: true,
      nodes: temporalNodes,
      log: true,
    });
    clusterProcesses.push(...cluster.processes);
    temporalFrontends = cluster.nodes.map((n) => n.frontendAddress);
    for (const p of cluster.processes) {
      p.proc?.on('exit', (code, signal) => {
        if (stopping) return;
        // one node of several going away is what the cluster is for: the others take over
        const survivors = cluster.nodes.filter((n) => n.process.running).length;
        if (p.name.startsWith('temporal-') && survivors > 0) {
          console.error(`${p.name} exited (${signal ?? code}); ${survivors} of ${cluster.nodes.length} nodes carry on`);
          return;
        }
        console.error(`${p.name} exited (${signal ?? code}); stopping the stack`);
        void stopAll(1);
      });
    }
  } else {
    startDevServer(cli);
  }
  await waitFor('Temporal', () => portOpen(temporalPort));

  const natsUrl = await provideBroker();
  env.NATS_URL = natsUrl;

  const tsx = (file: string): [string, string[]] => [process.execPath, ['--import', 'tsx', path.join(root, file)]];
  for (const svc of ['orders', 'inventory', 'payments', 'shipping', 'order-history'] as const)
    start(svc, ...tsx(`services/${svc}/main.ts`));
  for (const svc of ['orders', 'inventory', 'payments', 'shipping', 'order-history'] as const) {
    await waitFor(svc, () => httpOk(`http://127.0.0.1:${ports[svc]}/healthz`));
  }
  await seedCatalog();
  const metricsPorts: number[] = [];
  for (let i = 0; i < workerCount; i++) {
    const metricsPort = firstMetricsPort > 0 ? firstMetricsPort + i : 0;
    metricsPorts.push(metricsPort);
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'worker.ts')], {
      cwd: root,
      env: { ...env, SERVICE_TOKEN: DEV_SERVICE_TOKENS.worker, WORKER_METRICS_PORT: String(metricsPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    adopt(workerCount === 1 ? 'worker' : `worker-${i + 1}`, proc);
  }
  start('api', ...tsx('api/main.ts'));
  start('gateway', ...tsx('gateway/main.ts'), { SERVICE_TOKEN: DEV_SERVICE_TOKENS.gateway });
  await waitFor('api', () => httpOk(`http://127.0.0.1:${ports.api}/healthz`));
  await waitFor('gateway', () => httpOk(`http://127.0.0.1:${ports.gateway}/healthz`));

  const token = env.API_TOKEN;
  console.log(`
  Saga Orchestrator is up (Temporal: ${temporalMode === 'cluster' ? `cluster on PostgreSQL${temporalNodes > 1 ? `, ${temporalNodes} nodes` : ''}, standalone Web UI` : 'dev server'}).
    API           http://127.0.0.1:${ports.api}       (Authorization: Bearer ${token})
    OpenAPI       http://127.0.0.1:${ports.api}/openapi.json
    Temporal UI   http://localhost:${uiPort}
    Temporal gRPC 127.0.0.1:${temporalPort}${temporalFrontends.length > 1 ? `  (balancer over the ${temporalFrontends.length} nodes' frontends ${temporalFrontends.join(', ')})` : ''}
    services      (Authorization: Bearer ${DEV_SERVICE_TOKENS.operator}: the operator's token; reads and PUT /products/:sku)
    orders        http://127.0.0.1:${ports.orders}/healthz
    inventory     http://127.0.0.1:${ports.inventory}/healthz
    payments      http://127.0.0.1:${ports.payments}/healthz
    shipping      http://127.0.0.1:${ports.shipping}/healthz
    order-history http://127.0.0.1:${ports['order-history']}/customers/c1/orders  (read model built from the event streams)
    events        ${natsUrl}  (NATS JetStream, ${env.NATS_STREAM_REPLICAS} replica(s) per stream; npm run streams shows streams and consumers)
    gateway       http://127.0.0.1:${ports.gateway}       (the baseline coordinator, same POST /orders)
    workers       ${workerCount} on task queue ${env.TASK_QUEUE ?? 'sagas'}; metrics on ${metricsPorts.map((p) => `http://127.0.0.1:${p}/metrics`).join(', ')}
  Demo catalog: ${DEMO_CATALOG.map((p) => p.sku).join(', ')}
  Try:
    curl -s -X POST 'http://127.0.0.1:${ports.api}/orders?wait=true' -H 'Authorization: Bearer ${token}' \\
      -H 'Content-Type: application/json' \\
      -d '{"customerId":"c1","items":[{"sku":"MUG-2","quantity":2}],"payment":{"cardNumber":"4242424242424242"},"shippingAddress":{"name":"Ada","line1":"1 Main St","city":"London","postalCode":"N1","country":"GB"}}'
  Ctrl-C stops everything.
`);
}

/**
 * The event broker: the one NATS_URL names, else nats-servers of our own (built from source,
 * scripts/ensure-nats.sh) on the first free ports from 4222 (this machine may run an older NATS on
 * 4222 already; it is never used): one with its store in .data/nats, or in cluster mode a
 * three-node JetStream cluster (stores in .data/nats-cluster/) whose streams keep three replicas
 * (NATS_STREAM_REPLICAS=3 for the services). Either way the streams are made here first, so a
 * replica count the broker cannot place stops the start with its fix.
 */
async function provideBroker(): Promise<string> {
  const cluster = temporalMode === 'cluster';
  env.NATS_STREAM_REPLICAS ??= cluster ? '3' : '1';
  let url = process.env.NATS_URL;
  if (url) {
    console.log(`events: using the broker at NATS_URL=${url}`);
  } else {
    const ports: number[] = [];
    for (let port = 4222; ports.length < (cluster ? 3 : 1); port++) if (!(await portOpen(port))) ports.push(port);
    const servers = cluster
      ? (await startNatsCluster({ nodes: 3, ports, storeRoot: path.join(root, '.data', 'nats-cluster'), log: true }))
          .nodes
      : [await startNatsServer({ port: ports[0], storeDir: path.join(root, '.data', 'nats'), log: true })];
    for (const s of servers) {
      clusterProcesses.push(s.process);
      s.process.proc?.on('exit', (code, signal) => {
        if (!stopping) {
          console.error(`${s.process.name} exited (${signal ?? code}); stopping the stack`);
          void stopAll(1);
        }
      });
    }
    url = servers.map((s) => s.url).join(',');
    console.log(
      cluster
        ? `events: started a 3-node NATS JetStream cluster on ${url}, stores in .data/nats-cluster/`
        : `events: started nats-server on ${url}${ports[0] === 4222 ? '' : ' (4222 is taken by another process)'}, store .data/nats`,
    );
    // `npm run streams` reads it, so it describes this broker and not whatever else listens on 4222.
    mkdirSync(path.dirname(DEV_BROKER_URL_FILE), { recursive: true });
    writeFileSync(DEV_BROKER_URL_FILE, `${url}\n`);
  }
  const replicas = Number(env.NATS_STREAM_REPLICAS);
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new Error(`NATS_STREAM_REPLICAS must be a whole number >= 1, not ${env.NATS_STREAM_REPLICAS}`);
  await ensureStreams(url, replicas);
  return url;
}

function startDevServer(cli: string): void {
  const dataDir = path.join(root, '.data');
  mkdirSync(dataDir, { recursive: true });
  start('temporal', cli, [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(temporalPort),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    path.join(dataDir, 'temporal.db'),
    // WAL with synchronous=NORMAL: with SQLite's defaults (rollback journal, synchronous=FULL) a
    // file-backed dev server did 0.8 sagas/s at 32 in flight against 4.9 with these (docs/bench/settings.md).
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=NORMAL',
    ...DEV_SERVER_DYNAMIC_CONFIG_ARGS,
    '--log-level',
    'warn',
    ...DEV_SERVER_SEARCH_ATTRIBUTE_ARGS,
  ]);
}

main().catch((err) => {
  if (!stopping) {
    console.error(err instanceof Error ? err.message : err);
    void stopAll(1);
  }
});

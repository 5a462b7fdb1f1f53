/**
 * Runs the whole system as real processes (each service, the worker, the API, the gateway, and
 * optionally its own Temporal dev server) on free ports with their own databases, so the chaos
 * runner and the benchmark can SIGKILL and restart any of them. Used by scripts and by tests.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { freePort, httpOk, ManagedProcess, portOpen } from './managed-process';
import { startNatsCluster, startNatsServer, type NatsCluster, type NatsServer } from './nats-server';
import { startTemporalCluster, type TemporalCluster } from './temporal-cluster';
import { ensureStreams } from '../lib/events/nats';
import { formatServiceCallers, type ServiceCaller } from '../lib/auth/service-auth';
import { DEV_SERVER_DYNAMIC_CONFIG_ARGS, DEV_SERVER_SEARCH_ATTRIBUTE_ARGS } from '../shared/search-attributes';

const root = path.resolve(__dirname, '..');

export { freePort, portOpen, waitUntil, httpOk, ManagedProcess } from './managed-process';

export interface ProcessStackOptions {
  label: string;
  /** Use this Temporal server; otherwise the stack starts its own (see `temporal`). */
  temporalAddress?: string;
  /**
   * What the stack starts when no `temporalAddress` is given: an in-memory dev server (default) or
   * a Temporal cluster on PostgreSQL (harness/temporal-cluster.ts) with databases of its own,
   * dropped by `stop()`.
   */
  temporal?: 'dev-server' | 'cluster';
  /** With `temporal: 'cluster'`: its server processes (default 1), behind one balancer address. */
  temporalNodes?: number;
  /** Worker processes on the task queue (default 1): `worker`, `worker-2`, ... each with its own metrics port. */
  workers?: number;
  mysqlUrl?: string;
  /** Enables the services' fault-injection admin endpoints with this token. */
  adminToken?: string;
  withWorker?: boolean;
  withApi?: boolean;
  withGateway?: boolean;
  /** A second API process that starts sagas in local-activity mode (SAGA_ACTIVITY_MODE=local). */
  withLocalApi?: boolean;
  /**
   * The fastest mode: an API process that hosts its own worker (API_EMBEDDED_WORKER) on a task queue
   * of its own, with eager workflow start and local activities.
   */
  withFastApi?: boolean;
  /** Extra env for the worker / the API (e.g. tuning knobs). */
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  /** Extra `node` flags for the worker and the API processes (the profiler: `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: { worker?: string[]; api?: string[] };
  log?: boolean;
  /** Eager activity dispatch on the stack's own dev server (default true; false to measure without). */
  eagerActivities?: boolean;
  /**
   * Extra flags for the stack's own dev server (the bench's settings sweep: `--db-filename F`
   * instead of in-memory SQLite, `--sqlite-pragma journal_mode=wal`, ...).
   */
  devServerArgs?: string[];
  /**
   * Events (lib/events/events.ts): a nats-server of the stack's own (process `nats`, file store in a temp
   * directory, restartable), every service's outbox relay on it, and the order-history read model
   * (process `order-history`).
   */
  withEvents?: boolean;
  /**
   * With withEvents: a JetStream cluster of this many nodes (processes `nats-1`..`nats-N`, streams
   * with N replicas, every client given every node) instead of one broker. Default 1.
   */
  natsNodes?: number;
}

export const STACK_API_TOKEN = 'stack-token-0123456789abcdef';
export const STACK_CARD_KEY = Buffer.from('harness-card-key-0123456789abcde').toString('base64');

/** Fresh service-caller tokens for each stack: the worker's, the gateway's and the operator's (who seeds the catalog). */
function stackServiceTokens(): Record<ServiceCaller, string> {
  const token = (name: string) => `stack-${name}-${randomBytes(12).toString('hex')}`;
  return { worker: token('worker'), gateway: token('gateway'), operator: token('operator') };
}

/** `Authorization` header value of a stack's caller. */
export function stackAuth(stack: Pick<ProcessStack, 'serviceTokens'>, caller: ServiceCaller): string {
  return `Bearer ${stack.serviceTokens[caller]}`;
}

/** Puts a product into the stack's catalog as the operator (the caller `PUT /products/:sku` serves); throws if refused. */
export async function seedProduct(
  stack: Pick<ProcessStack, 'serviceTokens' | 'urls'>,
  sku: string,
  product: { name: string; priceCents: number; available: number },
): Promise<void> {
  const res = await fetch(`${stack.urls.inventory}/products/${encodeURIComponent(sku)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: stackAuth(stack, 'operator') },
    body: JSON.stringify(product),
  });
  if (!res.ok) throw new Error(`seeding ${sku}: ${res.status} ${await res.text()}`);
}

export interface ProcessStack {
  dbPrefix: string;
  mysqlUrl: string;
  temporalAddress: string;
  /** The stack's own cluster (`temporal: 'cluster'`): its nodes can be killed and started again. */
  temporalCluster?: TemporalCluster;
  taskQueue: string;
  /** The Prometheus endpoint of each worker process, by process name. */
  workerMetricsUrls: Map<string, string>;
  /** The callers' tokens every service of the stack accepts (SERVICE_CALLERS). */
  serviceTokens: Record<ServiceCaller, string>;
  /** The stack's broker (withEvents, one node). */
  nats?: NatsServer;
  /** The stack's JetStream cluster (withEvents with natsNodes > 1). */
  natsCluster?: NatsCluster;
  urls: {
    orders: string;
    inventory: string;
    payments: string;
    shipping: string;
    orderHistory?: string;
    api?: string;
    apiLocal?: string;
    apiFast?: string;
    gateway?: string;
  };
  processes: Map<string, ManagedProcess>;
  get(name: string): ManagedProcess;
  stop(opts?: { dropDatabases?: boolean }): Promise<void>;
}

const SERVICES = ['orders', 'inventory', 'payments', 'shipping'] as const;

/** Starts the stack; resolves when every process is ready (healthz / worker polling). */
export async function startProcessStack(opts: ProcessStackOptions): Promise<ProcessStack> {
  const mysqlUrl = opts.mysqlUrl ?? 'mysql://root@127.0.0.1:3306';
  const dbPrefix = `h_${opts.label.replace(/[^a-z0-9]/gi, '').slice(0, 10)}_${randomBytes(3).toString('hex')}_`;
  const taskQueue = `${opts.label}-${randomBytes(3).toString('hex')}`;
  const processes = new Map<string, ManagedProcess>();
  const tsx = (file: string, nodeArgs: string[] = []): [string, string[]] => [
    process.execPath,
    [...nodeArgs, '--import', 'tsx', path.join(root, file)],
  ];
  const log = opts.log ?? false;

  let temporalAddress = opts.temporalAddress;
  let cluster: TemporalCluster | undefined;
  if (!temporalAddress && opts.temporal === 'cluster') {
    cluster = await startTemporalCluster({
      database: `temporal_${dbPrefix.replace(/_$/, '').toLowerCase()}`,
      uiPort: false,
      nodes: opts.temporalNodes,
      log,
    });
    temporalAddress = cluster.address;
    // listed with the stack's processes (CPU accounting, logs); stop() stops them with the rest
    for (const node of cluster.nodes) processes.set(node.name, node.process);
    if (cluster.balancer) processes.set(cluster.balancer.name, cluster.balancer);
  }
  if (!temporalAddress) {
    const cli = execFileSync('bash', [path.join(root, 'scripts/temporal-cli.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const port = await freePort();
    const temporal = new ManagedProcess(
      'temporal',
      cli,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--log-level',
        'error',
        ...(opts.eagerActivities === false
          ? ['--dynamic-config-value', 'frontend.enableServerVersionCheck=false']
          : DEV_SERVER_DYNAMIC_CONFIG_ARGS),
        ...DEV_SERVER_SEARCH_ATTRIBUTE_ARGS,
        ...(opts.devServerArgs ?? []),
      ],
      {},
      () => portOpen(port),
      log,
    );
    await temporal.start();
    processes.set('temporal', temporal);
    temporalAddress = `127.0.0.1:${port}`;
    // the frontend answers before the namespace is ready: give it a moment
    await new Promise((r) => setTimeout(r, 1500));
  }

  const ports = Object.fromEntries(
    await Promise.all(SERVICES.map(async (s) => [s, await freePort()] as const)),
  ) as Record<(typeof SERVICES)[number], number>;
  const urls: ProcessStack['urls'] = {
    orders: `http://127.0.0.1:${ports.orders}`,
    inventory: `http://127.0.0.1:${ports.inventory}`,
    payments: `http://127.0.0.1:${ports.payments}`,
    shipping: `http://127.0.0.1:${ports.shipping}`,
  };
  const serviceTokens = stackServiceTokens();
  const natsNodes = opts.natsNodes ?? 1;
  const nats = opts.withEvents && natsNodes === 1 ? await startNatsServer({ log }) : undefined;
  const natsCluster = opts.withEvents && natsNodes > 1 ? await startNatsCluster({ nodes: natsNodes, log }) : undefined;
  if (nats) processes.set('nats', nats.process);
  for (const node of natsCluster?.nodes ?? []) processes.set(node.process.name, node.process);
  const natsUrl = nats?.url ?? natsCluster?.url;
  // the streams before any relay, as the dev stack does: a broker that cannot hold them fails here
  if (natsUrl) await ensureStreams(natsUrl, natsNodes);
  const common = {
    MYSQL_URL: mysqlUrl,
    DB_PREFIX: dbPrefix,
    BIND_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SERVICE_CALLERS: formatServiceCallers(serviceTokens),
    ...(natsUrl ? { NATS_URL: natsUrl, NATS_STREAM_REPLICAS: String(natsNodes), OUTBOX_POLL_MS: '20' } : {}),
  };
  const faults: Record<string, string> = opts.adminToken
    ? { FAULTS_ENABLED: 'true', ADMIN_TOKEN: opts.adminToken }
    : {};
  await Promise.all(
    SERVICES.map(async (s) => {
      const svc = new ManagedProcess(
        s,
        ...tsx(`services/${s}/main.ts`),
        { ...common, ...faults, [`${s.toUpperCase()}_PORT`]: String(ports[s]) },
        () => httpOk(`${urls[s]}/healthz`),
        log,
      );
      await svc.start();
      processes.set(s, svc);
    }),
  );

  if (natsUrl) {
    const port = await freePort();
    urls.orderHistory = `http://127.0.0.1:${port}`;
    const history = new ManagedProcess(
      'order-history',
      ...tsx('services/order-history/main.ts'),
      { ...common, ORDER_HISTORY_PORT: String(port) },
      () => httpOk(`${urls.orderHistory}/healthz`),
      log,
    );
    await history.start();
    processes.set('order-history', history);
  }

  const temporalEnv = {
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TASK_QUEUE: taskQueue,
    CARD_ENCRYPTION_KEY: STACK_CARD_KEY,
    LOG_LEVEL: 'warn',
  };
  const serviceUrls = {
    ORDERS_URL: urls.orders,
    INVENTORY_URL: urls.inventory,
    PAYMENTS_URL: urls.payments,
    SHIPPING_URL: urls.shipping,
  };
  const workerMetricsUrls = new Map<string, string>();
  if (opts.withWorker !== false) {
    const count = opts.workers ?? 1;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = i === 0 ? 'worker' : `worker-${i + 1}`;
        // one worker keeps its metrics off (as before); several expose theirs, each on its own port
        const metricsPort = count > 1 ? await freePort() : 0;
        if (metricsPort) workerMetricsUrls.set(name, `http://127.0.0.1:${metricsPort}/metrics`);
        const worker: ManagedProcess = new ManagedProcess(
          name,
          ...tsx('worker.ts', opts.nodeArgs?.worker),
          {
            ...temporalEnv,
            ...serviceUrls,
            SERVICE_TOKEN: serviceTokens.worker,
            WORKER_METRICS_PORT: String(metricsPort),
            LOG_LEVEL: 'info',
            ...opts.workerEnv,
          },
          async (): Promise<boolean> => worker.output.join('').includes('worker running'),
          log,
        );
        await worker.start();
        processes.set(name, worker);
      }),
    );
  }
  /** One API process; `mode` adds what sets it apart (activity mode, a worker of its own). */
  const startApi = async (name: string, url: 'api' | 'apiLocal' | 'apiFast', mode: Record<string, string> = {}) => {
    const port = await freePort();
    urls[url] = `http://127.0.0.1:${port}`;
    const env = {
      ...temporalEnv,
      API_PORT: String(port),
      BIND_HOST: '127.0.0.1',
      API_TOKEN: STACK_API_TOKEN,
      MYSQL_URL: mysqlUrl,
      DB_PREFIX: dbPrefix,
      ...mode,
      ...opts.apiEnv,
    };
    const api = new ManagedProcess(
      name,
      ...tsx('api/main.ts', opts.nodeArgs?.api),
      env,
      () => httpOk(`${urls[url]}/healthz`),
      log,
    );
    await api.start();
    processes.set(name, api);
  };
  if (opts.withApi) await startApi('api', 'api');
  if (opts.withLocalApi) await startApi('api-local', 'apiLocal', { SAGA_ACTIVITY_MODE: 'local' });
  if (opts.withFastApi) {
    await startApi('api-fast', 'apiFast', {
      ...serviceUrls,
      SERVICE_TOKEN: serviceTokens.worker,
      TASK_QUEUE: `${taskQueue}-fast`,
      SAGA_ACTIVITY_MODE: 'local',
      API_EMBEDDED_WORKER: 'true',
      SAGA_EAGER_START: 'true',
      WORKER_METRICS_PORT: '0',
      ...opts.workerEnv,
    });
  }
  if (opts.withGateway) {
    const gatewayPort = await freePort();
    urls.gateway = `http://127.0.0.1:${gatewayPort}`;
    const gateway = new ManagedProcess(
      'gateway',
      ...tsx('gateway/main.ts'),
      {
        ...serviceUrls,
        SERVICE_TOKEN: serviceTokens.gateway,
        GATEWAY_PORT: String(gatewayPort),
        BIND_HOST: '127.0.0.1',
        API_TOKEN: STACK_API_TOKEN,
        LOG_LEVEL: 'warn',
      },
      () => httpOk(`${urls.gateway}/healthz`),
      log,
    );
    await gateway.start();
    processes.set('gateway', gateway);
  }

  return {
    dbPrefix,
    mysqlUrl,
    temporalAddress,
    temporalCluster: cluster,
    taskQueue,
    workerMetricsUrls,
    serviceTokens,
    nats,
    natsCluster,
    urls,
    processes,
    get(name: string) {
      const p = processes.get(name);
      if (!p) throw new Error(`no process ${name} in this stack`);
      return p;
    },
    async stop({ dropDatabases = true } = {}) {
      // API, gateway and worker first, Temporal last
      const workers = [...processes.keys()].filter((n) => n.startsWith('worker'));
      for (const name of [
        'api',
        'api-local',
        'api-fast',
        'gateway',
        ...workers,
        'order-history',
        ...SERVICES,
        'temporal',
      ])
        await processes.get(name)?.kill('SIGTERM');
      await nats?.stop();
      await natsCluster?.stop();
      await cluster?.stop({ dropDatabases: true });
      if (dropDatabases) {
        const conn = await mysql.createConnection(mysqlUrl);
        try {
          for (const s of [...SERVICES, 'order_history'])
            await conn.query(`DROP DATABASE IF EXISTS \`${dbPrefix}${s}\``);
        } finally {
          await conn.end();
        }
      }
    },
  };
}

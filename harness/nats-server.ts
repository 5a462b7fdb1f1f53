/**
 * nats-servers with JetStream (built from source by scripts/ensure-nats.sh) as child processes: one
 * broker (the dev stack's, the harness's and the tests') or a cluster of several. A store is a
 * directory that outlives the process, so a broker SIGKILLed and started again on the same ports
 * keeps its streams and consumers.
 *
 * Every server runs with JetStream's `sync_interval: always`: it fsyncs each write before it
 * acknowledges it. With the default (an fsync every two minutes) a machine that crashes loses
 * messages the broker had acknowledged, and the outbox relay marks a row sent on that
 * acknowledgement, so the loss would be permanent and silent (docs/bench/jetstream-sync.md has the
 * cost). nats-server has no command-line flag for it, so each server gets a generated config file,
 * `<store>.conf`, next to its store.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, httpOk, ManagedProcess, portOpen, waitUntil } from './managed-process';

const root = path.resolve(__dirname, '..');

/** When JetStream fsyncs: `always` (every write, before its ack: what the project runs) or the server's default (every 2 min). */
export type NatsSync = 'always' | 'default';

export interface NatsServer {
  /** This server's client URL. */
  url: string;
  /** Its `server_name` (what JetStream's cluster info calls it). */
  serverName: string;
  port: number;
  monitorUrl: string;
  storeDir: string;
  /** The generated config file it runs on. */
  configFile: string;
  process: ManagedProcess;
  /** SIGKILL (default) or SIGTERM, then start again on the same ports, config and store. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** The nats-server binary (building it the first time; cached outside the clone). */
export function natsServerBinary(): string {
  return execFileSync('bash', [path.join(root, 'scripts/ensure-nats.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** What one server of ours runs with (natsConfigFile renders it). */
export interface NatsServerConfig {
  serverName: string;
  port: number;
  monitorPort: number;
  storeDir: string;
  sync: NatsSync;
  cluster?: { name: string; port: number; routes: number[] };
}

/**
 * A nats-server config file (its own format; strings JSON-quoted, which it reads). The same
 * settings as deploy/nats/nats.conf, which compose runs, with local ports.
 */
export function natsConfigFile(c: NatsServerConfig): string {
  const q = JSON.stringify;
  const lines = [
    `server_name: ${q(c.serverName)}`,
    `listen: ${q(`127.0.0.1:${c.port}`)}`,
    `http: ${q(`127.0.0.1:${c.monitorPort}`)}`,
    'jetstream {',
    `  store_dir: ${q(c.storeDir)}`,
    ...(c.sync === 'always' ? ['  sync_interval: always'] : []),
    '}',
  ];
  if (c.cluster) {
    lines.push(
      'cluster {',
      `  name: ${q(c.cluster.name)}`,
      `  listen: ${q(`127.0.0.1:${c.cluster.port}`)}`,
      `  routes: [${c.cluster.routes.map((p) => q(`nats-route://127.0.0.1:${p}`)).join(', ')}]`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One server's process on its config; `ready` decides when it counts as started. */
function serverProcess(
  name: string,
  c: NatsServerConfig,
  ready: (monitorUrl: string) => Promise<boolean>,
  log: boolean,
): { configFile: string; monitorUrl: string; process: ManagedProcess } {
  mkdirSync(c.storeDir, { recursive: true });
  const configFile = `${c.storeDir}.conf`;
  writeFileSync(configFile, natsConfigFile(c));
  const monitorUrl = `http://127.0.0.1:${c.monitorPort}`;
  const proc = new ManagedProcess(
    name,
    natsServerBinary(),
    ['--config', configFile],
    {},
    async () => (await portOpen(c.port)) && ready(monitorUrl),
    log,
  );
  return { configFile, monitorUrl, process: proc };
}

function handle(
  c: NatsServerConfig,
  p: { configFile: string; monitorUrl: string; process: ManagedProcess },
  cleanup: () => void,
): NatsServer {
  return {
    url: `nats://127.0.0.1:${c.port}`,
    serverName: c.serverName,
    port: c.port,
    monitorUrl: p.monitorUrl,
    storeDir: c.storeDir,
    configFile: p.configFile,
    process: p.process,
    async restart(signal: NodeJS.Signals = 'SIGKILL') {
      await p.process.kill(signal);
      p.process.restarts++;
      await p.process.start(60_000);
    },
    async stop() {
      await p.process.kill('SIGTERM');
      cleanup();
    },
  };
}

export async function startNatsServer(
  opts: { name?: string; port?: number; storeDir?: string; log?: boolean; sync?: NatsSync } = {},
): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  const ownDir = opts.storeDir === undefined ? mkdtempSync(path.join(os.tmpdir(), 'saga-nats-')) : undefined;
  const c: NatsServerConfig = {
    serverName: `saga-${port}`,
    port,
    monitorPort: await freePort(),
    storeDir: opts.storeDir ?? path.join(ownDir!, 'store'),
    sync: opts.sync ?? 'always',
  };
  // JetStream is ready (its store recovered) when this answers 200, not merely when the port opens.
  const p = serverProcess(
    opts.name ?? 'nats',
    c,
    (monitorUrl) => httpOk(`${monitorUrl}/healthz?js-enabled-only=true`),
    opts.log ?? false,
  );
  await p.process.start(60_000);
  return handle(c, p, () => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  });
}

export interface NatsCluster {
  /** The cluster's name (`cluster { name }`). */
  name: string;
  nodes: NatsServer[];
  /** Every node's client URL: what a client's `servers` list gets. */
  urls: string[];
  /** The same list as one NATS_URL value (comma-separated). */
  url: string;
  /** The node whose server_name this is. */
  node(serverName: string): NatsServer;
  /** The JetStream meta leader's server_name, as the first node that answers says (undefined while there is none). */
  metaLeader(): Promise<string | undefined>;
  stop(): Promise<void>;
}

interface JszMeta {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

/** A node's view of the JetStream meta group: its leader and size, from /jsz. */
async function metaOf(monitorUrl: string): Promise<JszMeta['meta_cluster'] | undefined> {
  try {
    const res = await fetch(`${monitorUrl}/jsz`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return undefined;
    return ((await res.json()) as JszMeta).meta_cluster;
  } catch {
    return undefined;
  }
}

/**
 * A JetStream cluster of `nodes` nats-servers on local ports (each with its client, route and
 * monitor port, its server_name `nats-<i>` as in docker-compose.yml, and its store
 * `<storeRoot>/<server_name>`), every node
 * routing to every other. Started when every node's /healthz answers 200 (JetStream up and current
 * with the meta group) and a meta leader of `nodes` peers exists; a node restarted later is started
 * when its own /healthz answers 200 again (its streams and consumers caught up).
 */
export async function startNatsCluster(
  opts: {
    nodes?: number;
    name?: string;
    /** Client ports, one per node (default: free ones). */
    ports?: number[];
    /** Where the nodes' stores go (default: a temp directory, removed by stop()). */
    storeRoot?: string;
    log?: boolean;
    sync?: NatsSync;
  } = {},
): Promise<NatsCluster> {
  const count = opts.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1) throw new Error(`a NATS cluster needs 1 or more nodes, not ${count}`);
  if (opts.ports && opts.ports.length !== count) throw new Error(`${count} nodes need ${count} ports`);
  const name = opts.name ?? 'saga-events';
  const ownRoot = opts.storeRoot === undefined ? mkdtempSync(path.join(os.tmpdir(), 'saga-nats-cluster-')) : undefined;
  const storeRoot = opts.storeRoot ?? ownRoot!;
  const routePorts: number[] = [];
  for (let i = 0; i < count; i++) routePorts.push(await freePort());
  const configs: NatsServerConfig[] = [];
  for (let i = 0; i < count; i++) {
    const serverName = `nats-${i + 1}`;
    configs.push({
      serverName,
      port: opts.ports?.[i] ?? (await freePort()),
      monitorPort: await freePort(),
      storeDir: path.join(storeRoot, serverName),
      sync: opts.sync ?? 'always',
      cluster: { name, port: routePorts[i]!, routes: routePorts.filter((_, j) => j !== i) },
    });
  }
  const processes = configs.map((c) =>
    // /healthz without js-enabled-only: 200 only once JetStream is current with the meta group
    // (and, after a restart, once this node's streams and consumers have caught up).
    serverProcess(c.serverName, c, (monitorUrl) => httpOk(`${monitorUrl}/healthz`), opts.log ?? false),
  );
  const nodes = configs.map((c, i) => handle(c, processes[i]!, () => undefined));
  const stop = async () => {
    for (const n of nodes) await n.process.kill('SIGTERM');
    if (ownRoot) rmSync(ownRoot, { recursive: true, force: true });
  };
  try {
    // Together: a node's JetStream is current only once a meta leader exists, which needs a quorum of nodes.
    await Promise.all(processes.map((p) => p.process.start(90_000)));
    await waitUntil(
      `NATS cluster ${name}: a JetStream meta leader of ${count} peers`,
      async () => {
        const metas = await Promise.all(nodes.map((n) => metaOf(n.monitorUrl)));
        return metas.every((m) => Boolean(m?.leader) && (m?.cluster_size ?? 0) >= count);
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const urls = nodes.map((n) => n.url);
  return {
    name,
    nodes,
    urls,
    url: urls.join(','),
    node(serverName: string) {
      const n = nodes.find((x) => x.serverName === serverName);
      if (!n) throw new Error(`no node ${serverName} in NATS cluster ${name}`);
      return n;
    },
    async metaLeader() {
      for (const n of nodes) {
        if (!n.process.running) continue;
        const leader = (await metaOf(n.monitorUrl))?.leader;
        if (leader) return leader;
      }
      return undefined;
    },
    stop,
  };
}

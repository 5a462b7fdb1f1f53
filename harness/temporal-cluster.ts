/**
 * The cluster mode's Temporal: the server built from source (scripts/temporal-cluster-bin.sh) on
 * PostgreSQL with the committed config (deploy/temporal/config/cluster.yaml, dynamicconfig.yaml),
 * its schemas set up or updated by deploy/temporal/schema.sh, the namespace and the search
 * attributes registered by deploy/temporal/namespace.sh, and the standalone Web UI
 * (deploy/temporal-ui/cluster.yaml). docker-compose.yml runs the same files. Used by
 * `npm run dev -- --temporal=cluster`, the test set-up (TEST_TEMPORAL=cluster) and the process
 * stack (bench: BENCH_TEMPORAL=cluster).
 *
 * `nodes: n` runs n server processes from the same binary and config, each with every role
 * (frontend, history, matching, worker), on ports of their own, sharing the PostgreSQL databases:
 * they find each other through the membership table there and split the history shards between
 * them. Clients get one address, a TCP balancer over the n frontends (harness/tcp-balancer.ts, a
 * process of its own: `temporal-lb`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { freePort, freePortInRange, ManagedProcess, portOpen } from './managed-process';

const root = path.resolve(__dirname, '..');

/**
 * The committed files the cluster runs on, relative to the repository. docker-compose.yml mounts
 * the same ones (test/docker-compose.test.ts checks it).
 */
export const CLUSTER_FILES = {
  /** The server config directory and the environment name: `<dir>/<env>.yaml`. */
  serverConfigDir: 'deploy/temporal/config',
  serverConfigEnv: 'cluster',
  serverConfig: 'deploy/temporal/config/cluster.yaml',
  dynamicConfig: 'deploy/temporal/dynamicconfig.yaml',
  schemaScript: 'deploy/temporal/schema.sh',
  namespaceScript: 'deploy/temporal/namespace.sh',
  uiConfigDir: 'deploy/temporal-ui',
  uiConfigEnv: 'cluster',
  uiConfig: 'deploy/temporal-ui/cluster.yaml',
} as const;

export interface TemporalClusterOptions {
  /** Frontend gRPC port (default: a free one). */
  frontendPort?: number;
  /** Web UI port; `false`: no UI (default: a free one). */
  uiPort?: number | false;
  /** The history database; the visibility database is `<database>_visibility`. Default `temporal`. */
  database?: string;
  /** Default `temporal_visibility` when `database` is `temporal`, else `<database>_visibility`. */
  visibilityDatabase?: string;
  namespace?: string;
  /** Fixed internal ports (history, matching, worker, membership): the defaults of the config (dev); else free ones. */
  defaultInternalPorts?: boolean;
  /** With `defaultInternalPorts`: moves the fixed layout (default 7233, the config's defaults); see `fixedNodePorts`. */
  portBase?: number;
  log?: boolean;
  /** `update` (default): set up or update the schemas before the server starts; `as-is`: start on them as they are. */
  schema?: 'update' | 'as-is';
  /** Extra environment for the scripts and the server (e.g. TEMPORAL_SQL_HOST). */
  env?: Record<string, string>;
  /**
   * Server processes (default 1), each with every role. With more than one, `frontendPort` is the
   * balancer's, and `defaultInternalPorts` gives node n the config's defaults plus 20n.
   */
  nodes?: number;
  /** History shards of a new database (default 4, TEMPORAL_NUM_HISTORY_SHARDS); at least `nodes`. */
  historyShards?: number;
}

/**
 * PostgreSQL connections per service of a node when there are several (TEMPORAL_SQL_MAX_CONNS /
 * TEMPORAL_SQL_VISIBILITY_MAX_CONNS; `env` overrides): each of a node's four services keeps a pool
 * of its own, so one node on the config's 20 + 10 holds ~45 connections, and three more would pass
 * PostgreSQL's default max_connections (100) next to a test run's own cluster. 2 + 1 is plenty for
 * the load one machine makes.
 */
export const MULTI_NODE_SQL_POOLS = { TEMPORAL_SQL_MAX_CONNS: '2', TEMPORAL_SQL_VISIBILITY_MAX_CONNS: '1' } as const;

/** One server process of the cluster, with every role. */
export interface TemporalNode {
  /** 1-based. */
  index: number;
  /** `temporal` when it is the only node, else `temporal-<index>`. */
  name: string;
  /** Its own frontend, `host:port` (clients use the cluster's `address`). */
  frontendAddress: string;
  ports: NodePorts;
  process: ManagedProcess;
  /** SIGKILL (default): the node is gone; the others take over its shards and task queues. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports; resolves when its frontend answers. */
  start(): Promise<void>;
}

export interface TemporalCluster {
  /** The one address clients use: the only node's frontend, or the balancer over every node's. */
  address: string;
  namespace: string;
  uiUrl?: string;
  database: string;
  visibilityDatabase: string;
  historyShards: number;
  nodes: TemporalNode[];
  /** With more than one node: the balancer process behind `address` (`temporal-lb`). */
  balancer?: ManagedProcess;
  processes: ManagedProcess[];
  /** Stops the UI and the server; `dropDatabases` drops both databases (test runs). */
  stop(opts?: { dropDatabases?: boolean }): Promise<void>;
}

export interface ClusterBinaries {
  server: string;
  sqlTool: string;
  uiServer: string;
  cli: string;
  schemaDir: string;
}

/** Runs a script; its progress (builds) goes to stderr as it happens. */
function run(command: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** Runs a quick check or set-up step; when it fails, the error carries what it said (it names what to do). */
function runChecked(what: string, command: string, args: string[], env: Record<string, string>): void {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) throw new Error(`${what} failed:\n${`${result.stdout}${result.stderr}`.trim()}`);
}

/** Builds (first time only) or finds the binaries, and the schema folder the server's module ships. */
export function clusterBinaries(): ClusterBinaries {
  const [uiServer, sqlTool, server] = run('bash', ['scripts/temporal-cluster-bin.sh', 'all']).split('\n');
  const cli = run('bash', ['scripts/temporal-cli.sh']);
  // the server module's own schema files, from the Go module cache
  const schemaDir = run('bash', ['scripts/temporal-cluster-bin.sh', 'schema-dir']);
  return { server: server!, sqlTool: sqlTool!, uiServer: uiServer!, cli, schemaDir };
}

/**
 * The ports of one node, by the variable of the committed config that sets each; the values are the
 * config's defaults (deploy/temporal/config/cluster.yaml), i.e. one node's layout.
 */
export const DEFAULT_NODE_PORTS = {
  TEMPORAL_FRONTEND_PORT: 7233,
  TEMPORAL_FRONTEND_HTTP_PORT: 7243,
  TEMPORAL_HISTORY_PORT: 7234,
  TEMPORAL_MATCHING_PORT: 7235,
  TEMPORAL_WORKER_PORT: 7239,
  TEMPORAL_FRONTEND_MEMBERSHIP_PORT: 6933,
  TEMPORAL_HISTORY_MEMBERSHIP_PORT: 6934,
  TEMPORAL_MATCHING_MEMBERSHIP_PORT: 6935,
  TEMPORAL_WORKER_MEMBERSHIP_PORT: 6939,
} as const;
export type NodePorts = Record<keyof typeof DEFAULT_NODE_PORTS, number>;
const PORT_VARIABLES = Object.keys(DEFAULT_NODE_PORTS) as (keyof NodePorts)[];
/** `numHistoryShards` of the config when TEMPORAL_NUM_HISTORY_SHARDS is not set. */
export const DEFAULT_HISTORY_SHARDS = 4;
/** Node n of a multi-node cluster with fixed ports: every default + n * 20 (the defaults span 6933-7243). */
export const NODE_PORT_STRIDE = 20;
/** The server stores membership ports in a PostgreSQL smallint. */
const MAX_MEMBERSHIP_PORT = 32_767;

/**
 * The fixed layout (`npm run dev`): one node on the config's defaults; node n of several on the
 * defaults + 20n. `portBase` moves the whole layout (the defaults are its base 7233: the frontend's).
 */
export function fixedNodePorts(
  index: number,
  nodes: number,
  portBase: number = DEFAULT_NODE_PORTS.TEMPORAL_FRONTEND_PORT,
): NodePorts {
  const offset = portBase - DEFAULT_NODE_PORTS.TEMPORAL_FRONTEND_PORT + (nodes === 1 ? 0 : index * NODE_PORT_STRIDE);
  return Object.fromEntries(PORT_VARIABLES.map((k) => [k, DEFAULT_NODE_PORTS[k] + offset])) as NodePorts;
}

/** Free ports for one node (tests, stacks): membership ones below the smallint limit. */
async function freeNodePorts(): Promise<NodePorts> {
  const ports: Partial<NodePorts> = {};
  for (const k of PORT_VARIABLES)
    ports[k] = k.endsWith('_MEMBERSHIP_PORT') ? await freePortInRange(20_000, 32_000) : await freePort();
  return ports as NodePorts;
}

/** A configuration of the cluster that cannot work; `problems` lists each, with its fix. */
export class TemporalClusterConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`the Temporal cluster cannot start as configured:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TemporalClusterConfigError';
  }
}

/**
 * Checks the shape of a cluster before anything starts: the node count, the shard count against
 * it, and (when given) every node's ports and the client port, which must all differ. Throws a
 * TemporalClusterConfigError naming every problem and its fix.
 */
export function checkClusterShape(shape: {
  nodes: number;
  historyShards: number;
  nodePorts?: NodePorts[];
  clientPort?: number;
}): void {
  const problems: string[] = [];
  const { nodes, historyShards } = shape;
  if (!Number.isInteger(nodes) || nodes < 1)
    problems.push(`nodes is ${nodes}: run at least one node (--nodes=1 is one server with every role)`);
  if (!Number.isInteger(historyShards) || historyShards < 1)
    problems.push(`the history shard count is ${historyShards}: it must be a whole number >= 1`);
  else if (Number.isInteger(nodes) && historyShards < nodes)
    problems.push(
      `${historyShards} history shards for ${nodes} nodes: a node without a shard serves no history; ` +
        `use at most ${historyShards} nodes, or a new database with TEMPORAL_NUM_HISTORY_SHARDS >= ${nodes} ` +
        '(the count is fixed for the life of the database)',
    );
  const owner = new Map<number, string>();
  if (shape.clientPort) owner.set(shape.clientPort, 'the client address (the balancer)');
  for (const [i, ports] of (shape.nodePorts ?? []).entries()) {
    for (const k of PORT_VARIABLES) {
      const what = `node ${i + 1}'s ${k}`;
      const port = ports[k];
      const taken = owner.get(port);
      if (taken) problems.push(`${what} is ${port}, which is also ${taken}: give each node ports of its own`);
      else owner.set(port, what);
      if (k.endsWith('_MEMBERSHIP_PORT') && port > MAX_MEMBERSHIP_PORT)
        problems.push(
          `${what} is ${port}: membership ports must be below 32768 (the server stores them in a smallint)`,
        );
    }
  }
  if (problems.length > 0) throw new TemporalClusterConfigError(problems);
}

/** Every port of the plan that something already listens on: each one named with its node and variable. */
async function portsInUse(nodePorts: NodePorts[], clientPort: number | undefined): Promise<string[]> {
  const found: string[] = [];
  if (clientPort && (await portOpen(clientPort)))
    found.push(`the client address 127.0.0.1:${clientPort} (TEMPORAL_ADDRESS) is in use: is another stack running?`);
  for (const [i, ports] of nodePorts.entries()) {
    for (const k of PORT_VARIABLES) {
      if (await portOpen(ports[k]))
        found.push(
          `node ${i + 1} cannot ${k.endsWith('_MEMBERSHIP_PORT') ? 'join the membership ring' : 'listen'}: ` +
            `its ${k} ${ports[k]} is in use by another process; stop it, or move the cluster's ports`,
        );
    }
  }
  return found;
}

/** What a node's failed start said, turned into what to do about it. */
function explainNodeFailure(name: string, index: number, ports: NodePorts, output: string, err: unknown): Error {
  const tail = output.slice(-2000);
  if (/schema version|compatible version|version mismatch/i.test(output))
    return new Error(`${SCHEMA_HINT}\n${tail}`, { cause: err });
  const inUse = /(\d+): bind: address already in use/.exec(output);
  if (inUse) {
    const port = Number(inUse[1]);
    const variable = PORT_VARIABLES.find((k) => ports[k] === port) ?? 'a port of the config';
    return new TemporalClusterConfigError([
      `node ${index} (${name}) cannot start: its ${variable} ${port} is in use by another process; stop it, or move the cluster's ports\n${tail}`,
    ]);
  }
  if (/too many clients|remaining connection slots|no usable database connection/.test(output))
    return new TemporalClusterConfigError([
      `node ${index} (${name}) cannot reach its database: PostgreSQL refused more connections (max_connections); ` +
        'lower TEMPORAL_SQL_MAX_CONNS / TEMPORAL_SQL_VISIBILITY_MAX_CONNS (per service of each node) or stop what else holds connections' +
        `\n${tail}`,
    ]);
  if (/malformed `broadcastAddress`/.test(output))
    return new TemporalClusterConfigError([
      `node ${index} (${name}) cannot join the membership ring: TEMPORAL_BROADCAST_ADDRESS must be an IPv4 address the other nodes reach (127.0.0.1 on one machine)\n${tail}`,
    ]);
  if (/failed to start ringpop|unable to bootstrap ringpop/.test(output))
    return new TemporalClusterConfigError([
      `node ${index} (${name}) cannot join the membership ring: every node must use the same databases (TEMPORAL_SQL_*), ` +
        `advertise an address the others reach (TEMPORAL_BROADCAST_ADDRESS) and have its membership ports reachable from them\n${tail}`,
    ]);
  return err instanceof Error ? err : new Error(String(err));
}

const SCHEMA_HINT =
  'the Temporal schema is older than this server: run `npm run temporal:schema` (deploy/temporal/schema.sh) to update it';

/**
 * Ensures PostgreSQL, sets up the schemas, starts the server (node 1, then the others at once),
 * the balancer when there are several, registers the namespace, starts the UI.
 */
export async function startTemporalCluster(opts: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = opts.log ?? false;
  const nodeCount = opts.nodes ?? 1;
  const historyShards = opts.historyShards ?? DEFAULT_HISTORY_SHARDS;
  // what needs no port and no process first: a node or shard count that cannot work fails at once
  checkClusterShape({ nodes: nodeCount, historyShards });
  const database = opts.database ?? 'temporal';
  const visibilityDatabase =
    opts.visibilityDatabase ?? (database === 'temporal' ? 'temporal_visibility' : `${database}_visibility`);
  const namespace = opts.namespace ?? 'default';
  const sqlEnv = {
    TEMPORAL_SQL_DATABASE: database,
    TEMPORAL_SQL_VISIBILITY_DATABASE: visibilityDatabase,
    ...(nodeCount > 1 ? MULTI_NODE_SQL_POOLS : {}),
    ...opts.env,
  };

  // The ports: one node keeps today's layout (the frontend on `frontendPort`); several get ports of
  // their own and the client port goes to the balancer in front of them.
  const clientPort = opts.frontendPort ?? (await freePort());
  const nodePorts: NodePorts[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    const ports = opts.defaultInternalPorts ? fixedNodePorts(i, nodeCount, opts.portBase) : await freeNodePorts();
    if (nodeCount === 1) ports.TEMPORAL_FRONTEND_PORT = clientPort;
    nodePorts.push(ports);
  }
  checkClusterShape({
    nodes: nodeCount,
    historyShards,
    nodePorts,
    clientPort: nodeCount > 1 ? clientPort : undefined,
  });
  const busy = await portsInUse(nodePorts, nodeCount > 1 ? clientPort : undefined);
  if (busy.length > 0) throw new TemporalClusterConfigError(busy);

  runChecked('PostgreSQL for Temporal', 'bash', ['scripts/ensure-postgres.sh'], sqlEnv);
  const bin = clusterBinaries();
  if (opts.schema !== 'as-is') {
    runChecked('the Temporal schema set-up', 'sh', [CLUSTER_FILES.schemaScript], {
      ...sqlEnv,
      TEMPORAL_SQL_TOOL: bin.sqlTool,
      TEMPORAL_SCHEMA_DIR: bin.schemaDir,
    });
  }

  /** Each node's start, failures explained (the first start and every later one). */
  const starts: (() => Promise<void>)[] = [];
  const nodes: TemporalNode[] = nodePorts.map((ports, k) => {
    const index = k + 1;
    const name = nodeCount === 1 ? 'temporal' : `temporal-${index}`;
    const proc = new ManagedProcess(
      name,
      bin.server,
      [
        '--root',
        root,
        '--config',
        CLUSTER_FILES.serverConfigDir,
        '--env',
        CLUSTER_FILES.serverConfigEnv,
        '--allow-no-auth',
        'start',
      ],
      {
        ...sqlEnv,
        ...Object.fromEntries(PORT_VARIABLES.map((v) => [v, String(ports[v])])),
        TEMPORAL_NUM_HISTORY_SHARDS: String(historyShards),
        TEMPORAL_DYNAMIC_CONFIG_FILE: path.join(root, CLUSTER_FILES.dynamicConfig),
      },
      () => portOpen(ports.TEMPORAL_FRONTEND_PORT),
      log,
    );
    const start = async (): Promise<void> => {
      try {
        await proc.start(120_000);
      } catch (err) {
        await proc.kill('SIGKILL');
        throw explainNodeFailure(name, index, ports, proc.output.join(''), err);
      }
    };
    starts.push(start);
    return {
      index,
      name,
      frontendAddress: `127.0.0.1:${ports.TEMPORAL_FRONTEND_PORT}`,
      ports,
      process: proc,
      kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.kill(signal),
      async start() {
        proc.restarts++;
        await start();
      },
    };
  });
  const processes: ManagedProcess[] = nodes.map((n) => n.process);
  let balancer: ManagedProcess | undefined;
  const stopAll = async (signal: NodeJS.Signals) => {
    // the UI, then the balancer, then the nodes
    for (const p of processes.slice(nodes.length).reverse()) await p.kill(signal);
    // all at once: stopped one by one, each would hand its shards to the next one to stop
    await Promise.all(nodes.map((n) => n.process.kill(signal)));
  };
  try {
    // node 1 alone first: the first start on a database writes the cluster's metadata
    await starts[0]!();
    await Promise.all(starts.slice(1).map((start) => start()));
    if (nodeCount > 1) {
      balancer = new ManagedProcess(
        'temporal-lb',
        process.execPath,
        ['--import', 'tsx', path.join(root, 'harness/tcp-balancer.ts')],
        {
          TEMPORAL_LB_LISTEN: `127.0.0.1:${clientPort}`,
          TEMPORAL_LB_FRONTENDS: nodes.map((n) => n.frontendAddress).join(','),
        },
        () => portOpen(clientPort),
        log,
      );
      await balancer.start();
      processes.push(balancer);
    }
    const address = nodeCount > 1 ? `127.0.0.1:${clientPort}` : nodes[0]!.frontendAddress;
    run('sh', [CLUSTER_FILES.namespaceScript], {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_CLI: bin.cli,
    });

    let uiUrl: string | undefined;
    if (opts.uiPort !== false) {
      const uiPort = opts.uiPort ?? (await freePort());
      const ui = new ManagedProcess(
        'temporal-ui',
        bin.uiServer,
        ['--root', root, '--config', CLUSTER_FILES.uiConfigDir, '--env', CLUSTER_FILES.uiConfigEnv, 'start'],
        { TEMPORAL_ADDRESS: address, TEMPORAL_UI_PORT: String(uiPort), TEMPORAL_NAMESPACE: namespace },
        () => portOpen(uiPort),
        log,
      );
      await ui.start();
      processes.push(ui);
      uiUrl = `http://127.0.0.1:${uiPort}`;
    }
    return {
      address,
      namespace,
      uiUrl,
      database,
      visibilityDatabase,
      historyShards,
      nodes,
      balancer,
      processes,
      async stop({ dropDatabases = false } = {}) {
        await stopAll('SIGTERM');
        if (dropDatabases) dropClusterDatabases([database, visibilityDatabase], opts.env);
      },
    };
  } catch (err) {
    await stopAll('SIGKILL');
    throw err;
  }
}

/** Drops test databases (with the sql tool, so no PostgreSQL client is needed). */
export function dropClusterDatabases(names: string[], env: Record<string, string> = {}): void {
  const bin = run('bash', ['scripts/temporal-cluster-bin.sh', 'sql-tool']);
  for (const name of names) {
    execFileSync(bin, ['--db', name, 'drop-database', '--force'], {
      env: {
        ...process.env,
        SQL_PLUGIN: 'postgres12',
        SQL_HOST: env.TEMPORAL_SQL_HOST ?? process.env.TEMPORAL_SQL_HOST ?? '127.0.0.1',
        SQL_PORT: env.TEMPORAL_SQL_PORT ?? process.env.TEMPORAL_SQL_PORT ?? '5432',
        SQL_USER: env.TEMPORAL_SQL_USER ?? process.env.TEMPORAL_SQL_USER ?? 'postgres',
        SQL_PASSWORD: env.TEMPORAL_SQL_PASSWORD ?? process.env.TEMPORAL_SQL_PASSWORD ?? '',
      },
      stdio: 'ignore',
    });
  }
}

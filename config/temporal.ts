import { z } from 'zod';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/client';
import { configError, issueLines } from '../lib/config';

/**
 * Where a program finds Temporal: what both `Connection.connect` (clients: the API, the replay and
 * timeline scripts) and `NativeConnection.connect` (the worker) take, and the namespace.
 */
export interface TemporalConnectionConfig {
  connection: { address: string; tls?: TLSConfig | boolean; apiKey?: string; metadata?: Record<string, string> };
  namespace: string;
}

/** The connection settings, checked; keyed by the variables that set them, so errors name those. */
const temporalConnectionSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^\S+:\d{1,5}$/, 'host:port, e.g. localhost:7233')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).max(255).default('default'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z
    .union([z.boolean(), z.custom<TLSConfig>((v) => typeof v === 'object' && v !== null, 'TLS settings')])
    .optional(),
  TEMPORAL_GRPC_META: z.record(z.string(), z.string()).optional(),
});

/**
 * The Temporal connection of every program, read one way: Temporal's standard environment
 * configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*,
 * TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE) through @temporalio/envconfig, then checked. Each
 * program's config module (the one place that program reads `process.env`) calls it through
 * `parseConfigWithTemporal`.
 */
function readTemporalConnection(
  env: Record<string, string | undefined>,
): { value: TemporalConnectionConfig; issues?: never } | { issues: string[] } {
  const defined = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: defined });
  } catch (err) {
    return { issues: [`  - TEMPORAL_* (environment configuration): ${(err as Error).message}`] };
  }
  const c = loaded.connectionOptions;
  const checked = temporalConnectionSchema.safeParse({
    TEMPORAL_ADDRESS: c.address,
    TEMPORAL_NAMESPACE: loaded.namespace,
    TEMPORAL_API_KEY: c.apiKey,
    TEMPORAL_TLS: c.tls ?? undefined,
    TEMPORAL_GRPC_META: c.metadata,
  });
  if (!checked.success) return { issues: issueLines(checked.error) };
  const t = checked.data;
  return {
    value: {
      connection: {
        address: t.TEMPORAL_ADDRESS,
        ...(t.TEMPORAL_TLS !== undefined ? { tls: t.TEMPORAL_TLS } : {}),
        ...(t.TEMPORAL_API_KEY !== undefined ? { apiKey: t.TEMPORAL_API_KEY } : {}),
        ...(t.TEMPORAL_GRPC_META !== undefined ? { metadata: t.TEMPORAL_GRPC_META } : {}),
      },
      namespace: t.TEMPORAL_NAMESPACE,
    },
  };
}

/**
 * A program's own settings (`schema`) and its Temporal connection, from one environment, failing
 * with every bad key of both at once.
 */
export function parseConfigWithTemporal<S extends z.ZodType<object>>(
  schema: S,
  env: Record<string, string | undefined>,
  program: string,
): z.infer<S> & { temporal: TemporalConnectionConfig } {
  const own = schema.safeParse(env);
  const temporal = readTemporalConnection(env);
  const issues = [...(own.success ? [] : issueLines(own.error)), ...(temporal.issues ?? [])];
  if (!own.success || temporal.issues) throw configError(program, issues);
  return { ...(own.data as z.infer<S>), temporal: temporal.value };
}

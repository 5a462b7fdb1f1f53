import { z } from 'zod';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { ConnectionOptions } from '@temporalio/client';
import { cardKey, logLevel, parseConfig, port, positiveInt } from '../lib/config';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { auditEnv } from './audit';

export const apiConfigSchema = z.object({
  API_PORT: port(3000),
  BIND_HOST: z.string().min(1).default('127.0.0.1'),
  /** Bearer token every protected route requires. No default: `npm run dev` sets a documented local one. */
  API_TOKEN: z.string().min(16, 'at least 16 characters'),
  TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  /** Base of the Temporal Web UI, for the `temporalUi` links. */
  TEMPORAL_UI_URL: z.string().url().default('http://localhost:8233'),
  /** Upper bound for `?wait=true`. */
  API_WAIT_MAX_MS: positiveInt(30_000),
  /** Optional deadline given to every saga the API starts (0 = none). */
  SAGA_DEADLINE_MS: z.coerce.number().int().min(0).default(0),
  /** `local` runs PlaceOrder's service calls as local activities (see workflows/options.ts). */
  SAGA_ACTIVITY_MODE: z.enum(['regular', 'local']).default('regular'),
  /** Attempts a compensation gets before the saga goes STUCK for an operator (0 = retry until it succeeds). */
  SAGA_COMPENSATION_MAX_ATTEMPTS: z.coerce.number().int().min(0).default(0),
  CARD_ENCRYPTION_KEY: cardKey,
  LOG_LEVEL: logLevel,
  /** GET /audit: the services' MySQL server and DB_PREFIX (defaults as theirs) and the settle time. */
  ...auditEnv,
});

export type ApiConfig = z.infer<typeof apiConfigSchema> & {
  temporal: { connection: ConnectionOptions; namespace: string };
};

/**
 * The API's configuration; the only place it reads `process.env`. The Temporal connection follows
 * the standard environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS*, TEMPORAL_PROFILE) through @temporalio/envconfig.
 */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  const own = parseConfig(apiConfigSchema, env, 'api');
  const defined = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const temporal = loadClientConnectConfig({ overrideEnvVars: defined });
  const c = temporal.connectionOptions;
  return {
    ...own,
    temporal: {
      connection: {
        address: c.address ?? 'localhost:7233',
        tls: c.tls,
        apiKey: c.apiKey,
        metadata: c.metadata,
      } as ConnectionOptions,
      namespace: temporal.namespace ?? 'default',
    },
  };
}

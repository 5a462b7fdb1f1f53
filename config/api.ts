import { z } from 'zod';
import { bool, cardKey, logLevel, port, positiveInt } from '../lib/config';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { auditEnv } from './audit';
import { parseConfigWithTemporal, type TemporalConnectionConfig } from './temporal';

export const apiConfigSchema = z
  .object({
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
    /**
     * Host the saga worker in the API process (it then needs the worker's settings too: the service
     * URLs, WORKER_*). One process instead of two, and the condition for eager workflow start.
     */
    API_EMBEDDED_WORKER: bool(false),
    /**
     * Eager workflow start: the server hands a new saga's first workflow task straight back to this
     * process's worker in the start call's answer (no task-queue round trip). Needs API_EMBEDDED_WORKER.
     */
    SAGA_EAGER_START: bool(false),
    CARD_ENCRYPTION_KEY: cardKey,
    LOG_LEVEL: logLevel,
    /** GET /audit: the services' MySQL server and DB_PREFIX (defaults as theirs) and the settle time. */
    ...auditEnv,
  })
  .superRefine((env, ctx) => {
    if (env.SAGA_EAGER_START && !env.API_EMBEDDED_WORKER) {
      ctx.addIssue({
        code: 'custom',
        path: ['SAGA_EAGER_START'],
        message: 'needs API_EMBEDDED_WORKER=true (eager start hands the task to a worker in this process)',
      });
    }
  });

export type ApiConfig = z.infer<typeof apiConfigSchema> & { temporal: TemporalConnectionConfig };

/**
 * The API's configuration; the only place it reads `process.env`. The Temporal connection is read
 * as every program reads it (config/temporal.ts: the standard environment configuration).
 */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return parseConfigWithTemporal(apiConfigSchema, env, 'api');
}

import { z } from 'zod';
import { cardKey, logLevel, port, positiveInt, serviceUrlsEnv } from '../lib/config';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { parseConfigWithTemporal, type TemporalConnectionConfig } from './temporal';

export const workerConfigSchema = z.object({
  TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  ...serviceUrlsEnv,
  HTTP_TIMEOUT_MS: positiveInt(5000),
  HTTP_CONNECTIONS: positiveInt(64),
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt(200),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt(100),
  WORKER_MAX_CACHED_WORKFLOWS: positiveInt(1000),
  /** Concurrent long polls for workflow / activity tasks (SDK default 10 each). */
  WORKER_WORKFLOW_TASK_POLLS: positiveInt(10),
  WORKER_ACTIVITY_TASK_POLLS: positiveInt(10),
  /**
   * How the pollers are sized: `fixed` (the counts above) or `autoscaling` (the SDK's
   * PollerBehavior: from 1 up to those counts, scaled on the server's feedback). Swept in
   * docs/bench/settings.md; the default is what measured best there.
   */
  WORKER_POLLER_BEHAVIOR: z.enum(['fixed', 'autoscaling']).default('fixed'),
  /**
   * Where workflow code runs: `thread` (the SDK's default: a worker thread, activations posted to
   * it) or `main` (the worker's main thread, no message passing per activation; the SDK's
   * "debug mode", with the deadlock detection timeout kept at 5 s).
   */
  WORKER_WORKFLOW_THREAD: z.enum(['thread', 'main']).default('thread'),
  /** Worker threads that run workflow code (the SDK's workflowThreadPoolSize; 1 is its default with the reused V8 context). */
  WORKER_WORKFLOW_THREADS: positiveInt(1),
  /** Prometheus endpoint for the SDK's metrics (0 disables it). */
  WORKER_METRICS_PORT: port(9464),
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  CARD_ENCRYPTION_KEY: cardKey,
  /** Level of the SDK's own logger, which also carries the workflows' `log` calls (WARN keeps the hot path quiet). */
  WORKER_SDK_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
  LOG_LEVEL: logLevel,
});

export type WorkerConfig = z.infer<typeof workerConfigSchema> & { temporal: TemporalConnectionConfig };

/**
 * The worker's configuration; the only place it reads `process.env`. The Temporal connection is
 * read as every program reads it (config/temporal.ts: the standard environment configuration).
 */
export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return parseConfigWithTemporal(workerConfigSchema, env, 'worker');
}

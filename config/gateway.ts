import { z } from 'zod';
import { logLevel, parseConfig, port, positiveInt, serviceUrlsEnv } from '../lib/config';

/**
 * The gateway coordinator's settings. The service URLs and the HTTP timeout have the worker's
 * defaults (config/worker.ts): the baseline calls the same services the same way, minus Temporal.
 */
export const gatewayConfigSchema = z.object({
  GATEWAY_PORT: port(3005),
  BIND_HOST: z.string().min(1).default('127.0.0.1'),
  /** The API's bearer token: the gateway guards POST /orders exactly as the API does. */
  API_TOKEN: z.string().min(16, 'at least 16 characters'),
  ...serviceUrlsEnv,
  /** Per-call timeout: each service call gets one attempt of at most this long. */
  HTTP_TIMEOUT_MS: positiveInt(5000),
  /** Keep-alive connections per service. */
  HTTP_CONNECTIONS: positiveInt(64),
  LOG_LEVEL: logLevel,
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** The gateway's configuration; the only place it reads `process.env`. */
export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return parseConfig(gatewayConfigSchema, env, 'gateway');
}

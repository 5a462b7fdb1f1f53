import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { ConnectionOptions } from '@temporalio/client';

export interface ReplayConfig {
  temporal: { connection: ConnectionOptions; namespace: string };
}

/**
 * Configuration of `npm run replay`; the only place it reads `process.env`. Like the worker and
 * the API it follows Temporal's standard environment configuration (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE / config file), so it reads
 * histories from the same cluster and namespace the worker runs against.
 */
export function loadReplayConfig(env: Record<string, string | undefined> = process.env): ReplayConfig {
  const defined = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const temporal = loadClientConnectConfig({ overrideEnvVars: defined });
  const c = temporal.connectionOptions;
  return {
    temporal: {
      connection: { address: c.address ?? 'localhost:7233', tls: c.tls, apiKey: c.apiKey, metadata: c.metadata } as ConnectionOptions,
      namespace: temporal.namespace ?? 'default',
    },
  };
}

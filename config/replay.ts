import { z } from 'zod';
import { parseConfigWithTemporal, type TemporalConnectionConfig } from './temporal';

export interface ReplayConfig {
  temporal: TemporalConnectionConfig;
}

/**
 * Configuration of `npm run replay` and `npm run timeline`; the only place they read
 * `process.env`. The Temporal connection is read as the worker and the API read it
 * (config/temporal.ts), so they read histories from the cluster and namespace the worker runs against.
 */
export function loadReplayConfig(env: Record<string, string | undefined> = process.env): ReplayConfig {
  return parseConfigWithTemporal(z.object({}), env, 'replay');
}

import { z } from 'zod';
import { natsUrl, parseConfig } from '../lib/config';

export const streamsConfigSchema = z.object({
  /** The event broker to describe (npm run dev prints the one it started). */
  NATS_URL: natsUrl.default('nats://127.0.0.1:4222'),
});
export type StreamsConfig = z.infer<typeof streamsConfigSchema>;

/** `npm run streams`'s configuration; the only place it reads `process.env`. */
export function loadStreamsConfig(env: Record<string, string | undefined> = process.env): StreamsConfig {
  return parseConfig(streamsConfigSchema, env, 'streams');
}

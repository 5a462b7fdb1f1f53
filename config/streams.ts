import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { natsUrl, parseConfig } from '../lib/config';

/** Where `npm run dev` notes the broker it started (it may not be on 4222: see scripts/dev.ts). */
export const DEV_BROKER_URL_FILE = path.resolve(__dirname, '..', '.data', 'nats', 'url');

export const streamsConfigSchema = z.object({
  /** The event broker to describe; default: the one `npm run dev` started, else nats://127.0.0.1:4222. */
  NATS_URL: natsUrl.optional(),
});
export type StreamsConfig = { NATS_URL: string };

function devBrokerUrl(): string | undefined {
  try {
    return readFileSync(DEV_BROKER_URL_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `npm run streams`'s configuration; the only place it reads `process.env`. */
export function loadStreamsConfig(env: Record<string, string | undefined> = process.env): StreamsConfig {
  const parsed = parseConfig(streamsConfigSchema, env, 'streams');
  return { NATS_URL: parsed.NATS_URL ?? devBrokerUrl() ?? 'nats://127.0.0.1:4222' };
}

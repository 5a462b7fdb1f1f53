/**
 * The broker connection the relay, the consumers and `npm run streams` share: NATS with JetStream
 * (nats-server 2.12+, built by scripts/ensure-nats.sh), through @nats-io/transport-node and
 * @nats-io/jetstream. Errors name the URL and what to do, because "connection refused" alone does
 * not say which of the stack's settings is wrong.
 */
import { connect } from '@nats-io/transport-node';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import {
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { streamOf, type EventSource } from './events';

/** How long the broker remembers a `Nats-Msg-Id` to drop a republished duplicate (the relay republishes only what it could not mark). */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export class BrokerUnavailableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `Cannot use the event broker at ${url}: ${reason}. Start it (npm run dev starts one; NATS_URL names another), ` +
        'or check that it is nats-server 2.12+ with JetStream enabled (-js). Events wait in the outbox until it answers.',
    );
    this.name = 'BrokerUnavailableError';
  }
}

/** Connects once (no endless reconnect inside the client: the callers retry and report). */
export async function connectBroker(url: string, name: string): Promise<NatsConnection> {
  try {
    const nc = await connect({
      servers: url,
      name,
      timeout: 2000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
    return nc;
  } catch (err) {
    throw new BrokerUnavailableError(url, err);
  }
}

/** A stream's settings: on disk, kept by limits (never deleted on ack), duplicate detection by message ID. */
export function streamConfig(source: EventSource): Partial<StreamConfig> & { name: string; subjects: string[] } {
  const { name, subjects } = streamOf(source);
  return {
    name,
    subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: 1,
  };
}

/** Creates the source's stream if missing (both the relay and the consumers call it: whoever comes first). */
export async function ensureStream(jsm: JetStreamManager, source: EventSource): Promise<void> {
  const config = streamConfig(source);
  try {
    await jsm.streams.info(config.name);
  } catch (err) {
    if (!/stream not found/i.test(err instanceof Error ? err.message : String(err))) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Someone else created it between our look and our add.
      if (!/already in use|already exists/i.test(addErr instanceof Error ? addErr.message : String(addErr)))
        throw addErr;
    }
  }
}

/** The JetStream manager of a connection; a broker without JetStream is a clear error. */
export async function jetstreamOf(nc: NatsConnection, url: string): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc, { timeout: 5000 });
  } catch (err) {
    throw new BrokerUnavailableError(
      url,
      new Error(`JetStream is not available (${err instanceof Error ? err.message : String(err)})`),
    );
  }
}

/**
 * The pacing and failure bookkeeping of a loop that works against the broker (the outbox relay, an
 * event consumer): a sleep that `wake()` cuts short (on stop), an outage counted until the next
 * success, an error worth logging only when its message changes, and a backoff of 250 ms × 2^n up
 * to 5 s between attempts.
 */
export class BrokerLoop {
  failures = 0;
  /** The last failure's message while the loop is failing; undefined once it works. */
  lastError: string | undefined;
  private wakeUp: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  wake(): void {
    this.wakeUp?.();
  }

  /** After a success: the number of failures of the outage it ends (0 when there was none). */
  succeeded(): number {
    if (this.lastError === undefined) return 0;
    const failures = this.failures;
    this.lastError = undefined;
    this.failures = 0;
    return failures;
  }

  /** After a failure: its message, and whether it differs from the last one (then it is worth a log line). */
  failed(err: unknown): { message: string; isNew: boolean } {
    this.failures++;
    const message = err instanceof Error ? err.message : String(err);
    const isNew = message !== this.lastError;
    this.lastError = message;
    return { message, isNew };
  }

  backoff(): Promise<void> {
    return this.sleep(Math.min(5000, 250 * 2 ** Math.min(this.failures, 5)));
  }
}

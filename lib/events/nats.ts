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
import { EVENT_SOURCES, streamOf, type EventSource } from './events';

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

/** The servers of a NATS_URL: one URL, or the comma-separated nodes of a cluster. */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Connects to the broker: one server, or any node of a cluster's list (the client then fails over
 * to the others, and learns the cluster's other nodes from the one it reached).
 */
export async function connectBroker(url: string, name: string): Promise<NatsConnection> {
  try {
    const nc = await connect({
      servers: natsServers(url),
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

/**
 * A stream's settings: on disk, kept by limits (never deleted on ack), duplicate detection by
 * message ID, `replicas` copies on as many nodes (NATS_STREAM_REPLICAS: 1 on one nats-server, 3 on a
 * three-node cluster).
 */
export function streamConfig(
  source: EventSource,
  replicas = 1,
): Partial<StreamConfig> & { name: string; subjects: string[] } {
  const { name, subjects } = streamOf(source);
  return {
    name,
    subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  };
}

/**
 * JetStream's answers when a stream's replicas cannot be placed: replicas > 1 on a server that is
 * not in a cluster (10074), no suitable peers (10005), not enough resources (10023).
 */
export const PLACEMENT_ERROR_CODES: ReadonlySet<number> = new Set([10074, 10005, 10023]);

/** A stream asked for more replicas than the broker can place: a configuration mistake, named with its fix. */
export class StreamPlacementError extends Error {
  constructor(
    readonly stream: string,
    readonly replicas: number,
    readonly nodes: number,
    /** JetStream's `err_code` (see PLACEMENT_ERROR_CODES). */
    readonly natsErrorCode: number,
    natsMessage: string,
  ) {
    const broker = nodes === 1 ? 'broker has 1 node' : `cluster has ${nodes} nodes`;
    const devCluster = replicas === 3 ? ' (npm run dev -- --temporal=cluster runs one)' : '';
    super(
      `stream ${stream} needs ${replicas} replicas but the NATS ${broker} (nats error ${natsErrorCode}: ${natsMessage}): ` +
        `set NATS_STREAM_REPLICAS=${Math.min(nodes, replicas)} or start a ${replicas}-node cluster${devCluster}`,
    );
    this.name = 'StreamPlacementError';
  }
}

/** JetStream's `err_code` of a failed API call (nats.js JetStreamApiError), if it is one. */
function jetStreamErrorCode(err: unknown): number | undefined {
  // Duck-typed, not instanceof: the class may come from another copy of the module (jest, bundles).
  // Node's and MySQL's errors have string codes; JetStream's err_code is a number.
  const e = err as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === 'number' && typeof e.message === 'string' ? e.code : undefined;
}

/** What a connection reached: a server in a cluster or not, and the nodes of that cluster that are up (1 outside one). */
export interface BrokerTopology {
  clustered: boolean;
  nodes: number;
}

/** The topology of the broker a connection reached, from its INFO (the client URLs the cluster gossips). */
export function brokerTopology(nc: NatsConnection): BrokerTopology {
  const info = nc.info;
  if (!info?.cluster) return { clustered: false, nodes: 1 };
  return { clustered: true, nodes: Math.max(1, info.connect_urls?.length ?? 1) };
}

/**
 * Creates the source's stream if missing, with `replicas` copies (both the relay and the consumers
 * call it: whoever comes first); an existing stream with another replica count is scaled to it
 * (JetStream moves the copies itself). Replicas the broker cannot place fail with a
 * StreamPlacementError that names the fix, not with JetStream's bare code.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  source: EventSource,
  opts: { replicas?: number; broker?: BrokerTopology } = {},
): Promise<void> {
  const replicas = opts.replicas ?? 1;
  const nodes = opts.broker?.nodes ?? 1;
  const config = streamConfig(source, replicas);
  const placementError = (err: unknown): unknown => {
    const code = jetStreamErrorCode(err);
    if (code === undefined || !PLACEMENT_ERROR_CODES.has(code)) return err;
    return new StreamPlacementError(config.name, replicas, nodes, code, (err as Error).message);
  };
  let existing;
  try {
    existing = await jsm.streams.info(config.name);
  } catch (err) {
    if (!/stream not found/i.test(err instanceof Error ? err.message : String(err))) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Someone else created it between our look and our add.
      if (!/already in use|already exists/i.test(addErr instanceof Error ? addErr.message : String(addErr)))
        throw placementError(addErr);
    }
    return;
  }
  if (existing.config.num_replicas === replicas) return;
  // A server outside a cluster refuses a new stream of more than one replica (10074), but takes
  // the same replica count as an update and reports it while it keeps one copy: refuse it here
  // with the server's own code for it.
  if (opts.broker && !opts.broker.clustered && replicas > 1)
    throw new StreamPlacementError(config.name, replicas, 1, 10074, 'replicas > 1 not supported in non-clustered mode');
  try {
    await jsm.streams.update(config.name, { ...existing.config, num_replicas: replicas });
  } catch (err) {
    throw placementError(err);
  }
}

/**
 * Every source's stream, before anything publishes: the dev stack and the harness call it at start,
 * so a replica count the broker cannot place stops the start with the StreamPlacementError's fix
 * instead of leaving every relay retrying (the services themselves never wait for the broker).
 */
export async function ensureStreams(url: string, replicas: number): Promise<void> {
  const nc = await connectBroker(url, 'ensure-streams');
  try {
    const jsm = await jetstreamOf(nc, url);
    for (const source of EVENT_SOURCES) await ensureStream(jsm, source, { replicas, broker: brokerTopology(nc) });
  } finally {
    await nc.close();
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

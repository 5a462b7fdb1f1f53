/**
 * A nats-server with JetStream (built from source by scripts/ensure-nats.sh) as a child process:
 * the dev stack's broker, the harness's and the tests'. Its file store is a directory that outlives
 * the process, so a broker SIGKILLed and started again on the same port keeps its streams and
 * consumers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, httpOk, ManagedProcess, portOpen } from './managed-process';

const root = path.resolve(__dirname, '..');

export interface NatsServer {
  url: string;
  port: number;
  monitorUrl: string;
  storeDir: string;
  process: ManagedProcess;
  /** SIGKILL (default) or SIGTERM, then start again on the same port and store. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/** The nats-server binary (building it the first time; cached outside the clone). */
export function natsServerBinary(): string {
  return execFileSync('bash', [path.join(root, 'scripts/ensure-nats.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export async function startNatsServer(
  opts: { name?: string; port?: number; storeDir?: string; log?: boolean } = {},
): Promise<NatsServer> {
  const binary = natsServerBinary();
  const port = opts.port ?? (await freePort());
  const monitorPort = await freePort();
  const ownStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkdtempSync(path.join(os.tmpdir(), 'saga-nats-'));
  mkdirSync(storeDir, { recursive: true });
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  const proc = new ManagedProcess(
    opts.name ?? 'nats',
    binary,
    [
      '--jetstream',
      '--store_dir',
      storeDir,
      '--addr',
      '127.0.0.1',
      '--port',
      String(port),
      '--http_port',
      String(monitorPort),
      '--server_name',
      `saga-${port}`,
    ],
    {},
    // JetStream is ready (its store recovered) when this answers 200, not merely when the port opens.
    async () => (await portOpen(port)) && httpOk(`${monitorUrl}/healthz?js-enabled-only=true`),
    opts.log ?? false,
  );
  await proc.start(60_000);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl,
    storeDir,
    process: proc,
    async restart(signal: NodeJS.Signals = 'SIGKILL') {
      await proc.kill(signal);
      proc.restarts++;
      await proc.start(60_000);
    },
    async stop() {
      await proc.kill('SIGTERM');
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/**
 * Child processes for the harness, the dev stack and the Temporal cluster: free ports, readiness
 * waits, and a process that can be SIGKILLed and started again with the same command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** One child process that can be SIGKILLed and started again with the same command and environment. */
export class ManagedProcess {
  proc: ChildProcess | undefined;
  output: string[] = [];
  restarts = 0;
  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly ready: () => Promise<boolean>,
    private readonly log: boolean,
  ) {}

  async start(timeoutMs = 90_000): Promise<void> {
    // readiness checks read this incarnation's output only
    this.output = [];
    const proc = spawn(this.command, this.args, {
      cwd: root,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const keep = (d: Buffer) => {
      const text = d.toString();
      this.output.push(text);
      if (this.output.length > 200) this.output.shift();
      if (this.log) process.stderr.write(text.replace(/^/gm, `${this.name.padEnd(10)}| `));
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let exited: string | undefined;
    proc.once('exit', (code, signal) => (exited = signal ? `signal ${signal}` : `code ${code}`));
    await waitUntil(
      this.name,
      async () => {
        if (exited)
          throw new Error(`${this.name} exited while starting (${exited}):\n${this.output.join('').slice(-3000)}`);
        return this.ready();
      },
      timeoutMs,
    );
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    this.restarts++;
    await this.start();
  }
}

/**
 * A free port in [min, max), for listeners whose port must fit a range: the Temporal server stores
 * its membership ports in a PostgreSQL smallint, so they must stay below 32768, where the system's
 * ephemeral ports (what `freePort` gets) usually start.
 */
export async function freePortInRange(min: number, max: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min));
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in [${min}, ${max}) after 200 tries`);
}

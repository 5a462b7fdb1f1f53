/**
 * The one client address of a multi-node Temporal cluster on one machine: a TCP round-robin proxy
 * in front of every node's frontend. Each client connection goes to the next frontend that accepts
 * it; a frontend that refuses (its node is down) is skipped, and left out for a moment before it is
 * tried again. It balances connections, not calls: gRPC keeps a connection open, so a client stays
 * on one frontend until that connection drops, then reconnects through here to a live one. Any
 * frontend serves any call (it routes to the history and matching hosts through membership), so
 * which one a client lands on does not matter.
 *
 * Why a proxy and not a list of frontends in the clients: the worker's NativeConnection takes a
 * single address, and the API, the UI server and the CLI would each need their own way of listing
 * several. A real deployment puts a load balancer there (compose: nginx's `stream` module,
 * deploy/temporal-lb/nginx.conf); this is the same job for `npm run dev` and the tests.
 */
import net from 'node:net';

export interface TcpBalancerOptions {
  /** Where clients connect (port 0: a free one). */
  host?: string;
  port: number;
  /** The frontends, `host:port` each, in round-robin order. */
  backends: readonly string[];
  /** How long a backend that refused a connection is skipped (default 1000 ms). */
  skipDownForMs?: number;
  /** Gives up on a backend that neither accepts nor refuses within this long (default 1000 ms). */
  connectTimeoutMs?: number;
}

export interface TcpBalancer {
  /** `host:port` for clients. */
  address: string;
  port: number;
  backends: readonly string[];
  /** Client connections proxied so far, by backend. */
  connectionsTo: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** host:port, the port 1-65535: what every backend and listen address must look like. */
function parseHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^([^\s:]+):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/** Throws, naming the fix, when the frontend list cannot be balanced over. */
export function checkBackends(backends: readonly string[]): { host: string; port: number }[] {
  if (backends.length === 0)
    throw new Error(
      'the Temporal load balancer has an empty frontend list: give it at least one frontend (host:port), ' +
        "one per node (harness/temporal-cluster.ts passes every node's frontend)",
    );
  const bad = backends.filter((b) => !parseHostPort(b));
  if (bad.length > 0)
    throw new Error(
      `the Temporal load balancer's frontend list has ${bad.map((b) => JSON.stringify(b)).join(', ')}: ` +
        'each frontend must be host:port, e.g. 127.0.0.1:7253',
    );
  const dupes = backends.filter((b, i) => backends.indexOf(b) !== i);
  if (dupes.length > 0)
    throw new Error(`the Temporal load balancer's frontend list names ${dupes.join(', ')} twice: list each node once`);
  return backends.map((b) => parseHostPort(b)!);
}

export async function startTcpBalancer(opts: TcpBalancerOptions): Promise<TcpBalancer> {
  const targets = checkBackends(opts.backends);
  const skipDownForMs = opts.skipDownForMs ?? 1000;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 1000;
  const downUntil = new Map<string, number>();
  const connectionsTo = new Map<string, number>(opts.backends.map((b) => [b, 0]));
  const open = new Set<net.Socket>();
  let next = 0;

  /** The backends to try for one connection: round-robin order, the ones known down last. */
  const candidates = (): number[] => {
    const start = next++ % targets.length;
    const order = targets.map((_, k) => (start + k) % targets.length);
    const now = Date.now();
    const up = order.filter((i) => (downUntil.get(opts.backends[i]!) ?? 0) <= now);
    return [...up, ...order.filter((i) => !up.includes(i))];
  };

  const connectTo = (i: number): Promise<net.Socket | undefined> =>
    new Promise((resolve) => {
      const t = targets[i]!;
      const upstream = net.connect({ host: t.host, port: t.port });
      const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), connectTimeoutMs);
      upstream.once('connect', () => {
        clearTimeout(timer);
        resolve(upstream);
      });
      upstream.once('error', () => {
        clearTimeout(timer);
        downUntil.set(opts.backends[i]!, Date.now() + skipDownForMs);
        resolve(undefined);
      });
    });

  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    void (async () => {
      for (const i of candidates()) {
        if (client.destroyed) return;
        const upstream = await connectTo(i);
        if (!upstream) continue;
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        const backend = opts.backends[i]!;
        connectionsTo.set(backend, (connectionsTo.get(backend) ?? 0) + 1);
        open.add(upstream);
        upstream.setNoDelay(true);
        // either side going away ends both: the client reconnects, through here, to a live frontend
        upstream.once('close', () => {
          open.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => upstream.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        return;
      }
      client.destroy(); // every frontend refused: the client retries
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `the Temporal load balancer cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port}: the port is in use (is another stack running?)`,
            )
          : err,
      ),
    );
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    backends: opts.backends,
    connectionsTo,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
    },
  };
}

/**
 * As a process of its own (what the cluster mode runs, `temporal-lb`, so that no synchronous work of
 * the process that started the cluster can hold the clients' traffic up):
 * `TEMPORAL_LB_LISTEN=127.0.0.1:7233 TEMPORAL_LB_FRONTENDS=127.0.0.1:7253,127.0.0.1:7273 node --import tsx harness/tcp-balancer.ts`.
 */
async function main(env: Record<string, string | undefined>): Promise<void> {
  const listen = parseHostPort(env.TEMPORAL_LB_LISTEN ?? '');
  if (!listen)
    throw new Error(`TEMPORAL_LB_LISTEN must be host:port (where clients connect), not ${env.TEMPORAL_LB_LISTEN}`);
  const backends = (env.TEMPORAL_LB_FRONTENDS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const balancer = await startTcpBalancer({ host: listen.host, port: listen.port, backends });
  console.log(`temporal-lb: ${balancer.address} -> ${backends.join(', ')}`);
  const stop = () => void balancer.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main(process.env).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

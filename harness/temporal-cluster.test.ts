/**
 * The multi-node cluster's shape checks and its client balancer, without a server: a node or shard
 * count that cannot work, ports that collide, an empty frontend list fail before anything starts,
 * naming the fix; the balancer spreads connections and skips a frontend that is down.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  checkClusterShape,
  DEFAULT_HISTORY_SHARDS,
  DEFAULT_NODE_PORTS,
  fixedNodePorts,
  startTemporalCluster,
  TemporalClusterConfigError,
} from './temporal-cluster';
import { checkBackends, startTcpBalancer } from './tcp-balancer';

const root = path.resolve(__dirname, '..');

describe('the cluster shape', () => {
  test.each([
    [0, 4, /nodes is 0: run at least one node/],
    [-1, 4, /nodes is -1/],
    [NaN, 4, /nodes is NaN/],
    [2.5, 4, /nodes is 2\.5/],
    [5, 4, /4 history shards for 5 nodes[\s\S]*TEMPORAL_NUM_HISTORY_SHARDS >= 5/],
    [1, 0, /history shard count is 0/],
  ])(
    'when nodes is %p and the shard count %p, then the check fails naming the fix',
    (nodes, historyShards, message) => {
      expect(() => checkClusterShape({ nodes, historyShards })).toThrow(TemporalClusterConfigError);
      expect(() => checkClusterShape({ nodes, historyShards })).toThrow(message);
    },
  );

  test('when there are as many shards as nodes or more, then the shape is accepted', () => {
    expect(() => checkClusterShape({ nodes: 1, historyShards: 1 })).not.toThrow();
    expect(() => checkClusterShape({ nodes: 3, historyShards: 4 })).not.toThrow();
    expect(() => checkClusterShape({ nodes: 4, historyShards: 4 })).not.toThrow();
  });

  test('when nodes is invalid, then startTemporalCluster fails before it starts anything', async () => {
    // no PostgreSQL check, no build, no port taken: the error comes first
    await expect(startTemporalCluster({ nodes: 0 })).rejects.toThrow(/nodes is 0/);
    await expect(startTemporalCluster({ nodes: 3, historyShards: 2 })).rejects.toThrow(/2 history shards for 3 nodes/);
  });

  test("when one node runs on fixed ports, then they are the config's defaults, as before", () => {
    expect(fixedNodePorts(1, 1)).toEqual(DEFAULT_NODE_PORTS);
    const config = readFileSync(path.join(root, 'deploy/temporal/config/cluster.yaml'), 'utf8');
    for (const [variable, port] of Object.entries(DEFAULT_NODE_PORTS))
      expect({ variable, inConfig: config.includes(`env "${variable}" | default "${port}"`) }).toEqual({
        variable,
        inConfig: true,
      });
    expect(config).toContain(`env "TEMPORAL_NUM_HISTORY_SHARDS" | default "${DEFAULT_HISTORY_SHARDS}"`);
  });

  test('when three nodes run on fixed ports, then every port differs, none is the client port and membership stays below 32768', () => {
    const nodePorts = [1, 2, 3].map((i) => fixedNodePorts(i, 3));
    expect(() => checkClusterShape({ nodes: 3, historyShards: 4, nodePorts, clientPort: 7233 })).not.toThrow();
    expect(nodePorts[1]!.TEMPORAL_FRONTEND_PORT).toBe(7273);
    expect(nodePorts[2]!.TEMPORAL_HISTORY_MEMBERSHIP_PORT).toBe(6994);
  });

  test('when two nodes share a port, or a membership port does not fit a smallint, then the check names each', () => {
    const a = fixedNodePorts(1, 2);
    const b = { ...fixedNodePorts(2, 2), TEMPORAL_HISTORY_MEMBERSHIP_PORT: a.TEMPORAL_HISTORY_MEMBERSHIP_PORT };
    const c = { ...fixedNodePorts(3, 3), TEMPORAL_WORKER_MEMBERSHIP_PORT: 40_000 };
    let error: TemporalClusterConfigError | undefined;
    try {
      checkClusterShape({ nodes: 3, historyShards: 4, nodePorts: [a, b, c], clientPort: a.TEMPORAL_FRONTEND_PORT });
    } catch (err) {
      error = err as TemporalClusterConfigError;
    }
    expect(error?.problems).toEqual([
      `node 1's TEMPORAL_FRONTEND_PORT is ${a.TEMPORAL_FRONTEND_PORT}, which is also the client address (the balancer): give each node ports of its own`,
      `node 2's TEMPORAL_HISTORY_MEMBERSHIP_PORT is ${a.TEMPORAL_HISTORY_MEMBERSHIP_PORT}, which is also node 1's TEMPORAL_HISTORY_MEMBERSHIP_PORT: give each node ports of its own`,
      "node 3's TEMPORAL_WORKER_MEMBERSHIP_PORT is 40000: membership ports must be below 32768 (the server stores them in a smallint)",
    ]);
  });
});

/** A TCP server that answers every connection with its name, then closes it. */
async function namedServer(name: string): Promise<{ address: string; close: () => Promise<void> }> {
  const server = net.createServer((s) => s.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** What the balancer's backend said to one new connection ('' when the connection was dropped). */
function ask(port: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1');
    s.on('data', (d) => chunks.push(d));
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', () => undefined);
  });
}

describe('the client balancer', () => {
  test('when the frontend list is empty, malformed or repeats a frontend, then it fails naming the fix', async () => {
    expect(() => checkBackends([])).toThrow(/empty frontend list: give it at least one frontend \(host:port\)/);
    await expect(startTcpBalancer({ port: 0, backends: [] })).rejects.toThrow(/empty frontend list/);
    expect(() => checkBackends(['127.0.0.1', 'x:99999'])).toThrow(
      /"127\.0\.0\.1", "x:99999": each frontend must be host:port/,
    );
    expect(() => checkBackends(['127.0.0.1:7253', '127.0.0.1:7253'])).toThrow(/names 127\.0\.0\.1:7253 twice/);
  });

  test('when frontends are up, then connections go round-robin; when one is down, then it is skipped', async () => {
    const servers = await Promise.all(['a', 'b', 'c'].map(namedServer));
    const balancer = await startTcpBalancer({ port: 0, backends: servers.map((s) => s.address) });
    try {
      const first = [];
      for (let i = 0; i < 6; i++) first.push(await ask(balancer.port));
      expect(first.join('')).toBe('abcabc');
      await servers[1]!.close(); // b is gone: its port refuses
      const after = [];
      for (let i = 0; i < 6; i++) after.push(await ask(balancer.port));
      // every connection is served, by the two that are up (b's turn goes to the next one)
      expect(after.every((name) => name === 'a' || name === 'c')).toBe(true);
      expect(new Set(after)).toEqual(new Set(['a', 'c']));
      expect(balancer.connectionsTo.get(servers[1]!.address)).toBe(2);
    } finally {
      await balancer.close();
      await Promise.all([servers[0]!.close(), servers[2]!.close()]);
    }
  });

  test('when every frontend is down, then the client connection is closed (the client retries) and the balancer keeps listening', async () => {
    const gone = await namedServer('x');
    await gone.close();
    const balancer = await startTcpBalancer({ port: 0, backends: [gone.address] });
    try {
      expect(await ask(balancer.port)).toBe('');
      expect(await ask(balancer.port)).toBe('');
    } finally {
      await balancer.close();
    }
  });
});

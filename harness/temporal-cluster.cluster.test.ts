/**
 * Bad configuration of the cluster mode fails at start and names what to do: PostgreSQL that does
 * not answer, a schema older than the server, and a node that cannot join the membership ring (its
 * membership port taken, an address the other nodes cannot use). Real parts: the built server and
 * temporal-sql-tool, the local PostgreSQL (`npm run test:cluster` only: *.cluster.test.ts).
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { clusterBinaries, dropClusterDatabases, fixedNodePorts, startTemporalCluster } from './temporal-cluster';
import { freePort, freePortInRange } from './managed-process';

test('when PostgreSQL does not answer, then the cluster start fails naming the address and the variables that set it', async () => {
  const port = await freePort(); // nothing listens there, and no local cluster is installed on it
  await expect(
    startTemporalCluster({
      database: `temporal_nopg_${process.pid}`,
      uiPort: false,
      env: { TEMPORAL_SQL_PORT: String(port) },
    }),
  ).rejects.toThrow(
    new RegExp(`PostgreSQL does not answer at 127\\.0\\.0\\.1:${port}[\\s\\S]*TEMPORAL_SQL_HOST / TEMPORAL_SQL_PORT`),
  );
}, 60_000);

test('when the schema is older than the server, then the cluster start fails naming npm run temporal:schema', async () => {
  const database = `temporal_old_${process.pid}`;
  const names = [database, `${database}_visibility`];
  const { sqlTool } = clusterBinaries();
  const sql = (args: string[]) =>
    execFileSync(sqlTool, args, {
      env: { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: '127.0.0.1', SQL_PORT: '5432', SQL_USER: 'postgres' },
      stdio: 'ignore',
    });
  try {
    // what an older release leaves behind, at its oldest: the databases at schema version 0.0
    for (const name of names) {
      sql(['--db', name, 'create-database']);
      sql(['--db', name, 'setup-schema', '-v', '0.0']);
    }
    await expect(startTemporalCluster({ database, uiPort: false, schema: 'as-is' })).rejects.toThrow(
      /older than this server: run `npm run temporal:schema`/,
    );
  } finally {
    dropClusterDatabases(names);
  }
}, 120_000);

test("when another process holds a node's membership port, then the start fails naming the node, the port and its variable", async () => {
  // a fixed layout of two nodes somewhere free, and a listener on node 2's history membership port
  const portBase = await freePortInRange(21_000, 31_000);
  const taken = fixedNodePorts(2, 2, portBase).TEMPORAL_HISTORY_MEMBERSHIP_PORT;
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(taken, '127.0.0.1', r));
  try {
    await expect(
      startTemporalCluster({
        nodes: 2,
        defaultInternalPorts: true,
        portBase,
        uiPort: false,
        database: `temporal_busy_${process.pid}`,
      }),
    ).rejects.toThrow(
      new RegExp(
        `node 2 cannot join the membership ring: its TEMPORAL_HISTORY_MEMBERSHIP_PORT ${taken} is in use by another process`,
      ),
    );
  } finally {
    await new Promise((r) => squatter.close(r));
  }
}, 60_000);

test('when the nodes advertise an address that is not an IPv4 address, then the first node fails to join the ring and the error names TEMPORAL_BROADCAST_ADDRESS', async () => {
  const database = `temporal_badip_${process.pid}`;
  try {
    await expect(
      startTemporalCluster({ nodes: 2, uiPort: false, database, env: { TEMPORAL_BROADCAST_ADDRESS: 'localhost' } }),
    ).rejects.toThrow(
      /node 1 \(temporal-1\) cannot join the membership ring: TEMPORAL_BROADCAST_ADDRESS must be an IPv4 address/,
    );
  } finally {
    dropClusterDatabases([database, `${database}_visibility`]);
  }
}, 120_000);

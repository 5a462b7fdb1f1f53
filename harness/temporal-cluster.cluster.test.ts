/**
 * Bad configuration of the cluster mode fails at start and names what to do: PostgreSQL that does
 * not answer, and a schema older than the server. Real parts: the built server and temporal-sql-tool,
 * the local PostgreSQL (`npm run test:cluster` only: *.cluster.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { clusterBinaries, dropClusterDatabases, startTemporalCluster } from './temporal-cluster';
import { freePort } from './managed-process';

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

import mysql from 'mysql2/promise';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import { migrate } from 'drizzle-orm/mysql2/migrator';

export type Db<TSchema extends Record<string, unknown>> = MySql2Database<TSchema>;

/** The transaction handle drizzle passes to `db.transaction` callbacks. */
export type Tx<TSchema extends Record<string, unknown>> = Parameters<Parameters<Db<TSchema>['transaction']>[0]>[0];

export interface Database<TSchema extends Record<string, unknown>> {
  db: Db<TSchema>;
  pool: mysql.Pool;
  name: string;
  close(): Promise<void>;
}

function serverUrl(mysqlUrl: string, database?: string): string {
  const url = new URL(mysqlUrl);
  url.pathname = database ? `/${database}` : '/';
  return url.toString();
}

/** Creates the service's database if it does not exist yet (each service owns one). */
export async function ensureDatabase(mysqlUrl: string, name: string): Promise<void> {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Refusing database name ${JSON.stringify(name)}`);
  const conn = await mysql.createConnection(serverUrl(mysqlUrl));
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await conn.end();
  }
}

/** Drops a database; tests use it to clean up their uniquely named databases. */
export async function dropDatabase(mysqlUrl: string, name: string): Promise<void> {
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Refusing database name ${JSON.stringify(name)}`);
  const conn = await mysql.createConnection(serverUrl(mysqlUrl));
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}

/**
 * Opens (creating if needed) a service database, applies its committed drizzle migrations and
 * returns a pooled drizzle handle.
 */
export async function openDatabase<TSchema extends Record<string, unknown>>(opts: {
  mysqlUrl: string;
  name: string;
  schema: TSchema;
  migrationsFolder: string;
  poolSize: number;
}): Promise<Database<TSchema>> {
  await ensureDatabase(opts.mysqlUrl, opts.name);
  const pool = mysql.createPool({
    uri: serverUrl(opts.mysqlUrl, opts.name),
    connectionLimit: opts.poolSize,
    waitForConnections: true,
    enableKeepAlive: true,
    // DECIMAL/BIGINT come back as numbers; amounts are integer cents well inside 2^53.
    supportBigNumbers: true,
    bigNumberStrings: false,
    timezone: 'Z',
  });
  const db = drizzle(pool, { schema: opts.schema, mode: 'default' }) as Db<TSchema>;
  await migrate(db, { migrationsFolder: opts.migrationsFolder });
  return { db, pool, name: opts.name, close: () => pool.end() };
}

/** The MySQL error code (e.g. `ER_DUP_ENTRY`) of an error, looking through drizzle's wrappers. */
export function mysqlErrorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ER_')) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const RETRYABLE_TX_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/**
 * Runs `work` in a transaction, retrying it whole when MySQL picks it as a deadlock victim.
 * Business errors thrown by `work` roll the transaction back and propagate unchanged.
 */
export async function inTransaction<TSchema extends Record<string, unknown>, T>(
  db: Db<TSchema>,
  work: (tx: Tx<TSchema>) => Promise<T>,
  attempts = 5,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (err) {
      const code = mysqlErrorCode(err);
      if (attempt < attempts && code && RETRYABLE_TX_CODES.has(code)) {
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.floor(Math.random() * 10)));
        continue;
      }
      throw err;
    }
  }
}

/** Readiness: the pool answers and the migration journal exists. */
export async function isReady(pool: mysql.Pool): Promise<boolean> {
  try {
    const [rows] = await pool.query('SELECT COUNT(*) AS n FROM `__drizzle_migrations`');
    return Array.isArray(rows) && rows.length === 1;
  } catch {
    return false;
  }
}

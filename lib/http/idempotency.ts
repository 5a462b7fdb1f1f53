import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { char, int, mysqlTable, text, timestamp, varchar } from 'drizzle-orm/mysql-core';
import { AppError, ErrorCodes, errorBody } from '../errors';
import { inTransaction, mysqlErrorCode, type Db, type Tx } from '../db';
import { idempotencyKeySchema } from '../validation/text';

/**
 * The idempotency table every service includes in its own schema (and so in its own migrations):
 * the key, a hash of the request and the stored response live in the service's database and are
 * written in the same transaction as the business change. Keys compare byte for byte: each
 * service's migrations give `idem_key` the utf8mb4_bin collation (drizzle cannot declare it here).
 */
export const idempotencyKeys = mysqlTable('idempotency_keys', {
  key: varchar('idem_key', { length: 200 }).primaryKey(),
  requestHash: char('request_hash', { length: 64 }).notNull(),
  statusCode: int('status_code').notNull(),
  responseBody: text('response_body').notNull(),
  createdAt: timestamp('created_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
});

/** What a mutating handler answers; stored verbatim for repeats. */
export interface Reply {
  status: number;
  body: unknown;
}

export interface IdempotentRequest {
  /** The `Idempotency-Key` header, if the caller sent one. */
  key: string | undefined;
  method: string;
  path: string;
  body: unknown;
}

export interface IdempotentOutcome extends Reply {
  replayed: boolean;
}

/** Canonical JSON (sorted keys) so `{a,b}` and `{b,a}` hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestHash(req: Pick<IdempotentRequest, 'method' | 'path' | 'body'>): string {
  return createHash('sha256')
    .update(`${req.method.toUpperCase()} ${req.path}\n${canonical(req.body)}`)
    .digest('hex');
}

class ReplayMarker extends Error {}

/**
 * Runs a mutating handler exactly once per idempotency key.
 *
 * The key row is inserted first, inside the business transaction: a concurrent duplicate blocks on
 * the primary key until the first commits, then sees the stored response. A handler that throws
 * rolls everything back (key included), so technical failures can be retried with the same key;
 * a handler that *returns* a rejection (a declined card) has it stored like any other answer.
 */
export async function runIdempotent<TSchema extends Record<string, unknown>>(
  db: Db<TSchema>,
  req: IdempotentRequest,
  work: (tx: Tx<TSchema>) => Promise<Reply>,
): Promise<IdempotentOutcome> {
  if (req.key === undefined) {
    const reply = await inTransaction(db, work);
    return { ...reply, replayed: false };
  }
  if (!idempotencyKeySchema.safeParse(req.key).success) {
    throw new AppError(400, ErrorCodes.VALIDATION_FAILED, 'Idempotency-Key must be 1-200 printable ASCII characters');
  }
  const key = req.key;
  const hash = requestHash(req);
  for (let round = 0; round < 3; round++) {
    try {
      const reply = await inTransaction(db, async (tx) => {
        try {
          await tx.insert(idempotencyKeys).values({ key, requestHash: hash, statusCode: 0, responseBody: '' });
        } catch (err) {
          if (mysqlErrorCode(err) === 'ER_DUP_ENTRY') throw new ReplayMarker();
          throw err;
        }
        const result = await work(tx);
        await tx
          .update(idempotencyKeys)
          .set({ statusCode: result.status, responseBody: JSON.stringify(result.body ?? null) })
          .where(eq(idempotencyKeys.key, key));
        return result;
      });
      return { ...reply, replayed: false };
    } catch (err) {
      if (!(err instanceof ReplayMarker)) throw err;
    }
    const [stored] = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key));
    if (!stored) continue; // the first holder rolled back between our insert and our read: try again
    if (stored.requestHash !== hash) {
      throw new AppError(
        422,
        ErrorCodes.IDEMPOTENCY_KEY_REUSED,
        `Idempotency-Key ${key} was already used with a different request`,
      );
    }
    return { status: stored.statusCode, body: JSON.parse(stored.responseBody), replayed: true };
  }
  throw new AppError(503, ErrorCodes.UNAVAILABLE, `Could not settle idempotency key ${key}; retry`);
}

/** A stored business rejection (returned, not thrown, so it is remembered with its key). */
export function rejection(status: number, code: string, message: string, details?: unknown): Reply {
  return { status, body: errorBody(code, message, details) };
}

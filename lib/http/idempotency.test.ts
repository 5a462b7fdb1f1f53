import { eq, sql } from 'drizzle-orm';
import { AppError } from '../errors';
import { idempotentRoute, jsonBody } from './http';
import { idempotencyKeys, rejection, requestHash, runIdempotent, type Reply } from './idempotency';
import { createLogger } from '../logger';
import { createServiceApp } from '../service';
import type { Db, Tx } from '../db';
import * as ordersSchema from '../../services/orders/schema';
import { orders } from '../../services/orders/schema';
import { TEST_CALLERS, callAs, startServices, uniqueId, type ServiceStack } from '../../test/support/services';
import { allowCallers } from '../auth/service-auth';

/**
 * Generic behaviour of `runIdempotent` and `idempotentRoute`, against a real service database
 * (the orders database of a fresh stack). The "effect" of each handler is a row in `orders`, so
 * counting rows counts how often the work really ran.
 */

type Schema = typeof ordersSchema;
let stack: ServiceStack;
let db: Db<Schema>;

beforeAll(async () => {
  stack = await startServices('idempotency');
  db = stack.orders.database.db;
});
afterAll(async () => {
  await stack?.stop();
});

async function effects(prefix: string): Promise<number> {
  const [row] = await stack.orders.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders WHERE order_id LIKE ?', [
    `${prefix}%`,
  ]);
  return Number(row!.n);
}

async function storedKey(key: string) {
  const [row] = await stack.orders.query<{ request_hash: string; status_code: number; response_body: string }>(
    'SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE idem_key = ?',
    [key],
  );
  return row;
}

/** A handler whose effect is one new order row named `${prefix}-<n>`; `calls` counts how often it ran. */
function effectWork(prefix: string, opts: { delayMs?: number; failFirst?: boolean } = {}) {
  const state = { calls: 0 };
  const work = async (tx: Tx<Schema>): Promise<Reply> => {
    state.calls += 1;
    const n = state.calls;
    await tx.insert(orders).values({ orderId: `${prefix}-${n}`, status: 'PENDING' });
    if (opts.delayMs) await tx.execute(sql`SELECT SLEEP(${opts.delayMs / 1000})`);
    if (opts.failFirst && n === 1) throw new Error('technical failure in the first attempt');
    return { status: 201, body: { created: `${prefix}-${n}` } };
  };
  return { work, state };
}

const req = (key: string | undefined, body: unknown = { a: 1 }, path = '/things', method = 'POST') => ({
  key,
  method,
  path,
  body,
});

describe('runIdempotent', () => {
  it('when no key is sent, then the work runs every time and nothing is stored', async () => {
    const prefix = uniqueId('nokey');
    const { work, state } = effectWork(prefix);
    const [keysBefore] = await stack.orders.query<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency_keys');
    const first = await runIdempotent(db, req(undefined), work);
    const second = await runIdempotent(db, req(undefined), work);
    expect([first.replayed, second.replayed]).toEqual([false, false]);
    expect(state.calls).toBe(2);
    expect(await effects(prefix)).toBe(2);
    const [keysAfter] = await stack.orders.query<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency_keys');
    expect(Number(keysAfter!.n)).toBe(Number(keysBefore!.n));
  });

  it('when a key is repeated, then the stored answer is replayed and the work ran once', async () => {
    const prefix = uniqueId('once');
    const key = uniqueId('key');
    const { work, state } = effectWork(prefix);
    const first = await runIdempotent(db, req(key), work);
    const second = await runIdempotent(db, req(key), work);
    expect(first).toEqual({ status: 201, body: { created: `${prefix}-1` }, replayed: false });
    expect(second).toEqual({ status: 201, body: { created: `${prefix}-1` }, replayed: true });
    expect(state.calls).toBe(1);
    expect(await effects(prefix)).toBe(1);
    expect(await storedKey(key)).toEqual({
      request_hash: requestHash(req(key)),
      status_code: 201,
      response_body: JSON.stringify({ created: `${prefix}-1` }),
    });
  });

  it('when the repeat has the same body with keys in another order or undefined fields, then it is the same request', async () => {
    const prefix = uniqueId('canon');
    const key = uniqueId('key');
    const { work, state } = effectWork(prefix);
    await runIdempotent(db, req(key, { a: 1, b: { x: [1, 2], y: 'z' } }), work);
    const replay = await runIdempotent(db, req(key, { b: { y: 'z', x: [1, 2] }, a: 1, c: undefined }), work);
    expect(replay.replayed).toBe(true);
    expect(state.calls).toBe(1);
    expect(await effects(prefix)).toBe(1);
  });

  it('when the key comes with another body, path or method, then 422 IDEMPOTENCY_KEY_REUSED and the work does not run', async () => {
    const prefix = uniqueId('reuse');
    const key = uniqueId('key');
    const { work, state } = effectWork(prefix);
    await runIdempotent(db, req(key, { a: 1 }), work);
    for (const other of [
      req(key, { a: 2 }),
      req(key, { a: 1 }, '/other'),
      req(key, { a: 1 }, '/things', 'PUT'),
      req(key, [1]),
    ]) {
      const err = await runIdempotent(db, other, work).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
      expect((err as Error).message).toContain(key);
    }
    expect(state.calls).toBe(1);
    expect(await effects(prefix)).toBe(1);
    expect(await storedKey(key)).toMatchObject({ request_hash: requestHash(req(key, { a: 1 })) });
  });

  it('when the work throws, then neither its effect nor the key is stored and a retry with the key runs again', async () => {
    const prefix = uniqueId('throw');
    const key = uniqueId('key');
    const { work, state } = effectWork(prefix, { failFirst: true });
    await expect(runIdempotent(db, req(key), work)).rejects.toThrow('technical failure');
    expect(await storedKey(key)).toBeUndefined();
    expect(await effects(prefix)).toBe(0);

    const retry = await runIdempotent(db, req(key), work);
    expect(retry).toEqual({ status: 201, body: { created: `${prefix}-2` }, replayed: false });
    expect(state.calls).toBe(2);
    expect(await effects(prefix)).toBe(1);
    expect(await storedKey(key)).toMatchObject({ status_code: 201 });
  });

  it('when the work returns a business rejection, then it is stored with its effects and replayed identically', async () => {
    const prefix = uniqueId('reject');
    const key = uniqueId('key');
    let calls = 0;
    const work = async (tx: Tx<Schema>): Promise<Reply> => {
      calls += 1;
      await tx.insert(orders).values({ orderId: `${prefix}-declined`, status: 'CANCELLED' });
      return rejection(402, 'PAYMENT_DECLINED', 'Card ending 0002 was declined', { paymentId: 'p-1' });
    };
    const first = await runIdempotent(db, req(key), work);
    const second = await runIdempotent(db, req(key), work);
    const body = {
      error: { code: 'PAYMENT_DECLINED', message: 'Card ending 0002 was declined', details: { paymentId: 'p-1' } },
    };
    expect(first).toEqual({ status: 402, body, replayed: false });
    expect(second).toEqual({ status: 402, body, replayed: true });
    expect(calls).toBe(1);
    expect(await effects(prefix)).toBe(1);
    expect(await storedKey(key)).toMatchObject({ status_code: 402, response_body: JSON.stringify(body) });
  });

  it.each([
    ['empty', ''],
    ['201 characters long', 'k'.repeat(201)],
    ['containing a space', 'two words'],
    ['containing a non-ASCII letter', 'cl\u00e9'],
    ['containing a control character', 'a\tb'],
  ])('when the key is %s, then 400 VALIDATION_FAILED before any work or storage', async (_what, key) => {
    const prefix = uniqueId('badkey');
    const { work, state } = effectWork(prefix);
    const err = await runIdempotent(db, req(key), work).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(state.calls).toBe(0);
    expect(await effects(prefix)).toBe(0);
    expect(await storedKey(key)).toBeUndefined();
  });

  it('when the key is exactly 200 printable characters, then it is accepted and stored', async () => {
    const prefix = uniqueId('longkey');
    const key = `${uniqueId('k')}-`.padEnd(200, '~');
    const { work } = effectWork(prefix);
    expect((await runIdempotent(db, req(key), work)).replayed).toBe(false);
    expect((await runIdempotent(db, req(key), work)).replayed).toBe(true);
    expect(await storedKey(key)).toMatchObject({ status_code: 201 });
    expect(await effects(prefix)).toBe(1);
  });

  it('when two keys differ only in letter case, then they are two different keys', async () => {
    const prefix = uniqueId('case');
    const base = uniqueId('Key');
    const { work, state } = effectWork(prefix);
    const upper = await runIdempotent(db, req(base.toUpperCase(), { n: 1 }), work);
    const lower = await runIdempotent(db, req(base.toLowerCase(), { n: 2 }), work);
    expect([upper.replayed, lower.replayed]).toEqual([false, false]);
    expect(state.calls).toBe(2);
    expect(await effects(prefix)).toBe(2);
    const rows = await db
      .select()
      .from(idempotencyKeys)
      .where(sql`${idempotencyKeys.key} IN (${base.toUpperCase()}, ${base.toLowerCase()})`);
    expect(rows.map((r) => r.key).sort()).toEqual([base.toUpperCase(), base.toLowerCase()].sort());
  });

  it('when 10 calls race with one key, then the work runs exactly once and the other nine replay its answer', async () => {
    const prefix = uniqueId('race');
    const key = uniqueId('key');
    const { work, state } = effectWork(prefix, { delayMs: 200 });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => runIdempotent(db, req(key), work)));
    expect(state.calls).toBe(1);
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    for (const o of outcomes) expect(o).toMatchObject({ status: 201, body: { created: `${prefix}-1` } });
    expect(await effects(prefix)).toBe(1);
    const [count] = await stack.orders.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM idempotency_keys WHERE idem_key = ?',
      [key],
    );
    expect(Number(count!.n)).toBe(1);
  });

  it('when the first of racing calls fails, then exactly one of the waiting calls does the work and the rest replay it', async () => {
    const prefix = uniqueId('racefail');
    const key = uniqueId('key');
    const { work, state } = effectWork(prefix, { delayMs: 200, failFirst: true });
    const settled = await Promise.allSettled(Array.from({ length: 6 }, () => runIdempotent(db, req(key), work)));
    const failed = settled.filter((s) => s.status === 'rejected');
    const ok = settled.filter(
      (s): s is PromiseFulfilledResult<Awaited<ReturnType<typeof runIdempotent>>> => s.status === 'fulfilled',
    );
    expect(failed).toHaveLength(1);
    expect(ok).toHaveLength(5);
    expect(ok.filter((s) => !s.value.replayed)).toHaveLength(1);
    for (const s of ok) expect(s.value.body).toEqual({ created: `${prefix}-2` });
    expect(state.calls).toBe(2);
    expect(await effects(prefix)).toBe(1);
    expect(await storedKey(key)).toMatchObject({
      status_code: 201,
      response_body: JSON.stringify({ created: `${prefix}-2` }),
    });
  });
});

describe('requestHash', () => {
  it('when requests differ only in key order, then they hash the same; any other difference changes the hash', async () => {
    const base = requestHash({ method: 'post', path: '/x', body: { a: 1, b: [1, { c: 2, d: 3 }] } });
    expect(requestHash({ method: 'POST', path: '/x', body: { b: [1, { d: 3, c: 2 }], a: 1 } })).toBe(base);
    expect(requestHash({ method: 'POST', path: '/x', body: { a: 1, b: [{ c: 2, d: 3 }, 1] } })).not.toBe(base);
    expect(requestHash({ method: 'POST', path: '/y', body: { a: 1, b: [1, { c: 2, d: 3 }] } })).not.toBe(base);
    expect(requestHash({ method: 'POST', path: '/x', body: { a: '1', b: [1, { c: 2, d: 3 }] } })).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    // The hash is what a stored key is compared with: a stored row holds exactly this value.
    const key = uniqueId('key');
    await runIdempotent(db, { key, method: 'post', path: '/x', body: { a: 1, b: [1, { c: 2, d: 3 }] } }, async () => ({
      status: 200,
      body: null,
    }));
    expect(await storedKey(key)).toEqual({ request_hash: base, status_code: 200, response_body: 'null' });
  });
});

describe('idempotentRoute over HTTP', () => {
  /** A tiny app on the real database with one idempotent route whose effect is an order row. */
  function app() {
    const logger = createLogger('things', 'silent');
    return createServiceApp({ db, database: stack.orders.database, logger, callers: TEST_CALLERS }, (a) => {
      a.post(
        '/things/:id',
        allowCallers('worker'),
        idempotentRoute(db, (r) => {
          const body = jsonBody(r) as { fail?: boolean };
          const id = String(r.params.id);
          return async (tx) => {
            await tx.insert(orders).values({ orderId: id, status: 'PENDING' });
            if (body.fail) throw new Error('boom');
            const [row] = await tx.select().from(orders).where(eq(orders.orderId, id));
            return { status: 201, body: { id, status: row!.status } };
          };
        }),
      );
    });
  }

  it('when a request is repeated with its key, then the replay carries Idempotent-Replayed: true and no second row is written', async () => {
    const id = uniqueId('http');
    const key = uniqueId('key');
    const a = app();
    const first = await callAs(a).post(`/things/${id}`).set('Idempotency-Key', key).send({});
    const second = await callAs(a).post(`/things/${id}`).set('Idempotency-Key', key).send({});
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await effects(id)).toBe(1);
  });

  it('when the handler fails unexpectedly, then 500 INTERNAL, nothing is stored, and the same key can be retried', async () => {
    const id = uniqueId('http');
    const key = uniqueId('key');
    const a = app();
    const failed = await callAs(a).post(`/things/${id}`).set('Idempotency-Key', key).send({ fail: true });
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });
    expect(await storedKey(key)).toBeUndefined();
    expect(await effects(id)).toBe(0);
    // A different body under the same key is allowed: the failed attempt left no trace.
    const retry = await callAs(a).post(`/things/${id}`).set('Idempotency-Key', key).send({});
    expect(retry.status).toBe(201);
    expect(await effects(id)).toBe(1);
  });

  it('when the Idempotency-Key header is empty, then 400 VALIDATION_FAILED and no row is written', async () => {
    const id = uniqueId('http');
    const res = await callAs(app()).post(`/things/${id}`).set('Idempotency-Key', '').send({});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(await effects(id)).toBe(0);
  });
});

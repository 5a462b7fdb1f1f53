/**
 * Fault injection over real HTTP on real ports (a destroyed or reset socket is only observable
 * on a real connection) against the real payments service and its real database.
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../logger';
import {
  RunningService,
  TEST_CALLERS,
  TEST_SERVICE_CALLERS,
  authAs,
  startServices,
  uniqueId,
  type ServiceStack,
} from '../../test/support/services';
import { createPaymentsApp } from '../../services/payments/app';
import { loadInventoryConfig } from '../../services/inventory/config';
import { loadOrdersConfig } from '../../services/orders/config';
import { loadPaymentsConfig } from '../../services/payments/config';
import { loadShippingConfig } from '../../services/shipping/config';
import { FAULTS_PATH, mulberry32, type FaultsView } from './faults';

const ADMIN_TOKEN = `admin-${randomBytes(8).toString('hex')}`;
const CARD = '4242424242424242';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('faults', { faults: { adminToken: ADMIN_TOKEN } });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await admin('DELETE');
});

const url = () => stack.payments.url;

function admin(
  method: 'GET' | 'PUT' | 'DELETE',
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` },
) {
  return fetch(`${url()}${FAULTS_PATH}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function configure(body: unknown): Promise<FaultsView> {
  const res = await admin('PUT', body);
  expect(res.status).toBe(200);
  return (await res.json()) as FaultsView;
}

async function current(): Promise<FaultsView> {
  return (await (await admin('GET')).json()) as FaultsView;
}

function charge(orderId: string, key?: string) {
  return fetch(`${url()}/charges`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: authAs('worker'),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: JSON.stringify({ orderId, amountCents: 700, cardNumber: CARD }),
  });
}

async function paymentRows(orderIds: string[]) {
  if (orderIds.length === 0) return [];
  return stack.payments.query<{ order_id: string; payment_id: string; status: string }>(
    'SELECT order_id, payment_id, status FROM payments WHERE order_id IN (?)',
    [orderIds],
  );
}

/** The `code` of the network error behind a failed fetch (ECONNRESET, UND_ERR_SOCKET, …). */
async function networkError(call: Promise<Response>): Promise<string> {
  try {
    const res = await call;
    throw new Error(`expected the connection to fail, got HTTP ${res.status}`);
  } catch (err) {
    const e = err as { message?: string; cause?: { code?: string } };
    if (e.message !== 'fetch failed') throw err;
    return e.cause?.code ?? 'UNKNOWN';
  }
}

/** 200 charges in a row under `seed`: the outcome (HTTP status) of each, in order. */
async function chargeRun(label: string): Promise<{ statuses: number[]; orderIds: string[]; codes: string[] }> {
  const statuses: number[] = [];
  const orderIds: string[] = [];
  const codes: string[] = [];
  for (let i = 0; i < 200; i++) {
    const orderId = uniqueId(`${label}${i}`);
    const res = await charge(orderId);
    statuses.push(res.status);
    orderIds.push(orderId);
    const body = (await res.json()) as { error?: { code: string } };
    if (res.status === 503) codes.push(body.error?.code ?? '');
  }
  return { statuses, orderIds, codes };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('off unless configured', () => {
  test('when FAULTS_ENABLED is not set, then every service config leaves it off and /admin/faults answers 404 JSON', async () => {
    for (const load of [loadOrdersConfig, loadInventoryConfig, loadPaymentsConfig, loadShippingConfig]) {
      expect(load({ SERVICE_CALLERS: TEST_SERVICE_CALLERS }).FAULTS_ENABLED).toBe(false);
    }
    // The same service over the same database, built the way main.ts builds it by default.
    const plain = new RunningService(
      'payments',
      stack.payments.database,
      createPaymentsApp({
        db: stack.payments.database.db,
        database: stack.payments.database,
        logger: createLogger('payments', 'silent'),
        callers: TEST_CALLERS,
      }),
    );
    await plain.start();
    try {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await fetch(`${plain.url}${FAULTS_PATH}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: method === 'PUT' ? JSON.stringify({ seed: 1, rules: [{ route: '*', failureRate: 1 }] }) : undefined,
        });
        expect({
          method,
          status: res.status,
          code: ((await res.json()) as { error: { code: string } }).error.code,
        }).toEqual({ method, status: 404, code: 'NOT_FOUND' });
      }
      expect(
        (await fetch(`${plain.url}/payments?orderId=x`, { headers: { authorization: authAs('worker') } })).status,
      ).toBe(200);
    } finally {
      await plain.stop();
    }
  });

  test('when FAULTS_ENABLED=true comes without an ADMIN_TOKEN of 16+ characters, then every service refuses to start', () => {
    for (const load of [loadOrdersConfig, loadInventoryConfig, loadPaymentsConfig, loadShippingConfig]) {
      const SERVICE_CALLERS = TEST_SERVICE_CALLERS;
      expect(() => load({ SERVICE_CALLERS, FAULTS_ENABLED: 'true' })).toThrow(/ADMIN_TOKEN: required/);
      expect(() => load({ SERVICE_CALLERS, FAULTS_ENABLED: 'true', ADMIN_TOKEN: '' })).toThrow(/ADMIN_TOKEN: required/);
      expect(() => load({ SERVICE_CALLERS, FAULTS_ENABLED: 'true', ADMIN_TOKEN: 'too-short' })).toThrow(
        /ADMIN_TOKEN: at least 16 characters/,
      );
      expect(load({ SERVICE_CALLERS, FAULTS_ENABLED: 'true', ADMIN_TOKEN: ADMIN_TOKEN })).toMatchObject({
        FAULTS_ENABLED: true,
        ADMIN_TOKEN,
      });
    }
    const deps = {
      db: stack.payments.database.db,
      database: stack.payments.database,
      logger: createLogger('payments', 'silent'),
      callers: TEST_CALLERS,
    };
    expect(() => createPaymentsApp({ ...deps, faults: { adminToken: 'too-short' } })).toThrow(/at least 16 characters/);
  });
});

describe('admin endpoints', () => {
  test('when the admin token is missing or wrong, then /admin/faults answers 401 and the configuration is unchanged', async () => {
    const body = { seed: 1, rules: [{ route: '*', failureRate: 1 }] };
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: `Basic ${ADMIN_TOKEN}` },
    ];
    for (const headers of attempts) {
      for (const method of ['GET', 'PUT', 'DELETE'] as const) {
        const res = await admin(method, method === 'PUT' ? body : undefined, headers);
        expect({
          method,
          status: res.status,
          error: ((await res.json()) as { error: { code: string } }).error.code,
        }).toEqual({ method, status: 401, error: 'UNAUTHORIZED' });
      }
    }
    expect((await current()).config).toBeNull();
    expect((await charge(uniqueId('auth'))).status).toBe(201);
  });

  const bad: [string, unknown, string][] = [
    ['no seed', { rules: [] }, 'seed'],
    ['a fractional seed', { seed: 1.5, rules: [] }, 'seed'],
    [
      'a failure rate above 1',
      { seed: 1, rules: [{ route: 'POST /charges', failureRate: 1.5 }] },
      'rules.0.failureRate',
    ],
    [
      'a negative crash rate',
      { seed: 1, rules: [{ route: 'POST /charges', crashAfterCommitRate: -0.1 }] },
      'rules.0.crashAfterCommitRate',
    ],
    ['a negative latency', { seed: 1, rules: [{ route: 'POST /charges', latencyMs: -1 }] }, 'rules.0.latencyMs'],
    ['a fractional latency', { seed: 1, rules: [{ route: 'POST /charges', latencyMs: 2.5 }] }, 'rules.0.latencyMs'],
    ['a route without a method', { seed: 1, rules: [{ route: '/charges', failureRate: 1 }] }, 'rules.0.route'],
    ['an unknown field in a rule', { seed: 1, rules: [{ route: 'POST /charges', failureRat: 1 }] }, 'rules.0'],
    ['an unknown top-level field', { seed: 1, rules: [], down: true }, ''],
    ['the same route twice', { seed: 1, rules: [{ route: 'POST /charges' }, { route: 'POST /charges' }] }, 'rules'],
    ['a negative downForMs', { seed: 1, rules: [], downForMs: -5 }, 'downForMs'],
    ['rules that are not a list', { seed: 1, rules: { route: '*' } }, 'rules'],
  ];
  test.each(bad)(
    'when PUT has %s, then it answers 400 VALIDATION_FAILED and changes nothing',
    async (_what, body, reported) => {
      const res = await admin('PUT', body);
      const json = (await res.json()) as { error: { code: string; details: { path: string }[] } };
      expect({ status: res.status, code: json.error.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      expect(json.error.details.map((d) => d.path)).toContain(reported);
      expect((await current()).config).toBeNull();
    },
  );

  test('when a rule names a route the service does not declare, then PUT answers 400 listing the routes it has', async () => {
    const res = await admin('PUT', { seed: 1, rules: [{ route: 'POST /charge', failureRate: 1 }] });
    const json = (await res.json()) as {
      error: { code: string; message: string; details: { unknown: string[]; routes: string[] } };
    };
    expect({ status: res.status, code: json.error.code }).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(json.error.details.unknown).toEqual(['POST /charge']);
    expect(json.error.details.routes).toEqual(
      expect.arrayContaining(['GET /healthz', 'GET /payments', 'POST /charges', 'POST /charges/:orderId/refund']),
    );
    expect((await current()).config).toBeNull();
  });

  test('when the body is not JSON, then PUT answers 400 or 415 and changes nothing', async () => {
    const malformed = await admin('PUT', '{"seed": ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON');
    const text = await fetch(`${url()}${FAULTS_PATH}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' },
      body: 'seed=1',
    });
    expect(text.status).toBe(415);
    expect((await current()).config).toBeNull();
  });

  test('when a configuration is set, then GET answers it with the defaults filled in, zero counters and the declared routes', async () => {
    const put = await configure({ seed: 7, rules: [{ route: 'POST /charges', failureRate: 0.5 }] });
    const got = await current();
    expect(got).toEqual(put);
    expect(got.config).toEqual({
      seed: 7,
      rules: [{ route: 'POST /charges', failureRate: 0.5, latencyMs: 0, crashAfterCommitRate: 0 }],
    });
    expect(got.injected).toEqual({ failure: 0, latency: 0, crashAfterCommit: 0, down: 0 });
    expect(got.byRule).toEqual([
      { route: 'POST /charges', matched: 0, injected: { failure: 0, latency: 0, crashAfterCommit: 0 } },
    ]);
    expect(got.downUntil).toBeNull();
    expect(new Date(got.since!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(got.routes).toContain('POST /charges/:orderId/refund');
  });
});

describe('faults', () => {
  test('when POST /charges fails at a rate of 0.3, then about 30% of 200 charges answer 503 with no effect, and the seed repeats the exact sequence', async () => {
    await configure({ seed: 42, rules: [{ route: 'POST /charges', failureRate: 0.3 }] });
    const first = await chargeRun('fr');
    const failed = first.statuses.filter((s) => s === 503).length;
    // Binomial(200, 0.3): mean 60, sd 6.5.
    expect(failed).toBeGreaterThanOrEqual(40);
    expect(failed).toBeLessThanOrEqual(80);
    expect(first.statuses.filter((s) => s !== 503).every((s) => s === 201)).toBe(true);
    expect(new Set(first.codes)).toEqual(new Set(['INJECTED_FAULT']));
    // A failed call never reached the handler: exactly the answered charges exist.
    const rows = await paymentRows(first.orderIds);
    expect(new Set(rows.map((r) => r.order_id))).toEqual(
      new Set(first.orderIds.filter((_, i) => first.statuses[i] === 201)),
    );
    const counters = await current();
    expect(counters.injected).toEqual({ failure: failed, latency: 0, crashAfterCommit: 0, down: 0 });
    expect(counters.byRule[0]).toMatchObject({ matched: 200, injected: { failure: failed } });
    // Other routes are not touched by the rule.
    expect(
      (await fetch(`${url()}/payments?orderId=${first.orderIds[0]}`, { headers: { authorization: authAs('worker') } }))
        .status,
    ).toBe(200);

    // The same seed again (a PUT restarts the streams and the counters): the very same sequence.
    await configure({ seed: 42, rules: [{ route: 'POST /charges', failureRate: 0.3 }] });
    const again = await chargeRun('fr2');
    expect(again.statuses).toEqual(first.statuses);
    expect((await current()).injected.failure).toBe(failed);

    // Another seed: another sequence.
    await configure({ seed: 43, rules: [{ route: 'POST /charges', failureRate: 0.3 }] });
    const other = await chargeRun('fr3');
    expect(other.statuses).not.toEqual(first.statuses);
  });

  test('when a route has latencyMs, then its requests are delayed by at least that and other routes are not', async () => {
    await configure({ seed: 1, rules: [{ route: 'GET /payments', latencyMs: 300 }] });
    const started = performance.now();
    const res = await fetch(`${url()}/payments?orderId=${uniqueId('lat')}`, {
      headers: { authorization: authAs('worker') },
    });
    const elapsed = performance.now() - started;
    expect(res.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(300);
    expect((await fetch(`${url()}/healthz`)).status).toBe(200);
    const counters = await current();
    expect(counters.injected).toEqual({ failure: 0, latency: 1, crashAfterCommit: 0, down: 0 });
    expect(counters.byRule).toEqual([
      { route: 'GET /payments', matched: 1, injected: { failure: 0, latency: 1, crashAfterCommit: 0 } },
    ]);
  });

  test('when a charge is drawn to crash after commit, then the client gets no answer but the payment exists, and a retry with its key gets the stored answer with no second effect', async () => {
    await configure({ seed: 9, rules: [{ route: 'POST /charges', crashAfterCommitRate: 1 }] });
    const orderId = uniqueId('crash');
    const key = `${orderId}:chargePayment`;
    expect(await networkError(charge(orderId, key))).not.toBe('UNKNOWN');
    const rows = await paymentRows([orderId]);
    expect(rows.map((r) => r.status)).toEqual(['CAPTURED']);
    expect((await current()).injected.crashAfterCommit).toBe(1);

    // The rule is still on, but a replay commits nothing new: it answers.
    const retry = await charge(orderId, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { paymentId: string }).paymentId).toBe(rows[0]!.payment_id);
    expect(await paymentRows([orderId])).toEqual(rows);
    const [stored] = await stack.payments.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM idempotency_keys WHERE idem_key = ?',
      [key],
    );
    expect(Number(stored!.n)).toBe(1);

    // A request the handler rejects commits nothing, so nothing is crashed either.
    const invalid = await fetch(`${url()}/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: authAs('worker') },
      body: JSON.stringify({ orderId }),
    });
    expect(invalid.status).toBe(400);
    expect((await current()).injected.crashAfterCommit).toBe(1);
  });

  test('when the service is down for a while, then every request is reset until it passes, and then it answers normally', async () => {
    const view = await configure({ seed: 3, rules: [], downForMs: 1500 });
    expect(view.downUntil).not.toBeNull();
    const orderId = uniqueId('down');
    expect(await networkError(fetch(`${url()}/healthz`))).toBe('ECONNRESET');
    expect(await networkError(charge(orderId))).toBe('ECONNRESET');
    expect(await paymentRows([orderId])).toEqual([]);
    // The admin endpoint still answers, so an operator can lift it early.
    const during = await current();
    expect(during.injected.down).toBe(2);
    expect(new Date(during.downUntil!).getTime()).toBeGreaterThan(Date.now());

    await sleep(new Date(during.downUntil!).getTime() - Date.now() + 50);
    expect((await fetch(`${url()}/healthz`)).status).toBe(200);
    expect((await charge(orderId)).status).toBe(201);
    expect((await current()).downUntil).toBeNull();
  });

  test("when a '*' rule follows a specific one, then the first matching rule applies, and DELETE answers the final counters and clears", async () => {
    await configure({ seed: 5, rules: [{ route: 'GET /payments' }, { route: '*', failureRate: 1 }] });
    expect((await fetch(`${url()}/payments?orderId=x`, { headers: { authorization: authAs('worker') } })).status).toBe(
      200,
    );
    expect((await fetch(`${url()}/healthz`)).status).toBe(503);
    const orderId = uniqueId('star');
    expect((await charge(orderId)).status).toBe(503);
    expect(await paymentRows([orderId])).toEqual([]);

    const removed = await admin('DELETE');
    expect(removed.status).toBe(200);
    const final = (await removed.json()) as FaultsView;
    expect(final.injected.failure).toBe(2);
    expect(final.byRule.map((r) => [r.route, r.matched])).toEqual([
      ['GET /payments', 1],
      ['*', 2],
    ]);
    expect((await current()).config).toBeNull();
    expect((await charge(orderId)).status).toBe(201);
  });
});

describe('mulberry32', () => {
  test('when two generators share a seed, then they draw the same numbers in [0, 1), and another seed draws others', () => {
    const a = mulberry32(123);
    const b = mulberry32(123);
    const c = mulberry32(124);
    const da = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(da);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(da);
    expect(da.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = da.reduce((s, x) => s + x, 0) / da.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });
});

/**
 * The jitter of a failed service call's next attempt (jitteredRetryDelayMs): within the upper half
 * of the retry policy's own back-off for that attempt, capped at its maximum interval, and carried
 * by every retryable failure the client raises (a business rejection carries none).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import fc from 'fast-check';
import { ServiceClient, createAgent, jitteredRetryDelayMs } from './http-client';

const policy = { initialInterval: 1000, backoffCoefficient: 2, maximumInterval: 5000, maximumAttempts: 20 };
const envAt = (attempt: number, retryPolicy: Info['retryPolicy'] = policy) =>
  new MockActivityEnvironment({ attempt, retryPolicy });

describe('jitteredRetryDelayMs', () => {
  test('whatever the attempt and the policy, the pause is in the upper half of the capped back-off', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (attempt, initial, coefficient, cap, r) => {
          const retryPolicy = { initialInterval: initial, backoffCoefficient: coefficient, maximumInterval: cap };
          const delay = await envAt(attempt, retryPolicy).run(async () => jitteredRetryDelayMs(() => r));
          const backoff = Math.min(cap, initial * coefficient ** (attempt - 1));
          expect(delay).toBeGreaterThanOrEqual(Math.floor(backoff / 2));
          expect(delay).toBeLessThanOrEqual(Math.ceil(backoff));
        },
      ),
    );
  });

  test('the default policy: 0.5–1 s after the first attempt, never more than the 5 s cap later', async () => {
    expect(await envAt(1).run(async () => jitteredRetryDelayMs(() => 0))).toBe(500);
    expect(await envAt(1).run(async () => jitteredRetryDelayMs(() => 0.999))).toBe(1000);
    expect(await envAt(3).run(async () => jitteredRetryDelayMs(() => 0.5))).toBe(3000);
    expect(await envAt(15).run(async () => jitteredRetryDelayMs(() => 0.999))).toBe(4998);
    expect(await envAt(15).run(async () => jitteredRetryDelayMs(() => 0))).toBe(2500);
  });

  test('outside an activity, or without a retry policy, there is none (the server back-off applies)', async () => {
    expect(jitteredRetryDelayMs()).toBeUndefined();
    expect(
      await new MockActivityEnvironment({ attempt: 2, retryPolicy: undefined }).run(async () => jitteredRetryDelayMs()),
    ).toBeUndefined();
  });
});

describe('ServiceClient failures carry the jittered pause', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const status = req.url === '/reject' ? 409 : 503;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: status === 409 ? 'ORDER_CONFLICT' : 'DOWN', message: 'no' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const failureOf = async (base: string, path: string) => {
    const client = new ServiceClient('test', base, createAgent({ timeoutMs: 2000, connections: 1 }), 2000, 't');
    return envAt(2)
      .run(() => client.call('POST', path, { body: {} }))
      .then(
        () => undefined,
        (err: { nonRetryable?: boolean; nextRetryDelay?: unknown; type?: string }) => err,
      );
  };

  test('a 5xx and a refused connection are retried after 1–2 s at attempt 2; a business rejection is not retried', async () => {
    const unavailable = await failureOf(url, '/down');
    const unreachable = await failureOf('http://127.0.0.1:1', '/x');
    const rejected = await failureOf(url, '/reject');
    for (const f of [unavailable, unreachable]) {
      expect(f?.nonRetryable).toBe(false);
      expect(Number(f?.nextRetryDelay)).toBeGreaterThanOrEqual(1000);
      expect(Number(f?.nextRetryDelay)).toBeLessThanOrEqual(2000);
    }
    expect(unavailable?.type).toBe('SERVICE_UNAVAILABLE');
    expect(unreachable?.type).toBe('SERVICE_UNREACHABLE');
    expect(rejected).toMatchObject({ nonRetryable: true, type: 'ORDER_CONFLICT' });
    expect(rejected?.nextRetryDelay).toBeUndefined();
  });
});

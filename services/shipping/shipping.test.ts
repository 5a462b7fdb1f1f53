import { callAs, startServices, uniqueId, type ServiceStack } from '../../test/support/services';
import { describeBadInput, describeIdempotency, expectError, fingerprint } from '../../test/support/http-checks';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('shipping');
});
afterAll(async () => {
  await stack?.stop();
});

const api = () => stack.shipping.as('worker');
const shipping = () => stack.shipping;

const address = (over: Partial<Record<'name' | 'line1' | 'city' | 'postalCode' | 'country', string>> = {}) => ({
  name: 'Ada Lovelace',
  line1: '12 St James Square',
  city: 'London',
  postalCode: 'SW1Y 4JH',
  country: 'GB',
  ...over,
});

async function shipmentRows(orderId: string, svc = shipping()) {
  return svc.query<{
    shipment_id: string;
    status: string;
    tombstone: number;
    name: string | null;
    line1: string | null;
    city: string | null;
    postal_code: string | null;
    country: string | null;
  }>(
    'SELECT shipment_id, status, tombstone, name, line1, city, postal_code, country FROM shipments WHERE order_id = ?',
    [orderId],
  );
}

async function schedule(orderId: string, addr: object = address(), base = stack.shipping.url) {
  return callAs(base).post('/shipments').send({ orderId, address: addr });
}

describe('health', () => {
  it('when /healthz is asked, then it answers 200 ok for a migrated database', async () => {
    const res = await api().get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: stack.shipping.database.name });
    const [journal] = await shipping().query<{ n: number }>('SELECT COUNT(*) AS n FROM `__drizzle_migrations`');
    expect(Number(journal!.n)).toBeGreaterThanOrEqual(1);
  });
});

describe('scheduling', () => {
  it('when a shipment is scheduled, then 201 SCHEDULED with the trimmed address stored', async () => {
    const orderId = uniqueId('ord');
    const res = await schedule(orderId, address({ name: '  Ada Lovelace ', city: ' London' }));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      shipmentId: expect.any(String),
      orderId,
      status: 'SCHEDULED',
      tombstone: false,
      address: address(),
    });
    expect(await shipmentRows(orderId)).toEqual([
      {
        shipment_id: res.body.shipmentId,
        status: 'SCHEDULED',
        tombstone: 0,
        name: 'Ada Lovelace',
        line1: '12 St James Square',
        city: 'London',
        postal_code: 'SW1Y 4JH',
        country: 'GB',
      },
    ]);
  });

  it('when the address is in Antarctica, then 422 UNSERVICEABLE_ADDRESS and no shipment row exists', async () => {
    const orderId = uniqueId('ord');
    const res = await schedule(orderId, address({ country: 'AQ' }));
    expectError(res, 422, 'UNSERVICEABLE_ADDRESS');
    expect(res.body.error.details).toEqual({ country: 'AQ' });
    expect(await shipmentRows(orderId)).toEqual([]);
  });

  it('when the country is not in the served list, then 422 UNSERVICEABLE_ADDRESS and no shipment row exists', async () => {
    const orderId = uniqueId('ord');
    const res = await schedule(orderId, address({ country: 'BR' }));
    expectError(res, 422, 'UNSERVICEABLE_ADDRESS');
    expect(res.body.error.details).toEqual({ country: 'BR' });
    expect(await shipmentRows(orderId)).toEqual([]);
  });

  it('when the same shipment is scheduled again without a key, then the existing one is answered and no row is added', async () => {
    const orderId = uniqueId('ord');
    const first = await schedule(orderId);
    expect(first.status).toBe(201);
    const again = await schedule(orderId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await shipmentRows(orderId)).toHaveLength(1);
  });

  it('when a scheduled order asks for another address, then 409 SHIPMENT_CONFLICT and the address is unchanged', async () => {
    const orderId = uniqueId('ord');
    expect((await schedule(orderId)).status).toBe(201);
    expectError(await schedule(orderId, address({ city: 'Paris', country: 'FR' })), 409, 'SHIPMENT_CONFLICT');
    expect(await shipmentRows(orderId)).toEqual([
      expect.objectContaining({ status: 'SCHEDULED', city: 'London', country: 'GB' }),
    ]);
  });

  it('when 10 schedules for one order race without keys, then one shipment row exists', async () => {
    const orderId = uniqueId('ord');
    const results = await Promise.all(Array.from({ length: 10 }, () => schedule(orderId)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    expect(await shipmentRows(orderId)).toHaveLength(1);
  });
});

describe('cancelling', () => {
  it('when a scheduled shipment is cancelled, then it is CANCELLED, a repeat changes nothing and a new schedule is 409 SHIPMENT_CANCELLED', async () => {
    const orderId = uniqueId('ord');
    const scheduled = await schedule(orderId);
    const res = await api().post(`/shipments/${orderId}/cancel`).send({ reason: 'payment declined' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...scheduled.body, status: 'CANCELLED' });
    expect(await shipmentRows(orderId)).toEqual([
      expect.objectContaining({ status: 'CANCELLED', tombstone: 0, country: 'GB' }),
    ]);

    const again = await api().post(`/shipments/${orderId}/cancel`).send({});
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);

    expectError(await schedule(orderId), 409, 'SHIPMENT_CANCELLED');
    expect(await shipmentRows(orderId)).toEqual([expect.objectContaining({ status: 'CANCELLED', tombstone: 0 })]);
  });

  it('when the cancel arrives before the shipment, then a tombstone makes the late schedule 409 SHIPMENT_CANCELLED with no address', async () => {
    const orderId = uniqueId('ord');
    const cancel = await api().post(`/shipments/${orderId}/cancel`);
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({
      shipmentId: expect.any(String),
      orderId,
      status: 'CANCELLED',
      tombstone: true,
      address: null,
    });
    const tomb = {
      shipment_id: cancel.body.shipmentId,
      status: 'CANCELLED',
      tombstone: 1,
      name: null,
      line1: null,
      city: null,
      postal_code: null,
      country: null,
    };
    expect(await shipmentRows(orderId)).toEqual([tomb]);

    const late = await schedule(orderId);
    expectError(late, 409, 'SHIPMENT_CANCELLED');
    expect(await shipmentRows(orderId)).toEqual([tomb]);
  });
});

describe('dispatching', () => {
  const operator = () => stack.shipping.as('operator');
  const dispatch = (orderId: string) => operator().post(`/shipments/${orderId}/dispatch`).send({});
  const cancel = (orderId: string) => api().post(`/shipments/${orderId}/cancel`).send({});

  it('when a scheduled shipment is dispatched, then it is DISPATCHED and a repeat answers the same', async () => {
    const orderId = uniqueId('ord');
    const scheduled = await schedule(orderId);
    const res = await dispatch(orderId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...scheduled.body, status: 'DISPATCHED' });
    expect(await shipmentRows(orderId)).toEqual([
      expect.objectContaining({ status: 'DISPATCHED', tombstone: 0, country: 'GB' }),
    ]);
    const again = await dispatch(orderId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    // the schedule's repeat answers the shipment as it is now
    expect((await schedule(orderId)).body).toEqual(res.body);
    const events = await shipping().query<{ type: string }>(
      'SELECT type FROM outbox WHERE aggregate_id = ? ORDER BY seq',
      [orderId],
    );
    expect(events.map((e) => e.type)).toEqual(['ShipmentScheduled', 'ShipmentDispatched']);
  });

  it('when a dispatched shipment is cancelled, then 409 SHIPMENT_ALREADY_DISPATCHED and it stays DISPATCHED', async () => {
    const orderId = uniqueId('ord');
    const scheduled = await schedule(orderId);
    expect((await dispatch(orderId)).status).toBe(200);
    const before = await fingerprint(shipping());
    const res = await cancel(orderId);
    expectError(res, 409, 'SHIPMENT_ALREADY_DISPATCHED');
    expect(res.body.error.details).toEqual({ shipmentId: scheduled.body.shipmentId });
    expect(res.body.error.message).toContain(orderId);
    expect(await fingerprint(shipping())).toEqual(before);
    expect(await shipmentRows(orderId)).toEqual([expect.objectContaining({ status: 'DISPATCHED' })]);
  });

  it('when a cancelled shipment or a tombstone is dispatched, then 409 SHIPMENT_CANCELLED and it stays CANCELLED', async () => {
    const cancelled = uniqueId('ord');
    expect((await schedule(cancelled)).status).toBe(201);
    expect((await cancel(cancelled)).status).toBe(200);
    const tomb = uniqueId('ord');
    expect((await cancel(tomb)).status).toBe(200);
    const before = await fingerprint(shipping());
    expectError(await dispatch(cancelled), 409, 'SHIPMENT_CANCELLED');
    expectError(await dispatch(tomb), 409, 'SHIPMENT_CANCELLED');
    expect(await fingerprint(shipping())).toEqual(before);
    expect(await shipmentRows(cancelled)).toEqual([expect.objectContaining({ status: 'CANCELLED', tombstone: 0 })]);
  });

  it('when an order without a shipment is dispatched, then 404 SHIPMENT_NOT_FOUND and no row is created', async () => {
    const orderId = uniqueId('ord');
    const before = await fingerprint(shipping());
    const res = await dispatch(orderId);
    expectError(res, 404, 'SHIPMENT_NOT_FOUND');
    expect(res.body.error.message).toContain(orderId);
    expect(await fingerprint(shipping())).toEqual(before);
    expect(await shipmentRows(orderId)).toEqual([]);
  });

  it('when the worker or the gateway dispatches, then 403 FORBIDDEN and the shipment stays SCHEDULED', async () => {
    const orderId = uniqueId('ord');
    expect((await schedule(orderId)).status).toBe(201);
    for (const caller of ['worker', 'gateway'] as const) {
      expectError(await stack.shipping.as(caller).post(`/shipments/${orderId}/dispatch`).send({}), 403, 'FORBIDDEN');
    }
    expect(await shipmentRows(orderId)).toEqual([expect.objectContaining({ status: 'SCHEDULED' })]);
  });

  it('when a cancel and a dispatch race for each of 40 shipments, then exactly one of the two wins each time and the row says which', async () => {
    const orderIds = Array.from({ length: 40 }, () => uniqueId('ord'));
    for (const orderId of orderIds) expect((await schedule(orderId)).status).toBe(201);
    const outcomes = await Promise.all(
      orderIds.map(async (orderId, i) => {
        // alternate which request is sent first, so both orders of arrival happen
        const [c, d] =
          i % 2 === 0
            ? await Promise.all([cancel(orderId), dispatch(orderId)])
            : (await Promise.all([dispatch(orderId), cancel(orderId)])).reverse();
        const [row] = await shipmentRows(orderId);
        return {
          orderId,
          cancel: c!.status === 200 ? 'won' : c!.body.error?.code,
          dispatch: d!.status === 200 ? 'won' : d!.body.error?.code,
          row: row!.status,
        };
      }),
    );
    for (const o of outcomes) {
      expect([
        { orderId: o.orderId, cancel: 'won', dispatch: 'SHIPMENT_CANCELLED', row: 'CANCELLED' },
        { orderId: o.orderId, cancel: 'SHIPMENT_ALREADY_DISPATCHED', dispatch: 'won', row: 'DISPATCHED' },
      ]).toContainEqual(o);
    }
    const [rows] = await shipping().query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM shipments WHERE order_id IN (${orderIds.map(() => '?').join(',')})`,
      orderIds,
    );
    expect(Number(rows!.n)).toBe(40);
  });
});

describe('listing shipments', () => {
  it('when shipments are listed for an order, then its shipment is answered, cancelled or not', async () => {
    const scheduled = uniqueId('ord');
    const tomb = uniqueId('ord');
    const s = await schedule(scheduled);
    const t = await api().post(`/shipments/${tomb}/cancel`).send({});
    const list = await api().get('/shipments').query({ orderId: scheduled });
    expect(list.status).toBe(200);
    expect(list.body).toEqual([s.body]);
    expect((await api().get('/shipments').query({ orderId: tomb })).body).toEqual([t.body]);
    expect(
      (
        await api()
          .get('/shipments')
          .query({ orderId: uniqueId('ord') })
      ).body,
    ).toEqual([]);
    expect(await shipmentRows(scheduled)).toHaveLength(1);
  });

  it('when the orderId query is missing or invalid, then 400 VALIDATION_FAILED', async () => {
    const before = await fingerprint(shipping());
    const missing = await api().get('/shipments');
    expectError(missing, 400, 'VALIDATION_FAILED');
    expect(missing.body.error.details).toEqual([expect.objectContaining({ path: 'orderId' })]);
    expectError(await api().get('/shipments').query({ orderId: 'bad id!' }), 400, 'VALIDATION_FAILED');
    expectError(await api().get('/shipments').query({ orderId: 'o-1', page: '2' }), 400, 'VALIDATION_FAILED');
    expect(await fingerprint(shipping())).toEqual(before);
  });
});

describe('a custom served-country list', () => {
  let custom: ServiceStack;
  beforeAll(async () => {
    custom = await startServices('shipcustom', { servedCountries: ['AQ', 'US'] });
  });
  afterAll(async () => {
    await custom?.stop();
  });

  it('when AQ is configured as served, then it is still 422 UNSERVICEABLE_ADDRESS', async () => {
    const orderId = uniqueId('ord');
    expectError(await schedule(orderId, address({ country: 'AQ' }), custom.shipping.url), 422, 'UNSERVICEABLE_ADDRESS');
    expect(await shipmentRows(orderId, custom.shipping)).toEqual([]);
  });

  it('when a country in the list is used, then 201 SCHEDULED', async () => {
    const orderId = uniqueId('ord');
    const res = await schedule(orderId, address({ country: 'US', postalCode: '10001' }), custom.shipping.url);
    expect(res.status).toBe(201);
    expect(await shipmentRows(orderId, custom.shipping)).toEqual([
      expect.objectContaining({ status: 'SCHEDULED', country: 'US' }),
    ]);
  });

  it('when a country served by default but not in the list is used, then 422 UNSERVICEABLE_ADDRESS', async () => {
    const orderId = uniqueId('ord');
    expectError(await schedule(orderId, address({ country: 'GB' }), custom.shipping.url), 422, 'UNSERVICEABLE_ADDRESS');
    expect(await shipmentRows(orderId, custom.shipping)).toEqual([]);
  });
});

describe('idempotency', () => {
  const key = () => uniqueId('idem');

  describeIdempotency(shipping, key, [
    {
      name: 'POST /shipments',
      status: 201,
      prepare: async () => {
        const orderId = uniqueId('ord');
        return {
          method: 'post',
          path: '/shipments',
          body: { orderId, address: address() },
          otherBody: { orderId, address: address({ city: 'Leeds' }) },
        };
      },
    },
    {
      name: 'POST /shipments (a stored UNSERVICEABLE_ADDRESS)',
      status: 422,
      prepare: async () => {
        const orderId = uniqueId('ord');
        return {
          method: 'post',
          path: '/shipments',
          body: { orderId, address: address({ country: 'AQ' }) },
          otherBody: { orderId, address: address() },
        };
      },
    },
    {
      name: 'POST /shipments/:orderId/cancel',
      status: 200,
      prepare: async () => {
        const orderId = uniqueId('ord');
        expect((await schedule(orderId)).status).toBe(201);
        return {
          method: 'post',
          path: `/shipments/${orderId}/cancel`,
          body: { reason: 'a' },
          otherBody: { reason: 'b' },
        };
      },
    },
    {
      name: 'POST /shipments/:orderId/cancel (a stored SHIPMENT_ALREADY_DISPATCHED)',
      status: 409,
      prepare: async () => {
        const orderId = uniqueId('ord');
        expect((await schedule(orderId)).status).toBe(201);
        expect((await stack.shipping.as('operator').post(`/shipments/${orderId}/dispatch`).send({})).status).toBe(200);
        return {
          method: 'post',
          path: `/shipments/${orderId}/cancel`,
          body: { reason: 'a' },
          otherBody: { reason: 'b' },
        };
      },
    },
    {
      name: 'POST /shipments/:orderId/dispatch',
      status: 200,
      prepare: async () => {
        const orderId = uniqueId('ord');
        expect((await schedule(orderId)).status).toBe(201);
        return {
          method: 'post',
          path: `/shipments/${orderId}/dispatch`,
          body: {},
          otherBody: {},
          otherPath: `/shipments/${uniqueId('ord')}/dispatch`,
          caller: 'operator',
        };
      },
    },
  ]);

  it('when a schedule is replayed with its key after the shipment was cancelled, then the stored 201 is answered and it stays CANCELLED', async () => {
    const orderId = uniqueId('ord');
    const k = key();
    const first = await api().post('/shipments').set('Idempotency-Key', k).send({ orderId, address: address() });
    expect(first.status).toBe(201);
    expect((await api().post(`/shipments/${orderId}/cancel`).send({})).status).toBe(200);
    const replay = await api().post('/shipments').set('Idempotency-Key', k).send({ orderId, address: address() });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await shipmentRows(orderId)).toEqual([expect.objectContaining({ status: 'CANCELLED' })]);
  });

  it('when 10 identical schedules race with one key, then one shipment exists and all answers agree', async () => {
    const orderId = uniqueId('ord');
    const k = key();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        api().post('/shipments').set('Idempotency-Key', k).send({ orderId, address: address() }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    for (const r of results) expect(r.body).toEqual(results[0]!.body);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await shipmentRows(orderId)).toEqual([
      expect.objectContaining({ shipment_id: results[0]!.body.shipmentId, status: 'SCHEDULED' }),
    ]);
  });
});

describe('bad input', () => {
  describeBadInput(shipping, {
    method: 'post',
    path: () => '/shipments',
    validBody: () => ({ orderId: uniqueId('ord'), address: address() }),
    invalid: [
      {
        what: 'a lower-case country',
        body: () => ({ orderId: uniqueId('ord'), address: address({ country: 'gb' }) }),
        reports: 'address.country',
      },
      {
        what: 'a three-letter country',
        body: () => ({ orderId: uniqueId('ord'), address: address({ country: 'GBR' }) }),
        reports: 'address.country',
      },
      {
        what: 'a blank city',
        body: () => ({ orderId: uniqueId('ord'), address: address({ city: '   ' }) }),
        reports: 'address.city',
      },
      { what: 'no address', body: () => ({ orderId: uniqueId('ord') }), reports: 'address' },
      {
        what: 'a postal code of 21 characters',
        body: () => ({ orderId: uniqueId('ord'), address: address({ postalCode: '1'.repeat(21) }) }),
        reports: 'address.postalCode',
      },
      {
        what: 'an unknown address field',
        body: () => ({ orderId: uniqueId('ord'), address: { ...address(), line2: 'Flat 3' } }),
        reports: 'address',
      },
      {
        what: 'an address that is a string',
        body: () => ({ orderId: uniqueId('ord'), address: '12 St James Square, London' }),
        reports: 'address',
      },
      // lib/validation/text.ts: what is printed on a label must not forge lines or reorder itself
      {
        what: 'a NUL in the name',
        body: () => ({ orderId: uniqueId('ord'), address: address({ name: 'Ada\u0000Lovelace' }) }),
        reports: 'address.name',
      },
      {
        what: 'CR/LF in the first line',
        body: () => ({ orderId: uniqueId('ord'), address: address({ line1: '12 St James Sq\r\nX-Injected: 1' }) }),
        reports: 'address.line1',
      },
      {
        what: 'a trailing newline in the city',
        body: () => ({ orderId: uniqueId('ord'), address: address({ city: 'London\n' }) }),
        reports: 'address.city',
      },
      {
        what: 'a right-to-left override in the name',
        body: () => ({ orderId: uniqueId('ord'), address: address({ name: 'Ada \u202egnp.exe' }) }),
        reports: 'address.name',
      },
      {
        what: 'a bidi isolate in the postal code',
        body: () => ({ orderId: uniqueId('ord'), address: address({ postalCode: 'SW1\u2066Y' }) }),
        reports: 'address.postalCode',
      },
      {
        what: 'a lone surrogate in the city',
        body: () => ({ orderId: uniqueId('ord'), address: address({ city: 'Lon\ud800don' }) }),
        reports: 'address.city',
      },
    ],
  });

  it('when an address holds accents, CJK or an emoji (well-formed text), then it is scheduled as given', async () => {
    const orderId = uniqueId('ord');
    const addr = address({ name: 'Zoë Łukasz 山田 🙂', city: 'Kraków' });
    const res = await schedule(orderId, addr);
    expect(res.status).toBe(201);
    expect(await shipmentRows(orderId)).toEqual([expect.objectContaining({ status: 'SCHEDULED' })]);
    expect(res.body.address).toEqual(addr);
  });

  describeBadInput(shipping, {
    method: 'post',
    path: () => `/shipments/${uniqueId('ord')}/cancel`,
    validBody: () => ({ reason: 'no longer needed' }),
    invalid: [{ what: 'a reason of 256 characters', body: () => ({ reason: 'r'.repeat(256) }), reports: 'reason' }],
  });

  describeBadInput(shipping, {
    method: 'post',
    caller: 'operator',
    path: () => `/shipments/${uniqueId('ord')}/dispatch`,
    validBody: () => ({}),
    // it takes no parameters: the shared checks (an unknown field among them) are all there is
    invalid: [],
  });

  it('when a scheduled shipment gets a cancel with a bad body or key, then it stays SCHEDULED', async () => {
    const orderId = uniqueId('ord');
    expect((await schedule(orderId)).status).toBe(201);
    const before = await fingerprint(shipping());
    expectError(await api().post(`/shipments/${orderId}/cancel`).send({ reason: false }), 400, 'VALIDATION_FAILED');
    expectError(
      await api().post(`/shipments/${orderId}/cancel`).set('Idempotency-Key', 'k'.repeat(300)).send({}),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await api().post(`/shipments/${orderId}/cancel`).set('Content-Type', 'application/json').send('{"reason":'),
      400,
      'INVALID_JSON',
    );
    expect(await fingerprint(shipping())).toEqual(before);
    expect(await shipmentRows(orderId)).toEqual([expect.objectContaining({ status: 'SCHEDULED' })]);
  });

  it('when a route does not exist, then 404 NOT_FOUND as JSON (405 METHOD_NOT_ALLOWED for a known path) and nothing is written', async () => {
    const before = await fingerprint(shipping());
    expectError(await api().get('/nope'), 404, 'NOT_FOUND');
    expectError(await api().get(`/shipments/${uniqueId('ord')}`), 404, 'NOT_FOUND');
    expectError(await api().put('/shipments').send({}), 405, 'METHOD_NOT_ALLOWED');
    expect(await fingerprint(shipping())).toEqual(before);
  });
});

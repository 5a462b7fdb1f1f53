import { startServices, uniqueId, type ServiceStack } from '../../test/support/services';
import { describeBadInput, describeIdempotency, expectError, fingerprint } from '../../test/support/http-checks';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('payments');
});
afterAll(async () => {
  await stack?.stop();
});

const api = () => stack.payments.as('worker');
const payments = () => stack.payments;

const GOOD_CARD = '4242424242424242';
const DECLINED_CARD = '4000000000000002';

async function paymentRows(orderId: string) {
  return payments().query<{ payment_id: string; status: string; amount_cents: number; card_last4: string | null }>(
    'SELECT payment_id, status, amount_cents, card_last4 FROM payments WHERE order_id = ?',
    [orderId],
  );
}

async function charge(orderId: string, amountCents = 1500, cardNumber = GOOD_CARD) {
  return api().post('/charges').send({ orderId, amountCents, cardNumber });
}

/** How many values in any column of any table of the payments database contain `needle`. */
async function occurrencesAnywhere(needle: string): Promise<number> {
  const columns = await payments().query<{ table_name: string; column_name: string }>(
    'SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()',
  );
  expect(columns.length).toBeGreaterThan(5);
  let hits = 0;
  for (const c of columns) {
    const [row] = await payments().query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM \`${c.table_name}\` WHERE CAST(\`${c.column_name}\` AS CHAR) LIKE ?`,
      [`%${needle}%`],
    );
    hits += Number(row!.n);
  }
  return hits;
}

describe('health', () => {
  it('when /healthz is asked, then it answers 200 ok for a migrated database', async () => {
    const res = await api().get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: stack.payments.database.name });
    const [journal] = await payments().query<{ n: number }>('SELECT COUNT(*) AS n FROM `__drizzle_migrations`');
    expect(Number(journal!.n)).toBeGreaterThanOrEqual(1);
  });
});

describe('charges', () => {
  it('when a charge is made, then 201 CAPTURED and only the last four digits of the card are stored anywhere', async () => {
    const orderId = uniqueId('ord');
    const card = '5555444433331111';
    const res = await api()
      .post('/charges')
      .set('Idempotency-Key', uniqueId('idem'))
      .send({ orderId, amountCents: 2599, cardNumber: card });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      paymentId: expect.any(String),
      orderId,
      amountCents: 2599,
      status: 'CAPTURED',
      cardLast4: '1111',
    });
    expect(JSON.stringify(res.body)).not.toContain(card);
    expect(await paymentRows(orderId)).toEqual([
      { payment_id: res.body.paymentId, status: 'CAPTURED', amount_cents: 2599, card_last4: '1111' },
    ]);
    expect(await occurrencesAnywhere(card)).toBe(0);
    expect(await occurrencesAnywhere(card.slice(0, 12))).toBe(0);
  });

  it('when the card ends in 0002, then 402 PAYMENT_DECLINED and a DECLINED row without the card number', async () => {
    const orderId = uniqueId('ord');
    const res = await charge(orderId, 800, DECLINED_CARD);
    expectError(res, 402, 'PAYMENT_DECLINED');
    expect(res.body.error.message).toContain('0002');
    expect(res.body.error.message).not.toContain(DECLINED_CARD);
    const rows = await paymentRows(orderId);
    expect(rows).toEqual([
      { payment_id: expect.any(String), status: 'DECLINED', amount_cents: 800, card_last4: '0002' },
    ]);
    expect(res.body.error.details).toEqual({ paymentId: rows[0]!.payment_id });
    expect(await occurrencesAnywhere(DECLINED_CARD)).toBe(0);
  });

  it('when a declined order is charged again, then it is declined again and still has one DECLINED row', async () => {
    const orderId = uniqueId('ord');
    expectError(await charge(orderId, 800, DECLINED_CARD), 402, 'PAYMENT_DECLINED');
    expectError(await charge(orderId, 800, GOOD_CARD), 402, 'PAYMENT_DECLINED');
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'DECLINED', card_last4: '0002' })]);
  });

  it('when the same charge is repeated without a key, then the existing payment is answered and nothing is charged twice', async () => {
    const orderId = uniqueId('ord');
    const first = await charge(orderId, 1000);
    expect(first.status).toBe(201);
    const again = await charge(orderId, 1000);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await paymentRows(orderId)).toHaveLength(1);
  });

  it('when a charged order is charged with another amount or card, then 409 ALREADY_CHARGED and the payment is unchanged', async () => {
    const orderId = uniqueId('ord');
    expect((await charge(orderId, 1000)).status).toBe(201);
    expectError(await charge(orderId, 1001), 409, 'ALREADY_CHARGED');
    expectError(await charge(orderId, 1000, '4111111111119999'), 409, 'ALREADY_CHARGED');
    expect(await paymentRows(orderId)).toEqual([
      expect.objectContaining({ status: 'CAPTURED', amount_cents: 1000, card_last4: '4242' }),
    ]);
  });

  it('when a captured payment is refunded, then it is REFUNDED; a second refund and a new charge change nothing', async () => {
    const orderId = uniqueId('ord');
    const charged = await charge(orderId, 1234);
    const res = await api().post(`/charges/${orderId}/refund`).send({ reason: 'order cancelled' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      orderId,
      refunded: true,
      tombstone: false,
      payment: { ...charged.body, status: 'REFUNDED' },
    });
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'REFUNDED', amount_cents: 1234 })]);

    const again = await api().post(`/charges/${orderId}/refund`).send({});
    expect(again.status).toBe(200);
    expect(again.body).toEqual({
      orderId,
      refunded: false,
      tombstone: false,
      payment: { ...charged.body, status: 'REFUNDED' },
    });

    expectError(await charge(orderId, 1234), 409, 'ALREADY_REFUNDED');
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'REFUNDED', amount_cents: 1234 })]);
  });

  it('when a declined payment is refunded, then nothing is refunded and it stays DECLINED', async () => {
    const orderId = uniqueId('ord');
    expectError(await charge(orderId, 500, DECLINED_CARD), 402, 'PAYMENT_DECLINED');
    const res = await api().post(`/charges/${orderId}/refund`).send({});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId, refunded: false, tombstone: false, payment: { status: 'DECLINED' } });
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'DECLINED' })]);
  });

  it('when the refund arrives before the charge, then a VOIDED tombstone makes the late charge 409 PAYMENT_VOIDED and nothing is captured', async () => {
    const orderId = uniqueId('ord');
    const refund = await api().post(`/charges/${orderId}/refund`).send({});
    expect(refund.status).toBe(200);
    expect(refund.body).toEqual({ orderId, refunded: false, tombstone: true });
    expect(await paymentRows(orderId)).toEqual([
      { payment_id: expect.any(String), status: 'VOIDED', amount_cents: 0, card_last4: null },
    ]);

    const late = await charge(orderId, 999);
    expectError(late, 409, 'PAYMENT_VOIDED');
    const rows = await paymentRows(orderId);
    expect(rows).toEqual([{ payment_id: expect.any(String), status: 'VOIDED', amount_cents: 0, card_last4: null }]);
    const [captured] = await payments().query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM payments WHERE order_id = ? AND status = 'CAPTURED'",
      [orderId],
    );
    expect(Number(captured!.n)).toBe(0);

    const again = await api().post(`/charges/${orderId}/refund`).send({});
    expect(again.body).toEqual({ orderId, refunded: false, tombstone: true });
  });

  it('when a charge and an early refund race, then the order ends either REFUNDED or VOIDED and never CAPTURED', async () => {
    for (let i = 0; i < 5; i++) {
      const orderId = uniqueId('race');
      const [c, r] = await Promise.all([charge(orderId, 700), api().post(`/charges/${orderId}/refund`).send({})]);
      expect([201, 409]).toContain(c.status);
      expect(r.status).toBe(200);
      const rows = await paymentRows(orderId);
      expect(rows).toHaveLength(1);
      expect(['REFUNDED', 'VOIDED']).toContain(rows[0]!.status);
    }
  });
});

describe('listing payments', () => {
  it('when payments are listed for an order, then its payment is answered and tombstones are not', async () => {
    const charged = uniqueId('ord');
    const voided = uniqueId('ord');
    const declined = uniqueId('ord');
    const c = await charge(charged, 321);
    await api().post(`/charges/${voided}/refund`).send({});
    await charge(declined, 5, DECLINED_CARD);

    const list = await api().get('/payments').query({ orderId: charged });
    expect(list.status).toBe(200);
    expect(list.body).toEqual([c.body]);
    const voidedList = await api().get('/payments').query({ orderId: voided });
    expect(voidedList.body).toEqual([]);
    const declinedList = await api().get('/payments').query({ orderId: declined });
    expect(declinedList.body).toEqual([expect.objectContaining({ status: 'DECLINED', cardLast4: '0002' })]);
    expect(
      (
        await api()
          .get('/payments')
          .query({ orderId: uniqueId('ord') })
      ).body,
    ).toEqual([]);

    expect(await paymentRows(voided)).toEqual([expect.objectContaining({ status: 'VOIDED' })]);
    expect(await paymentRows(charged)).toEqual([expect.objectContaining({ status: 'CAPTURED' })]);
  });

  it('when the orderId query is missing, repeated or joined by an unknown parameter, then 400 VALIDATION_FAILED', async () => {
    const before = await fingerprint(payments());
    const missing = await api().get('/payments');
    expectError(missing, 400, 'VALIDATION_FAILED');
    expect(missing.body.error.details).toEqual([expect.objectContaining({ path: 'orderId' })]);
    expectError(await api().get('/payments?orderId=a&orderId=b'), 400, 'VALIDATION_FAILED');
    expectError(await api().get('/payments').query({ orderId: 'ord-1', extra: 'x' }), 400, 'VALIDATION_FAILED');
    expectError(await api().get('/payments').query({ orderId: 'bad id!' }), 400, 'VALIDATION_FAILED');
    expect(await fingerprint(payments())).toEqual(before);
  });
});

describe('idempotency', () => {
  const key = () => uniqueId('idem');

  describeIdempotency(payments, key, [
    {
      name: 'POST /charges',
      status: 201,
      prepare: async () => {
        const orderId = uniqueId('ord');
        return {
          method: 'post',
          path: '/charges',
          body: { orderId, amountCents: 100, cardNumber: GOOD_CARD },
          otherBody: { orderId, amountCents: 101, cardNumber: GOOD_CARD },
        };
      },
    },
    {
      name: 'POST /charges (a stored decline)',
      status: 402,
      prepare: async () => {
        const orderId = uniqueId('ord');
        return {
          method: 'post',
          path: '/charges',
          body: { orderId, amountCents: 100, cardNumber: DECLINED_CARD },
          otherBody: { orderId, amountCents: 100, cardNumber: GOOD_CARD },
        };
      },
    },
    {
      name: 'POST /charges/:orderId/refund',
      status: 200,
      prepare: async () => {
        const orderId = uniqueId('ord');
        expect((await charge(orderId)).status).toBe(201);
        return {
          method: 'post',
          path: `/charges/${orderId}/refund`,
          body: { reason: 'a' },
          otherBody: { reason: 'b' },
        };
      },
    },
  ]);

  it('when a declined charge is replayed with its key, then the identical 402 is answered and no second row exists', async () => {
    const orderId = uniqueId('ord');
    const k = key();
    const body = { orderId, amountCents: 450, cardNumber: DECLINED_CARD };
    const first = await api().post('/charges').set('Idempotency-Key', k).send(body);
    expectError(first, 402, 'PAYMENT_DECLINED');
    const replay = await api().post('/charges').set('Idempotency-Key', k).send(body);
    expect(replay.status).toBe(402);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await paymentRows(orderId)).toEqual([
      expect.objectContaining({ status: 'DECLINED', payment_id: first.body.error.details.paymentId }),
    ]);
    const [stored] = await payments().query<{ status_code: number; response_body: string }>(
      'SELECT status_code, response_body FROM idempotency_keys WHERE idem_key = ?',
      [k],
    );
    expect(stored!.status_code).toBe(402);
    expect(JSON.parse(stored!.response_body)).toEqual(first.body);
  });

  it('when a refund is replayed with its key after the money went back, then the stored answer is given and nothing is refunded twice', async () => {
    const orderId = uniqueId('ord');
    expect((await charge(orderId, 900)).status).toBe(201);
    const k = key();
    const first = await api().post(`/charges/${orderId}/refund`).set('Idempotency-Key', k).send({});
    const second = await api().post(`/charges/${orderId}/refund`).set('Idempotency-Key', k).send({});
    expect(first.body.refunded).toBe(true);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'REFUNDED', amount_cents: 900 })]);
  });

  it('when 10 identical charges race with one key, then the card is charged once and all answers agree', async () => {
    const orderId = uniqueId('ord');
    const k = key();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        api().post('/charges').set('Idempotency-Key', k).send({ orderId, amountCents: 4200, cardNumber: GOOD_CARD }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    for (const r of results) expect(r.body).toEqual(results[0]!.body);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await paymentRows(orderId)).toEqual([
      expect.objectContaining({ status: 'CAPTURED', amount_cents: 4200, payment_id: results[0]!.body.paymentId }),
    ]);
  });

  it('when 10 charges for one order race without keys, then exactly one payment row exists', async () => {
    const orderId = uniqueId('ord');
    const results = await Promise.all(Array.from({ length: 10 }, () => charge(orderId, 300)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'CAPTURED', amount_cents: 300 })]);
  });
});

describe('bad input', () => {
  describeBadInput(payments, {
    method: 'post',
    path: () => '/charges',
    validBody: () => ({ orderId: uniqueId('ord'), amountCents: 100, cardNumber: GOOD_CARD }),
    invalid: [
      {
        what: 'an amount of 0',
        body: () => ({ orderId: uniqueId('ord'), amountCents: 0, cardNumber: GOOD_CARD }),
        reports: 'amountCents',
      },
      {
        what: 'an amount that is a string',
        body: () => ({ orderId: uniqueId('ord'), amountCents: '100', cardNumber: GOOD_CARD }),
        reports: 'amountCents',
      },
      {
        what: 'a fractional amount',
        body: () => ({ orderId: uniqueId('ord'), amountCents: 10.5, cardNumber: GOOD_CARD }),
        reports: 'amountCents',
      },
      {
        what: 'a card number with letters',
        body: () => ({ orderId: uniqueId('ord'), amountCents: 100, cardNumber: '4242abcd42424242' }),
        reports: 'cardNumber',
      },
      {
        what: 'a card number that is a number',
        body: () => ({ orderId: uniqueId('ord'), amountCents: 100, cardNumber: 4242424242424242 }),
        reports: 'cardNumber',
      },
      {
        what: 'a card number of 11 digits',
        body: () => ({ orderId: uniqueId('ord'), amountCents: 100, cardNumber: '42424242424' }),
        reports: 'cardNumber',
      },
      { what: 'no orderId', body: () => ({ amountCents: 100, cardNumber: GOOD_CARD }), reports: 'orderId' },
    ],
  });

  describeBadInput(payments, {
    method: 'post',
    path: () => `/charges/${uniqueId('ord')}/refund`,
    validBody: () => ({ reason: 'changed mind' }),
    invalid: [{ what: 'a numeric reason', body: () => ({ reason: 3 }), reports: 'reason' }],
  });

  it('when a rejected charge carried a card number, then it is not stored anywhere', async () => {
    const card = '4929000011112222';
    const res = await api()
      .post('/charges')
      .send({ orderId: uniqueId('ord'), amountCents: 0, cardNumber: card });
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(await occurrencesAnywhere(card)).toBe(0);
  });

  it('when a captured payment gets a refund with a bad body or key, then it stays CAPTURED', async () => {
    const orderId = uniqueId('ord');
    expect((await charge(orderId)).status).toBe(201);
    const before = await fingerprint(payments());
    expectError(await api().post(`/charges/${orderId}/refund`).send({ reason: 1 }), 400, 'VALIDATION_FAILED');
    expectError(
      await api().post(`/charges/${orderId}/refund`).set('Idempotency-Key', 'k'.repeat(300)).send({}),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await api().post(`/charges/${orderId}/refund`).set('Content-Type', 'text/plain').send('refund please'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(await fingerprint(payments())).toEqual(before);
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ status: 'CAPTURED' })]);
  });

  it('when a route does not exist, then 404 NOT_FOUND as JSON (405 METHOD_NOT_ALLOWED for a known path) and nothing is written', async () => {
    const before = await fingerprint(payments());
    expectError(await api().get('/nope'), 404, 'NOT_FOUND');
    expectError(await api().get(`/charges/${uniqueId('ord')}`), 404, 'NOT_FOUND');
    expectError(await api().delete('/payments'), 405, 'METHOD_NOT_ALLOWED');
    expect(await fingerprint(payments())).toEqual(before);
  });
});

import { startServices, uniqueId, type ServiceStack } from '../../test/support/services';
import { describeBadInput, describeIdempotency, expectError, fingerprint } from '../../test/support/http-checks';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('orders');
});
afterAll(async () => {
  await stack?.stop();
});

const api = () => stack.orders.as('worker');
const orders = () => stack.orders;

async function orderRow(orderId: string) {
  const [row] = await orders().query<{
    status: string;
    customer_id: string | null;
    tombstone: number;
    total_cents: number | null;
    cancel_reason: string | null;
  }>('SELECT status, customer_id, tombstone, total_cents, cancel_reason FROM orders WHERE order_id = ?', [orderId]);
  return row;
}

async function lineRows(orderId: string) {
  return orders().query<{
    sku: string;
    quantity: number;
    product_name: string | null;
    name_version: number;
    unit_price_cents: number | null;
  }>(
    'SELECT sku, quantity, product_name, name_version, unit_price_cents FROM order_lines WHERE order_id = ? ORDER BY sku',
    [orderId],
  );
}

async function nameRow(sku: string) {
  const [row] = await orders().query<{ name: string; version: number }>(
    'SELECT name, version FROM product_names WHERE sku = ?',
    [sku],
  );
  return row;
}

async function create(orderId: string, lines: { sku: string; quantity: number }[], customerId = 'cust-1') {
  return api().post('/orders').send({ orderId, customerId, lines });
}

interface ConfirmLine {
  sku: string;
  productName: string;
  nameVersion: number;
  unitPriceCents: number;
}

async function confirm(orderId: string, lines: ConfirmLine[]) {
  return api().post(`/orders/${orderId}/confirm`).send({ lines });
}

/** A PENDING order with one line per SKU (quantity 2 each). */
async function pendingOrder(skus: string[] = [uniqueId('SKU')]) {
  const orderId = uniqueId('ord');
  const res = await create(
    orderId,
    skus.map((sku) => ({ sku, quantity: 2 })),
  );
  expect(res.status).toBe(201);
  return { orderId, skus };
}

/** A CONFIRMED order with one SKU named `name` at version `version`. */
async function confirmedOrder(name = 'Widget', version = 1) {
  const { orderId, skus } = await pendingOrder();
  const sku = skus[0]!;
  const res = await confirm(orderId, [{ sku, productName: name, nameVersion: version, unitPriceCents: 500 }]);
  expect(res.status).toBe(200);
  return { orderId, sku };
}

describe('health', () => {
  it('when /healthz is asked, then it answers 200 ok for a migrated database', async () => {
    const res = await api().get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: stack.orders.database.name });
    const [journal] = await orders().query<{ n: number }>('SELECT COUNT(*) AS n FROM `__drizzle_migrations`');
    expect(Number(journal!.n)).toBeGreaterThanOrEqual(1);
  });
});

describe('creating orders', () => {
  it('when an order is created, then 201 PENDING with its lines and rows for the order and each line', async () => {
    const orderId = uniqueId('ord');
    const a = uniqueId('SKU');
    const b = uniqueId('SKU');
    const res = await create(orderId, [
      { sku: a, quantity: 2 },
      { sku: b, quantity: 1 },
    ]);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      orderId,
      customerId: 'cust-1',
      status: 'PENDING',
      tombstone: false,
      totalCents: null,
      cancelReason: null,
      cancellationId: null,
      lines: expect.arrayContaining([
        { sku: a, quantity: 2, productName: null, nameVersion: 0, unitPriceCents: null },
        { sku: b, quantity: 1, productName: null, nameVersion: 0, unitPriceCents: null },
      ]),
    });
    expect(await orderRow(orderId)).toEqual({
      status: 'PENDING',
      customer_id: 'cust-1',
      tombstone: 0,
      total_cents: null,
      cancel_reason: null,
    });
    expect((await lineRows(orderId)).map((l) => [l.sku, l.quantity])).toEqual(
      [
        [a, 2],
        [b, 1],
      ].sort(),
    );
  });

  it('when an order is read, then GET answers {orderId, status, totalCents, lines[]} as stored', async () => {
    const { orderId, skus } = await pendingOrder();
    const res = await api().get(`/orders/${orderId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      orderId,
      status: 'PENDING',
      totalCents: null,
      lines: [{ sku: skus[0], quantity: 2, productName: null, unitPriceCents: null }],
    });
    expect(await orderRow(orderId)).toMatchObject({ status: 'PENDING' });
  });

  it('when an unknown order is read, then 404 ORDER_NOT_FOUND and no row appears', async () => {
    const orderId = uniqueId('ord');
    expectError(await api().get(`/orders/${orderId}`), 404, 'ORDER_NOT_FOUND');
    expect(await orderRow(orderId)).toBeUndefined();
  });

  it('when the same order is created again with the same content, then 200 with the existing order and no new rows', async () => {
    const orderId = uniqueId('ord');
    const lines = [
      { sku: uniqueId('SKU'), quantity: 1 },
      { sku: uniqueId('SKU'), quantity: 4 },
    ];
    const first = await create(orderId, lines);
    expect(first.status).toBe(201);
    const again = await create(orderId, [...lines].reverse());
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await lineRows(orderId)).toHaveLength(2);
  });

  it('when an order ID is reused with other content, then 409 ORDER_EXISTS and the order is unchanged', async () => {
    const { orderId, skus } = await pendingOrder();
    expectError(await create(orderId, [{ sku: skus[0]!, quantity: 9 }]), 409, 'ORDER_EXISTS');
    expectError(await create(orderId, [{ sku: skus[0]!, quantity: 2 }], 'someone-else'), 409, 'ORDER_EXISTS');
    expect(await orderRow(orderId)).toMatchObject({ status: 'PENDING', customer_id: 'cust-1' });
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ sku: skus[0], quantity: 2 })]);
  });

  it('when two lines name the same SKU, then 400 VALIDATION_FAILED and no order is created', async () => {
    const orderId = uniqueId('ord');
    const sku = uniqueId('SKU');
    const before = await fingerprint(orders());
    const res = await create(orderId, [
      { sku, quantity: 1 },
      { sku, quantity: 2 },
    ]);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.error.details).toEqual({ skus: [sku, sku] });
    expect(await orderRow(orderId)).toBeUndefined();
    expect(await fingerprint(orders())).toEqual(before);
  });
});

describe('confirming and cancelling', () => {
  it('when a PENDING order is confirmed, then it is CONFIRMED with copied names, unit prices and the total', async () => {
    const { orderId, skus } = await pendingOrder([uniqueId('SKU'), uniqueId('SKU')]);
    const [a, b] = skus as [string, string];
    const res = await confirm(orderId, [
      { sku: a, productName: 'Apple', nameVersion: 1, unitPriceCents: 120 },
      { sku: b, productName: 'Banana', nameVersion: 3, unitPriceCents: 35 },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId, status: 'CONFIRMED', totalCents: 2 * 120 + 2 * 35 });
    expect(res.body.lines).toEqual(
      expect.arrayContaining([
        { sku: a, quantity: 2, productName: 'Apple', nameVersion: 1, unitPriceCents: 120 },
        { sku: b, quantity: 2, productName: 'Banana', nameVersion: 3, unitPriceCents: 35 },
      ]),
    );
    expect(await orderRow(orderId)).toMatchObject({ status: 'CONFIRMED', total_cents: 310 });
    expect(await lineRows(orderId)).toEqual(
      expect.arrayContaining([
        { sku: a, quantity: 2, product_name: 'Apple', name_version: 1, unit_price_cents: 120 },
        { sku: b, quantity: 2, product_name: 'Banana', name_version: 3, unit_price_cents: 35 },
      ]),
    );
  });

  it('when a confirmation is repeated, then the confirmed order is answered and the copies do not change', async () => {
    const { orderId, sku } = await confirmedOrder('First', 1);
    const again = await confirm(orderId, [{ sku, productName: 'Second', nameVersion: 2, unitPriceCents: 999 }]);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'CONFIRMED', totalCents: 1000 });
    expect(await lineRows(orderId)).toEqual([
      { sku, quantity: 2, product_name: 'First', name_version: 1, unit_price_cents: 500 },
    ]);
  });

  it('when the confirmation lines do not match the order, then 422 LINES_MISMATCH and the order stays PENDING', async () => {
    const { orderId, skus } = await pendingOrder([uniqueId('SKU'), uniqueId('SKU')]);
    const res = await confirm(orderId, [
      { sku: skus[0]!, productName: 'A', nameVersion: 1, unitPriceCents: 1 },
      { sku: skus[0]!, productName: 'A', nameVersion: 1, unitPriceCents: 1 },
    ]);
    expectError(res, 422, 'LINES_MISMATCH');
    expectError(
      await confirm(orderId, [{ sku: skus[0]!, productName: 'A', nameVersion: 1, unitPriceCents: 1 }]),
      422,
      'LINES_MISMATCH',
    );
    expect(await orderRow(orderId)).toMatchObject({ status: 'PENDING', total_cents: null });
    for (const l of await lineRows(orderId)) expect(l).toMatchObject({ product_name: null, unit_price_cents: null });
  });

  it('when an unknown order is confirmed, then 404 ORDER_NOT_FOUND and no row is created', async () => {
    const orderId = uniqueId('ord');
    expectError(
      await confirm(orderId, [{ sku: 'S1', productName: 'A', nameVersion: 1, unitPriceCents: 1 }]),
      404,
      'ORDER_NOT_FOUND',
    );
    expect(await orderRow(orderId)).toBeUndefined();
  });

  it('when a PENDING order is cancelled, then it is CANCELLED with the reason and no prices', async () => {
    const { orderId } = await pendingOrder();
    const res = await api().post(`/orders/${orderId}/cancel`).send({ reason: 'card declined' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId, status: 'CANCELLED', tombstone: false, cancelReason: 'card declined' });
    expect(await orderRow(orderId)).toMatchObject({
      status: 'CANCELLED',
      tombstone: 0,
      cancel_reason: 'card declined',
      customer_id: 'cust-1',
    });

    const again = await api().post(`/orders/${orderId}/cancel`).send({ reason: 'another reason' });
    expect(again.status).toBe(200);
    expect(await orderRow(orderId)).toMatchObject({ status: 'CANCELLED', cancel_reason: 'card declined' });
  });

  it('when a CONFIRMED order is cancelled, then 409 ILLEGAL_TRANSITION and it stays CONFIRMED', async () => {
    const { orderId } = await confirmedOrder();
    const res = await api().post(`/orders/${orderId}/cancel`).send({});
    expectError(res, 409, 'ILLEGAL_TRANSITION');
    expect(res.body.error.details).toEqual({ from: 'CONFIRMED', to: 'CANCELLED' });
    expect(await orderRow(orderId)).toMatchObject({ status: 'CONFIRMED', cancel_reason: null, total_cents: 1000 });
  });

  it('when a CANCELLED order is confirmed, then 409 ILLEGAL_TRANSITION and no names or prices are copied', async () => {
    const { orderId, skus } = await pendingOrder();
    expect((await api().post(`/orders/${orderId}/cancel`).send({})).status).toBe(200);
    const res = await confirm(orderId, [{ sku: skus[0]!, productName: 'A', nameVersion: 1, unitPriceCents: 100 }]);
    expectError(res, 409, 'ILLEGAL_TRANSITION');
    expect(res.body.error.details).toEqual({ from: 'CANCELLED', to: 'CONFIRMED' });
    expect(await orderRow(orderId)).toMatchObject({ status: 'CANCELLED', total_cents: null });
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: null, unit_price_cents: null })]);
  });

  it('when the cancel arrives before the order, then a tombstone makes the late create 409 ORDER_CANCELLED with no lines', async () => {
    const orderId = uniqueId('ord');
    const cancel = await api().post(`/orders/${orderId}/cancel`).send({ reason: 'saga compensated' });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({
      orderId,
      customerId: null,
      status: 'CANCELLED',
      tombstone: true,
      totalCents: null,
      cancelReason: 'saga compensated',
      cancellationId: null,
      lines: [],
    });
    expect(await orderRow(orderId)).toEqual({
      status: 'CANCELLED',
      customer_id: null,
      tombstone: 1,
      total_cents: null,
      cancel_reason: 'saga compensated',
    });

    const late = await create(orderId, [{ sku: uniqueId('SKU'), quantity: 1 }]);
    expectError(late, 409, 'ORDER_CANCELLED');
    expect(await orderRow(orderId)).toEqual({
      status: 'CANCELLED',
      customer_id: null,
      tombstone: 1,
      total_cents: null,
      cancel_reason: 'saga compensated',
    });
    expect(await lineRows(orderId)).toEqual([]);
  });

  it('when a cancel has no body at all, then it is accepted as a cancel without a reason', async () => {
    const { orderId } = await pendingOrder();
    const res = await api().post(`/orders/${orderId}/cancel`);
    expect(res.status).toBe(200);
    expect(await orderRow(orderId)).toMatchObject({ status: 'CANCELLED', cancel_reason: null });
  });
});

describe("a customer's cancellation (CancelOrder)", () => {
  const mark = (orderId: string, cancellationId: string) =>
    api().post(`/orders/${orderId}/cancellation`).send({ cancellationId });
  const revert = (orderId: string, cancellationId: string) =>
    api().post(`/orders/${orderId}/cancellation/revert`).send({ cancellationId });
  const complete = (orderId: string, cancellationId: string, reason?: string) =>
    api()
      .post(`/orders/${orderId}/cancellation/complete`)
      .send({ cancellationId, ...(reason ? { reason } : {}) });
  /** The order's events in the outbox, in the order they were written. */
  const events = async (orderId: string) =>
    (
      await orders().query<{ type: string; status: string }>(
        "SELECT type, JSON_UNQUOTE(JSON_EXTRACT(body, '$.payload.status')) AS status FROM outbox WHERE aggregate_id = ? ORDER BY seq",
        [orderId],
      )
    ).map((e) => `${e.type}:${e.status}`);
  const cancellationRow = async (orderId: string) => {
    const [row] = await orders().query<{
      status: string;
      cancellation_id: string | null;
      cancellation_reverted: number;
      cancel_reason: string | null;
    }>('SELECT status, cancellation_id, cancellation_reverted, cancel_reason FROM orders WHERE order_id = ?', [
      orderId,
    ]);
    return row;
  };

  it('when a CONFIRMED order is marked, then it is CANCELLING by that cancellation, and completing it makes it CANCELLED with the reason', async () => {
    const { orderId } = await confirmedOrder();
    const cid = `cancel-${orderId}`;
    const marked = await mark(orderId, cid);
    expect(marked.status).toBe(200);
    expect(marked.body).toMatchObject({
      orderId,
      status: 'CANCELLING',
      cancellationId: cid,
      cancelReason: null,
      totalCents: 1000,
    });
    expect(await cancellationRow(orderId)).toEqual({
      status: 'CANCELLING',
      cancellation_id: cid,
      cancellation_reverted: 0,
      cancel_reason: null,
    });

    const again = await mark(orderId, cid);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(marked.body);

    const done = await complete(orderId, cid, 'changed my mind');
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      orderId,
      status: 'CANCELLED',
      cancellationId: cid,
      cancelReason: 'changed my mind',
      tombstone: false,
    });
    expect(await cancellationRow(orderId)).toEqual({
      status: 'CANCELLED',
      cancellation_id: cid,
      cancellation_reverted: 0,
      cancel_reason: 'changed my mind',
    });
    // a repeat of the last step by the same cancellation answers the order again, and changes nothing
    expect((await complete(orderId, cid, 'another reason')).body).toEqual(done.body);
    expect(await cancellationRow(orderId)).toMatchObject({ status: 'CANCELLED', cancel_reason: 'changed my mind' });
    // each change is an event, written by its own transaction; the repeats wrote none
    expect(await events(orderId)).toEqual([
      'OrderCreated:PENDING',
      'OrderConfirmed:CONFIRMED',
      'OrderCancellationStarted:CANCELLING',
      'OrderCancelled:CANCELLED',
    ]);
  });

  it('when a CANCELLING order is reverted by its cancellation, then it is CONFIRMED again and a second revert is a no-op', async () => {
    const { orderId } = await confirmedOrder();
    const cid = `cancel-${orderId}`;
    expect((await mark(orderId, cid)).status).toBe(200);
    const res = await revert(orderId, cid);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ orderId, cancellationId: cid, reverted: true, status: 'CONFIRMED' });
    expect(await cancellationRow(orderId)).toEqual({
      status: 'CONFIRMED',
      cancellation_id: cid,
      cancellation_reverted: 1,
      cancel_reason: null,
    });
    expect((await revert(orderId, cid)).body).toEqual({
      orderId,
      cancellationId: cid,
      reverted: false,
      status: 'CONFIRMED',
    });
    expect(await cancellationRow(orderId)).toMatchObject({ status: 'CONFIRMED' });
    expect(await orderRow(orderId)).toMatchObject({ status: 'CONFIRMED', total_cents: 1000 });
    expect(await events(orderId)).toEqual([
      'OrderCreated:PENDING',
      'OrderConfirmed:CONFIRMED',
      'OrderCancellationStarted:CANCELLING',
      'OrderCancellationReverted:CONFIRMED',
    ]);
  });

  it('when the revert arrives before its mark, then the late mark is 409 CANCELLATION_REVERTED and the order stays CONFIRMED', async () => {
    const { orderId } = await confirmedOrder();
    const cid = `cancel-${orderId}`;
    expect((await revert(orderId, cid)).body).toEqual({
      orderId,
      cancellationId: cid,
      reverted: false,
      status: 'CONFIRMED',
    });
    const late = await mark(orderId, cid);
    expectError(late, 409, 'CANCELLATION_REVERTED');
    expect(await cancellationRow(orderId)).toEqual({
      status: 'CONFIRMED',
      cancellation_id: cid,
      cancellation_reverted: 1,
      cancel_reason: null,
    });
    // another cancellation of the same order is not blocked by that tombstone
    expect((await mark(orderId, `${cid}-2`)).body).toMatchObject({ status: 'CANCELLING', cancellationId: `${cid}-2` });
  });

  it('when another cancellation holds the order, then its mark, revert and completion change nothing', async () => {
    const { orderId } = await confirmedOrder();
    expect((await mark(orderId, 'cancel-a')).status).toBe(200);
    const other = await mark(orderId, 'cancel-b');
    expectError(other, 409, 'ILLEGAL_TRANSITION');
    expect(other.body.error.details).toEqual({ from: 'CANCELLING', to: 'CANCELLING' });
    expect((await revert(orderId, 'cancel-b')).body).toEqual({
      orderId,
      cancellationId: 'cancel-b',
      reverted: false,
      status: 'CANCELLING',
    });
    expectError(await complete(orderId, 'cancel-b'), 409, 'ILLEGAL_TRANSITION');
    expect(await cancellationRow(orderId)).toEqual({
      status: 'CANCELLING',
      cancellation_id: 'cancel-a',
      cancellation_reverted: 0,
      cancel_reason: null,
    });
  });

  it('when an unknown, PENDING, CANCELLED or tombstone order is marked, then 404 or 409 ILLEGAL_TRANSITION and nothing changes', async () => {
    const unknown = uniqueId('ord');
    const { orderId: pending } = await pendingOrder();
    const { orderId: cancelled } = await confirmedOrder();
    expect((await mark(cancelled, 'c-1')).status).toBe(200);
    expect((await complete(cancelled, 'c-1')).status).toBe(200);
    const tombstone = uniqueId('ord');
    expect((await api().post(`/orders/${tombstone}/cancel`).send({})).status).toBe(200);
    const before = await fingerprint(orders());

    const missing = await mark(unknown, 'c-2');
    expectError(missing, 404, 'ORDER_NOT_FOUND');
    expect(missing.body.error.message).toContain(unknown);
    expectError(await mark(tombstone, 'c-2'), 404, 'ORDER_NOT_FOUND');
    const fromPending = await mark(pending, 'c-2');
    expectError(fromPending, 409, 'ILLEGAL_TRANSITION');
    expect(fromPending.body.error.details).toEqual({ from: 'PENDING', to: 'CANCELLING' });
    const fromCancelled = await mark(cancelled, 'c-2');
    expectError(fromCancelled, 409, 'ILLEGAL_TRANSITION');
    expect(fromCancelled.body.error.details).toEqual({ from: 'CANCELLED', to: 'CANCELLING' });
    expectError(await complete(unknown, 'c-2'), 404, 'ORDER_NOT_FOUND');
    expectError(await complete(pending, 'c-2'), 409, 'ILLEGAL_TRANSITION');
    // the reverts of those marks are no-ops, and create no row for the unknown order
    expect((await revert(unknown, 'c-2')).body).toEqual({
      orderId: unknown,
      cancellationId: 'c-2',
      reverted: false,
      status: null,
    });
    expect((await revert(pending, 'c-2')).body).toMatchObject({ reverted: false, status: 'PENDING' });
    expect((await revert(cancelled, 'c-2')).body).toMatchObject({ reverted: false, status: 'CANCELLED' });
    expect(await fingerprint(orders())).toEqual(before);
    expect(await orderRow(unknown)).toBeUndefined();
  });

  it('when a CANCELLING order meets the PlaceOrder routes, then its compensation and confirmation are 409 ILLEGAL_TRANSITION', async () => {
    const { orderId, sku } = await confirmedOrder();
    expect((await mark(orderId, 'c-x')).status).toBe(200);
    const cancel = await api().post(`/orders/${orderId}/cancel`).send({});
    expectError(cancel, 409, 'ILLEGAL_TRANSITION');
    expect(cancel.body.error.details).toEqual({ from: 'CANCELLING', to: 'CANCELLED' });
    expectError(
      await confirm(orderId, [{ sku, productName: 'Widget', nameVersion: 1, unitPriceCents: 500 }]),
      409,
      'ILLEGAL_TRANSITION',
    );
    expect(await cancellationRow(orderId)).toMatchObject({ status: 'CANCELLING', cancellation_id: 'c-x' });
  });

  it('when the gateway or the operator calls a cancellation route, then 403 FORBIDDEN and nothing changes', async () => {
    const { orderId } = await confirmedOrder();
    for (const caller of ['gateway', 'operator'] as const) {
      for (const path of ['cancellation', 'cancellation/revert', 'cancellation/complete']) {
        expectError(
          await stack.orders.as(caller).post(`/orders/${orderId}/${path}`).send({ cancellationId: 'c-1' }),
          403,
          'FORBIDDEN',
        );
      }
    }
    expect(await cancellationRow(orderId)).toEqual({
      status: 'CONFIRMED',
      cancellation_id: null,
      cancellation_reverted: 0,
      cancel_reason: null,
    });
  });

  it('when 10 different cancellations race to mark one order, then exactly one holds it CANCELLING and the others are 409', async () => {
    const { orderId } = await confirmedOrder();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => mark(orderId, `c-${i}`)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expectError(r, 409, 'ILLEGAL_TRANSITION');
    expect(await cancellationRow(orderId)).toMatchObject({
      status: 'CANCELLING',
      cancellation_id: winners[0]!.body.cancellationId,
    });
  });
});

describe('product name copies', () => {
  const putName = (sku: string, name: string, version: number) =>
    api().put(`/product-names/${sku}`).send({ name, version });

  it('when a newer name arrives, then every confirmed copy is updated and the newest version is remembered', async () => {
    const one = await confirmedOrder('Widget', 1);
    const sku = one.sku;
    const res = await putName(sku, 'Widget Pro', 2);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sku, name: 'Widget Pro', version: 2, applied: true, linesUpdated: 1 });
    expect(await nameRow(sku)).toEqual({ name: 'Widget Pro', version: 2 });
    expect(await lineRows(one.orderId)).toEqual([
      expect.objectContaining({ product_name: 'Widget Pro', name_version: 2 }),
    ]);
  });

  it('when an older version arrives after a newer one, then nothing changes (no regression on out-of-order delivery)', async () => {
    const { orderId, sku } = await confirmedOrder('Lamp', 1);
    expect((await putName(sku, 'Lamp v3', 3)).body).toMatchObject({ applied: true });
    const late = await putName(sku, 'Lamp v2', 2);
    expect(late.status).toBe(200);
    expect(late.body).toEqual({ sku, name: 'Lamp v3', version: 3, applied: false, linesUpdated: 0 });
    expect(await nameRow(sku)).toEqual({ name: 'Lamp v3', version: 3 });
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: 'Lamp v3', name_version: 3 })]);

    const repeat = await putName(sku, 'Lamp v3 again', 3);
    expect(repeat.body).toMatchObject({ applied: false, name: 'Lamp v3' });
    expect(await nameRow(sku)).toEqual({ name: 'Lamp v3', version: 3 });
  });

  it('when a name arrives for an order that is not confirmed yet, then the pending line keeps no copy', async () => {
    const { orderId, skus } = await pendingOrder();
    const res = await putName(skus[0]!, 'Early name', 4);
    expect(res.body).toMatchObject({ applied: true, linesUpdated: 0 });
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: null, name_version: 0 })]);
    expect(await nameRow(skus[0]!)).toEqual({ name: 'Early name', version: 4 });
  });

  it('when an order is confirmed with an older name than one already heard of, then the newer copy is used', async () => {
    const { orderId, skus } = await pendingOrder();
    const sku = skus[0]!;
    expect((await putName(sku, 'Renamed meanwhile', 5)).status).toBe(200);
    const res = await confirm(orderId, [{ sku, productName: 'Stale name', nameVersion: 2, unitPriceCents: 10 }]);
    expect(res.status).toBe(200);
    expect(res.body.lines).toEqual([
      { sku, quantity: 2, productName: 'Renamed meanwhile', nameVersion: 5, unitPriceCents: 10 },
    ]);
    expect(await lineRows(orderId)).toEqual([
      { sku, quantity: 2, product_name: 'Renamed meanwhile', name_version: 5, unit_price_cents: 10 },
    ]);
  });

  it('when a name over 100 characters arrives, then 422 INVALID_PRODUCT_NAME and no copy changes', async () => {
    const { orderId, sku } = await confirmedOrder('Short', 1);
    const res = await putName(sku, 'x'.repeat(101), 2);
    expectError(res, 422, 'INVALID_PRODUCT_NAME');
    expect(res.body.error.details).toEqual({ length: 101 });
    expect(await nameRow(sku)).toBeUndefined();
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: 'Short', name_version: 1 })]);
  });

  it('when a blank name arrives, then 422 INVALID_PRODUCT_NAME and no copy changes', async () => {
    const { orderId, sku } = await confirmedOrder('Short', 1);
    expectError(await putName(sku, '   ', 2), 422, 'INVALID_PRODUCT_NAME');
    expect(await nameRow(sku)).toBeUndefined();
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: 'Short' })]);
  });

  it('when a name of exactly 100 characters arrives, then it is applied', async () => {
    const { orderId, sku } = await confirmedOrder('Short', 1);
    const name = 'y'.repeat(100);
    expect((await putName(sku, name, 2)).body).toMatchObject({ applied: true });
    expect(await nameRow(sku)).toEqual({ name, version: 2 });
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: name })]);
  });

  it('when a confirmation carries a name longer than 100 characters, then the copy is cut to 100 instead of failing the order', async () => {
    const { orderId, skus } = await pendingOrder();
    const res = await confirm(orderId, [
      { sku: skus[0]!, productName: 'z'.repeat(180), nameVersion: 1, unitPriceCents: 1 },
    ]);
    expect(res.status).toBe(200);
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: 'z'.repeat(100) })]);
  });
});

describe('idempotency', () => {
  const key = () => uniqueId('idem');

  describeIdempotency(orders, key, [
    {
      name: 'POST /orders',
      status: 201,
      prepare: async () => {
        const orderId = uniqueId('ord');
        const sku = uniqueId('SKU');
        return {
          method: 'post',
          path: '/orders',
          body: { orderId, customerId: 'c1', lines: [{ sku, quantity: 1 }] },
          otherBody: { orderId, customerId: 'c1', lines: [{ sku, quantity: 2 }] },
        };
      },
    },
    {
      name: 'POST /orders/:orderId/confirm',
      status: 200,
      prepare: async () => {
        const { orderId, skus } = await pendingOrder();
        const line = { sku: skus[0]!, productName: 'N', nameVersion: 1, unitPriceCents: 7 };
        return {
          method: 'post',
          path: `/orders/${orderId}/confirm`,
          body: { lines: [line] },
          otherBody: { lines: [{ ...line, unitPriceCents: 8 }] },
        };
      },
    },
    {
      name: 'POST /orders/:orderId/cancel',
      status: 200,
      prepare: async () => {
        const { orderId } = await pendingOrder();
        return { method: 'post', path: `/orders/${orderId}/cancel`, body: { reason: 'a' }, otherBody: { reason: 'b' } };
      },
    },
    {
      name: 'POST /orders/:orderId/cancel (a stored ILLEGAL_TRANSITION)',
      status: 409,
      prepare: async () => {
        const { orderId } = await confirmedOrder();
        return { method: 'post', path: `/orders/${orderId}/cancel`, body: { reason: 'a' }, otherBody: { reason: 'b' } };
      },
    },
    {
      name: 'POST /orders/:orderId/cancellation',
      status: 200,
      prepare: async () => {
        const { orderId } = await confirmedOrder();
        return {
          method: 'post',
          path: `/orders/${orderId}/cancellation`,
          body: { cancellationId: 'c-1' },
          otherBody: { cancellationId: 'c-2' },
        };
      },
    },
    {
      name: 'POST /orders/:orderId/cancellation (a stored ILLEGAL_TRANSITION)',
      status: 409,
      prepare: async () => {
        const { orderId } = await pendingOrder();
        return {
          method: 'post',
          path: `/orders/${orderId}/cancellation`,
          body: { cancellationId: 'c-1' },
          otherBody: { cancellationId: 'c-2' },
        };
      },
    },
    {
      name: 'POST /orders/:orderId/cancellation/revert',
      status: 200,
      prepare: async () => {
        const { orderId } = await confirmedOrder();
        expect((await api().post(`/orders/${orderId}/cancellation`).send({ cancellationId: 'c-1' })).status).toBe(200);
        return {
          method: 'post',
          path: `/orders/${orderId}/cancellation/revert`,
          body: { cancellationId: 'c-1' },
          otherBody: { cancellationId: 'c-2' },
        };
      },
    },
    {
      name: 'POST /orders/:orderId/cancellation/complete',
      status: 200,
      prepare: async () => {
        const { orderId } = await confirmedOrder();
        expect((await api().post(`/orders/${orderId}/cancellation`).send({ cancellationId: 'c-1' })).status).toBe(200);
        return {
          method: 'post',
          path: `/orders/${orderId}/cancellation/complete`,
          body: { cancellationId: 'c-1', reason: 'a' },
          otherBody: { cancellationId: 'c-1', reason: 'b' },
        };
      },
    },
    {
      name: 'PUT /product-names/:sku',
      status: 200,
      prepare: async () => {
        const { sku } = await confirmedOrder();
        return {
          method: 'put',
          path: `/product-names/${sku}`,
          body: { name: 'New', version: 2 },
          otherBody: { name: 'Other', version: 2 },
        };
      },
    },
  ]);

  it('when a create is replayed with its key after the order was cancelled, then the stored 201 is answered and the order stays CANCELLED', async () => {
    const orderId = uniqueId('ord');
    const k = key();
    const body = { orderId, customerId: 'c1', lines: [{ sku: uniqueId('SKU'), quantity: 1 }] };
    const first = await api().post('/orders').set('Idempotency-Key', k).send(body);
    expect(first.status).toBe(201);
    expect((await api().post(`/orders/${orderId}/cancel`).send({})).status).toBe(200);
    const replay = await api().post('/orders').set('Idempotency-Key', k).send(body);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await orderRow(orderId)).toMatchObject({ status: 'CANCELLED' });
  });

  it('when 10 identical creates race with one key, then one order with one set of lines exists and all answers agree', async () => {
    const orderId = uniqueId('ord');
    const k = key();
    const body = { orderId, customerId: 'c1', lines: [{ sku: uniqueId('SKU'), quantity: 3 }] };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => api().post('/orders').set('Idempotency-Key', k).send(body)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    for (const r of results) expect(r.body).toEqual(results[0]!.body);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    const [count] = await orders().query<{ n: number }>('SELECT COUNT(*) AS n FROM orders WHERE order_id = ?', [
      orderId,
    ]);
    expect(Number(count!.n)).toBe(1);
    expect(await lineRows(orderId)).toHaveLength(1);
  });

  it('when 10 different creates race for one order ID without keys, then one wins with 201 and the rest answer 200 or 409', async () => {
    const orderId = uniqueId('ord');
    const sku = uniqueId('SKU');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => create(orderId, [{ sku, quantity: i + 1 }])),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, 'ORDER_EXISTS');
    const winner = results.find((r) => r.status === 201)!;
    expect(await lineRows(orderId)).toEqual([
      expect.objectContaining({ sku, quantity: winner.body.lines[0].quantity }),
    ]);
  });
});

describe('bad input', () => {
  describeBadInput(orders, {
    method: 'post',
    path: () => '/orders',
    validBody: () => ({ orderId: uniqueId('ord'), customerId: 'c1', lines: [{ sku: 'S1', quantity: 1 }] }),
    invalid: [
      {
        what: 'quantity 0',
        body: () => ({ orderId: uniqueId('ord'), customerId: 'c1', lines: [{ sku: 'S1', quantity: 0 }] }),
        reports: 'lines.0.quantity',
      },
      {
        what: 'a quantity of 10001',
        body: () => ({ orderId: uniqueId('ord'), customerId: 'c1', lines: [{ sku: 'S1', quantity: 10_001 }] }),
        reports: 'lines.0.quantity',
      },
      {
        what: 'no customerId',
        body: () => ({ orderId: uniqueId('ord'), lines: [{ sku: 'S1', quantity: 1 }] }),
        reports: 'customerId',
      },
      {
        what: 'an orderId that is a number',
        body: () => ({ orderId: 12, customerId: 'c1', lines: [{ sku: 'S1', quantity: 1 }] }),
        reports: 'orderId',
      },
      {
        what: 'lines that are an object',
        body: () => ({ orderId: uniqueId('ord'), customerId: 'c1', lines: { sku: 'S1', quantity: 1 } }),
        reports: 'lines',
      },
      {
        what: 'an orderId of 65 characters',
        body: () => ({ orderId: 'o'.repeat(65), customerId: 'c1', lines: [{ sku: 'S1', quantity: 1 }] }),
        reports: 'orderId',
      },
    ],
  });

  describeBadInput(orders, {
    method: 'post',
    path: () => `/orders/${uniqueId('ord')}/confirm`,
    validBody: () => ({ lines: [{ sku: 'S1', productName: 'N', nameVersion: 1, unitPriceCents: 1 }] }),
    invalid: [
      {
        what: 'a negative unit price',
        body: () => ({ lines: [{ sku: 'S1', productName: 'N', nameVersion: 1, unitPriceCents: -1 }] }),
        reports: 'lines.0.unitPriceCents',
      },
      {
        what: 'a unit price beyond what a column holds',
        body: () => ({ lines: [{ sku: 'S1', productName: 'N', nameVersion: 1, unitPriceCents: 2 ** 40 }] }),
        reports: 'lines.0.unitPriceCents',
      },
      {
        what: 'a name version beyond what a column holds',
        body: () => ({ lines: [{ sku: 'S1', productName: 'N', nameVersion: 2 ** 40, unitPriceCents: 1 }] }),
        reports: 'lines.0.nameVersion',
      },
      {
        what: 'no product name',
        body: () => ({ lines: [{ sku: 'S1', nameVersion: 1, unitPriceCents: 1 }] }),
        reports: 'lines.0.productName',
      },
    ],
  });

  describeBadInput(orders, {
    method: 'post',
    path: () => `/orders/${uniqueId('ord')}/cancel`,
    validBody: () => ({ reason: 'why not' }),
    invalid: [
      { what: 'a numeric reason', body: () => ({ reason: 5 }), reports: 'reason' },
      { what: 'a reason of 256 characters', body: () => ({ reason: 'r'.repeat(256) }), reports: 'reason' },
    ],
  });

  for (const route of ['cancellation', 'cancellation/revert', 'cancellation/complete']) {
    describeBadInput(orders, {
      method: 'post',
      path: () => `/orders/${uniqueId('ord')}/${route}`,
      validBody: () => ({ cancellationId: 'cancel-1' }),
      invalid: [
        { what: 'no cancellationId', body: () => ({}), reports: 'cancellationId' },
        {
          what: 'a cancellationId with a space',
          body: () => ({ cancellationId: 'cancel 1' }),
          reports: 'cancellationId',
        },
        {
          what: 'a cancellationId of 129 characters',
          body: () => ({ cancellationId: 'c'.repeat(129) }),
          reports: 'cancellationId',
        },
      ],
    });
  }

  describeBadInput(orders, {
    method: 'put',
    path: () => `/product-names/${uniqueId('SKU')}`,
    validBody: () => ({ name: 'Name', version: 1 }),
    invalid: [
      { what: 'version 0', body: () => ({ name: 'Name', version: 0 }), reports: 'version' },
      {
        what: 'a version beyond what a column holds',
        body: () => ({ name: 'Name', version: 2 ** 31 }),
        reports: 'version',
      },
      { what: 'a numeric name', body: () => ({ name: 7, version: 1 }), reports: 'name' },
      { what: 'no version', body: () => ({ name: 'Name' }), reports: 'version' },
    ],
  });

  it('when a CONFIRMED order gets a cancel with an invalid Idempotency-Key or bad body, then it stays CONFIRMED', async () => {
    const { orderId } = await confirmedOrder();
    const before = await fingerprint(orders());
    expectError(
      await api().post(`/orders/${orderId}/cancel`).set('Idempotency-Key', 'k'.repeat(300)).send({}),
      400,
      'VALIDATION_FAILED',
    );
    expectError(await api().post(`/orders/${orderId}/cancel`).send({ reason: 1 }), 400, 'VALIDATION_FAILED');
    expect(await fingerprint(orders())).toEqual(before);
    expect(await orderRow(orderId)).toMatchObject({ status: 'CONFIRMED' });
  });

  it('when a confirmation totals more than an INT of cents, then it is CONFIRMED with the exact total (no 500)', async () => {
    const orderId = uniqueId('ord');
    const skus = [uniqueId('SKU'), uniqueId('SKU')];
    expect(
      (
        await create(
          orderId,
          skus.map((sku) => ({ sku, quantity: 10_000 })),
        )
      ).status,
    ).toBe(201);
    const res = await confirm(
      orderId,
      skus.map((sku) => ({ sku, productName: 'Pricey', nameVersion: 1, unitPriceCents: 100_000_000 })),
    );
    expect(res.status).toBe(200);
    expect(res.body.totalCents).toBe(2_000_000_000_000);
    expect(await orderRow(orderId)).toMatchObject({ status: 'CONFIRMED', total_cents: 2_000_000_000_000 });
  });

  it('when a PENDING order is confirmed with a unit price beyond the limit, then 400 VALIDATION_FAILED and it stays PENDING', async () => {
    const { orderId, skus } = await pendingOrder();
    const before = await fingerprint(orders());
    const res = await confirm(orderId, [{ sku: skus[0]!, productName: 'N', nameVersion: 1, unitPriceCents: 2 ** 40 }]);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(await fingerprint(orders())).toEqual(before);
    expect(await orderRow(orderId)).toMatchObject({ status: 'PENDING', total_cents: null });
  });

  it('when a name copy with a version beyond an INT arrives, then 400 VALIDATION_FAILED and the copies stay', async () => {
    const { orderId, sku } = await confirmedOrder('Kept', 1);
    const before = await fingerprint(orders());
    expectError(
      await api()
        .put(`/product-names/${sku}`)
        .send({ name: 'Huge', version: 2 ** 31 }),
      400,
      'VALIDATION_FAILED',
    );
    expect(await fingerprint(orders())).toEqual(before);
    expect(await lineRows(orderId)).toEqual([expect.objectContaining({ product_name: 'Kept', name_version: 1 })]);
  });

  it('when an order ID in the path is invalid, then 400 VALIDATION_FAILED and nothing is written', async () => {
    const before = await fingerprint(orders());
    expectError(await api().get(`/orders/${encodeURIComponent('bad id!')}`), 400, 'VALIDATION_FAILED');
    expectError(
      await api()
        .post(`/orders/${encodeURIComponent('bad id!')}/cancel`)
        .send({}),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await api()
        .put(`/product-names/${encodeURIComponent('bad sku!')}`)
        .send({ name: 'n', version: 1 }),
      400,
      'VALIDATION_FAILED',
    );
    expect(await fingerprint(orders())).toEqual(before);
  });

  it('when a route does not exist, then 404 NOT_FOUND as JSON (405 METHOD_NOT_ALLOWED for a known path) and nothing is written', async () => {
    const before = await fingerprint(orders());
    expectError(await api().get('/nope'), 404, 'NOT_FOUND');
    const wrongMethod = await api().delete(`/orders/${uniqueId('ord')}`);
    expectError(wrongMethod, 405, 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.allow).toBe('GET, HEAD');
    expectError(await api().put('/orders').send({}), 405, 'METHOD_NOT_ALLOWED');
    expectError(await api().post('/order').send({}), 404, 'NOT_FOUND');
    expect(await fingerprint(orders())).toEqual(before);
  });
});

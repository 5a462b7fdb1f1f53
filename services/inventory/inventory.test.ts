import { startServices, uniqueId, type ServiceStack } from '../../test/support/services';
import { describeBadInput, describeIdempotency, expectError, fingerprint } from '../../test/support/http-checks';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('inventory');
});
afterAll(async () => {
  await stack?.stop();
});

const api = () => stack.inventory.as('worker');
/** The catalog route (`PUT /products/:sku`) is the operator's. */
const operator = () => stack.inventory.as('operator');
const inventory = () => stack.inventory;

interface ProductRow {
  sku: string;
  name: string;
  name_version: number;
  price_cents: number;
  available: number;
  reserved: number;
  committed: number;
  stock_total: number;
}

async function productRow(sku: string): Promise<ProductRow | undefined> {
  const [row] = await inventory().query<ProductRow>(
    'SELECT sku, name, name_version, price_cents, available, reserved, committed, stock_total FROM products WHERE sku = ?',
    [sku],
  );
  return row;
}

async function reservationRow(orderId: string) {
  const [row] = await inventory().query<{ status: string; tombstone: number; total_cents: number }>(
    'SELECT status, tombstone, total_cents FROM reservations WHERE order_id = ?',
    [orderId],
  );
  return row;
}

async function reservationLines(orderId: string) {
  return inventory().query<{
    sku: string;
    quantity: number;
    product_name: string;
    name_version: number;
    unit_price_cents: number;
  }>(
    'SELECT sku, quantity, product_name, name_version, unit_price_cents FROM reservation_lines WHERE order_id = ? ORDER BY sku',
    [orderId],
  );
}

/** Creates a product with a unique SKU and returns the SKU. */
async function product(opts: { name?: string; priceCents?: number; available?: number } = {}): Promise<string> {
  const sku = uniqueId('SKU');
  const res = await operator()
    .put(`/products/${sku}`)
    .send({ name: opts.name ?? `Widget ${sku}`, priceCents: opts.priceCents ?? 250, available: opts.available ?? 10 });
  expect(res.status).toBe(201);
  return sku;
}

async function reserve(orderId: string, lines: { sku: string; quantity: number }[]) {
  return api().post('/reservations').send({ orderId, lines });
}

describe('health', () => {
  it('when /healthz is asked, then it answers 200 ok for a migrated database', async () => {
    const res = await api().get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: stack.inventory.database.name });
    const [journal] = await inventory().query<{ n: number }>('SELECT COUNT(*) AS n FROM `__drizzle_migrations`');
    expect(Number(journal!.n)).toBeGreaterThanOrEqual(1);
  });
});

describe('products', () => {
  it('when a product is PUT for the first time, then 201 and the row holds name, price and stock', async () => {
    const sku = uniqueId('SKU');
    const res = await operator().put(`/products/${sku}`).send({ name: '  Blue mug  ', priceCents: 1299, available: 7 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      sku,
      name: 'Blue mug',
      nameVersion: 1,
      priceCents: 1299,
      available: 7,
      reserved: 0,
      committed: 0,
    });
    expect(await productRow(sku)).toEqual({
      sku,
      name: 'Blue mug',
      name_version: 1,
      price_cents: 1299,
      available: 7,
      reserved: 0,
      committed: 0,
      stock_total: 7,
    });
  });

  it('when an existing product is PUT again, then 200, the row is updated and a new name bumps nameVersion', async () => {
    const sku = await product({ name: 'Mug', priceCents: 100, available: 5 });
    const samename = await operator().put(`/products/${sku}`).send({ name: 'Mug', priceCents: 150, available: 8 });
    expect(samename.status).toBe(200);
    expect(samename.body).toMatchObject({ name: 'Mug', nameVersion: 1, priceCents: 150, available: 8 });
    expect(await productRow(sku)).toMatchObject({ name: 'Mug', name_version: 1, price_cents: 150, available: 8 });

    const renamed = await operator().put(`/products/${sku}`).send({ name: 'Big mug', priceCents: 150, available: 8 });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Big mug', nameVersion: 2 });
    expect(await productRow(sku)).toMatchObject({ name: 'Big mug', name_version: 2 });
    const [count] = await inventory().query<{ n: number }>('SELECT COUNT(*) AS n FROM products WHERE sku = ?', [sku]);
    expect(Number(count!.n)).toBe(1);
  });

  it('when a product is upserted while units are held, then the held units stay reserved and the stock total counts them', async () => {
    const sku = await product({ available: 10 });
    expect((await reserve(uniqueId('ord'), [{ sku, quantity: 4 }])).status).toBe(201);
    expect(await productRow(sku)).toMatchObject({ available: 6, reserved: 4, stock_total: 10 });
    const res = await operator().put(`/products/${sku}`).send({ name: 'Restocked', priceCents: 250, available: 20 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ available: 20, reserved: 4, committed: 0 });
    expect(await productRow(sku)).toMatchObject({ available: 20, reserved: 4, stock_total: 24 });
  });

  it('when a product is read, then GET answers its stock counters as stored', async () => {
    const sku = await product({ name: 'Lamp', priceCents: 4500, available: 3 });
    const res = await api().get(`/products/${sku}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      sku,
      name: 'Lamp',
      nameVersion: 1,
      priceCents: 4500,
      available: 3,
      reserved: 0,
      committed: 0,
    });
    expect(await productRow(sku)).toMatchObject({ available: 3, reserved: 0, committed: 0 });
  });

  it('when an unknown product is read, then 404 PRODUCT_NOT_FOUND and no row appears', async () => {
    const sku = uniqueId('SKU');
    const res = await api().get(`/products/${sku}`);
    expectError(res, 404, 'PRODUCT_NOT_FOUND');
    expect(res.body.error.message).toContain(sku);
    expect(await productRow(sku)).toBeUndefined();
  });

  it('when a product is read with an invalid SKU, then 400 VALIDATION_FAILED', async () => {
    const before = await fingerprint(inventory());
    const res = await api().get(`/products/${encodeURIComponent('bad sku!')}`);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(await fingerprint(inventory())).toEqual(before);
  });
});

describe('reservations', () => {
  it('when stock is reserved, then units move from available to reserved and names, prices and the total are returned', async () => {
    const a = await product({ name: 'Apple', priceCents: 120, available: 10 });
    const b = await product({ name: 'Banana', priceCents: 35, available: 4 });
    const orderId = uniqueId('ord');
    const res = await reserve(orderId, [
      { sku: b, quantity: 4 },
      { sku: a, quantity: 3 },
    ]);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      orderId,
      status: 'HELD',
      tombstone: false,
      totalCents: 3 * 120 + 4 * 35,
      lines: expect.arrayContaining([
        { sku: a, quantity: 3, productName: 'Apple', nameVersion: 1, unitPriceCents: 120 },
        { sku: b, quantity: 4, productName: 'Banana', nameVersion: 1, unitPriceCents: 35 },
      ]),
    });
    expect(res.body.lines).toHaveLength(2);
    expect(await productRow(a)).toMatchObject({ available: 7, reserved: 3, committed: 0 });
    expect(await productRow(b)).toMatchObject({ available: 0, reserved: 4, committed: 0 });
    expect(await reservationRow(orderId)).toEqual({ status: 'HELD', tombstone: 0, total_cents: 500 });
    expect(await reservationLines(orderId)).toEqual(
      [
        { sku: a, quantity: 3, product_name: 'Apple', name_version: 1, unit_price_cents: 120 },
        { sku: b, quantity: 4, product_name: 'Banana', name_version: 1, unit_price_cents: 35 },
      ].sort((x, y) => (x.sku < y.sku ? -1 : 1)),
    );

    const read = await api().get(`/reservations/${orderId}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ orderId, status: 'HELD', totalCents: 500 });
  });

  it('when the same SKU appears on two lines, then they are held as one line with the summed quantity', async () => {
    const sku = await product({ priceCents: 10, available: 5 });
    const orderId = uniqueId('ord');
    const res = await reserve(orderId, [
      { sku, quantity: 2 },
      { sku, quantity: 1 },
    ]);
    expect(res.status).toBe(201);
    expect(res.body.lines).toEqual([expect.objectContaining({ sku, quantity: 3 })]);
    expect(res.body.totalCents).toBe(30);
    expect(await productRow(sku)).toMatchObject({ available: 2, reserved: 3 });
    expect(await reservationLines(orderId)).toHaveLength(1);
  });

  it('when one line of several lacks stock, then 409 INSUFFICIENT_STOCK and no line holds anything', async () => {
    const plenty = await product({ available: 50 });
    const scarce = await product({ available: 2 });
    const orderId = uniqueId('ord');
    const res = await reserve(orderId, [
      { sku: plenty, quantity: 5 },
      { sku: scarce, quantity: 3 },
    ]);
    expectError(res, 409, 'INSUFFICIENT_STOCK');
    expect(res.body.error.details).toEqual({ lines: [{ sku: scarce, requested: 3, available: 2 }] });
    expect(await productRow(plenty)).toMatchObject({ available: 50, reserved: 0 });
    expect(await productRow(scarce)).toMatchObject({ available: 2, reserved: 0 });
    expect(await reservationRow(orderId)).toBeUndefined();
    expect(await reservationLines(orderId)).toEqual([]);
    expectError(await api().get(`/reservations/${orderId}`), 404, 'RESERVATION_NOT_FOUND');
  });

  it('when a line names an unknown SKU, then 422 UNKNOWN_SKU and the known lines hold nothing', async () => {
    const known = await product({ available: 5 });
    const missing = uniqueId('SKU');
    const orderId = uniqueId('ord');
    const res = await reserve(orderId, [
      { sku: known, quantity: 1 },
      { sku: missing, quantity: 1 },
    ]);
    expectError(res, 422, 'UNKNOWN_SKU');
    expect(res.body.error.details).toEqual({ skus: [missing] });
    expect(await productRow(known)).toMatchObject({ available: 5, reserved: 0 });
    expect(await productRow(missing)).toBeUndefined();
    expect(await reservationRow(orderId)).toBeUndefined();
  });

  it('when a refused order is later reserved with enough stock, then it holds normally', async () => {
    const sku = await product({ available: 2 });
    const orderId = uniqueId('ord');
    expectError(await reserve(orderId, [{ sku, quantity: 3 }]), 409, 'INSUFFICIENT_STOCK');
    const res = await reserve(orderId, [{ sku, quantity: 2 }]);
    expect(res.status).toBe(201);
    expect(await productRow(sku)).toMatchObject({ available: 0, reserved: 2 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'HELD' });
  });

  it('when the same reservation is repeated without a key, then the existing hold is answered and nothing more is held', async () => {
    const sku = await product({ priceCents: 100, available: 10 });
    const orderId = uniqueId('ord');
    const first = await reserve(orderId, [{ sku, quantity: 2 }]);
    expect(first.status).toBe(201);
    const again = await reserve(orderId, [{ sku, quantity: 2 }]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await productRow(sku)).toMatchObject({ available: 8, reserved: 2 });
  });

  it('when an order that holds stock asks for different lines, then 409 RESERVATION_CONFLICT and the hold is unchanged', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 2 }])).status).toBe(201);
    const res = await reserve(orderId, [{ sku, quantity: 5 }]);
    expectError(res, 409, 'RESERVATION_CONFLICT');
    expect(await productRow(sku)).toMatchObject({ available: 8, reserved: 2 });
    expect(await reservationLines(orderId)).toEqual([expect.objectContaining({ sku, quantity: 2 })]);
  });

  it('when a reservation is released, then its units return to available', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 6 }])).status).toBe(201);
    const res = await api().post(`/reservations/${orderId}/release`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId, status: 'RELEASED', tombstone: false });
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'RELEASED', tombstone: 0 });
  });

  it('when a release is repeated, then the units are returned only once', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 3 }])).status).toBe(201);
    expect((await api().post(`/reservations/${orderId}/release`)).status).toBe(200);
    const again = await api().post(`/reservations/${orderId}/release`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'RELEASED' });
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0 });
  });

  it('when a reservation is committed, then its units move from reserved to committed', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 4 }])).status).toBe(201);
    const res = await api().post(`/reservations/${orderId}/commit`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId, status: 'COMMITTED' });
    expect(await productRow(sku)).toMatchObject({ available: 6, reserved: 0, committed: 4 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'COMMITTED' });

    const again = await api().post(`/reservations/${orderId}/commit`);
    expect(again.status).toBe(200);
    expect(await productRow(sku)).toMatchObject({ available: 6, reserved: 0, committed: 4 });
  });

  it('when a committed reservation is released, then 409 ILLEGAL_TRANSITION and the units stay committed', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 4 }])).status).toBe(201);
    expect((await api().post(`/reservations/${orderId}/commit`)).status).toBe(200);
    const res = await api().post(`/reservations/${orderId}/release`);
    expectError(res, 409, 'ILLEGAL_TRANSITION');
    expect(await productRow(sku)).toMatchObject({ available: 6, reserved: 0, committed: 4 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'COMMITTED' });
  });

  it('when a released reservation is committed, then 409 ILLEGAL_TRANSITION and nothing is committed', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 4 }])).status).toBe(201);
    expect((await api().post(`/reservations/${orderId}/release`)).status).toBe(200);
    const res = await api().post(`/reservations/${orderId}/commit`);
    expectError(res, 409, 'ILLEGAL_TRANSITION');
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'RELEASED' });
  });

  it('when an order without a reservation is committed, then 404 RESERVATION_NOT_FOUND and no row is created', async () => {
    const orderId = uniqueId('ord');
    const res = await api().post(`/reservations/${orderId}/commit`);
    expectError(res, 404, 'RESERVATION_NOT_FOUND');
    expect(await reservationRow(orderId)).toBeUndefined();
  });

  it('when the release arrives before its reservation, then a tombstone makes the late reservation 409 RESERVATION_RELEASED without holding stock', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    const release = await api().post(`/reservations/${orderId}/release`);
    expect(release.status).toBe(200);
    expect(release.body).toEqual({ orderId, status: 'RELEASED', tombstone: true, totalCents: 0, lines: [] });
    expect(await reservationRow(orderId)).toEqual({ status: 'RELEASED', tombstone: 1, total_cents: 0 });

    const late = await reserve(orderId, [{ sku, quantity: 3 }]);
    expectError(late, 409, 'RESERVATION_RELEASED');
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
    expect(await reservationRow(orderId)).toEqual({ status: 'RELEASED', tombstone: 1, total_cents: 0 });
    expect(await reservationLines(orderId)).toEqual([]);

    expectError(await api().post(`/reservations/${orderId}/commit`), 409, 'ILLEGAL_TRANSITION');
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
  });

  it('when 30 orders reserve 1 unit each at once against 10 in stock, then exactly 10 hold and stock never goes negative', async () => {
    const sku = await product({ available: 10 });
    const orderIds = Array.from({ length: 30 }, () => uniqueId('race'));
    const results = await Promise.all(orderIds.map((orderId) => reserve(orderId, [{ sku, quantity: 1 }])));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(20);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('INSUFFICIENT_STOCK');
    expect(await productRow(sku)).toMatchObject({ available: 0, reserved: 10, committed: 0 });
    const rows = await inventory().query<{ status: string; n: number }>(
      `SELECT status, COUNT(*) AS n FROM reservations WHERE order_id IN (${orderIds.map(() => '?').join(',')}) GROUP BY status`,
      orderIds,
    );
    expect(rows.map((r) => ({ status: r.status, n: Number(r.n) }))).toEqual([{ status: 'HELD', n: 10 }]);
    const [lines] = await inventory().query<{ n: number }>(
      'SELECT COALESCE(SUM(quantity), 0) AS n FROM reservation_lines WHERE sku = ?',
      [sku],
    );
    expect(Number(lines!.n)).toBe(10);
  });

  it('when orders reserve two SKUs in opposite line orders at once, then none fails and the counters add up', async () => {
    const a = await product({ available: 100 });
    const b = await product({ available: 100 });
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        reserve(
          uniqueId('cross'),
          i % 2 === 0
            ? [
                { sku: a, quantity: 1 },
                { sku: b, quantity: 2 },
              ]
            : [
                { sku: b, quantity: 2 },
                { sku: a, quantity: 1 },
              ],
        ),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(201));
    expect(await productRow(a)).toMatchObject({ available: 84, reserved: 16 });
    expect(await productRow(b)).toMatchObject({ available: 68, reserved: 32 });
  });

  it('when reservations and releases of the same SKU interleave, then available + reserved stays the stock', async () => {
    const sku = await product({ available: 20 });
    const orderIds = Array.from({ length: 10 }, () => uniqueId('mix'));
    for (const id of orderIds.slice(0, 5)) expect((await reserve(id, [{ sku, quantity: 2 }])).status).toBe(201);
    const results = await Promise.all([
      ...orderIds.slice(0, 5).map((id) => api().post(`/reservations/${id}/release`)),
      ...orderIds.slice(5).map((id) => reserve(id, [{ sku, quantity: 2 }])),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201, 201, 201, 201, 201]);
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 10, stock_total: 20 });
  });
});

describe('returning the stock of a cancelled order', () => {
  const returnStock = (orderId: string) => api().post(`/reservations/${orderId}/return`).send({});

  /** A reservation of `quantity` units of a fresh SKU (10 available), committed unless `commit` is false. */
  async function reservation(quantity: number, commit = true) {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity }])).status).toBe(201);
    if (commit) expect((await api().post(`/reservations/${orderId}/commit`)).status).toBe(200);
    return { sku, orderId };
  }

  it('when committed stock is returned, then its units are available again, the reservation is RETURNED and a repeat is a no-op', async () => {
    const { sku, orderId } = await reservation(3);
    expect(await productRow(sku)).toMatchObject({ available: 7, reserved: 0, committed: 3, stock_total: 10 });
    const res = await returnStock(orderId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      orderId,
      status: 'RETURNED',
      tombstone: false,
      lines: [expect.objectContaining({ sku, quantity: 3 })],
    });
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0, stock_total: 10 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'RETURNED' });

    const again = await returnStock(orderId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
    const events = await inventory().query<{ type: string }>(
      "SELECT type FROM outbox WHERE aggregate = 'reservation' AND aggregate_id = ? ORDER BY seq",
      [orderId],
    );
    expect(events.map((e) => e.type)).toEqual(['StockReserved', 'StockCommitted', 'StockReturned']);
  });

  it('when stock still only held (its commit not landed yet) is returned, then it leaves reserved, and the late commit changes nothing', async () => {
    const { sku, orderId } = await reservation(2, false);
    expect(await productRow(sku)).toMatchObject({ available: 8, reserved: 2, committed: 0 });
    expect((await returnStock(orderId)).body).toMatchObject({ status: 'RETURNED' });
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0, stock_total: 10 });
    const late = await api().post(`/reservations/${orderId}/commit`);
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ status: 'RETURNED' });
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
  });

  it('when there is no reservation, then 404 RESERVATION_NOT_FOUND and no row is created; when it was released, then 409 ILLEGAL_TRANSITION', async () => {
    const unknown = uniqueId('ord');
    const { sku, orderId: released } = await reservation(1, false);
    expect((await api().post(`/reservations/${released}/release`)).status).toBe(200);
    const before = await fingerprint(inventory());
    const missing = await returnStock(unknown);
    expectError(missing, 404, 'RESERVATION_NOT_FOUND');
    expect(missing.body.error.message).toContain(unknown);
    expectError(await returnStock(released), 409, 'ILLEGAL_TRANSITION');
    expect(await fingerprint(inventory())).toEqual(before);
    expect(await reservationRow(unknown)).toBeUndefined();
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0 });
  });

  it('when the gateway or the operator returns stock, then 403 FORBIDDEN and it stays committed', async () => {
    const { sku, orderId } = await reservation(1);
    for (const caller of ['gateway', 'operator'] as const) {
      expectError(await stack.inventory.as(caller).post(`/reservations/${orderId}/return`).send({}), 403, 'FORBIDDEN');
    }
    expect(await productRow(sku)).toMatchObject({ available: 9, committed: 1 });
  });

  it('when 10 returns of one order race without keys, then the units come back once', async () => {
    const { sku, orderId } = await reservation(4);
    const results = await Promise.all(Array.from({ length: 10 }, () => returnStock(orderId)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await productRow(sku)).toMatchObject({ available: 10, reserved: 0, committed: 0, stock_total: 10 });
  });
});

describe('renames', () => {
  async function rename(sku: string, renameId: string, name: string) {
    return api().post(`/products/${sku}/rename`).send({ renameId, name });
  }
  async function revert(sku: string, renameId: string) {
    return api().post(`/products/${sku}/renames/${renameId}/revert`);
  }
  async function renameRow(renameId: string) {
    const [row] = await inventory().query<{
      sku: string;
      status: string;
      from_name: string | null;
      to_name: string | null;
      version: number | null;
    }>('SELECT sku, status, from_name, to_name, version FROM product_renames WHERE rename_id = ?', [renameId]);
    return row;
  }

  it('when a product is renamed, then its name changes and nameVersion goes up by one', async () => {
    const sku = await product({ name: 'Chair' });
    const renameId = uniqueId('ren');
    const res = await rename(sku, renameId, 'Armchair');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ renameId, sku, name: 'Armchair', version: 2, previousName: 'Chair' });
    expect(await productRow(sku)).toMatchObject({ name: 'Armchair', name_version: 2 });
    expect(await renameRow(renameId)).toEqual({
      sku,
      status: 'APPLIED',
      from_name: 'Chair',
      to_name: 'Armchair',
      version: 2,
    });
  });

  it('when a rename is repeated, then it answers the same result and the version does not move again', async () => {
    const sku = await product({ name: 'Desk' });
    const renameId = uniqueId('ren');
    const first = await rename(sku, renameId, 'Standing desk');
    const again = await rename(sku, renameId, 'Standing desk');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await productRow(sku)).toMatchObject({ name: 'Standing desk', name_version: 2 });
  });

  it('when a rename ID is reused with another name or another product, then 409 RENAME_CONFLICT and nothing changes', async () => {
    const sku = await product({ name: 'Sofa' });
    const other = await product({ name: 'Bed' });
    const renameId = uniqueId('ren');
    expect((await rename(sku, renameId, 'Couch')).status).toBe(200);
    expectError(await rename(sku, renameId, 'Settee'), 409, 'RENAME_CONFLICT');
    expectError(await rename(other, renameId, 'Couch'), 409, 'RENAME_CONFLICT');
    expect(await productRow(sku)).toMatchObject({ name: 'Couch', name_version: 2 });
    expect(await productRow(other)).toMatchObject({ name: 'Bed', name_version: 1 });
    expect(await renameRow(renameId)).toMatchObject({ sku, to_name: 'Couch', version: 2 });
  });

  it('when an unknown product is renamed, then 404 PRODUCT_NOT_FOUND and no rename is recorded', async () => {
    const sku = uniqueId('SKU');
    const renameId = uniqueId('ren');
    expectError(await rename(sku, renameId, 'Ghost'), 404, 'PRODUCT_NOT_FOUND');
    expect(await renameRow(renameId)).toBeUndefined();
    expect(await productRow(sku)).toBeUndefined();
  });

  it('when a rename is reverted, then the old name comes back with a higher version', async () => {
    const sku = await product({ name: 'Table' });
    const renameId = uniqueId('ren');
    expect((await rename(sku, renameId, 'Dining table')).status).toBe(200);
    const res = await revert(sku, renameId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ renameId, sku, reverted: true, name: 'Table', version: 3 });
    expect(await productRow(sku)).toMatchObject({ name: 'Table', name_version: 3 });
    expect(await renameRow(renameId)).toMatchObject({ status: 'REVERTED', version: 2 });

    const again = await revert(sku, renameId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ renameId, sku, reverted: false, reason: 'ALREADY_REVERTED' });
    expect(await productRow(sku)).toMatchObject({ name: 'Table', name_version: 3 });
  });

  it('when a later rename happened, then reverting the earlier one is a SUPERSEDED no-op', async () => {
    const sku = await product({ name: 'Shelf' });
    const first = uniqueId('ren');
    const second = uniqueId('ren');
    expect((await rename(sku, first, 'Bookshelf')).status).toBe(200);
    expect((await rename(sku, second, 'Bookcase')).status).toBe(200);
    const res = await revert(sku, first);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ renameId: first, sku, reverted: false, reason: 'SUPERSEDED' });
    expect(await productRow(sku)).toMatchObject({ name: 'Bookcase', name_version: 3 });
    expect(await renameRow(first)).toMatchObject({ status: 'REVERTED' });
    expect(await renameRow(second)).toMatchObject({ status: 'APPLIED', version: 3 });
  });

  /** The ProductRenamed events of `sku` in outbox order: the name and version each one carries. */
  async function renamedEvents(sku: string) {
    const rows = await inventory().query<{ body: string }>(
      "SELECT body FROM outbox WHERE aggregate = 'product' AND aggregate_id = ? AND type = 'ProductRenamed' ORDER BY seq",
      [sku],
    );
    return rows.map((r) => {
      const { payload } = JSON.parse(r.body) as { payload: { name: string; nameVersion: number } };
      return `${payload.name}@${payload.nameVersion}`;
    });
  }

  it('when two overlapping renames are reverted newest first, then the name goes back past both, each step a new version with its event', async () => {
    const sku = await product({ name: 'Vase' });
    const older = uniqueId('ren');
    const newer = uniqueId('ren');
    expect((await rename(sku, older, 'Tall vase')).status).toBe(200);
    expect((await rename(sku, newer, 'Short vase')).status).toBe(200);

    const first = await revert(sku, newer);
    expect(first.body).toEqual({ renameId: newer, sku, reverted: true, name: 'Tall vase', version: 4 });
    const second = await revert(sku, older);
    expect(second.body).toEqual({ renameId: older, sku, reverted: true, name: 'Vase', version: 5 });
    expect(await productRow(sku)).toMatchObject({ name: 'Vase', name_version: 5 });
    expect(await renamedEvents(sku)).toEqual(['Tall vase@2', 'Short vase@3', 'Tall vase@4', 'Vase@5']);
  });

  it('when the older of two overlapping renames is reverted first, then reverting the newer one goes back to the name before both, not to the reverted one', async () => {
    const sku = await product({ name: 'Clock' });
    const older = uniqueId('ren');
    const newer = uniqueId('ren');
    expect((await rename(sku, older, 'Wall clock')).status).toBe(200);
    expect((await rename(sku, newer, 'Desk clock')).status).toBe(200);

    expect((await revert(sku, older)).body).toEqual({ renameId: older, sku, reverted: false, reason: 'SUPERSEDED' });
    expect(await productRow(sku)).toMatchObject({ name: 'Desk clock', name_version: 3 });
    const res = await revert(sku, newer);
    expect(res.body).toEqual({ renameId: newer, sku, reverted: true, name: 'Clock', version: 4 });
    expect(await productRow(sku)).toMatchObject({ name: 'Clock', name_version: 4 });
    expect(await renamedEvents(sku)).toEqual(['Wall clock@2', 'Desk clock@3', 'Clock@4']);
  });

  it('when the newest rename is reverted, then the name goes back to the newest rename that stands, skipping a reverted one between', async () => {
    const sku = await product({ name: 'Rug' });
    const [kept, undone, newest] = [uniqueId('ren'), uniqueId('ren'), uniqueId('ren')];
    expect((await rename(sku, kept, 'Wool rug')).status).toBe(200);
    expect((await rename(sku, undone, 'Silk rug')).status).toBe(200);
    expect((await rename(sku, newest, 'Jute rug')).status).toBe(200);
    expect((await revert(sku, undone)).body).toMatchObject({ reverted: false, reason: 'SUPERSEDED' });

    expect((await revert(sku, newest)).body).toEqual({
      renameId: newest,
      sku,
      reverted: true,
      name: 'Wool rug',
      version: 5,
    });
    expect(await renameRow(kept)).toMatchObject({ status: 'APPLIED', version: 2 });
  });

  it('when the catalog renamed the product after a rename, then reverting a later rename goes back to the catalog name and the earlier rename stays superseded', async () => {
    const sku = await product({ name: 'Lamp', priceCents: 100, available: 10 });
    const before = uniqueId('ren');
    const after = uniqueId('ren');
    expect((await rename(sku, before, 'Desk lamp')).status).toBe(200);
    expect(
      (await operator().put(`/products/${sku}`).send({ name: 'Floor lamp', priceCents: 100, available: 10 })).body,
    ).toMatchObject({ name: 'Floor lamp', nameVersion: 3 });
    expect((await rename(sku, after, 'Reading lamp')).status).toBe(200);

    expect((await revert(sku, after)).body).toEqual({
      renameId: after,
      sku,
      reverted: true,
      name: 'Floor lamp',
      version: 5,
    });
    expect((await revert(sku, before)).body).toMatchObject({ reverted: false, reason: 'SUPERSEDED' });
    expect(await productRow(sku)).toMatchObject({ name: 'Floor lamp', name_version: 5 });
  });

  it('when a rename to the name the product already had is reverted, then nothing moves: no new version, no event', async () => {
    const sku = await product({ name: 'Cup' });
    const renameId = uniqueId('ren');
    expect((await rename(sku, renameId, 'Cup')).body).toMatchObject({ name: 'Cup', version: 2 });
    expect((await revert(sku, renameId)).body).toEqual({ renameId, sku, reverted: true, name: 'Cup', version: 2 });
    expect(await productRow(sku)).toMatchObject({ name: 'Cup', name_version: 2 });
    expect(await renamedEvents(sku)).toEqual([]);
  });

  it('when the revert arrives before its rename, then a tombstone makes the late rename 409 RENAME_REVERTED and the name stays', async () => {
    const sku = await product({ name: 'Stool' });
    const renameId = uniqueId('ren');
    const early = await revert(sku, renameId);
    expect(early.status).toBe(200);
    expect(early.body).toEqual({ renameId, sku, reverted: false, reason: 'TOMBSTONE' });
    expect(await renameRow(renameId)).toEqual({
      sku,
      status: 'REVERTED',
      from_name: null,
      to_name: null,
      version: null,
    });

    const late = await rename(sku, renameId, 'Bar stool');
    expectError(late, 409, 'RENAME_REVERTED');
    expect(await productRow(sku)).toMatchObject({ name: 'Stool', name_version: 1 });
    expect(await renameRow(renameId)).toMatchObject({ status: 'REVERTED', version: null });
  });

  it('when a revert names a rename of another product, then 409 RENAME_CONFLICT and neither product changes', async () => {
    const renamed = await product({ name: 'Kettle' });
    const other = await product({ name: 'Toaster' });
    // Give the other product the same name version, so only the SKU tells the two apart.
    expect(
      (await operator().put(`/products/${other}`).send({ name: 'Toaster 2', priceCents: 250, available: 10 })).status,
    ).toBe(200);
    const renameId = uniqueId('ren');
    expect((await rename(renamed, renameId, 'Electric kettle')).status).toBe(200);

    const res = await revert(other, renameId);
    expectError(res, 409, 'RENAME_CONFLICT');
    expect(await productRow(other)).toMatchObject({ name: 'Toaster 2', name_version: 2 });
    expect(await productRow(renamed)).toMatchObject({ name: 'Electric kettle', name_version: 2 });
    expect(await renameRow(renameId)).toMatchObject({ sku: renamed, status: 'APPLIED' });
  });

  it('when a product was renamed, then new reservations carry the new name and version', async () => {
    const sku = await product({ name: 'Pen', priceCents: 99 });
    expect((await rename(sku, uniqueId('ren'), 'Fountain pen')).status).toBe(200);
    const orderId = uniqueId('ord');
    const res = await reserve(orderId, [{ sku, quantity: 1 }]);
    expect(res.status).toBe(201);
    expect(res.body.lines).toEqual([
      { sku, quantity: 1, productName: 'Fountain pen', nameVersion: 2, unitPriceCents: 99 },
    ]);
    expect(await reservationLines(orderId)).toEqual([
      { sku, quantity: 1, product_name: 'Fountain pen', name_version: 2, unit_price_cents: 99 },
    ]);
  });
});

describe('idempotency', () => {
  const key = () => uniqueId('idem');

  describeIdempotency(inventory, key, [
    {
      name: 'PUT /products/:sku',
      status: 201,
      prepare: async () => {
        const sku = uniqueId('SKU');
        return {
          method: 'put',
          path: `/products/${sku}`,
          body: { name: 'Cup', priceCents: 5, available: 3 },
          otherBody: { name: 'Cup', priceCents: 6, available: 3 },
          caller: 'operator',
        };
      },
    },
    {
      name: 'POST /reservations',
      status: 201,
      prepare: async () => {
        const sku = await product({ available: 10 });
        const orderId = uniqueId('ord');
        return {
          method: 'post',
          path: '/reservations',
          body: { orderId, lines: [{ sku, quantity: 2 }] },
          otherBody: { orderId, lines: [{ sku, quantity: 3 }] },
        };
      },
    },
    {
      name: 'POST /reservations (a stored INSUFFICIENT_STOCK)',
      status: 409,
      prepare: async () => {
        const sku = await product({ available: 1 });
        const orderId = uniqueId('ord');
        return {
          method: 'post',
          path: '/reservations',
          body: { orderId, lines: [{ sku, quantity: 2 }] },
          otherBody: { orderId, lines: [{ sku, quantity: 1 }] },
        };
      },
    },
    {
      name: 'POST /reservations/:orderId/release',
      status: 200,
      prepare: async () => {
        const sku = await product({ available: 10 });
        const orderId = uniqueId('ord');
        expect((await reserve(orderId, [{ sku, quantity: 1 }])).status).toBe(201);
        // The body is always empty: the other request is another order's release under the same key.
        return {
          method: 'post',
          path: `/reservations/${orderId}/release`,
          body: {},
          otherBody: {},
          otherPath: `/reservations/${uniqueId('ord')}/release`,
        };
      },
    },
    {
      name: 'POST /reservations/:orderId/commit',
      status: 200,
      prepare: async () => {
        const sku = await product({ available: 10 });
        const orderId = uniqueId('ord');
        expect((await reserve(orderId, [{ sku, quantity: 1 }])).status).toBe(201);
        return {
          method: 'post',
          path: `/reservations/${orderId}/commit`,
          body: {},
          otherBody: {},
          otherPath: `/reservations/${uniqueId('ord')}/commit`,
        };
      },
    },
    {
      name: 'POST /products/:sku/rename',
      status: 200,
      prepare: async () => {
        const sku = await product({ name: 'Old' });
        const renameId = uniqueId('ren');
        return {
          method: 'post',
          path: `/products/${sku}/rename`,
          body: { renameId, name: 'New' },
          otherBody: { renameId, name: 'Newer' },
        };
      },
    },
    {
      name: 'POST /products/:sku/renames/:renameId/revert',
      status: 200,
      prepare: async () => {
        const sku = await product({ name: 'Old' });
        const renameId = uniqueId('ren');
        expect((await api().post(`/products/${sku}/rename`).send({ renameId, name: 'New' })).status).toBe(200);
        return {
          method: 'post',
          path: `/products/${sku}/renames/${renameId}/revert`,
          body: {},
          otherBody: {},
          otherPath: `/products/${sku}/renames/${uniqueId('ren')}/revert`,
        };
      },
    },
    {
      name: 'POST /reservations/:orderId/return',
      status: 200,
      prepare: async () => {
        const sku = await product({ available: 5 });
        const orderId = uniqueId('ord');
        expect((await reserve(orderId, [{ sku, quantity: 2 }])).status).toBe(201);
        expect((await api().post(`/reservations/${orderId}/commit`)).status).toBe(200);
        return {
          method: 'post',
          path: `/reservations/${orderId}/return`,
          body: {},
          otherBody: {},
          otherPath: `/reservations/${uniqueId('ord')}/return`,
        };
      },
    },
  ]);

  it('when a reservation is replayed with its key, then stock is held once', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    const k = key();
    const first = await api()
      .post('/reservations')
      .set('Idempotency-Key', k)
      .send({ orderId, lines: [{ sku, quantity: 4 }] });
    const second = await api()
      .post('/reservations')
      .set('Idempotency-Key', k)
      .send({ orderId, lines: [{ sku, quantity: 4 }] });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await productRow(sku)).toMatchObject({ available: 6, reserved: 4 });
    expect(await reservationLines(orderId)).toHaveLength(1);
  });

  it('when 10 identical reservations race with one key, then stock is held exactly once and all answers agree', async () => {
    const sku = await product({ available: 100 });
    const orderId = uniqueId('ord');
    const k = key();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        api()
          .post('/reservations')
          .set('Idempotency-Key', k)
          .send({ orderId, lines: [{ sku, quantity: 7 }] }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    for (const r of results) expect(r.body).toEqual(results[0]!.body);
    expect(results.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(9);
    expect(await productRow(sku)).toMatchObject({ available: 93, reserved: 7 });
    const [keys] = await inventory().query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM idempotency_keys WHERE idem_key = ?',
      [k],
    );
    expect(Number(keys!.n)).toBe(1);
  });

  it('when the same key is used on another path, then 422 IDEMPOTENCY_KEY_REUSED and the second request has no effect', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    const k = key();
    expect(
      (
        await api()
          .post('/reservations')
          .set('Idempotency-Key', k)
          .send({ orderId, lines: [{ sku, quantity: 1 }] })
      ).status,
    ).toBe(201);
    const res = await api().post(`/reservations/${orderId}/release`).set('Idempotency-Key', k);
    expectError(res, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect(await productRow(sku)).toMatchObject({ available: 9, reserved: 1 });
    expect(await reservationRow(orderId)).toMatchObject({ status: 'HELD' });
  });
});

describe('bad input', () => {
  describeBadInput(inventory, {
    method: 'put',
    caller: 'operator',
    path: () => `/products/${uniqueId('SKU')}`,
    validBody: () => ({ name: 'Thing', priceCents: 100, available: 1 }),
    invalid: [
      {
        what: 'a price that is a string',
        body: () => ({ name: 'Thing', priceCents: '100', available: 1 }),
        reports: 'priceCents',
      },
      {
        what: 'a negative available count',
        body: () => ({ name: 'Thing', priceCents: 100, available: -1 }),
        reports: 'available',
      },
      {
        what: 'a fractional price',
        body: () => ({ name: 'Thing', priceCents: 1.5, available: 1 }),
        reports: 'priceCents',
      },
      { what: 'no name', body: () => ({ priceCents: 100, available: 1 }), reports: 'name' },
      { what: 'a blank name', body: () => ({ name: '   ', priceCents: 100, available: 1 }), reports: 'name' },
      {
        what: 'a name of 256 characters',
        body: () => ({ name: 'n'.repeat(256), priceCents: 100, available: 1 }),
        reports: 'name',
      },
    ],
  });

  describeBadInput(inventory, {
    method: 'post',
    path: () => '/reservations',
    validBody: () => ({ orderId: uniqueId('ord'), lines: [{ sku: 'SKU-any', quantity: 1 }] }),
    invalid: [
      {
        what: 'quantity 0',
        body: () => ({ orderId: uniqueId('ord'), lines: [{ sku: 'SKU-any', quantity: 0 }] }),
        reports: 'lines.0.quantity',
      },
      {
        what: 'a quantity that is a string',
        body: () => ({ orderId: uniqueId('ord'), lines: [{ sku: 'SKU-any', quantity: '2' }] }),
        reports: 'lines.0.quantity',
      },
      { what: 'no lines', body: () => ({ orderId: uniqueId('ord'), lines: [] }), reports: 'lines' },
      { what: 'no orderId', body: () => ({ lines: [{ sku: 'SKU-any', quantity: 1 }] }), reports: 'orderId' },
      {
        what: 'an orderId with spaces',
        body: () => ({ orderId: 'order 1', lines: [{ sku: 'SKU-any', quantity: 1 }] }),
        reports: 'orderId',
      },
      {
        what: 'an unknown field on a line',
        body: () => ({ orderId: uniqueId('ord'), lines: [{ sku: 'SKU-any', quantity: 1, price: 3 }] }),
        reports: 'lines.0',
      },
      {
        what: '51 lines',
        body: () => ({
          orderId: uniqueId('ord'),
          lines: Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })),
        }),
        reports: 'lines',
      },
    ],
  });

  describeBadInput(inventory, {
    method: 'post',
    path: () => `/products/${uniqueId('SKU')}/rename`,
    validBody: () => ({ renameId: uniqueId('ren'), name: 'New name' }),
    invalid: [
      { what: 'no renameId', body: () => ({ name: 'New name' }), reports: 'renameId' },
      { what: 'a numeric name', body: () => ({ renameId: uniqueId('ren'), name: 42 }), reports: 'name' },
    ],
  });

  for (const route of ['release', 'commit', 'return'] as const) {
    describeBadInput(inventory, {
      method: 'post',
      path: () => `/reservations/${uniqueId('ord')}/${route}`,
      validBody: () => ({}),
      invalid: [],
    });
  }
  describeBadInput(inventory, {
    method: 'post',
    path: () => `/products/${uniqueId('SKU')}/renames/${uniqueId('ren')}/revert`,
    validBody: () => ({}),
    invalid: [],
  });

  it('when a revert, release or commit names a hostile ID (NUL, CR/LF, traversal, SQL, 129 characters), then 400 VALIDATION_FAILED and nothing is written', async () => {
    const sku = await product({ name: 'Kept', available: 10 });
    const before = await fingerprint(inventory());
    const hostile = [
      'ren\u0000x',
      'ren\r\nX-Injected: 1',
      '../../etc/passwd',
      "x' OR '1'='1",
      'x; DROP TABLE products; --',
      '.hidden',
      'r'.repeat(129),
      'ren id',
    ];
    for (const id of hostile) {
      const paths = [
        `/products/${sku}/renames/${encodeURIComponent(id)}/revert`,
        `/reservations/${encodeURIComponent(id)}/release`,
        `/reservations/${encodeURIComponent(id)}/commit`,
      ];
      for (const path of paths) {
        const res = await api().post(path).send({});
        expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({
          path,
          status: 400,
          code: 'VALIDATION_FAILED',
        });
      }
    }
    expect(await fingerprint(inventory())).toEqual(before);
    expect(await productRow(sku)).toMatchObject({ name: 'Kept' });
  });

  it('when a product name holds a NUL, CR/LF or a bidi override, then the upsert and the rename are 400 and the name is kept', async () => {
    const sku = await product({ name: 'Kept', available: 10 });
    const before = await fingerprint(inventory());
    for (const name of ['Mug\u0000', 'Mug\r\nX: 1', 'Mug \u202eevil', 'Mug\ud800']) {
      expectError(
        await operator().put(`/products/${sku}`).send({ name, priceCents: 1, available: 1 }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await api()
          .post(`/products/${sku}/rename`)
          .send({ renameId: uniqueId('ren'), name }),
        400,
        'VALIDATION_FAILED',
      );
    }
    expect(await fingerprint(inventory())).toEqual(before);
    expect(await productRow(sku)).toMatchObject({ name: 'Kept', available: 10 });
  });

  it('when a release names an invalid order ID, then 400 VALIDATION_FAILED and nothing is written', async () => {
    const before = await fingerprint(inventory());
    const res = await api().post(`/reservations/${encodeURIComponent('no/such order')}/release`);
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(await fingerprint(inventory())).toEqual(before);
  });

  it('when a release carries malformed JSON or an oversized body, then 400 / 413 and the stock is still held', async () => {
    const sku = await product({ available: 10 });
    const orderId = uniqueId('ord');
    expect((await reserve(orderId, [{ sku, quantity: 2 }])).status).toBe(201);
    const before = await fingerprint(inventory());
    expectError(
      await api().post(`/reservations/${orderId}/release`).set('Content-Type', 'application/json').send('{'),
      400,
      'INVALID_JSON',
    );
    expectError(
      await api()
        .post(`/reservations/${orderId}/release`)
        .send({ pad: 'x'.repeat(70 * 1024) }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expectError(
      await api().post(`/reservations/${orderId}/release`).set('Idempotency-Key', 'k'.repeat(300)),
      400,
      'VALIDATION_FAILED',
    );
    expect(await fingerprint(inventory())).toEqual(before);
    expect(await productRow(sku)).toMatchObject({ available: 8, reserved: 2 });
  });

  it('when a commit or revert carries an invalid Idempotency-Key, then 400 and nothing changes', async () => {
    const sku = await product({ name: 'Old', available: 10 });
    const orderId = uniqueId('ord');
    const renameId = uniqueId('ren');
    expect((await reserve(orderId, [{ sku, quantity: 2 }])).status).toBe(201);
    expect((await api().post(`/products/${sku}/rename`).send({ renameId, name: 'New' })).status).toBe(200);
    const before = await fingerprint(inventory());
    expectError(
      await api().post(`/reservations/${orderId}/commit`).set('Idempotency-Key', 'k'.repeat(300)),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await api().post(`/products/${sku}/renames/${renameId}/revert`).set('Idempotency-Key', 'k'.repeat(300)),
      400,
      'VALIDATION_FAILED',
    );
    expect(await fingerprint(inventory())).toEqual(before);
    expect(await productRow(sku)).toMatchObject({ name: 'New', reserved: 2, committed: 0 });
  });

  it('when a route does not exist, then 404 NOT_FOUND as JSON (405 METHOD_NOT_ALLOWED for a known path) and nothing is written', async () => {
    const before = await fingerprint(inventory());
    expectError(await api().get('/nope'), 404, 'NOT_FOUND');
    const wrongMethod = await api().delete(`/products/${uniqueId('SKU')}`);
    expectError(wrongMethod, 405, 'METHOD_NOT_ALLOWED');
    expect(wrongMethod.headers.allow).toBe('GET, HEAD, PUT');
    expectError(await api().post('/products').send({ name: 'x' }), 404, 'NOT_FOUND');
    expect(await fingerprint(inventory())).toEqual(before);
  });

  it('when a reservation totals more than an INT of cents, then it is HELD with the exact total (no 500)', async () => {
    const a = await product({ priceCents: 100_000_000, available: 100_000 });
    const b = await product({ priceCents: 99_999_999, available: 100_000 });
    const orderId = uniqueId('ord');
    const res = await reserve(orderId, [
      { sku: a, quantity: 10_000 },
      { sku: b, quantity: 10_000 },
    ]);
    expect(res.status).toBe(201);
    expect(res.body.totalCents).toBe(1_999_999_990_000);
    expect(await reservationRow(orderId)).toEqual({ status: 'HELD', tombstone: 0, total_cents: 1_999_999_990_000 });
    expect(await productRow(a)).toMatchObject({ available: 90_000, reserved: 10_000 });
    expect((await api().get(`/reservations/${orderId}`)).body.totalCents).toBe(1_999_999_990_000);
  });
});

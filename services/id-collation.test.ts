/**
 * One rule for IDs in every service: SKUs, order IDs, customer, rename, payment and shipment IDs
 * are compared byte for byte, as the code compares them (each service's migrations give the ID
 * columns the utf8mb4_bin collation). With the databases' default case-insensitive collation,
 * `PUT /products/fz-1` overwrote FZ-1 while a reservation of fz-1 answered UNKNOWN_SKU.
 */
import { startServices, uniqueId, type ServiceStack } from '../test/support/services';
import { ADDRESS } from '../test/support/fixtures';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('collation');
});
afterAll(async () => {
  await stack?.stop();
});

/** The same ID in upper and lower case (unique per test). */
function pair(label: string): [string, string] {
  const id = uniqueId(label);
  return [id.toUpperCase(), id.toLowerCase()];
}

describe('SKUs differing only in case', () => {
  it('when FZ-1 and fz-1 are put, then they are two products and neither overwrites the other', async () => {
    const [upper, lower] = pair('fz');
    expect(
      (
        await stack.inventory
          .as('operator')
          .put(`/products/${upper}`)
          .send({ name: 'Upper', priceCents: 100, available: 10 })
      ).status,
    ).toBe(201);
    expect(
      (
        await stack.inventory
          .as('operator')
          .put(`/products/${lower}`)
          .send({ name: 'Lower', priceCents: 1, available: 3 })
      ).status,
    ).toBe(201);
    const rows = await stack.inventory.query<{ sku: string; name: string; price_cents: number; available: number }>(
      'SELECT sku, name, price_cents, available FROM products WHERE sku IN (?, ?) ORDER BY name',
      [upper, lower],
    );
    expect(rows).toEqual([
      { sku: lower, name: 'Lower', price_cents: 1, available: 3 },
      { sku: upper, name: 'Upper', price_cents: 100, available: 10 },
    ]);
    expect((await stack.inventory.as().get(`/products/${lower}`)).body).toMatchObject({ sku: lower, name: 'Lower' });
    expect((await stack.inventory.as().get(`/products/${upper}`)).body).toMatchObject({ sku: upper, name: 'Upper' });
  });

  it('when fz-1 is reserved, then fz-1 is held, not FZ-1, and a SKU that exists only in the other case is UNKNOWN_SKU', async () => {
    const [upper, lower] = pair('fz');
    await stack.inventory
      .as('operator')
      .put(`/products/${upper}`)
      .send({ name: 'Upper', priceCents: 100, available: 10 });
    await stack.inventory.as('operator').put(`/products/${lower}`).send({ name: 'Lower', priceCents: 1, available: 3 });
    const orderId = uniqueId('ord');
    const held = await stack.inventory
      .as()
      .post('/reservations')
      .send({ orderId, lines: [{ sku: lower, quantity: 2 }] });
    expect(held.status).toBe(201);
    expect(held.body.totalCents).toBe(2);
    const stock = await stack.inventory.query<{ sku: string; available: number; reserved: number }>(
      'SELECT sku, available, reserved FROM products WHERE sku IN (?, ?) ORDER BY sku',
      [upper, lower],
    );
    expect(Object.fromEntries(stock.map((r) => [r.sku, [r.available, r.reserved]]))).toEqual({
      [lower]: [1, 2],
      [upper]: [10, 0],
    });

    const onlyUpper = uniqueId('only').toUpperCase();
    await stack.inventory
      .as('operator')
      .put(`/products/${onlyUpper}`)
      .send({ name: 'Only upper', priceCents: 5, available: 5 });
    const unknown = await stack.inventory
      .as()
      .post('/reservations')
      .send({ orderId: uniqueId('ord'), lines: [{ sku: onlyUpper.toLowerCase(), quantity: 1 }] });
    expect({ status: unknown.status, code: unknown.body.error?.code }).toEqual({ status: 422, code: 'UNKNOWN_SKU' });
  });

  it('when a name copy arrives for fz-1, then the orders service keeps FZ-1 and fz-1 apart', async () => {
    const [upper, lower] = pair('fz');
    expect(
      (await stack.orders.as().put(`/product-names/${upper}`).send({ name: 'Upper', version: 2 })).body.applied,
    ).toBe(true);
    expect(
      (await stack.orders.as().put(`/product-names/${lower}`).send({ name: 'Lower', version: 2 })).body.applied,
    ).toBe(true);
    const rows = await stack.orders.query<{ sku: string; name: string }>(
      'SELECT sku, name FROM product_names WHERE sku IN (?, ?) ORDER BY name',
      [upper, lower],
    );
    expect(rows).toEqual([
      { sku: lower, name: 'Lower' },
      { sku: upper, name: 'Upper' },
    ]);
  });
});

describe('order IDs differing only in case', () => {
  it('when ORD-X and ord-x are created, charged and shipped, then each service holds two orders, not one answered twice', async () => {
    const [upper, lower] = pair('ord');
    const sku = uniqueId('SKU');
    for (const [orderId, quantity] of [
      [upper, 1],
      [lower, 2],
    ] as const) {
      expect(
        (
          await stack.orders
            .as()
            .post('/orders')
            .send({ orderId, customerId: 'cust-1', lines: [{ sku, quantity }] })
        ).status,
      ).toBe(201);
      expect(
        (
          await stack.payments
            .as()
            .post('/charges')
            .send({ orderId, amountCents: 100 * quantity, cardNumber: '4242424242424242' })
        ).status,
      ).toBe(201);
      expect((await stack.shipping.as().post('/shipments').send({ orderId, address: ADDRESS })).status).toBe(201);
    }
    const lines = await stack.orders.query<{ order_id: string; quantity: number }>(
      'SELECT order_id, quantity FROM order_lines WHERE order_id IN (?, ?) ORDER BY quantity',
      [upper, lower],
    );
    expect(lines).toEqual([
      { order_id: upper, quantity: 1 },
      { order_id: lower, quantity: 2 },
    ]);
    const charges = await stack.payments.query<{ order_id: string; amount_cents: number }>(
      'SELECT order_id, amount_cents FROM payments WHERE order_id IN (?, ?) ORDER BY amount_cents',
      [upper, lower],
    );
    expect(charges).toEqual([
      { order_id: upper, amount_cents: 100 },
      { order_id: lower, amount_cents: 200 },
    ]);
    const shipments = await stack.shipping.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM shipments WHERE order_id IN (?, ?)',
      [upper, lower],
    );
    expect(Number(shipments[0]!.n)).toBe(2);

    // Cancelling one leaves the other as it was.
    expect((await stack.orders.as().post(`/orders/${lower}/cancel`).send({})).body.status).toBe('CANCELLED');
    const statuses = await stack.orders.query<{ order_id: string; status: string }>(
      'SELECT order_id, status FROM orders WHERE order_id IN (?, ?) ORDER BY status',
      [upper, lower],
    );
    expect(statuses).toEqual([
      { order_id: lower, status: 'CANCELLED' },
      { order_id: upper, status: 'PENDING' },
    ]);
  });

  it('when every ID column of every service is listed, then each compares byte for byte (utf8mb4_bin)', async () => {
    const idColumns: Record<string, string[]> = {
      orders: [
        'orders.order_id',
        'orders.customer_id',
        'order_lines.order_id',
        'order_lines.sku',
        'product_names.sku',
        'idempotency_keys.idem_key',
      ],
      inventory: [
        'products.sku',
        'reservations.order_id',
        'reservation_lines.order_id',
        'reservation_lines.sku',
        'product_renames.rename_id',
        'product_renames.sku',
        'idempotency_keys.idem_key',
      ],
      payments: ['payments.payment_id', 'payments.order_id', 'idempotency_keys.idem_key'],
      shipping: ['shipments.shipment_id', 'shipments.order_id', 'idempotency_keys.idem_key'],
    };
    for (const svc of stack.all) {
      const rows = await svc.query<{ col: string; collation: string }>(
        "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS col, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
      );
      const byColumn = Object.fromEntries(rows.map((r) => [r.col, r.collation]));
      for (const col of idColumns[svc.name]!)
        expect({ service: svc.name, col, collation: byColumn[col] }).toEqual({
          service: svc.name,
          col,
          collation: 'utf8mb4_bin',
        });
    }
  });
});

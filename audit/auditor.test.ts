/**
 * The auditor against the real services and their real databases: orders are placed consistently
 * through the services' HTTP routes (the saga's steps, by hand), then one thing is broken with SQL,
 * and the audit must report exactly that violation for that order (or SKU), and nothing else new.
 */
import { randomUUID } from 'node:crypto';
import { MYSQL_URL, startServices, uniqueId, type ServiceStack } from '../test/support/services';
import { ADDRESS, DECLINED_CARD, GOOD_CARD } from '../test/support/fixtures';
import { runAudit, VIOLATION_CLASSES, type AuditReport, type Violation, type ViolationClass } from './auditor';

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startServices('audit');
});
afterAll(async () => {
  await stack?.stop();
});

const audit = (opts: { settleMs?: number; now?: Date } = {}) =>
  runAudit({ mysqlUrl: MYSQL_URL, dbPrefix: stack.prefix, settleMs: opts.settleMs ?? 0, now: opts.now });

type Line = { sku: string; quantity: number };

async function product(available = 50, priceCents = 400): Promise<string> {
  const sku = uniqueId('SKU');
  const res = await stack.inventory
    .as('operator')
    .put(`/products/${sku}`)
    .send({ name: `Audited ${sku}`, priceCents, available });
  expect(res.status).toBe(201);
  return sku;
}

/** createOrder, reserveStock, chargePayment: the steps before the saga branches. */
async function begin(lines: Line[], card = GOOD_CARD) {
  const orderId = uniqueId('ord');
  expect((await stack.orders.as().post('/orders').send({ orderId, customerId: 'cust-audit', lines })).status).toBe(201);
  const reservation = await stack.inventory.as().post('/reservations').send({ orderId, lines });
  expect(reservation.status).toBe(201);
  const charge = await stack.payments
    .as()
    .post('/charges')
    .send({ orderId, amountCents: reservation.body.totalCents, cardNumber: card });
  expect(charge.status).toBe(card === GOOD_CARD ? 201 : 402);
  return {
    orderId,
    reservation: reservation.body as {
      totalCents: number;
      lines: { sku: string; productName: string; nameVersion: number; unitPriceCents: number }[];
    },
  };
}

/** A PlaceOrder that completed: every step done, the order confirmed and its stock committed. */
async function confirmedOrder(lines: Line[]): Promise<string> {
  const { orderId, reservation } = await begin(lines);
  expect((await stack.shipping.as().post('/shipments').send({ orderId, address: ADDRESS })).status).toBe(201);
  const confirm = await stack.orders
    .as()
    .post(`/orders/${orderId}/confirm`)
    .send({
      lines: reservation.lines.map((l) => ({
        sku: l.sku,
        productName: l.productName,
        nameVersion: l.nameVersion,
        unitPriceCents: l.unitPriceCents,
      })),
    });
  expect(confirm.status).toBe(200);
  expect((await stack.inventory.as().post(`/reservations/${orderId}/commit`)).status).toBe(200);
  return orderId;
}

/** A PlaceOrder that compensated after the shipment was scheduled (or, declined, after the charge). */
async function cancelledOrder(lines: Line[], opts: { declined?: boolean } = {}): Promise<string> {
  const { orderId } = await begin(lines, opts.declined ? DECLINED_CARD : GOOD_CARD);
  if (!opts.declined) {
    expect((await stack.shipping.as().post('/shipments').send({ orderId, address: ADDRESS })).status).toBe(201);
    expect((await stack.shipping.as().post(`/shipments/${orderId}/cancel`).send({})).status).toBe(200);
    expect((await stack.payments.as().post(`/charges/${orderId}/refund`).send({})).status).toBe(200);
  }
  expect((await stack.inventory.as().post(`/reservations/${orderId}/release`)).status).toBe(200);
  expect((await stack.orders.as().post(`/orders/${orderId}/cancel`).send({ reason: 'compensated' })).status).toBe(200);
  return orderId;
}

/** A CancelOrder that completed (its steps by hand): CANCELLING, shipment cancelled, refunded, stock returned, CANCELLED. */
async function customerCancelledOrder(lines: Line[]): Promise<string> {
  const orderId = await confirmedOrder(lines);
  const cancellationId = `cancel-${orderId}.run-1`;
  expect((await stack.orders.as().post(`/orders/${orderId}/cancellation`).send({ cancellationId })).status).toBe(200);
  expect((await stack.shipping.as().post(`/shipments/${orderId}/cancel`).send({})).status).toBe(200);
  expect((await stack.payments.as().post(`/charges/${orderId}/refund`).send({})).status).toBe(200);
  expect((await stack.inventory.as().post(`/reservations/${orderId}/return`).send({})).status).toBe(200);
  expect(
    (await stack.orders.as().post(`/orders/${orderId}/cancellation/complete`).send({ cancellationId })).status,
  ).toBe(200);
  return orderId;
}

/** A confirmed order whose parcel left, then a CancelOrder refused at its pivot (the mark reverted). */
async function dispatchedOrder(lines: Line[]): Promise<string> {
  const orderId = await confirmedOrder(lines);
  expect((await stack.shipping.as('operator').post(`/shipments/${orderId}/dispatch`).send({})).status).toBe(200);
  const cancellationId = `cancel-${orderId}.run-1`;
  expect((await stack.orders.as().post(`/orders/${orderId}/cancellation`).send({ cancellationId })).status).toBe(200);
  expect((await stack.shipping.as().post(`/shipments/${orderId}/cancel`).send({})).status).toBe(409);
  expect((await stack.orders.as().post(`/orders/${orderId}/cancellation/revert`).send({ cancellationId })).status).toBe(
    200,
  );
  return orderId;
}

const key = (v: Violation) => `${v.class}|${v.orderId ?? ''}|${v.sku ?? ''}`;

/** The violations `breakIt` introduces: audit, break, audit again, and keep what is new. */
async function introducedBy(
  breakIt: () => Promise<unknown>,
): Promise<{ class: ViolationClass; subject: string | undefined }[]> {
  const before = new Set((await audit()).violations.map(key));
  await breakIt();
  const after = await audit();
  return after.violations
    .filter((v) => !before.has(key(v)))
    .map((v) => ({ class: v.class, subject: v.orderId ?? v.sku }));
}

const sql = {
  orders: (q: string, params: unknown[] = []) => stack.orders.query(q, params),
  inventory: (q: string, params: unknown[] = []) => stack.inventory.query(q, params),
  payments: (q: string, params: unknown[] = []) => stack.payments.query(q, params),
  shipping: (q: string, params: unknown[] = []) => stack.shipping.query(q, params),
};

function expectClean(report: AuditReport) {
  expect(report.violations).toEqual([]);
  expect(report.byClass).toEqual(Object.fromEntries(VIOLATION_CLASSES.map((c) => [c, 0])));
}

describe('a consistent set of orders', () => {
  test('when every order went through the services consistently, then the audit reports zero violations', async () => {
    const mug = await product(40, 1200);
    const pot = await product(10, 3900);
    await confirmedOrder([{ sku: mug, quantity: 2 }]);
    await confirmedOrder([
      { sku: mug, quantity: 1 },
      { sku: pot, quantity: 3 },
    ]);
    await cancelledOrder([{ sku: pot, quantity: 1 }]);
    await cancelledOrder([{ sku: mug, quantity: 5 }], { declined: true });
    // A customer's cancellation that went through, and one refused because the parcel had left.
    await customerCancelledOrder([{ sku: pot, quantity: 2 }]);
    await dispatchedOrder([{ sku: mug, quantity: 1 }]);
    // Compensations that arrived before their steps: tombstones everywhere, nothing held.
    const early = uniqueId('ord');
    expect((await stack.orders.as().post(`/orders/${early}/cancel`).send({})).status).toBe(200);
    expect((await stack.inventory.as().post(`/reservations/${early}/release`)).status).toBe(200);
    expect((await stack.payments.as().post(`/charges/${early}/refund`).send({})).status).toBe(200);
    expect((await stack.shipping.as().post(`/shipments/${early}/cancel`).send({})).status).toBe(200);
    // A restock while units are committed keeps the total equal to the three counters.
    expect(
      (
        await stack.inventory
          .as('operator')
          .put(`/products/${mug}`)
          .send({ name: 'Mug', priceCents: 1200, available: 100 })
      ).status,
    ).toBe(200);

    const report = await audit();
    expectClean(report);
    expect(report).toMatchObject({ checkedOrders: 7, inFlightOrders: 0, checkedSkus: 2, settleMs: 0 });
    // and the counters really moved: stock is committed, the totals add up
    const rows = await sql.inventory(
      'SELECT sku, available, reserved, committed, stock_total FROM products ORDER BY sku',
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { sku: mug, available: 100, reserved: 0, committed: 4, stock_total: 104 },
        { sku: pot, available: 7, reserved: 0, committed: 3, stock_total: 10 },
      ]),
    );
  });
});

describe('one violation of each class', () => {
  test('when an order is still PENDING after the settle time, then ORDER_NOT_SETTLED; before it, it is in flight and not judged', async () => {
    const sku = await product();
    const orderId = uniqueId('ord');
    expect(
      (
        await stack.orders
          .as()
          .post('/orders')
          .send({ orderId, customerId: 'c', lines: [{ sku, quantity: 1 }] })
      ).status,
    ).toBe(201);
    expect(
      (
        await stack.inventory
          .as()
          .post('/reservations')
          .send({ orderId, lines: [{ sku, quantity: 1 }] })
      ).status,
    ).toBe(201);

    const young = await audit({ settleMs: 60_000 });
    expect(young.violations.filter((v) => v.orderId === orderId)).toEqual([]);
    expect(young.inFlightOrders).toBeGreaterThanOrEqual(1);

    const later = await audit({ settleMs: 60_000, now: new Date(Date.now() + 61_000) });
    expect(later.violations.filter((v) => v.orderId === orderId).map((v) => v.class)).toEqual(['ORDER_NOT_SETTLED']);
    expect(later.inFlightOrders).toBe(0);
    expect(later.checkedOrders).toBe(young.checkedOrders + young.inFlightOrders);
  });

  test('when an order is CANCELLING, then it is in flight for the settle time after its cancellation began (not after it was placed), then ORDER_NOT_SETTLED', async () => {
    const orderId = await confirmedOrder([{ sku: await product(), quantity: 1 }]);
    // placed long ago: its cancellation, not its age, decides whether it may still be in flight
    await sql.orders('UPDATE orders SET created_at = created_at - INTERVAL 1 DAY WHERE order_id = ?', [orderId]);
    expect(
      (await stack.orders.as().post(`/orders/${orderId}/cancellation`).send({ cancellationId: 'cancel-audit.run-1' }))
        .status,
    ).toBe(200);
    // its shipment cancelled and its payment refunded already: mid-saga, nothing of it is judged
    expect((await stack.shipping.as().post(`/shipments/${orderId}/cancel`).send({})).status).toBe(200);
    expect((await stack.payments.as().post(`/charges/${orderId}/refund`).send({})).status).toBe(200);

    const young = await audit({ settleMs: 60_000 });
    expect(young.violations.filter((v) => v.orderId === orderId)).toEqual([]);
    expect(young.inFlightOrders).toBeGreaterThanOrEqual(1);

    const later = await audit({ settleMs: 60_000, now: new Date(Date.now() + 61_000) });
    const mine = later.violations.filter((v) => v.orderId === orderId);
    expect(mine.map((v) => v.class)).toEqual(['ORDER_NOT_SETTLED']);
    expect(mine[0]!.message).toMatch(/CANCELLING .* after its cancellation began/);
  });

  test("when a CANCELLED order's returned stock is committed again, then CANCELLED_STOCK_NOT_RELEASED for that order", async () => {
    const sku = await product();
    const orderId = await customerCancelledOrder([{ sku, quantity: 2 }]);
    const introduced = await introducedBy(async () => {
      await sql.inventory("UPDATE reservations SET status = 'COMMITTED' WHERE order_id = ?", [orderId]);
      await sql.inventory('UPDATE products SET available = available - 2, committed = committed + 2 WHERE sku = ?', [
        sku,
      ]);
    });
    expect(introduced).toEqual([{ class: 'CANCELLED_STOCK_NOT_RELEASED', subject: orderId }]);
  });

  test("when a customer-cancelled order's shipment left anyway, then DISPATCHED_ORDER_NOT_CONFIRMED for that order", async () => {
    const orderId = await customerCancelledOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(() =>
      sql.shipping("UPDATE shipments SET status = 'DISPATCHED' WHERE order_id = ?", [orderId]),
    );
    expect(introduced).toEqual([{ class: 'DISPATCHED_ORDER_NOT_CONFIRMED', subject: orderId }]);
  });

  test('when a dispatched order is CANCELLED, then DISPATCHED_ORDER_NOT_CONFIRMED for that order (and nothing about its payment or stock)', async () => {
    const orderId = await dispatchedOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(() =>
      sql.orders("UPDATE orders SET status = 'CANCELLED' WHERE order_id = ?", [orderId]),
    );
    // its payment is still captured and its stock committed: those are reported for a CANCELLED order too
    expect(introduced).toEqual(
      expect.arrayContaining([
        { class: 'DISPATCHED_ORDER_NOT_CONFIRMED', subject: orderId },
        { class: 'CANCELLED_STOCK_NOT_RELEASED', subject: orderId },
        { class: 'CANCELLED_PAYMENT_NOT_REFUNDED', subject: orderId },
      ]),
    );
    expect(introduced).toHaveLength(3);
  });

  test('when a DISPATCHED shipment belongs to no order, then ORPHAN_EFFECT for that order ID', async () => {
    const orderId = uniqueId('ghost');
    const introduced = await introducedBy(async () => {
      expect((await stack.shipping.as().post('/shipments').send({ orderId, address: ADDRESS })).status).toBe(201);
      expect((await stack.shipping.as('operator').post(`/shipments/${orderId}/dispatch`).send({})).status).toBe(200);
    });
    expect(introduced).toEqual([{ class: 'ORPHAN_EFFECT', subject: orderId }]);
  });

  test("when a CONFIRMED order's stock was never committed, then CONFIRMED_STOCK_NOT_COMMITTED for that order", async () => {
    const sku = await product();
    const orderId = await confirmedOrder([{ sku, quantity: 2 }]);
    // as if commitStock never ran: the reservation and the units are still only held
    const introduced = await introducedBy(async () => {
      await sql.inventory("UPDATE reservations SET status = 'HELD' WHERE order_id = ?", [orderId]);
      await sql.inventory('UPDATE products SET committed = committed - 2, reserved = reserved + 2 WHERE sku = ?', [
        sku,
      ]);
    });
    expect(introduced).toEqual([{ class: 'CONFIRMED_STOCK_NOT_COMMITTED', subject: orderId }]);
  });

  test('when a CONFIRMED order has no captured payment, then CONFIRMED_PAYMENT_NOT_CAPTURED for that order', async () => {
    const orderId = await confirmedOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(() =>
      sql.payments("UPDATE payments SET status = 'REFUNDED' WHERE order_id = ?", [orderId]),
    );
    expect(introduced).toEqual([{ class: 'CONFIRMED_PAYMENT_NOT_CAPTURED', subject: orderId }]);
  });

  test("when a CONFIRMED order's captured amount differs from its total, then CONFIRMED_PAYMENT_AMOUNT_MISMATCH for that order", async () => {
    const orderId = await confirmedOrder([{ sku: await product(), quantity: 3 }]);
    const introduced = await introducedBy(() =>
      sql.payments('UPDATE payments SET amount_cents = amount_cents + 1 WHERE order_id = ?', [orderId]),
    );
    expect(introduced).toEqual([{ class: 'CONFIRMED_PAYMENT_AMOUNT_MISMATCH', subject: orderId }]);
  });

  test('when a CONFIRMED order has no scheduled shipment, then CONFIRMED_SHIPMENT_NOT_SCHEDULED for that order', async () => {
    const orderId = await confirmedOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(() =>
      sql.shipping("UPDATE shipments SET status = 'CANCELLED' WHERE order_id = ?", [orderId]),
    );
    expect(introduced).toEqual([{ class: 'CONFIRMED_SHIPMENT_NOT_SCHEDULED', subject: orderId }]);
  });

  test('when a CANCELLED order still holds its stock, then CANCELLED_STOCK_NOT_RELEASED for that order', async () => {
    const sku = await product();
    const orderId = await cancelledOrder([{ sku, quantity: 4 }]);
    // as if the release never ran
    const introduced = await introducedBy(async () => {
      await sql.inventory("UPDATE reservations SET status = 'HELD' WHERE order_id = ?", [orderId]);
      await sql.inventory('UPDATE products SET available = available - 4, reserved = reserved + 4 WHERE sku = ?', [
        sku,
      ]);
    });
    expect(introduced).toEqual([{ class: 'CANCELLED_STOCK_NOT_RELEASED', subject: orderId }]);
  });

  test('when a CANCELLED order consumed stock, then CANCELLED_STOCK_NOT_RELEASED for that order', async () => {
    const sku = await product();
    const orderId = await cancelledOrder([{ sku, quantity: 1 }]);
    const introduced = await introducedBy(async () => {
      await sql.inventory("UPDATE reservations SET status = 'COMMITTED' WHERE order_id = ?", [orderId]);
      await sql.inventory('UPDATE products SET available = available - 1, committed = committed + 1 WHERE sku = ?', [
        sku,
      ]);
    });
    expect(introduced).toEqual([{ class: 'CANCELLED_STOCK_NOT_RELEASED', subject: orderId }]);
  });

  test("when a CANCELLED order's payment is still captured, then CANCELLED_PAYMENT_NOT_REFUNDED for that order", async () => {
    const orderId = await cancelledOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(() =>
      sql.payments("UPDATE payments SET status = 'CAPTURED' WHERE order_id = ?", [orderId]),
    );
    expect(introduced).toEqual([{ class: 'CANCELLED_PAYMENT_NOT_REFUNDED', subject: orderId }]);
  });

  test("when a CANCELLED order's shipment is still scheduled, then CANCELLED_SHIPMENT_NOT_CANCELLED for that order", async () => {
    const orderId = await cancelledOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(() =>
      sql.shipping("UPDATE shipments SET status = 'SCHEDULED' WHERE order_id = ?", [orderId]),
    );
    expect(introduced).toEqual([{ class: 'CANCELLED_SHIPMENT_NOT_CANCELLED', subject: orderId }]);
  });

  test('when the stock committed for an order does not match its lines, then RESERVATION_LINES_MISMATCH for that order', async () => {
    const sku = await product();
    const orderId = await confirmedOrder([{ sku, quantity: 2 }]);
    // one unit too many consumed for the order, with the SKU's counters kept in step (so only the lines disagree)
    const introduced = await introducedBy(async () => {
      await sql.inventory('UPDATE reservation_lines SET quantity = 3 WHERE order_id = ? AND sku = ?', [orderId, sku]);
      await sql.inventory('UPDATE products SET available = available - 1, committed = committed + 1 WHERE sku = ?', [
        sku,
      ]);
    });
    expect(introduced).toEqual([{ class: 'RESERVATION_LINES_MISMATCH', subject: orderId }]);
  });

  test("when a held reservation lacks one of the order's lines, then RESERVATION_LINES_MISMATCH for that order", async () => {
    const [a, b] = [await product(), await product()];
    const orderId = await confirmedOrder([
      { sku: a, quantity: 1 },
      { sku: b, quantity: 2 },
    ]);
    const introduced = await introducedBy(async () => {
      await sql.inventory('DELETE FROM reservation_lines WHERE order_id = ? AND sku = ?', [orderId, b]);
      await sql.inventory('UPDATE products SET available = available + 2, committed = committed - 2 WHERE sku = ?', [
        b,
      ]);
    });
    expect(introduced).toEqual([{ class: 'RESERVATION_LINES_MISMATCH', subject: orderId }]);
  });

  test('when an order was charged twice (the unique key gone), then DUPLICATE_PAYMENT for that order', async () => {
    const orderId = await confirmedOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(async () => {
      await sql.payments('ALTER TABLE payments DROP INDEX payments_order_id_unique');
      await sql.payments(
        "INSERT INTO payments (payment_id, order_id, amount_cents, status, card_last4) SELECT ?, order_id, amount_cents, 'CAPTURED', card_last4 FROM payments WHERE order_id = ?",
        [randomUUID(), orderId],
      );
    });
    expect(introduced).toEqual([{ class: 'DUPLICATE_PAYMENT', subject: orderId }]);
  });

  test('when an order was shipped twice (the unique key gone), then DUPLICATE_SHIPMENT for that order', async () => {
    const orderId = await confirmedOrder([{ sku: await product(), quantity: 1 }]);
    const introduced = await introducedBy(async () => {
      await sql.shipping('ALTER TABLE shipments DROP INDEX shipments_order_id_unique');
      await sql.shipping(
        "INSERT INTO shipments (shipment_id, order_id, status, name, line1, city, postal_code, country) SELECT ?, order_id, 'SCHEDULED', name, line1, city, postal_code, country FROM shipments WHERE order_id = ?",
        [randomUUID(), orderId],
      );
    });
    expect(introduced).toEqual([{ class: 'DUPLICATE_SHIPMENT', subject: orderId }]);
  });

  test('when a payment was captured for an order that does not exist, then ORPHAN_EFFECT for that order ID', async () => {
    const orderId = uniqueId('ghost');
    const introduced = await introducedBy(async () => {
      const res = await stack.payments.as().post('/charges').send({ orderId, amountCents: 999, cardNumber: GOOD_CARD });
      expect(res.status).toBe(201);
    });
    expect(introduced).toEqual([{ class: 'ORPHAN_EFFECT', subject: orderId }]);
  });

  test("when a SKU's counters no longer add up to its stock total, then STOCK_NOT_CONSERVED for that SKU", async () => {
    const sku = await product(20);
    await confirmedOrder([{ sku, quantity: 2 }]);
    // five units appeared from nowhere
    const introduced = await introducedBy(() =>
      sql.inventory('UPDATE products SET available = available + 5 WHERE sku = ?', [sku]),
    );
    expect(introduced).toEqual([{ class: 'STOCK_NOT_CONSERVED', subject: sku }]);
  });

  test("when a SKU's committed counter is not the sum of its committed reservation lines, then STOCK_LEDGER_MISMATCH for that SKU", async () => {
    const sku = await product(20);
    await confirmedOrder([{ sku, quantity: 2 }]);
    // a unit moved to committed with no reservation behind it (the total still adds up)
    const introduced = await introducedBy(() =>
      sql.inventory('UPDATE products SET available = available - 1, committed = committed + 1 WHERE sku = ?', [sku]),
    );
    expect(introduced).toEqual([{ class: 'STOCK_LEDGER_MISMATCH', subject: sku }]);
  });

  test('when every class has been seeded, then the report counts each one and lists the violation with its subject and a message', async () => {
    const report = await audit();
    for (const c of VIOLATION_CLASSES) expect({ c, n: report.byClass[c] > 0 }).toEqual({ c, n: true });
    expect(report.violations.length).toBe(Object.values(report.byClass).reduce((a, b) => a + b, 0));
    for (const v of report.violations) {
      expect(v.orderId ?? v.sku).toBeTruthy();
      expect(v.message).toContain((v.orderId ?? v.sku)!);
    }
  });
});

describe('failures', () => {
  test('when the databases do not exist, then the audit fails instead of reporting a clean result', async () => {
    await expect(runAudit({ mysqlUrl: MYSQL_URL, dbPrefix: `t_absent_${Date.now()}_`, settleMs: 0 })).rejects.toThrow(
      /t_absent_\d+_orders, .*_shipping do not exist/,
    );
  });

  test('when the prefix or the settle time is not valid, then the audit refuses to run', async () => {
    await expect(runAudit({ mysqlUrl: MYSQL_URL, dbPrefix: 'x`; DROP DATABASE y; --', settleMs: 0 })).rejects.toThrow(
      /Refusing database prefix/,
    );
    await expect(runAudit({ mysqlUrl: MYSQL_URL, dbPrefix: stack.prefix, settleMs: -1 })).rejects.toThrow(/settleMs/);
  });
});

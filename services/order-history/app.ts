import { and, desc, eq, isNotNull } from 'drizzle-orm';
import { AppError } from '../../lib/errors';
import { parse } from '../../lib/http/http';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import * as schema from './schema';
import { orderHistory } from './schema';
import { OrderHistoryErrors, customerIdSchema, listQuery, orderIdSchema, type OrderHistoryEntry } from './contract';

type Schema = typeof schema;
export type OrderHistoryDeps = ServiceDeps<Schema>;

function toEntry(row: typeof orderHistory.$inferSelect): OrderHistoryEntry {
  return {
    orderId: row.orderId,
    customerId: row.customerId!,
    status: row.orderStatus!,
    totalCents: row.totalCents,
    orderedAt: row.orderedAt ? row.orderedAt.toISOString() : null,
    lines: row.lines ? (JSON.parse(row.lines) as OrderHistoryEntry['lines']) : [],
    payment: row.paymentStatus ? { status: row.paymentStatus, amountCents: row.paymentAmountCents ?? 0 } : null,
    shipment: row.shipmentStatus ? { status: row.shipmentStatus, country: row.shipmentCountry } : null,
    versions: { order: row.orderVersion, payment: row.paymentVersion, shipment: row.shipmentVersion },
  };
}

/**
 * The read side: a customer's orders with their payment and shipment state, answered from this
 * service's own database (built from the streams by projector.ts), never by calling another service.
 */
export function createOrderHistoryApp(deps: OrderHistoryDeps) {
  const { db } = deps;
  return createServiceApp(deps, (app) => {
    app.get('/customers/:customerId/orders', async (req, res) => {
      const customerId = parse(customerIdSchema, req.params.customerId, 'customer ID');
      const query = parse(listQuery, req.query, 'query');
      const rows = await db
        .select()
        .from(orderHistory)
        .where(and(eq(orderHistory.customerId, customerId), isNotNull(orderHistory.orderStatus)))
        .orderBy(desc(orderHistory.orderedAt), desc(orderHistory.orderId))
        .limit(query.limit);
      res.json({ customerId, orders: rows.map(toEntry) });
    });

    app.get('/orders/:orderId', async (req, res) => {
      const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
      const [row] = await db.select().from(orderHistory).where(eq(orderHistory.orderId, orderId));
      // A row with only its payment or shipment (the order's events have not arrived yet) is not an order yet.
      if (!row || row.orderStatus === null)
        throw new AppError(404, OrderHistoryErrors.ORDER_NOT_FOUND, `No order ${orderId} in the order history (yet)`);
      res.json(toEntry(row));
    });
  });
}

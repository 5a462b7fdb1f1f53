import { bigint, char, index, int, mysqlTable, text, timestamp, varchar } from 'drizzle-orm/mysql-core';
export { inbox } from '../../lib/events/event-consumer';

/**
 * One row per order, built only from the orders, payments and shipping streams (projector.ts):
 * each part keeps the version of the event it was last set from, so an older event never
 * overwrites it. A payment or shipment can arrive before its order (the streams are independent):
 * the row exists then with no customer yet, and reads do not show it until the order part lands.
 */
export const orderHistory = mysqlTable(
  'order_history',
  {
    orderId: varchar('order_id', { length: 64 }).primaryKey(),
    customerId: varchar('customer_id', { length: 64 }),
    orderStatus: varchar('order_status', { length: 16 }),
    totalCents: bigint('total_cents', { mode: 'number' }),
    /** The order's lines as the last order event described them (JSON). */
    lines: text('lines'),
    orderVersion: int('order_version').notNull().default(0),
    orderedAt: timestamp('ordered_at', { fsp: 3, mode: 'date' }),
    paymentStatus: varchar('payment_status', { length: 16 }),
    paymentAmountCents: bigint('payment_amount_cents', { mode: 'number' }),
    paymentVersion: int('payment_version').notNull().default(0),
    shipmentStatus: varchar('shipment_status', { length: 16 }),
    shipmentCountry: char('shipment_country', { length: 2 }),
    shipmentVersion: int('shipment_version').notNull().default(0),
    updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
  },
  (t) => [index('order_history_customer').on(t.customerId, t.orderedAt)],
);

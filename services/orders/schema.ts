import { bigint, boolean, int, mysqlTable, primaryKey, timestamp, varchar } from 'drizzle-orm/mysql-core';
export { idempotencyKeys } from '../../lib/http/idempotency';
export { outbox, outboxVersions } from '../../lib/events/outbox';
export { inbox } from '../../lib/events/event-consumer';

/**
 * Orders: PENDING → CONFIRMED | CANCELLED, and a customer's cancellation CONFIRMED → CANCELLING →
 * CANCELLED (or back to CONFIRMED). `NEW` exists only inside the transaction that creates the row.
 * A cancel that arrives before its order leaves a CANCELLED tombstone.
 *
 * `cancellationId` names the CancelOrder saga that marked (or reverted) the order CANCELLING, so
 * only that saga can revert or complete it; `cancellationReverted` is set when that saga reverted
 * it, and is the tombstone that makes a late mark of the same cancellation change nothing.
 */
export const orders = mysqlTable('orders', {
  orderId: varchar('order_id', { length: 64 }).primaryKey(),
  customerId: varchar('customer_id', { length: 64 }),
  status: varchar('status', { length: 16, enum: ['NEW', 'PENDING', 'CONFIRMED', 'CANCELLING', 'CANCELLED'] }).notNull(),
  tombstone: boolean('tombstone').notNull().default(false),
  // BIGINT: a total is up to 50 lines x 10,000 units x the largest unit price, far beyond an INT.
  totalCents: bigint('total_cents', { mode: 'number' }),
  cancelReason: varchar('cancel_reason', { length: 255 }),
  cancellationId: varchar('cancellation_id', { length: 128 }),
  cancellationReverted: boolean('cancellation_reverted').notNull().default(false),
  createdAt: timestamp('created_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
});

/** Order lines keep their own copy of the product's name (by version) and unit price. */
export const orderLines = mysqlTable(
  'order_lines',
  {
    orderId: varchar('order_id', { length: 64 }).notNull(),
    sku: varchar('sku', { length: 64 }).notNull(),
    quantity: int('quantity').notNull(),
    productName: varchar('product_name', { length: 100 }),
    nameVersion: int('name_version').notNull().default(0),
    unitPriceCents: int('unit_price_cents'),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.sku] })],
);

/** The newest product name the orders service has heard of, per SKU, so copies never go back. */
export const productNames = mysqlTable('product_names', {
  sku: varchar('sku', { length: 64 }).primaryKey(),
  name: varchar('name', { length: 100 }).notNull(),
  version: int('version').notNull(),
  updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
});

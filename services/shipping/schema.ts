import { boolean, char, mysqlTable, timestamp, varchar } from 'drizzle-orm/mysql-core';
export { idempotencyKeys } from '../../lib/http/idempotency';
export { outbox, outboxVersions } from '../../lib/events/outbox';

/**
 * One shipment per order: SCHEDULED, then DISPATCHED when the parcel leaves (final), or CANCELLED.
 * `PENDING` exists only inside the transaction that creates the row; a cancel that arrives before
 * its shipment leaves a CANCELLED tombstone.
 */
export const shipments = mysqlTable('shipments', {
  shipmentId: varchar('shipment_id', { length: 36 }).primaryKey(),
  orderId: varchar('order_id', { length: 64 }).notNull().unique(),
  status: varchar('status', { length: 16, enum: ['PENDING', 'SCHEDULED', 'DISPATCHED', 'CANCELLED'] }).notNull(),
  tombstone: boolean('tombstone').notNull().default(false),
  name: varchar('name', { length: 200 }),
  line1: varchar('line1', { length: 200 }),
  city: varchar('city', { length: 100 }),
  postalCode: varchar('postal_code', { length: 20 }),
  country: char('country', { length: 2 }),
  createdAt: timestamp('created_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
});

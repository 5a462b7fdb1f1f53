import { char, int, mysqlTable, timestamp, varchar } from 'drizzle-orm/mysql-core';
export { idempotencyKeys } from '../../lib/http/idempotency';
export { outbox, outboxVersions } from '../../lib/events/outbox';

/**
 * One payment per order. `PENDING` exists only inside the transaction that creates the row;
 * `VOIDED` is the tombstone a refund leaves when it arrives before its charge. Only the last four
 * digits of a card are ever stored.
 */
export const payments = mysqlTable('payments', {
  paymentId: varchar('payment_id', { length: 36 }).primaryKey(),
  orderId: varchar('order_id', { length: 64 }).notNull().unique(),
  amountCents: int('amount_cents').notNull(),
  status: varchar('status', { length: 16, enum: ['PENDING', 'CAPTURED', 'REFUNDED', 'DECLINED', 'VOIDED'] }).notNull(),
  cardLast4: char('card_last4', { length: 4 }),
  createdAt: timestamp('created_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
});

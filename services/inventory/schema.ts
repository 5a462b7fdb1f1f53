import { bigint, boolean, index, int, mysqlTable, primaryKey, timestamp, varchar } from 'drizzle-orm/mysql-core';
export { idempotencyKeys } from '../../lib/http/idempotency';
export { outbox, outboxVersions } from '../../lib/events/outbox';

/**
 * The catalog: price and stock. `available + reserved + committed` only changes by admin upserts,
 * which record it in `stockTotal`: reservations, releases and commits move units between the three
 * counters and never change the sum (the consistency auditor checks that they did not).
 *
 * The name is derived: it is the newest name that stands, i.e. the newest APPLIED rename
 * (`productRenames`) newer than `baseNameVersion`, else `baseName`. `nameVersion` counts every
 * change of that derived name (renames and the reverts that move it back) and only grows.
 */
export const products = mysqlTable('products', {
  sku: varchar('sku', { length: 64 }).primaryKey(),
  name: varchar('name', { length: 255 }).notNull(),
  nameVersion: int('name_version').notNull().default(1),
  // The name the catalog itself last set (the product's creation, or an operator's upsert that
  // changed it) and its version: what the name falls back to once every later rename is reverted.
  baseName: varchar('base_name', { length: 255 }).notNull(),
  baseNameVersion: int('base_name_version').notNull(),
  priceCents: int('price_cents').notNull(),
  available: int('available').notNull(),
  reserved: int('reserved').notNull().default(0),
  committed: int('committed').notNull().default(0),
  // BIGINT: up to 1e9 available (the upsert's limit) plus whatever is reserved and committed.
  stockTotal: bigint('stock_total', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
});

/**
 * One reservation per order: HELD, then COMMITTED when the order is confirmed, or RELEASED when it
 * is not; RETURNED when the customer cancelled the confirmed order and its units went back to
 * available. A release that arrives before its reservation leaves a tombstone
 * (`status = RELEASED, tombstone = true`) so the late reservation holds nothing.
 */
export const reservations = mysqlTable('reservations', {
  orderId: varchar('order_id', { length: 64 }).primaryKey(),
  status: varchar('status', { length: 16, enum: ['PENDING', 'HELD', 'RELEASED', 'COMMITTED', 'RETURNED'] }).notNull(),
  tombstone: boolean('tombstone').notNull().default(false),
  // BIGINT: a total is up to 50 lines x 10,000 units x the largest price, far beyond an INT.
  totalCents: bigint('total_cents', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { fsp: 3, mode: 'date' }).notNull().defaultNow().onUpdateNow(),
});

export const reservationLines = mysqlTable(
  'reservation_lines',
  {
    orderId: varchar('order_id', { length: 64 }).notNull(),
    sku: varchar('sku', { length: 64 }).notNull(),
    quantity: int('quantity').notNull(),
    productName: varchar('product_name', { length: 255 }).notNull(),
    nameVersion: int('name_version').notNull(),
    unitPriceCents: int('unit_price_cents').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.sku] })],
);

/**
 * Renames, keyed by the caller's rename ID, so a revert can find what it undoes and a revert that
 * arrives first leaves a tombstone (`status = REVERTED`, nothing applied, `version` null). A rename
 * that was applied keeps the name version it wrote; while it is APPLIED its name stands, and the
 * product's name is the newest one that stands (see `products`).
 */
export const productRenames = mysqlTable(
  'product_renames',
  {
    renameId: varchar('rename_id', { length: 128 }).primaryKey(),
    sku: varchar('sku', { length: 64 }).notNull(),
    status: varchar('status', { length: 16, enum: ['APPLIED', 'REVERTED'] }).notNull(),
    fromName: varchar('from_name', { length: 255 }),
    toName: varchar('to_name', { length: 255 }),
    version: int('version'),
    createdAt: timestamp('created_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
  },
  // A revert looks up the newest rename of its SKU that still stands.
  (t) => [index('product_renames_sku_version').on(t.sku, t.version)],
);

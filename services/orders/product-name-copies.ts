/**
 * The orders service's copies of product names, kept by version. Two writers keep them, and they
 * agree because both go through `applyProductNameCopy`: the RenameProduct saga (PUT
 * /product-names/:sku, pushed by the coordinator) and the ProductRenamed consumer (pulled from the
 * inventory stream). Whichever brings a version first applies it; the other finds it there and
 * changes nothing, and neither ever writes an older version over a newer one.
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import type { ApplyOutcome, EventConsumerSpec } from '../../lib/events/event-consumer';
import { isEvent, subjectOf } from '../../lib/events/events';
import { copiedNameSchema } from './contract';
import type * as schema from './schema';
import { orderLines, productNames } from './schema';

type Schema = typeof schema;

export interface NameCopyOutcome {
  applied: boolean;
  /** The name and version the copy holds afterwards. */
  name: string;
  version: number;
  linesUpdated: number;
}

/** Applies `name` at `version` to the SKU's copy and to the confirmed lines that hold an older one. */
export async function applyProductNameCopy(
  tx: Tx<Schema>,
  sku: string,
  name: string,
  version: number,
): Promise<NameCopyOutcome> {
  await tx
    .insert(productNames)
    .values({ sku, name, version: 0 })
    .onDuplicateKeyUpdate({ set: { sku: sql`${productNames.sku}` } });
  const [known] = await tx.select().from(productNames).where(eq(productNames.sku, sku)).for('update');
  const applied = known!.version < version;
  let linesUpdated = 0;
  if (applied) {
    await tx.update(productNames).set({ name, version }).where(eq(productNames.sku, sku));
    const [res] = await tx
      .update(orderLines)
      .set({ productName: name, nameVersion: version })
      .where(
        and(eq(orderLines.sku, sku), lt(orderLines.nameVersion, version), sql`${orderLines.productName} IS NOT NULL`),
      );
    linesUpdated = res.affectedRows;
  }
  return { applied, name: applied ? name : known!.name, version: Math.max(known!.version, version), linesUpdated };
}

/** The durable consumer name of the orders service's name copies. */
export const PRODUCT_NAMES_CONSUMER = 'orders-product-names';

/**
 * The consumer that keeps the copies from the inventory stream's ProductRenamed events (the
 * version compared is the product's name version, the one the saga sends too). A name longer than
 * orders keeps (100 characters) is not copied: the saga refuses it the same way (422) and reverts
 * the rename, whose own ProductRenamed then brings the copy back in line.
 */
export const productNamesConsumer: EventConsumerSpec<Schema> = {
  name: PRODUCT_NAMES_CONSUMER,
  source: 'inventory',
  filterSubjects: [subjectOf('ProductRenamed')],
  async apply(tx, event): Promise<ApplyOutcome> {
    if (!isEvent(event, 'ProductRenamed')) return 'ignored';
    const name = copiedNameSchema.safeParse(event.payload.name);
    if (!name.success) return 'ignored';
    const outcome = await applyProductNameCopy(tx, event.payload.sku, name.data, event.payload.nameVersion);
    return outcome.applied ? 'applied' : 'stale';
  },
};

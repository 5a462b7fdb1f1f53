/**
 * The catalog: a product's admin upsert and read, and its renames (the RenameProduct saga's step
 * and compensation). The product's name is derived from the renames that stand (schema.ts).
 */
import { and, desc, eq, gt, sql } from 'drizzle-orm';
import type { Request, RequestHandler } from 'express';
import type { Db, Tx } from '../../lib/db';
import { AppError } from '../../lib/errors';
import { jsonBody, parse } from '../../lib/http/http';
import { rejection, type Reply } from '../../lib/http/idempotency';
import { recordProductEvents } from './events';
import type * as schema from './schema';
import { products, productRenames } from './schema';
import {
  InventoryErrors,
  emptyBody,
  renameIdSchema,
  renameBody,
  skuSchema,
  upsertProductBody,
  type Product,
  type RenameResult,
  type RevertResult,
} from './contract';

type Schema = typeof schema;

function toProduct(row: typeof products.$inferSelect): Product {
  return {
    sku: row.sku,
    name: row.name,
    nameVersion: row.nameVersion,
    priceCents: row.priceCents,
    available: row.available,
    reserved: row.reserved,
    committed: row.committed,
  };
}

/**
 * The newest name of a product that stands: its newest APPLIED rename newer than the catalog's own
 * name (`baseName`), else that name. Reverted renames never stand, so reverting the newest rename
 * falls back past every newer-but-reverted one to a name that was not itself undone.
 */
async function standingName(
  tx: Tx<Schema>,
  product: typeof products.$inferSelect,
): Promise<{ name: string; version: number }> {
  const [rename] = await tx
    .select({ name: productRenames.toName, version: productRenames.version })
    .from(productRenames)
    .where(
      and(
        eq(productRenames.sku, product.sku),
        eq(productRenames.status, 'APPLIED'),
        gt(productRenames.version, product.baseNameVersion),
      ),
    )
    .orderBy(desc(productRenames.version))
    .limit(1)
    // A locking read sees the newest committed renames, not this transaction's snapshot (which may
    // predate the product row lock that every rename and revert of the SKU takes first).
    .for('update');
  return rename
    ? { name: rename.name!, version: rename.version! }
    : { name: product.baseName, version: product.baseNameVersion };
}

/** GET /products/:sku */
export function getProduct(db: Db<Schema>): RequestHandler {
  return async (req, res) => {
    const sku = parse(skuSchema, req.params.sku, 'SKU');
    const [row] = await db.select().from(products).where(eq(products.sku, sku));
    if (!row) throw new AppError(404, InventoryErrors.PRODUCT_NOT_FOUND, `No product ${sku}`);
    res.json(toProduct(row));
  };
}

/**
 * PUT /products/:sku, the admin upsert: sets name, price and the available count (not
 * reserved/committed units), and records the new stock total (available + reserved + committed)
 * that stock conservation is checked against.
 */
export function upsertProduct(req: Request) {
  const sku = parse(skuSchema, req.params.sku, 'SKU');
  const body = parse(upsertProductBody, jsonBody(req));
  return async (tx: Tx<Schema>): Promise<Reply> => {
    const [existing] = await tx.select().from(products).where(eq(products.sku, sku)).for('update');
    if (existing) {
      const renamed = existing.name !== body.name;
      await tx
        .update(products)
        .set({
          name: body.name,
          priceCents: body.priceCents,
          available: body.available,
          stockTotal: body.available + existing.reserved + existing.committed,
          nameVersion: renamed ? existing.nameVersion + 1 : existing.nameVersion,
          // A name the catalog sets stands over every rename before it.
          ...(renamed ? { baseName: body.name, baseNameVersion: existing.nameVersion + 1 } : {}),
        })
        .where(eq(products.sku, sku));
    } else {
      await tx
        .insert(products)
        .values({ sku, ...body, stockTotal: body.available, baseName: body.name, baseNameVersion: 1 });
    }
    await recordProductEvents(tx, sku, existing);
    const [row] = await tx.select().from(products).where(eq(products.sku, sku));
    return { status: existing ? 200 : 201, body: toProduct(row!) };
  };
}

/** POST /products/:sku/rename: renames a product (the source of truth for names): the version goes up by one. */
export function renameProduct(req: Request) {
  const sku = parse(skuSchema, req.params.sku, 'SKU');
  const body = parse(renameBody, jsonBody(req));
  return async (tx: Tx<Schema>): Promise<Reply> => {
    const [product] = await tx.select().from(products).where(eq(products.sku, sku)).for('update');
    if (!product) return rejection(404, InventoryErrors.PRODUCT_NOT_FOUND, `No product ${sku}`);
    await tx
      .insert(productRenames)
      .values({ renameId: body.renameId, sku, status: 'APPLIED' })
      .onDuplicateKeyUpdate({ set: { renameId: sql`${productRenames.renameId}` } });
    const [rename] = await tx
      .select()
      .from(productRenames)
      .where(eq(productRenames.renameId, body.renameId))
      .for('update');
    if (rename!.sku !== sku) {
      return rejection(409, InventoryErrors.RENAME_CONFLICT, `Rename ${body.renameId} belongs to ${rename!.sku}`);
    }
    if (rename!.status === 'REVERTED') {
      return rejection(409, InventoryErrors.RENAME_REVERTED, `Rename ${body.renameId} was reverted before it arrived`);
    }
    if (rename!.version !== null) {
      if (rename!.toName !== body.name) {
        return rejection(409, InventoryErrors.RENAME_CONFLICT, `Rename ${body.renameId} already set another name`);
      }
      const result: RenameResult = {
        renameId: body.renameId,
        sku,
        name: rename!.toName!,
        version: rename!.version,
        previousName: rename!.fromName!,
      };
      return { status: 200, body: result };
    }
    const version = product.nameVersion + 1;
    await tx.update(products).set({ name: body.name, nameVersion: version }).where(eq(products.sku, sku));
    await tx
      .update(productRenames)
      .set({ fromName: product.name, toName: body.name, version })
      .where(eq(productRenames.renameId, body.renameId));
    await recordProductEvents(tx, sku, product);
    const result: RenameResult = {
      renameId: body.renameId,
      sku,
      name: body.name,
      version,
      previousName: product.name,
    };
    return { status: 200, body: result };
  };
}

/**
 * POST /products/:sku/renames/:renameId/revert, the compensation of a rename: the rename stops
 * standing, and the product's name becomes the newest name that still does (`standingName`): the
 * newest rename that was not reverted, else the catalog's own name. That is not always the rename's `previousName`, which may be a rename
 * reverted since. While a newer rename or catalog name stands, nothing changes (SUPERSEDED).
 * When the name changes it does so as a new, higher version, with its ProductRenamed event, so
 * the orders copies follow. A revert that arrives before its rename leaves a tombstone.
 */
export function revertRename(req: Request) {
  const sku = parse(skuSchema, req.params.sku, 'SKU');
  const renameId = parse(renameIdSchema, req.params.renameId, 'rename ID');
  parse(emptyBody, jsonBody(req));
  return async (tx: Tx<Schema>): Promise<Reply> => {
    const [product] = await tx.select().from(products).where(eq(products.sku, sku)).for('update');
    await tx
      .insert(productRenames)
      .values({ renameId, sku, status: 'REVERTED' })
      .onDuplicateKeyUpdate({ set: { renameId: sql`${productRenames.renameId}` } });
    const [rename] = await tx.select().from(productRenames).where(eq(productRenames.renameId, renameId)).for('update');
    const r = rename!;
    if (r.sku !== sku) {
      return rejection(409, InventoryErrors.RENAME_CONFLICT, `Rename ${renameId} belongs to ${r.sku}, not ${sku}`);
    }
    if (r.version === null) {
      const result: RevertResult = { renameId, sku, reverted: false, reason: 'TOMBSTONE' };
      return { status: 200, body: result };
    }
    if (r.status === 'REVERTED') {
      const result: RevertResult = { renameId, sku, reverted: false, reason: 'ALREADY_REVERTED' };
      return { status: 200, body: result };
    }
    await tx.update(productRenames).set({ status: 'REVERTED' }).where(eq(productRenames.renameId, renameId));
    // An applied rename's product exists (products are never deleted); the check keeps the types honest.
    const standing = product ? await standingName(tx, product) : undefined;
    if (!product || !standing || standing.version > r.version) {
      const result: RevertResult = { renameId, sku, reverted: false, reason: 'SUPERSEDED' };
      return { status: 200, body: result };
    }
    if (standing.name === product.name) {
      // e.g. a rename to the name the product already had: nothing to move back.
      const result: RevertResult = {
        renameId,
        sku,
        reverted: true,
        name: product.name,
        version: product.nameVersion,
      };
      return { status: 200, body: result };
    }
    const version = product.nameVersion + 1;
    await tx.update(products).set({ name: standing.name, nameVersion: version }).where(eq(products.sku, sku));
    await recordProductEvents(tx, sku, product);
    const result: RevertResult = { renameId, sku, reverted: true, name: standing.name, version };
    return { status: 200, body: result };
  };
}

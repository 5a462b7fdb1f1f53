import { and, eq, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { AppError, ErrorCodes } from '../../lib/errors';
import { idempotentRoute, jsonBody, parse } from '../../lib/http/http';
import { rejection, type Reply } from '../../lib/http/idempotency';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/auth/service-auth';
import { recordOrderEvent } from './events';
import { loadOrder } from './order-state';
import { applyProductNameCopy } from './product-name-copies';
import * as schema from './schema';
import { orderLines, orders, productNames } from './schema';
import {
  OrdersErrors,
  cancelOrderBody,
  cancellationBody,
  completeCancellationBody,
  confirmOrderBody,
  copiedNameSchema,
  createOrderBody,
  orderIdSchema,
  productNameCopyBody,
  skuSchema,
  type CancellationRevertResult,
  type Order,
  type ProductNameCopyResult,
} from './contract';

type Schema = typeof schema;
export type OrdersDeps = ServiceDeps<Schema>;

/** Locks (inserting a NEW placeholder if absent) the order row and returns it. */
async function lockOrder(tx: Tx<Schema>, orderId: string) {
  await tx
    .insert(orders)
    .values({ orderId, status: 'NEW' })
    .onDuplicateKeyUpdate({ set: { orderId: sql`${orders.orderId}` } });
  const [row] = await tx.select().from(orders).where(eq(orders.orderId, orderId)).for('update');
  if (!row) throw new Error(`order row ${orderId} vanished under lock`);
  return row;
}

/** Locks an existing order row (never inserts one): undefined when there is no such order. */
async function lockExistingOrder(tx: Tx<Schema>, orderId: string) {
  const [row] = await tx.select().from(orders).where(eq(orders.orderId, orderId)).for('update');
  return row && row.status !== 'NEW' ? row : undefined;
}

const illegal = (orderId: string, from: string, to: string) =>
  rejection(409, OrdersErrors.ILLEGAL_TRANSITION, `Order ${orderId} is ${from}; it cannot become ${to}`, { from, to });

export function createOrdersApp(deps: OrdersDeps) {
  const { db } = deps;
  return createServiceApp(deps, (app) => {
    app.get('/orders/:orderId', async (req, res) => {
      const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
      const order = await db.transaction((tx) => loadOrder(tx, orderId));
      if (!order) throw new AppError(404, OrdersErrors.ORDER_NOT_FOUND, `No order ${orderId}`);
      res.json(order);
    });

    /** Creates a PENDING order. A repeat for the same order and lines answers the existing order. */
    app.post(
      '/orders',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const body = parse(createOrderBody, jsonBody(req));
        const skus = body.lines.map((l) => l.sku);
        if (new Set(skus).size !== skus.length) {
          throw new AppError(400, ErrorCodes.VALIDATION_FAILED, 'Each SKU may appear on one line only', { skus });
        }
        return async (tx): Promise<Reply> => {
          const row = await lockOrder(tx, body.orderId);
          if (row.status !== 'NEW') {
            if (row.tombstone) {
              return rejection(
                409,
                OrdersErrors.ORDER_CANCELLED,
                `Order ${body.orderId} was cancelled before it was created`,
              );
            }
            const existing = (await loadOrder(tx, body.orderId))!;
            const same =
              existing.customerId === body.customerId &&
              JSON.stringify(existing.lines.map((l) => [l.sku, l.quantity])) ===
                JSON.stringify(
                  [...body.lines].sort((a, b) => a.sku.localeCompare(b.sku)).map((l) => [l.sku, l.quantity]),
                );
            return same
              ? { status: 200, body: existing }
              : rejection(409, OrdersErrors.ORDER_EXISTS, `Order ${body.orderId} already exists with other content`);
          }
          await tx
            .update(orders)
            .set({ status: 'PENDING', customerId: body.customerId })
            .where(eq(orders.orderId, body.orderId));
          await tx
            .insert(orderLines)
            .values(body.lines.map((l) => ({ orderId: body.orderId, sku: l.sku, quantity: l.quantity })));
          return { status: 201, body: await recordOrderEvent(tx, 'OrderCreated', body.orderId) };
        };
      }),
    );

    /** PENDING → CONFIRMED, storing the copies of names (newest version wins) and unit prices. */
    app.post(
      '/orders/:orderId/confirm',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        const body = parse(confirmOrderBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const [row] = await tx.select().from(orders).where(eq(orders.orderId, orderId)).for('update');
          if (!row || row.status === 'NEW') return rejection(404, OrdersErrors.ORDER_NOT_FOUND, `No order ${orderId}`);
          if (row.status === 'CONFIRMED') return { status: 200, body: (await loadOrder(tx, orderId))! };
          if (row.status !== 'PENDING') return illegal(orderId, row.status, 'CONFIRMED');
          const lines = await tx.select().from(orderLines).where(eq(orderLines.orderId, orderId));
          const given = new Map(body.lines.map((l) => [l.sku, l]));
          if (lines.length !== body.lines.length || lines.some((l) => !given.has(l.sku))) {
            return rejection(422, OrdersErrors.LINES_MISMATCH, `Confirmation lines do not match order ${orderId}`);
          }
          let total = 0;
          for (const line of lines) {
            const g = given.get(line.sku)!;
            const [known] = await tx.select().from(productNames).where(eq(productNames.sku, line.sku));
            const useKnown = known !== undefined && known.version > g.nameVersion;
            const name = useKnown ? known.name : g.productName.slice(0, 100);
            total += g.unitPriceCents * line.quantity;
            await tx
              .update(orderLines)
              .set({
                productName: name,
                nameVersion: useKnown ? known.version : g.nameVersion,
                unitPriceCents: g.unitPriceCents,
              })
              .where(and(eq(orderLines.orderId, orderId), eq(orderLines.sku, line.sku)));
          }
          await tx.update(orders).set({ status: 'CONFIRMED', totalCents: total }).where(eq(orders.orderId, orderId));
          return { status: 200, body: await recordOrderEvent(tx, 'OrderConfirmed', orderId) };
        };
      }),
    );

    /** Compensation (PlaceOrder): PENDING → CANCELLED. No order yet → a CANCELLED tombstone. */
    app.post(
      '/orders/:orderId/cancel',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        const body = parse(cancelOrderBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockOrder(tx, orderId);
          if (row.status === 'NEW') {
            await tx
              .update(orders)
              .set({ status: 'CANCELLED', tombstone: true, cancelReason: body.reason ?? null })
              .where(eq(orders.orderId, orderId));
          } else if (row.status === 'PENDING') {
            await tx
              .update(orders)
              .set({ status: 'CANCELLED', cancelReason: body.reason ?? null })
              .where(eq(orders.orderId, orderId));
            await recordOrderEvent(tx, 'OrderCancelled', orderId);
          } else if (row.status === 'CONFIRMED' || row.status === 'CANCELLING') {
            // A confirmed order is cancelled by its customer's CancelOrder saga, never by this compensation.
            return illegal(orderId, row.status, 'CANCELLED');
          }
          return { status: 200, body: (await loadOrder(tx, orderId))! };
        };
      }),
    );

    /**
     * A customer's cancellation begins (the CancelOrder saga's first step): CONFIRMED → CANCELLING,
     * recording which cancellation holds the order. A repeat by the same cancellation answers the
     * order again; every other state is 409 ILLEGAL_TRANSITION, an unknown order 404, and nothing changes.
     */
    app.post(
      '/orders/:orderId/cancellation',
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        const { cancellationId } = parse(cancellationBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockExistingOrder(tx, orderId);
          if (!row || row.tombstone) return rejection(404, OrdersErrors.ORDER_NOT_FOUND, `No order ${orderId}`);
          if (row.status === 'CANCELLING' && row.cancellationId === cancellationId)
            return { status: 200, body: (await loadOrder(tx, orderId))! };
          if (row.status !== 'CONFIRMED') return illegal(orderId, row.status, 'CANCELLING');
          if (row.cancellationReverted && row.cancellationId === cancellationId) {
            return rejection(
              409,
              OrdersErrors.CANCELLATION_REVERTED,
              `Cancellation ${cancellationId} of order ${orderId} was reverted before it arrived`,
              {
                cancellationId,
              },
            );
          }
          await tx
            .update(orders)
            .set({ status: 'CANCELLING', cancellationId, cancellationReverted: false })
            .where(eq(orders.orderId, orderId));
          return { status: 200, body: await recordOrderEvent(tx, 'OrderCancellationStarted', orderId) };
        };
      }),
    );

    /**
     * Compensation of the mark: CANCELLING → CONFIRMED when this cancellation holds the order; a
     * no-op otherwise. On a CONFIRMED order it leaves a tombstone (the cancellation is recorded as
     * reverted) so a late mark of the same cancellation changes nothing.
     */
    app.post(
      '/orders/:orderId/cancellation/revert',
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        const { cancellationId } = parse(cancellationBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockExistingOrder(tx, orderId);
          let reverted = false;
          if (row?.status === 'CANCELLING' && row.cancellationId === cancellationId) {
            await tx
              .update(orders)
              .set({ status: 'CONFIRMED', cancellationReverted: true })
              .where(eq(orders.orderId, orderId));
            await recordOrderEvent(tx, 'OrderCancellationReverted', orderId);
            reverted = true;
          } else if (row?.status === 'CONFIRMED') {
            await tx
              .update(orders)
              .set({ cancellationId, cancellationReverted: true })
              .where(eq(orders.orderId, orderId));
          }
          const result: CancellationRevertResult = {
            orderId,
            cancellationId,
            reverted,
            status: reverted ? 'CONFIRMED' : ((row?.status as Order['status'] | undefined) ?? null),
          };
          return { status: 200, body: result };
        };
      }),
    );

    /**
     * A cancellation ends (after the shipment was cancelled, the payment refunded and the stock
     * returned): CANCELLING → CANCELLED. A repeat by the same cancellation answers the order again.
     */
    app.post(
      '/orders/:orderId/cancellation/complete',
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        const body = parse(completeCancellationBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockExistingOrder(tx, orderId);
          if (!row || row.tombstone) return rejection(404, OrdersErrors.ORDER_NOT_FOUND, `No order ${orderId}`);
          if (row.cancellationId === body.cancellationId && row.status === 'CANCELLED')
            return { status: 200, body: (await loadOrder(tx, orderId))! };
          if (row.status !== 'CANCELLING' || row.cancellationId !== body.cancellationId) {
            return rejection(
              409,
              OrdersErrors.ILLEGAL_TRANSITION,
              `Order ${orderId} is ${row.status}${row.status === 'CANCELLING' ? ` by another cancellation` : ''}; cancellation ${body.cancellationId} cannot complete`,
              {
                from: row.status,
                to: 'CANCELLED',
              },
            );
          }
          await tx
            .update(orders)
            .set({ status: 'CANCELLED', cancelReason: body.reason ?? null })
            .where(eq(orders.orderId, orderId));
          return { status: 200, body: await recordOrderEvent(tx, 'OrderCancelled', orderId) };
        };
      }),
    );

    /**
     * Updates this service's copies of a product's name. Applied by version: an older or repeated
     * version changes nothing, so out-of-order deliveries never roll a name back.
     */
    app.put(
      '/product-names/:sku',
      // Only the RenameProduct saga copies names.
      allowCallers('worker'),
      idempotentRoute(db, (req) => {
        const sku = parse(skuSchema, req.params.sku, 'SKU');
        const body = parse(productNameCopyBody, jsonBody(req));
        const name = copiedNameSchema.safeParse(body.name);
        return async (tx): Promise<Reply> => {
          if (!name.success) {
            return rejection(
              422,
              OrdersErrors.INVALID_PRODUCT_NAME,
              'Product names held by orders must be 1-100 characters',
              {
                length: body.name.length,
              },
            );
          }
          // The same rule as the ProductRenamed consumer's (product-name-copies.ts): both keep these copies.
          const result: ProductNameCopyResult = {
            sku,
            ...(await applyProductNameCopy(tx, sku, name.data, body.version)),
          };
          return { status: 200, body: result };
        };
      }),
    );
  });
}

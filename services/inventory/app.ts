/**
 * The inventory service's routes: who may call each, and which go through the idempotency records.
 * The catalog's handlers are in products.ts; the reservations', and the lifecycle they follow, in
 * reservations.ts.
 */
import { ErrorCodes } from '../../lib/errors';
import { idempotentRoute } from '../../lib/http/http';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/auth/service-auth';
import { getProduct, renameProduct, revertRename, upsertProduct } from './products';
import { commitStock, getReservation, releaseStock, reserveStock, returnStock } from './reservations';
import type * as schema from './schema';

type Schema = typeof schema;
export type InventoryDeps = ServiceDeps<Schema>;

export function createInventoryApp(deps: InventoryDeps) {
  const { db } = deps;
  return createServiceApp(deps, (app) => {
    app.get('/products/:sku', getProduct(db));
    // The catalog is run by operators (and the scripts that seed it), never by a saga.
    app.put('/products/:sku', allowCallers('operator'), idempotentRoute(db, upsertProduct));
    app.post('/products/:sku/rename', allowCallers('worker'), idempotentRoute(db, renameProduct));
    app.post('/products/:sku/renames/:renameId/revert', allowCallers('worker'), idempotentRoute(db, revertRename));

    app.get('/reservations/:orderId', getReservation(db));
    app.post('/reservations', allowCallers(...SAGA_CALLERS), idempotentRoute(db, reserveStock));
    app.post('/reservations/:orderId/release', allowCallers(...SAGA_CALLERS), idempotentRoute(db, releaseStock));
    app.post('/reservations/:orderId/commit', allowCallers(...SAGA_CALLERS), idempotentRoute(db, commitStock));
    app.post('/reservations/:orderId/return', allowCallers('worker'), idempotentRoute(db, returnStock));
  });
}

export { ErrorCodes };

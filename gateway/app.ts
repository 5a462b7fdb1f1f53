import type express from 'express';
import type { Logger } from 'pino';
import { bearerAuth } from '../lib/auth/bearer-auth';
import { placeOrderBody } from '../sagas/place-order';
import { deriveKey } from '../lib/auth/keyed-hash';
import { methodNotAllowed, requireHost } from '../lib/http/http-guards';
import { baseApp, errorHandler, jsonBody, notFoundHandler, parse, startQuery } from '../lib/http/http';
import { idempotencyKeySchema } from '../lib/validation/text';
import { gatewayOrderId, type OrderCoordinator } from './coordinator';

export interface GatewayDeps {
  coordinator: Pick<OrderCoordinator, 'placeOrder'>;
  logger: Logger;
  /** The API's bearer token. */
  apiToken: string;
}

/**
 * The gateway coordinator's HTTP app (it never listens: `main.ts` does). `POST /orders` takes the
 * API's request (same schema, same bearer auth, same 4xx JSON errors) and answers 200 only once
 * the order was processed, synchronously: `{ orderId, status, result?, failure?, rollbackErrors? }`.
 */
export function createGatewayApp(deps: GatewayDeps): express.Express {
  const app = baseApp();
  // The gateway's only secret is the bearer token: the order-ID key derives from it (rotating the
  // token changes the order IDs keys map to from then on).
  const idKey = deriveKey(deps.apiToken, 'gateway/idempotent-ids');
  app.use(requireHost());
  app.use(methodNotAllowed(app));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.use(bearerAuth(deps.apiToken, 'API_TOKEN'));

  app.post('/orders', async (req, res) => {
    // `?wait=` is accepted for parity with the API; the gateway always answers when it is done.
    parse(startQuery, req.query, 'query');
    const body = parse(placeOrderBody, jsonBody(req));
    const rawKey = req.header('idempotency-key');
    const key = rawKey === undefined ? undefined : parse(idempotencyKeySchema, rawKey, 'Idempotency-Key header');
    // No store of answers: a repeat with the same key runs the whole sequence again under the
    // same order ID, and only the services' own idempotency makes its steps replays.
    res.status(200).json(await deps.coordinator.placeOrder(gatewayOrderId(idKey, key), body));
  });

  app.use(notFoundHandler());
  app.use(errorHandler(deps.logger));
  return app;
}

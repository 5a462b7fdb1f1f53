import type { Server } from 'node:http';
import type { Express, RequestHandler } from 'express';
import { ErrorCodes, errorBody } from '../errors';
import { listen } from '../service';

/**
 * HTTP answers express does not give by itself: 405 with `Allow` for a known path with another
 * method, and JSON bodies for what Node's own parser refuses before express sees a request
 * (431 for headers over the limit, 400 for an unknown method or a malformed request).
 */

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): boolean;
}

/**
 * A middleware that answers 405 METHOD_NOT_ALLOWED (with `Allow`) when the path is one of the
 * app's routes but the method is not, and 204 with `Allow` for OPTIONS. Mount it before the routes
 * (and before auth: which methods a path takes is no secret, the OpenAPI document lists them);
 * the route table is read from the app on first use, once every route is declared.
 */
export function methodNotAllowed(app: Express): RequestHandler {
  let layers: RouteLayer[] | undefined;
  return (req, res, next) => {
    layers ??= (app.router.stack as unknown as RouteLayer[]).filter((l) => l.route);
    const allowed = new Set<string>();
    for (const layer of layers) {
      if (!layer.match(req.path)) continue;
      for (const [method, on] of Object.entries(layer.route!.methods))
        if (on && method !== '_all') allowed.add(method.toUpperCase());
    }
    if (allowed.size === 0) return next();
    if (allowed.has('GET')) allowed.add('HEAD');
    if (allowed.has(req.method)) return next();
    const allow = [...allowed].sort().join(', ');
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    res
      .status(405)
      .json(errorBody(ErrorCodes.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${req.path}; allowed: ${allow}`));
  };
}

/**
 * An HTTP/1.1 request without a Host header is a 400 (RFC 9112), in the JSON shape. Node answers
 * it itself with an empty body unless the server leaves it to the app (`listenWithJsonErrors`).
 */
export function requireHost(): RequestHandler {
  return (req, res, next) => {
    if (req.headers.host === undefined && req.httpVersion === '1.1') {
      res.status(400).json(errorBody(ErrorCodes.VALIDATION_FAILED, 'An HTTP/1.1 request needs a Host header'));
      return;
    }
    next();
  };
}

/**
 * `listen` (lib/service.ts: Node's parser errors answered in the JSON shape) with the missing-Host
 * check left to the app's `requireHost`: what the API and the gateway serve with.
 */
export async function listenWithJsonErrors(app: Express, port: number, host: string): Promise<Server> {
  const server = await listen(app, port, host);
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  return server;
}

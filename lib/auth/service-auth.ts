/**
 * Service-to-service authentication, shared by the four services.
 *
 * Each service knows its callers by name and bearer token (`SERVICE_CALLERS="worker:<token>,
 * gateway:<token>,operator:<token>"`); each caller sends its own token (`SERVICE_TOKEN`). Every
 * route but `/healthz` (and `/admin/faults`, which has its own ADMIN_TOKEN) needs a known token:
 * 401 without one. Write routes also name the callers they serve (`allowCallers('worker',
 * 'gateway')`): 403 for any other. A service refuses to start with a write route that names none.
 *
 * Reads need a token too (any known caller): no production path reads over HTTP, and the answers
 * hold order contents, shipping addresses and card endings.
 */
import type { Express, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError, ErrorCodes } from '../errors';
import { bearerToken, tokenMatcher } from './bearer-auth';

/**
 * The programs that call the services:
 * - `worker`: the saga activities (every saga route);
 * - `gateway`: the gateway coordinator baseline (the PlaceOrder routes only);
 * - `operator`: people and scripts that run the catalog (`PUT /products/:sku`: dev seeding, bench,
 *   chaos) and the warehouse (`POST /shipments/:orderId/dispatch`).
 */
export const SERVICE_CALLER_NAMES = ['worker', 'gateway', 'operator'] as const;
export type ServiceCaller = (typeof SERVICE_CALLER_NAMES)[number];
/** Each configured caller and its token. */
export type ServiceCallers = ReadonlyMap<ServiceCaller, string>;

/** The callers of the routes a saga and the gateway both use. */
export const SAGA_CALLERS: readonly ServiceCaller[] = ['worker', 'gateway'];

const MIN_TOKEN_LENGTH = 16;
/** Visible ASCII but the separators of SERVICE_CALLERS, so a token is one header-safe word. */
const TOKEN_PATTERN = /^[\x21-\x2b\x2d-\x39\x3b-\x7e]+$/;

/** A caller's own bearer token (`SERVICE_TOKEN` of the worker and the gateway). */
export const serviceTokenSchema = z
  .string({ error: `required: this program's bearer token for the services (at least ${MIN_TOKEN_LENGTH} characters)` })
  .min(MIN_TOKEN_LENGTH, `at least ${MIN_TOKEN_LENGTH} characters`)
  .regex(TOKEN_PATTERN, 'visible ASCII characters only, no comma or colon');

/** `SERVICE_CALLERS`: `name:token` pairs, comma-separated; names from SERVICE_CALLER_NAMES, tokens distinct. */
export const serviceCallersSchema = z
  .string({
    error: `required: the callers this service serves, e.g. "worker:<token>,gateway:<token>" (names: ${SERVICE_CALLER_NAMES.join(', ')})`,
  })
  .transform((text, ctx): ServiceCallers => {
    const callers = new Map<ServiceCaller, string>();
    const entries = text
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'at least one caller' });
    for (const entry of entries) {
      const at = entry.indexOf(':');
      const name = (at < 0 ? entry : entry.slice(0, at)) as ServiceCaller;
      const token = at < 0 ? '' : entry.slice(at + 1);
      if (!SERVICE_CALLER_NAMES.includes(name)) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown caller "${name}" (known: ${SERVICE_CALLER_NAMES.join(', ')})`,
        });
      } else if (callers.has(name)) {
        ctx.addIssue({ code: 'custom', message: `caller ${name} is listed twice` });
      } else if (!serviceTokenSchema.safeParse(token).success) {
        ctx.addIssue({
          code: 'custom',
          message: `caller ${name}: the token must be at least ${MIN_TOKEN_LENGTH} visible ASCII characters, no comma or colon`,
        });
      } else if ([...callers.values()].includes(token)) {
        ctx.addIssue({ code: 'custom', message: `caller ${name}: every caller needs a token of its own` });
      } else {
        callers.set(name, token);
      }
    }
    return callers;
  });

/** Writes callers back as SERVICE_CALLERS text (for the dev stack, the harness and the tests). */
export function formatServiceCallers(callers: Partial<Record<ServiceCaller, string>>): string {
  return Object.entries(callers)
    .filter(([, token]) => token !== undefined)
    .map(([name, token]) => `${name}:${token}`)
    .join(',');
}

/** The authenticated caller of a request (set by `authenticateCallers`). */
export function callerOf(res: Response): ServiceCaller | undefined {
  return (res.locals as { caller?: ServiceCaller }).caller;
}

/**
 * Requires a known caller's bearer token on every request but `skip`'s: 401 UNAUTHORIZED
 * otherwise. Mounted before the body parser, so an unauthenticated body is never read.
 */
export function authenticateCallers(opts: {
  callers: ServiceCallers;
  logger: Logger;
  skip: (method: string, path: string) => boolean;
}): RequestHandler {
  if (opts.callers.size === 0) throw new Error('Service authentication needs at least one caller (SERVICE_CALLERS)');
  const match = tokenMatcher(opts.callers);
  return (req, res, next) => {
    if (opts.skip(req.method, req.path)) {
      next();
      return;
    }
    const caller = match(bearerToken(req.header('authorization')));
    if (!caller) {
      opts.logger.warn(
        { method: req.method, path: req.path, remote: req.socket.remoteAddress },
        'unauthenticated service call refused',
      );
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(new AppError(401, ErrorCodes.UNAUTHORIZED, "Send Authorization: Bearer <the caller's SERVICE_TOKEN>"));
      return;
    }
    res.locals.caller = caller;
    res.locals.authLogger = opts.logger;
    opts.logger.debug({ caller, method: req.method, path: req.path }, 'service call');
    next();
  };
}

const allowHandlers = new WeakSet<RequestHandler>();

/** First handler of a write route: only these callers may call it (403 FORBIDDEN for the others). */
export function allowCallers(...names: ServiceCaller[]): RequestHandler {
  const allowed = new Set(names);
  const handler: RequestHandler = (req, res, next) => {
    const caller = callerOf(res);
    if (caller === undefined || !allowed.has(caller)) {
      (res.locals as { authLogger?: Logger }).authLogger?.warn(
        { caller, method: req.method, path: req.path },
        'service call by a caller this route does not serve',
      );
      next(
        new AppError(
          403,
          ErrorCodes.FORBIDDEN,
          `Caller ${caller ?? '(none)'} may not call ${req.method} ${req.route?.path ?? req.path}`,
          { allowed: names },
        ),
      );
      return;
    }
    next();
  };
  allowHandlers.add(handler);
  return handler;
}

/** Refuses an app with a write route whose first handler is not `allowCallers(...)`: no route is open by omission. */
export function assertWriteRoutesNameCallers(app: Express): void {
  const open: string[] = [];
  for (const layer of app.router.stack) {
    const route = layer.route as unknown as
      { path: unknown; methods: Record<string, boolean>; stack: { handle: RequestHandler }[] } | undefined;
    if (!route) continue;
    const writes = Object.keys(route.methods).filter((m) => m !== 'get' && m !== 'head' && m !== '_all');
    if (writes.length > 0 && !allowHandlers.has(route.stack[0]!.handle))
      open.push(`${writes.join('|').toUpperCase()} ${String(route.path)}`);
  }
  if (open.length > 0) throw new Error(`Write routes must name their callers with allowCallers(): ${open.join(', ')}`);
}

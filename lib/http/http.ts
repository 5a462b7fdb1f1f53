import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from 'pino';
import { AppError, ErrorCodes, errorBody } from '../errors';
import { runIdempotent, type Reply } from './idempotency';
import type { Db, Tx } from '../db';

export const BODY_LIMIT = '64kb';

/**
 * The query of a request that starts a saga (the API's `POST /orders`, `POST /sagas/{type}`, …; the
 * gateway accepts it for parity and always answers when done). `true`: wait until the saga ended or
 * is STUCK; `decided`: until its outcome is decided (past its pivot, ended or STUCK).
 */
export const startQuery = z.strictObject({
  wait: z.enum(['true', 'false', 'decided']).optional(),
});

/**
 * An express app with the JSON body parser every service and the API use. `beforeBody` runs ahead
 * of the parser (fault injection: a service that is "down" must not even read the body).
 */
export function baseApp(opts: { beforeBody?: RequestHandler[] } = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  for (const handler of opts.beforeBody ?? []) app.use(handler);
  app.use(utf8JsonOnly);
  app.use(express.json({ limit: BODY_LIMIT, strict: true, type: ['application/json', 'application/*+json'] }));
  return app;
}

/**
 * JSON bodies must be UTF-8 (RFC 8259 8.1). The JSON parser would also decode UTF-16 and UTF-32,
 * which lets the same request come in byte sequences no proxy, WAF or log filter in front expects.
 */
const utf8JsonOnly: RequestHandler = (req, _res, next) => {
  const type = req.headers['content-type'] ?? '';
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1]?.toLowerCase();
  if (
    charset !== undefined &&
    charset !== 'utf-8' &&
    charset !== 'utf8' &&
    /^application\/([\w.-]+\+)?json\b/i.test(type)
  ) {
    next(new AppError(415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE, `JSON bodies must be UTF-8, not ${charset}`));
    return;
  }
  next();
};

/** What runs between an idempotent route's commit and its answer; `true` means it took the answer over. */
export type AfterCommitHook = (req: Request, res: Response) => boolean;
const afterCommitHooks = new WeakMap<Response, AfterCommitHook>();

/**
 * Registers a hook for this request that runs once its idempotent transaction has committed a new
 * effect (not for a replayed answer), before the answer is sent. Fault injection uses it to lose
 * the answer of a committed request, as a crash at that moment would.
 */
export function afterCommit(res: Response, hook: AfterCommitHook): void {
  afterCommitHooks.set(res, hook);
}

/** Turns zod issues into the `details` of a VALIDATION_FAILED error. */
function zodDetails(error: z.ZodError) {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** Parses `value` with `schema` or throws a 400 that lists every problem. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError(400, ErrorCodes.VALIDATION_FAILED, `Invalid ${what}`, zodDetails(result.error));
  }
  return result.data;
}

/** For POST/PUT routes: a JSON object body is required (not a missing body or another media type). */
export function jsonBody(req: Request): unknown {
  if (req.body === undefined) {
    // A chunked body has no Content-Length but is a body all the same: only a truly empty request means `{}`.
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === '0' || length === undefined)) return {};
    throw new AppError(415, ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 'Send the body as application/json');
  }
  return req.body;
}

export function sendReply(res: Response, reply: Reply & { replayed?: boolean }): void {
  if (reply.replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(reply.status).json(reply.body);
}

/**
 * A mutating route whose effect is stored with its `Idempotency-Key` (see `runIdempotent`).
 * `handle` validates first (outside the transaction) and returns the transactional work.
 */
export function idempotentRoute<TSchema extends Record<string, unknown>>(
  db: Db<TSchema>,
  handle: (req: Request) => (tx: Tx<TSchema>) => Promise<Reply>,
  opts: {
    /** What of the body the stored request hash covers (e.g. not a full card number, which a hash would not hide). */
    hashedBody?: (body: unknown) => unknown;
  } = {},
): RequestHandler {
  return async (req, res) => {
    const work = handle(req);
    const key = req.header('idempotency-key');
    const body = opts.hashedBody ? opts.hashedBody(req.body ?? null) : (req.body ?? null);
    const outcome = await runIdempotent(db, { key, method: req.method, path: req.path, body }, work);
    if (!outcome.replayed && afterCommitHooks.get(res)?.(req, res)) return;
    sendReply(res, outcome);
  };
}

/**
 * For each declared path, a 405 (with `Allow`) for the methods it does not declare, so a wrong
 * method is told apart from a wrong path. `routes` are `METHOD /pattern` (lib/http/faults.ts declaredRoutes).
 */
export function methodNotAllowedHandlers(routes: string[]): express.Router {
  const router = express.Router();
  const byPath = new Map<string, string[]>();
  for (const route of routes) {
    const [method, path] = route.split(' ', 2) as [string, string];
    byPath.set(path, [...(byPath.get(path) ?? []), method, ...(method === 'GET' ? ['HEAD'] : [])]);
  }
  for (const [path, methods] of byPath) {
    router.all(path, (req, res) => {
      res.setHeader('Allow', methods.join(', '));
      res
        .status(405)
        .json(
          errorBody(
            ErrorCodes.METHOD_NOT_ALLOWED,
            `${req.method} is not allowed on ${path}; allowed: ${methods.join(', ')}`,
          ),
        );
    });
  }
  return router;
}

export function notFoundHandler(): RequestHandler {
  return (req, res) => {
    res.status(404).json(errorBody(ErrorCodes.NOT_FOUND, `No route ${req.method} ${req.path}`));
  };
}

/** The one place errors become HTTP answers: client mistakes are 4xx, everything else an honest 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof AppError) {
      res.status(err.status).json(errorBody(err.code, err.message, err.details));
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json(errorBody(ErrorCodes.INVALID_JSON, `Malformed JSON: ${e.message}`));
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json(errorBody(ErrorCodes.PAYLOAD_TOO_LARGE, `Body larger than ${BODY_LIMIT}`));
      return;
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      res.status(415).json(errorBody(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, e.message ?? 'Unsupported encoding'));
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json(errorBody(ErrorCodes.VALIDATION_FAILED, e.message ?? 'Bad request'));
      return;
    }
    logger.error({ err, method: req.method, path: req.path, caller: res.locals.caller as unknown }, 'unhandled error');
    res.status(500).json(errorBody(ErrorCodes.INTERNAL, 'Internal error'));
  };
}

/**
 * Bearer tokens, checked one way everywhere: the API and the gateway (API_TOKEN), the services
 * (their callers' tokens, lib/auth/service-auth.ts) and fault injection (ADMIN_TOKEN).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError, ErrorCodes } from '../errors';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The token of an `Authorization: Bearer <token>` header, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer +(.+?) *$/i.exec(header ?? '')?.[1];
}

/**
 * Finds whose token this is, in constant time: both sides are hashed (so lengths do not leak) and
 * every known token is compared, whichever matches.
 */
export function tokenMatcher<N extends string>(
  tokens: ReadonlyMap<N, string>,
): (given: string | undefined) => N | undefined {
  const known = [...tokens].map(([name, token]) => ({ name, digest: sha256(token) }));
  return (given) => {
    const digest = sha256(given ?? '');
    let found: N | undefined;
    for (const k of known) {
      if (timingSafeEqual(digest, k.digest)) found = k.name;
    }
    return found;
  };
}

/**
 * Requires `Authorization: Bearer <token>` on every request that reaches it: 401 UNAUTHORIZED (with
 * `WWW-Authenticate: Bearer`) otherwise. `tokenName` is the setting the caller should send, for
 * the message (`API_TOKEN`, `ADMIN_TOKEN`), never its value.
 */
export function bearerAuth(token: string, tokenName: string): RequestHandler {
  const match = tokenMatcher(new Map([[tokenName, token]]));
  return (req, res, next) => {
    if (match(bearerToken(req.header('authorization'))) === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(new AppError(401, ErrorCodes.UNAUTHORIZED, `Send Authorization: Bearer <${tokenName}>`));
      return;
    }
    next();
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../lib/errors';

/** The code of the 401 every bearer-protected route answers (the API and the gateway). */
export const UNAUTHORIZED = 'UNAUTHORIZED';

/**
 * Constant-time bearer check (hashing first makes the lengths equal, so the length does not leak
 * either). Shared by the API and the gateway coordinator, so both guard POST /orders the same way.
 */
export function bearerAuth(token: string): RequestHandler {
  const expected = createHash('sha256').update(token).digest();
  return (req, _res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer (.+)$/i.exec(header);
    const given = createHash('sha256').update(match?.[1] ?? '').digest();
    if (!match || !timingSafeEqual(given, expected)) {
      next(new AppError(401, UNAUTHORIZED, 'Send Authorization: Bearer <API_TOKEN>'));
      return;
    }
    next();
  };
}

/**
 * One error type for every HTTP boundary in the project. A service or the API throws an
 * `AppError`; the shared error middleware turns it into `{ error: { code, message, details? } }`
 * with `status`. Codes are stable: clients and the saga workflows branch on them.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const ErrorCodes = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  INVALID_JSON: 'INVALID_JSON',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'NOT_FOUND',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  INTERNAL: 'INTERNAL',
  UNAVAILABLE: 'UNAVAILABLE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** An authenticated caller that the route does not serve (lib/service-auth.ts). */
  FORBIDDEN: 'FORBIDDEN',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** Answered for Node's own parser (lib/service.ts answerClientErrorsAsJson). */
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** A 503 answered by fault injection (lib/faults.ts), not by the service's own logic. */
  INJECTED_FAULT: 'INJECTED_FAULT',
} as const;

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

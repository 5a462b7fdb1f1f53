/**
 * One error type for every HTTP boundary in the project, and the one registry of the error codes
 * more than one program answers or branches on. A service or the API throws an `AppError`; the
 * shared error middleware turns it into `{ error: { code, message, details? } }` with `status`.
 * Codes are stable: clients and the saga workflows branch on them. A service's own domain codes
 * stay in its contract.ts, and the API's in api/errors.ts (ApiErrors); neither redefines one of these.
 *
 * No imports, no I/O: the workflows import it too (a rejected operator Update's failure type).
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
  /** The same Idempotency-Key with a different request (services, API, gateway: 422). */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** A state change the entity's current state does not allow (orders, inventory: 409). */
  ILLEGAL_TRANSITION: 'ILLEGAL_TRANSITION',
  /**
   * An operator action on a saga that is not STUCK: the `type` of the failure the workflow's Update
   * validator throws (workflows/operator-updates.ts), and the API's 409.
   */
  SAGA_NOT_STUCK: 'SAGA_NOT_STUCK',
  INTERNAL: 'INTERNAL',
  UNAVAILABLE: 'UNAVAILABLE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** An authenticated caller that the route does not serve (lib/auth/service-auth.ts). */
  FORBIDDEN: 'FORBIDDEN',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** Answered for Node's own parser (lib/service.ts answerClientErrorsAsJson). */
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** A 503 answered by fault injection (lib/http/faults.ts), not by the service's own logic. */
  INJECTED_FAULT: 'INJECTED_FAULT',
} as const;

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

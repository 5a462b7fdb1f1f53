import { ErrorCodes } from '../lib/errors';

/** The API's own error codes (the shared ones are lib/errors.ts's ErrorCodes; none is redefined here). */
export const ApiErrors = {
  SAGA_NOT_FOUND: 'SAGA_NOT_FOUND',
  /** POST /sagas/{type} with a type the registry does not have. */
  SAGA_TYPE_NOT_FOUND: 'SAGA_TYPE_NOT_FOUND',
  SAGA_NOT_STUCK: ErrorCodes.SAGA_NOT_STUCK,
  SAGA_CLOSED: 'SAGA_CLOSED',
  IDEMPOTENCY_KEY_REUSED: ErrorCodes.IDEMPOTENCY_KEY_REUSED,
  TEMPORAL_UNAVAILABLE: 'TEMPORAL_UNAVAILABLE',
  /** Cancel on a saga that is STUCK, compensating, or past its point of no return. */
  SAGA_NOT_CANCELLABLE: 'SAGA_NOT_CANCELLABLE',
  /** An operator action no worker took in time (the saga is unchanged). */
  NO_WORKER: 'NO_WORKER',
  /** Cancel on a running saga whose state no worker could tell: cancelling blind could undo what it must not. */
  SAGA_STATE_UNKNOWN: 'SAGA_STATE_UNKNOWN',
  /** GET /audit could not read the service databases. */
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
} as const;

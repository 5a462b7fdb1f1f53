/**
 * What an error from the Temporal client means to the API, in one place: every answer the API
 * gives because of a Temporal error is decided by one of these predicates.
 *
 * They read the SDK's own error classes (cross-realm safe: the SDK's `instanceof` checks a
 * `Symbol.for` marker, so they hold under Jest and across copies of the package) and the gRPC
 * status of a raw service error (the workflow service's own calls: list, count, history), by its
 * name in `@grpc/grpc-js`'s `status`.
 */
import { status } from '@grpc/grpc-js';
import {
  ApplicationFailure,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
} from '@temporalio/client';

/**
 * The gRPC status of a raw service error (what the workflow service's own calls throw); undefined
 * for anything else. The client's errors that wrap one (`ServiceError`'s `cause`) are classified by
 * their class instead.
 */
export function grpcStatusOf(err: unknown): status | undefined {
  return isGrpcServiceError(err) ? err.code : undefined;
}

/**
 * There is no such workflow: the client's `WorkflowNotFoundError` (describe, query, update), or a
 * raw NOT_FOUND from a call the client passes through unchanged (`fetchHistory`).
 */
export function isWorkflowNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcStatusOf(err) === status.NOT_FOUND;
}

/**
 * The workflow ID is taken by a run the start may not replace (an Idempotency-Key repeat, or the
 * open run of a business key): from a start, or as the `cause` of an Update-with-Start's error.
 */
export function isWorkflowAlreadyStarted(err: unknown): boolean {
  return (
    err instanceof WorkflowExecutionAlreadyStartedError ||
    (err as { cause?: unknown } | undefined)?.cause instanceof WorkflowExecutionAlreadyStartedError ||
    grpcStatusOf(err) === status.ALREADY_EXISTS
  );
}

/**
 * An Update could not reach the workflow because it has ended: the server answers an Update to a
 * closed run with NOT_FOUND ("workflow execution already completed", the client's
 * `WorkflowNotFoundError`) or FAILED_PRECONDITION.
 */
export function isWorkflowClosed(err: unknown): boolean {
  return isWorkflowNotFound(err) || grpcStatusOf(err) === status.FAILED_PRECONDITION;
}

/** Waiting on a workflow's result: it ended, but not by completing (failed, cancelled, terminated, timed out). */
export function isWorkflowFailed(err: unknown): boolean {
  return err instanceof WorkflowFailedError;
}

/**
 * The failure type an Update's handler or validator failed with (an `ApplicationFailure`'s `type`,
 * e.g. SAGA_NOT_STUCK), and its message; undefined when the error is not a failed Update.
 */
export function updateFailure(err: unknown): { type: string | undefined; message: string } | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? undefined, message: cause.message };
  return { type: undefined, message: cause?.message ?? err.message };
}

/** No worker took an Update before the call's deadline or cancellation (the Update may still be pending). */
export function isUpdateNotTakenInTime(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || grpcStatusOf(err) === status.DEADLINE_EXCEEDED;
}

/**
 * Temporal could not serve the call: a client `ServiceError` (what the client throws for a service
 * error it has no better class for), or a raw UNAVAILABLE (not reachable) or DEADLINE_EXCEEDED.
 * The API answers these 503 TEMPORAL_UNAVAILABLE, never a 500.
 */
export function isTemporalUnavailable(err: unknown): boolean {
  const code = grpcStatusOf(err);
  return err instanceof ServiceError || code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED;
}

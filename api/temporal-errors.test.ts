/**
 * The Temporal error classifier, on error objects built the way the SDK builds them (no server):
 * a raw gRPC service error as `@grpc/grpc-js` rejects a call with, and the client's own classes.
 */
import { Metadata, status } from '@grpc/grpc-js';
import {
  ApplicationFailure,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import {
  grpcStatusOf,
  isTemporalUnavailable,
  isUpdateNotTakenInTime,
  isWorkflowAlreadyStarted,
  isWorkflowClosed,
  isWorkflowFailed,
  isWorkflowNotFound,
  updateFailure,
} from './temporal-errors';

/** A raw gRPC error, shaped as grpc-js rejects a call (`code`, `details`, `metadata`). */
function grpcError(code: status, details = 'details'): Error {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

const notFound = new WorkflowNotFoundError('workflow execution already completed', 'order-1', undefined);
const alreadyStarted = new WorkflowExecutionAlreadyStartedError(
  'Workflow execution already started',
  'k1',
  'placeOrder',
);
const serviceError = new ServiceError('Failed to query Workflow', { cause: grpcError(status.UNAVAILABLE) });
const updateTimedOut = new WorkflowUpdateRPCTimeoutOrCancelledError('Workflow update call timeout or cancelled', {
  cause: grpcError(status.DEADLINE_EXCEEDED),
});
const notStuck = new WorkflowUpdateFailedError(
  'Workflow Update failed',
  ApplicationFailure.create({ message: 'Saga order-1 is COMPLETED, not STUCK', type: 'SAGA_NOT_STUCK' }),
);
const workflowFailed = new WorkflowFailedError(
  'Workflow execution failed',
  undefined,
  RetryState.NON_RETRYABLE_FAILURE,
);
const plain = new Error('workflow execution already completed: not running');

describe('classifying Temporal errors', () => {
  test.each([
    { label: 'a raw gRPC error', err: grpcError(status.NOT_FOUND), expected: status.NOT_FOUND },
    { label: 'a client error class', err: notFound, expected: undefined },
    {
      label: 'a plain Error with a numeric code',
      err: Object.assign(new Error('x'), { code: 5 }),
      expected: undefined,
    },
    { label: 'not an error', err: { code: 5, details: 'x', metadata: {} }, expected: undefined },
  ])('when $label is read for its gRPC status, then it is $expected', ({ err, expected }) => {
    expect(grpcStatusOf(err)).toBe(expected);
  });

  test.each([
    { label: 'WorkflowNotFoundError', err: notFound, expected: true },
    { label: 'a raw NOT_FOUND (fetchHistory)', err: grpcError(status.NOT_FOUND), expected: true },
    { label: 'a raw ALREADY_EXISTS', err: grpcError(status.ALREADY_EXISTS), expected: false },
    { label: 'a ServiceError', err: serviceError, expected: false },
    { label: 'a plain Error whose message says not found', err: new Error('workflow not found'), expected: false },
  ])('when $label is thrown, then isWorkflowNotFound is $expected', ({ err, expected }) => {
    expect(isWorkflowNotFound(err)).toBe(expected);
  });

  test.each([
    { label: 'WorkflowExecutionAlreadyStartedError', err: alreadyStarted, expected: true },
    {
      label: 'an Update-with-Start error caused by it',
      err: new ServiceError('Update-With-Start failed', { cause: alreadyStarted }),
      expected: true,
    },
    { label: 'a raw ALREADY_EXISTS', err: grpcError(status.ALREADY_EXISTS), expected: true },
    { label: 'WorkflowNotFoundError', err: notFound, expected: false },
    { label: 'undefined', err: undefined, expected: false },
  ])('when $label is thrown, then isWorkflowAlreadyStarted is $expected', ({ err, expected }) => {
    expect(isWorkflowAlreadyStarted(err)).toBe(expected);
  });

  test.each([
    { label: 'an Update to a completed run (WorkflowNotFoundError)', err: notFound, expected: true },
    { label: 'a raw FAILED_PRECONDITION', err: grpcError(status.FAILED_PRECONDITION), expected: true },
    { label: 'a raw NOT_FOUND', err: grpcError(status.NOT_FOUND), expected: true },
    { label: 'a failed Update', err: notStuck, expected: false },
    { label: 'a plain Error whose message says so (no more matching on messages)', err: plain, expected: false },
  ])('when $label is thrown, then isWorkflowClosed is $expected', ({ err, expected }) => {
    expect(isWorkflowClosed(err)).toBe(expected);
  });

  test('when waiting on a result throws WorkflowFailedError, then the workflow ended; anything else is not that', () => {
    expect(isWorkflowFailed(workflowFailed)).toBe(true);
    expect(isWorkflowFailed(notFound)).toBe(false);
    expect(isWorkflowFailed(new Error('WorkflowFailedError'))).toBe(false);
  });

  test('when an Update fails with an ApplicationFailure, then its type and message are what the validator threw', () => {
    expect(updateFailure(notStuck)).toEqual({
      type: 'SAGA_NOT_STUCK',
      message: 'Saga order-1 is COMPLETED, not STUCK',
    });
    expect(updateFailure(new WorkflowUpdateFailedError('Workflow Update failed', new Error('boom')))).toEqual({
      type: undefined,
      message: 'boom',
    });
    expect(updateFailure(notFound)).toBeUndefined();
    expect(updateFailure(Object.assign(new Error('x'), { cause: { type: 'SAGA_NOT_STUCK' } }))).toBeUndefined();
  });

  test.each([
    { label: 'WorkflowUpdateRPCTimeoutOrCancelledError', err: updateTimedOut, expected: true },
    { label: 'a raw DEADLINE_EXCEEDED', err: grpcError(status.DEADLINE_EXCEEDED), expected: true },
    { label: 'a raw UNAVAILABLE', err: grpcError(status.UNAVAILABLE), expected: false },
    { label: 'a failed Update', err: notStuck, expected: false },
  ])('when $label is thrown by an Update, then isUpdateNotTakenInTime is $expected', ({ err, expected }) => {
    expect(isUpdateNotTakenInTime(err)).toBe(expected);
  });

  test.each([
    { label: 'a ServiceError', err: serviceError, expected: true },
    { label: 'a raw UNAVAILABLE', err: grpcError(status.UNAVAILABLE), expected: true },
    { label: 'a raw DEADLINE_EXCEEDED', err: grpcError(status.DEADLINE_EXCEEDED), expected: true },
    { label: 'a raw INVALID_ARGUMENT', err: grpcError(status.INVALID_ARGUMENT), expected: false },
    { label: 'WorkflowNotFoundError', err: notFound, expected: false },
    {
      label: 'a plain Error named like a connection error',
      err: Object.assign(new Error('x'), { name: 'ConnectionError' }),
      expected: false,
    },
  ])('when $label is thrown, then isTemporalUnavailable is $expected', ({ err, expected }) => {
    expect(isTemporalUnavailable(err)).toBe(expected);
  });
});

/**
 * CancelOrder: a customer cancels a CONFIRMED order.
 *
 *   beginOrderCancellation          order CONFIRMED → CANCELLING     ↺ revertOrderCancellation (→ CONFIRMED)
 *            │
 *   cancelShipment          pivot   shipment SCHEDULED → CANCELLED
 *            │                        ✗ SHIPMENT_ALREADY_DISPATCHED: the parcel has left; the order is
 *            │                          CONFIRMED again, nothing refunded, the stock stays committed
 *   ╭ refundPayment     retriable   payment CAPTURED → REFUNDED
 *   ╰ returnStock       retriable   stock committed → available (reservation RETURNED)
 *            │
 *   completeOrderCancellation  retriable   order CANCELLING → CANCELLED
 *
 * The shipment is the pivot because it is the one step that can become impossible (the warehouse
 * dispatches on its own schedule) and that cannot be undone once done; everything after it only has
 * to be retried until it lands. The CANCELLING mark comes first so that, while the saga runs, the
 * orders service refuses anything else the order could be asked to become.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { Saga, type CompensatedSaga } from './saga';
import { sagaProxies, type SagaRunOptions } from './options';

/** The saga type (the `SagaType` search attribute). */
export const CANCEL_ORDER = 'CancelOrder';

/**
 * Workflow ID of the saga that cancels `orderId`: a business key, so one order has one
 * cancellation saga, and a duplicate cancel request finds the saga already under way (or done).
 * It is also the cancellation's ID in the orders service, which only lets that saga revert or
 * complete the CANCELLING mark it set.
 */
export function cancelOrderWorkflowId(orderId: string): string {
  return `cancel-${orderId}`;
}

export interface CancelOrderInput {
  orderId: string;
  /** The customer's reason, kept on the cancelled order (at most 255 characters are stored). */
  reason?: string;
  options?: SagaRunOptions;
}

export interface CancelOrderResult {
  orderId: string;
  shipmentId: string;
  /** What was refunded (0 when the payment had already been refunded). */
  refundedCents: number;
  /** The units that went back to available. */
  returnedLines: { sku: string; quantity: number }[];
}

/**
 * Cancels a confirmed order across the four services: mark it CANCELLING → cancel its shipment
 * (the pivot) → refund its payment and return its stock, in parallel (retried until they succeed)
 * → mark it CANCELLED (retried until it succeeds).
 *
 * Compensation: the CANCELLING mark is reverted (the order is CONFIRMED again) when the shipment
 * cannot be cancelled (SHIPMENT_ALREADY_DISPATCHED) or its retries run out. A rejected first step
 * (ORDER_NOT_FOUND; ILLEGAL_TRANSITION for a PENDING, CANCELLED or CANCELLING order) changed
 * nothing and compensates nothing. Past the pivot there is no compensation: a retriable step that
 * is rejected anyway leaves the saga STUCK for an operator.
 *
 * Completes with a `CancelOrderResult`, or, when it compensated (a rejection included), with its
 * final state (status COMPENSATED; the rejecting step and its failure type in `failure`); otherwise
 * throws ApplicationFailure `SagaResolvedManually` or a cancellation, whose details hold the final
 * saga state.
 */
export async function cancelOrder(input: CancelOrderInput): Promise<CancelOrderResult | CompensatedSaga> {
  const { forward, undo, retriable } = sagaProxies<Activities>(input.options);
  const saga = new Saga({ type: CANCEL_ORDER, deadlineMs: input.options?.deadlineMs, compensation: input.options?.compensation, searchAttributesAtStart: input.options?.searchAttributesAtStart });
  // Keys derive from the workflow ID and the step, so retries and replays reuse them.
  const wf = workflowInfo().workflowId;
  const key = (step: string) => `${wf}:${step}`;
  const undoKey = (step: string, round: number) => `${wf}:${step}:compensate:${round}`;
  const retryKey = (step: string, round: number) => (round ? `${key(step)}:retry:${round}` : key(step));
  const { orderId } = input;
  const cancellationId = wf;

  return saga.run(async () => {
    await saga.step({
      name: 'beginOrderCancellation',
      action: () => forward.beginOrderCancellation({ idempotencyKey: key('beginOrderCancellation'), orderId, cancellationId }),
      compensate: ({ round }) => undo.revertOrderCancellation({ idempotencyKey: undoKey('beginOrderCancellation', round), orderId, cancellationId }),
    });
    const shipment = await saga.step({
      name: 'cancelShipment',
      kind: 'pivot',
      action: () => forward.cancelShipment({ idempotencyKey: key('cancelShipment'), orderId }),
    });
    const [refund, stock] = await saga.parallel([
      {
        name: 'refundPayment',
        kind: 'retriable',
        action: ({ round }) => retriable.refundPayment({ idempotencyKey: retryKey('refundPayment', round), orderId }),
      },
      {
        name: 'returnStock',
        kind: 'retriable',
        action: ({ round }) => retriable.returnStock({ idempotencyKey: retryKey('returnStock', round), orderId }),
      },
    ]);
    await saga.step({
      name: 'completeOrderCancellation',
      kind: 'retriable',
      action: ({ round }) =>
        retriable.completeOrderCancellation({ idempotencyKey: retryKey('completeOrderCancellation', round), orderId, cancellationId, reason: input.reason }),
    });
    return {
      orderId,
      shipmentId: shipment.shipmentId,
      refundedCents: refund.refunded ? (refund.payment?.amountCents ?? 0) : 0,
      returnedLines: stock.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
    };
  });
}

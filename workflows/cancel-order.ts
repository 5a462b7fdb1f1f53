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
import type { Activities } from '../activities';
import { Saga, type CompensatedSaga } from './saga';
import { sagaOptionsFrom, sagaProxies, type SagaRunOptions } from './options';

/** The saga type (the `SagaType` search attribute); its definition is sagas/cancel-order.ts. */
export const CANCEL_ORDER = 'CancelOrder';

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
 * Compensation: the CANCELLING mark is reverted (the order is CONFIRMED again) only when the
 * shipping service rejects the cancel (SHIPMENT_ALREADY_DISPATCHED). When its retries run out the
 * outcome is unknown (the shipment may be cancelled for good): the saga goes STUCK on the pivot and
 * undoes nothing until an operator retries or resolves it. A rejected first step
 * (ORDER_NOT_FOUND; ILLEGAL_TRANSITION for a PENDING, CANCELLED or CANCELLING order) changed
 * nothing and compensates nothing. Past the pivot there is no compensation: a retriable step that
 * is rejected anyway leaves the saga STUCK for an operator.
 *
 * Completes with a `CancelOrderResult`, or, when it compensated (a rejection included), with its
 * final state (status COMPENSATED; the rejecting step and its failure type in `failure`); otherwise
 * throws ApplicationFailure `SagaResolvedManually` or a cancellation, whose details hold the final
 * saga state.
 *
 * Its workflow ID, `cancel-<orderId>`, is a business key that runs again once a run has closed (a
 * cancel refused while the order was still PENDING must not block a cancel once it is confirmed),
 * so its idempotency keys are scoped to the run: `<workflowId>.<firstExecutionRunId>:<step>`. That
 * scope is also the cancellation's ID in the orders service, which lets only this run revert or
 * complete the CANCELLING mark it set.
 */
export async function cancelOrder(input: CancelOrderInput): Promise<CancelOrderResult | CompensatedSaga> {
  const { forward, undo, retriable, pivot } = sagaProxies<Activities>(input.options);
  const saga = new Saga({
    type: CANCEL_ORDER,
    ...sagaOptionsFrom(input.options),
    idempotencyScope: 'run',
  });
  const cancellationId = saga.keyScope;
  const { orderId } = input;

  return saga.run(async () => {
    await saga.step({
      name: 'beginOrderCancellation',
      action: ({ idempotencyKey }) => forward.beginOrderCancellation({ idempotencyKey, orderId, cancellationId }),
      compensate: ({ idempotencyKey }) => undo.revertOrderCancellation({ idempotencyKey, orderId, cancellationId }),
    });
    const shipment = await saga.step({
      name: 'cancelShipment',
      kind: 'pivot',
      action: ({ idempotencyKey }) => pivot.cancelShipment({ idempotencyKey, orderId }),
    });
    const [refund, stock] = await saga.parallel([
      {
        name: 'refundPayment',
        kind: 'retriable',
        action: ({ idempotencyKey }) => retriable.refundPayment({ idempotencyKey, orderId }),
      },
      {
        name: 'returnStock',
        kind: 'retriable',
        action: ({ idempotencyKey }) => retriable.returnStock({ idempotencyKey, orderId }),
      },
    ]);
    await saga.step({
      name: 'completeOrderCancellation',
      kind: 'retriable',
      action: ({ idempotencyKey }) =>
        retriable.completeOrderCancellation({ idempotencyKey, orderId, cancellationId, reason: input.reason }),
    });
    return {
      orderId,
      shipmentId: shipment.shipmentId,
      refundedCents: refund.refunded ? (refund.payment?.amountCents ?? 0) : 0,
      returnedLines: stock.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
    };
  });
}

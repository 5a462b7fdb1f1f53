import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Address } from '../services/shipping/contract';
import { Saga } from './saga';
import { sagaActivityOptions, type SagaRunOptions } from './options';
import { PLACE_ORDER } from '../shared/saga-names';

export { PLACE_ORDER, placeOrderWorkflowId } from '../shared/saga-names';


export interface PlaceOrderInput {
  orderId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  /** The card number sealed by the API (lib/card-token.ts) and its last four digits: never the number itself. */
  payment: { cardToken: string; last4: string };
  shippingAddress: Address;
  options?: SagaRunOptions;
}

export interface PlaceOrderResult {
  orderId: string;
  totalCents: number;
  paymentId: string;
  shipmentId: string;
  lines: { sku: string; quantity: number; productName: string; unitPriceCents: number }[];
}

/**
 * Places an order across four services: create order (PENDING) → reserve stock → charge the
 * total → schedule the shipment → confirm the order (the pivot) → commit the stock (retried until
 * it succeeds).
 *
 * Compensations, in reverse: cancel shipment, refund, release stock, cancel order.
 * Ends COMPLETED with a `PlaceOrderResult`; otherwise throws ApplicationFailure `SagaCompensated`
 * (or `SagaResolvedManually`, or a cancellation) whose details hold the final saga state.
 */
export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
  const opts = sagaActivityOptions(input.options);
  const forward = proxyActivities<Activities>(opts.forward);
  const undo = proxyActivities<Activities>(opts.compensation);
  const retriable = proxyActivities<Activities>(opts.retriable);
  const saga = new Saga({ type: PLACE_ORDER, deadlineMs: input.options?.deadlineMs, compensation: input.options?.compensation });
  // Keys derive from the workflow ID and the step, so retries and replays reuse them.
  const wf = workflowInfo().workflowId;
  const key = (step: string) => `${wf}:${step}`;
  const undoKey = (step: string, round: number) => `${wf}:${step}:compensate:${round}`;
  const { orderId } = input;

  return saga.run(async () => {
    await saga.step({
      name: 'createOrder',
      action: () => forward.createOrder({ idempotencyKey: key('createOrder'), orderId, customerId: input.customerId, lines: input.items }),
      compensate: ({ round }) => undo.cancelOrder({ idempotencyKey: undoKey('createOrder', round), orderId, reason: 'saga compensated' }),
    });
    const reservation = await saga.step({
      name: 'reserveStock',
      action: () => forward.reserveStock({ idempotencyKey: key('reserveStock'), orderId, lines: input.items }),
      compensate: ({ round }) => undo.releaseStock({ idempotencyKey: undoKey('reserveStock', round), orderId }),
    });
    const payment = await saga.step({
      name: 'chargePayment',
      action: () =>
        forward.chargePayment({
          idempotencyKey: key('chargePayment'),
          orderId,
          amountCents: reservation.totalCents,
          cardToken: input.payment.cardToken,
        }),
      compensate: ({ round }) => undo.refundPayment({ idempotencyKey: undoKey('chargePayment', round), orderId }),
    });
    const shipment = await saga.step({
      name: 'scheduleShipment',
      action: () => forward.scheduleShipment({ idempotencyKey: key('scheduleShipment'), orderId, address: input.shippingAddress }),
      compensate: ({ round }) => undo.cancelShipment({ idempotencyKey: undoKey('scheduleShipment', round), orderId }),
    });
    await saga.step({
      name: 'confirmOrder',
      kind: 'pivot',
      action: () => forward.confirmOrder({ idempotencyKey: key('confirmOrder'), orderId, lines: reservation.lines }),
    });
    await saga.step({
      name: 'commitStock',
      kind: 'retriable',
      action: ({ round }) => retriable.commitStock({ idempotencyKey: round ? `${key('commitStock')}:retry:${round}` : key('commitStock'), orderId }),
    });
    return {
      orderId,
      totalCents: reservation.totalCents,
      paymentId: payment.paymentId,
      shipmentId: shipment.shipmentId,
      lines: reservation.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, productName: l.productName, unitPriceCents: l.unitPriceCents })),
    };
  });
}

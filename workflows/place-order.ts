import { patched, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Address } from '../services/shipping/contract';
import { Saga, type CompensationContext } from './saga';
import { sagaProxies, type SagaRunOptions } from './options';
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
 * Patch ID of the one change PlaceOrder has had since sagas went into production: `chargePayment`
 * and `scheduleShipment` run in parallel. Neither needs the other (the charge needs the reserved
 * total, the shipment the address), so a completed order waits for one service round trip less, and
 * an outage of one of the two services no longer holds up the call to the other. Cost: when one of
 * them is rejected, the other has usually landed and is compensated too (a declined card now also
 * cancels a shipment that was scheduled). Runs whose history lacks the marker (started by older
 * workers, still in flight) keep the sequential order on replay.
 */
export const PARALLEL_CHARGE_AND_SHIP = 'parallel-charge-and-ship';

/**
 * Places an order across four services: create order (PENDING) → reserve stock → charge the total
 * and schedule the shipment, in parallel → confirm the order (the pivot) → commit the stock
 * (retried until it succeeds). Runs started before the parallel step shipped charge, then ship.
 *
 * Compensations, in reverse: cancel shipment, refund, release stock, cancel order. If the charge or
 * the shipment fails, the other is awaited first, then everything done (or that may have landed)
 * is compensated.
 * Ends COMPLETED with a `PlaceOrderResult`; otherwise throws ApplicationFailure `SagaCompensated`
 * (or `SagaResolvedManually`, or a cancellation) whose details hold the final saga state.
 */
export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
  return runPlaceOrder(input, () => patched(PARALLEL_CHARGE_AND_SHIP));
}

/**
 * The PlaceOrder saga; `chargeAndShipInParallel` is asked once, when the stock is reserved. The
 * worker registers only `placeOrder` (which asks `patched`); this is exported so the replay suite
 * can build the same change *without* the patch and show that it breaks the old histories.
 */
export async function runPlaceOrder(input: PlaceOrderInput, chargeAndShipInParallel: () => boolean): Promise<PlaceOrderResult> {
  const { forward, undo, retriable } = sagaProxies<Activities>(input.options);
  const saga = new Saga({ type: PLACE_ORDER, deadlineMs: input.options?.deadlineMs, compensation: input.options?.compensation, searchAttributesAtStart: input.options?.searchAttributesAtStart });
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
    const charge = {
      name: 'chargePayment',
      action: () =>
        forward.chargePayment({
          idempotencyKey: key('chargePayment'),
          orderId,
          amountCents: reservation.totalCents,
          cardToken: input.payment.cardToken,
        }),
      compensate: ({ round }: CompensationContext) => undo.refundPayment({ idempotencyKey: undoKey('chargePayment', round), orderId }),
    };
    const ship = {
      name: 'scheduleShipment',
      action: () => forward.scheduleShipment({ idempotencyKey: key('scheduleShipment'), orderId, address: input.shippingAddress }),
      compensate: ({ round }: CompensationContext) => undo.cancelShipment({ idempotencyKey: undoKey('scheduleShipment', round), orderId }),
    };
    const [payment, shipment] = chargeAndShipInParallel()
      ? await saga.parallel([charge, ship])
      : [await saga.step(charge), await saga.step(ship)];
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

import { patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Address } from '../services/shipping/contract';
import { PATCHES_UP_FRONT, Saga, type CompensatedSaga, type CompensationContext, type StepContext } from './saga';
import { sagaOptionsFrom, sagaProxies, type SagaRunOptions } from './options';

/** The saga type (the `SagaType` search attribute); its definition is sagas/place-order.ts. */
export const PLACE_ORDER = 'PlaceOrder';

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
 * Completes with a `PlaceOrderResult`, or, when it compensated, with its final state (status
 * COMPENSATED); otherwise throws ApplicationFailure `SagaResolvedManually` (or `SagaCompensated`,
 * for runs started before COMPENSATED_SAGA_COMPLETES) or a cancellation, whose details hold the
 * final saga state.
 */
export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult | CompensatedSaga> {
  return runPlaceOrder(input, () => patched(PARALLEL_CHARGE_AND_SHIP));
}

/**
 * The PlaceOrder saga; `chargeAndShipInParallel` is asked once, when the stock is reserved, and
 * `compensatedCompletes` (see SagaOptions) once it has compensated. The worker registers only
 * `placeOrder` (which asks `patched`); this is exported so the replay suite can build each change
 * *without* its patch and show that it breaks the old histories.
 */
export async function runPlaceOrder(
  input: PlaceOrderInput,
  chargeAndShipInParallel: () => boolean,
  compensatedCompletes?: () => boolean,
): Promise<PlaceOrderResult | CompensatedSaga> {
  const { forward, undo, retriable, pivot } = sagaProxies<Activities>(input.options);
  const saga = new Saga({
    type: PLACE_ORDER,
    ...sagaOptionsFrom(input.options),
    ...(compensatedCompletes ? { compensatedCompletes } : {}),
  });
  // asked up front too in a local-activity run that records its patches first (see askPatchesUpFront)
  if (input.options?.activityMode === 'local' && patched(PATCHES_UP_FRONT)) chargeAndShipInParallel();
  // Idempotency keys come from the runtime (workflow ID + step name), the same on retries and replays.
  const { orderId } = input;

  return saga.run(async () => {
    await saga.step({
      name: 'createOrder',
      action: ({ idempotencyKey }) =>
        forward.createOrder({ idempotencyKey, orderId, customerId: input.customerId, lines: input.items }),
      compensate: ({ idempotencyKey }) => undo.cancelOrder({ idempotencyKey, orderId, reason: 'saga compensated' }),
    });
    const reservation = await saga.step({
      name: 'reserveStock',
      action: ({ idempotencyKey }) => forward.reserveStock({ idempotencyKey, orderId, lines: input.items }),
      compensate: ({ idempotencyKey }) => undo.releaseStock({ idempotencyKey, orderId }),
    });
    const charge = {
      name: 'chargePayment',
      action: ({ idempotencyKey }: StepContext) =>
        forward.chargePayment({
          idempotencyKey,
          orderId,
          amountCents: reservation.totalCents,
          cardToken: input.payment.cardToken,
        }),
      compensate: ({ idempotencyKey }: CompensationContext) => undo.refundPayment({ idempotencyKey, orderId }),
    };
    const ship = {
      name: 'scheduleShipment',
      action: ({ idempotencyKey }: StepContext) =>
        forward.scheduleShipment({ idempotencyKey, orderId, address: input.shippingAddress }),
      compensate: ({ idempotencyKey }: CompensationContext) => undo.cancelShipment({ idempotencyKey, orderId }),
    };
    const [payment, shipment] = chargeAndShipInParallel()
      ? await saga.parallel([charge, ship])
      : [await saga.step(charge), await saga.step(ship)];
    await saga.step({
      name: 'confirmOrder',
      kind: 'pivot',
      action: ({ idempotencyKey }) => pivot.confirmOrder({ idempotencyKey, orderId, lines: reservation.lines }),
    });
    await saga.step({
      name: 'commitStock',
      kind: 'retriable',
      action: ({ idempotencyKey }) => retriable.commitStock({ idempotencyKey, orderId }),
    });
    return {
      orderId,
      totalCents: reservation.totalCents,
      paymentId: payment.paymentId,
      shipmentId: shipment.shipmentId,
      lines: reservation.lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        productName: l.productName,
        unitPriceCents: l.unitPriceCents,
      })),
    };
  });
}

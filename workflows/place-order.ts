import { patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Address } from '../services/shipping/contract';
import {
  PATCHES_UP_FRONT,
  Saga,
  type CompensatedSaga,
  type CompensationContext,
  type StepContext,
  type StepSpec,
} from './saga';
import { sagaOptionsFrom, sagaProxies, type SagaRunOptions } from './options';

/** The saga type (the `SagaType` search attribute); its definition is sagas/place-order.ts. */
export const PLACE_ORDER = 'PlaceOrder';

export interface PlaceOrderInput {
  orderId: string;
  customerId: string;
  items: { sku: string; quantity: number }[];
  /** The card number sealed by the API (lib/auth/card-token.ts) and its last four digits: never the number itself. */
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
 * Patch ID of the second change: `createOrder` and `reserveStock` run in parallel. The reservation
 * is keyed by the order ID and inventory never reads the order row, and the order's lines come from
 * the input, so neither needs the other; a saga then takes one workflow task (and its events) less
 * before the charge. Cost: when one of them is rejected, the other has usually landed and is
 * compensated too (insufficient stock now also cancels an order that was created, as it did before;
 * an order the orders service rejects now also releases a reservation). confirmOrder (the pivot) and
 * commitStock stay one after the other: committing before the pivot would commit stock that a
 * rejected confirmation must release. Runs whose history lacks the marker keep the sequential order.
 */
export const PARALLEL_CREATE_AND_RESERVE = 'parallel-create-and-reserve';

/**
 * Places an order across four services: create order (PENDING) and reserve stock, in parallel → charge the total
 * and schedule the shipment, in parallel → confirm the order (the pivot) → commit the stock
 * (retried until it succeeds). Runs started before the parallel steps shipped create, then
 * reserve, and (before the first change) charge, then ship.
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
 * The PlaceOrder saga; `createAndReserveInParallel` is asked once, first (default:
 * `patched(PARALLEL_CREATE_AND_RESERVE)`), `chargeAndShipInParallel` once, when the stock is
 * reserved, and `compensatedCompletes` (see SagaOptions) once it has compensated. The worker registers only
 * `placeOrder` (which asks `patched`); this is exported so the replay suite can build each change
 * *without* its patch and show that it breaks the old histories.
 */
export async function runPlaceOrder(
  input: PlaceOrderInput,
  chargeAndShipInParallel: () => boolean,
  compensatedCompletes?: () => boolean,
  createAndReserveInParallel: () => boolean = () => patched(PARALLEL_CREATE_AND_RESERVE),
): Promise<PlaceOrderResult | CompensatedSaga> {
  const { forward, undo, retriable, pivot } = sagaProxies<Activities>(input.options);
  const saga = new Saga({
    type: PLACE_ORDER,
    ...sagaOptionsFrom(input.options),
    ...(compensatedCompletes ? { compensatedCompletes } : {}),
  });
  // asked up front too in a local-activity run that records its patches first (see askPatchesUpFront)
  if (input.options?.activityMode === 'local' && patched(PATCHES_UP_FRONT)) {
    chargeAndShipInParallel();
    createAndReserveInParallel();
  }
  // Idempotency keys come from the runtime (workflow ID + step name), the same on retries and replays.
  const { orderId } = input;

  return saga.run(async () => {
    const create: StepSpec<unknown> = {
      name: 'createOrder',
      action: ({ idempotencyKey }) =>
        forward.createOrder({ idempotencyKey, orderId, customerId: input.customerId, lines: input.items }),
      compensate: ({ idempotencyKey }) => undo.cancelOrder({ idempotencyKey, orderId, reason: 'saga compensated' }),
    };
    const reserve = {
      name: 'reserveStock',
      action: ({ idempotencyKey }: StepContext) =>
        forward.reserveStock({ idempotencyKey, orderId, lines: input.items }),
      compensate: ({ idempotencyKey }: CompensationContext) => undo.releaseStock({ idempotencyKey, orderId }),
    };
    const reservation = createAndReserveInParallel()
      ? (await saga.parallel([create, reserve]))[1]
      : (await saga.step(create), await saga.step(reserve));
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

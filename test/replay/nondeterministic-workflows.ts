/**
 * Test-only: a deliberately non-deterministic PlaceOrder for the replay suite's negative test. It
 * is the real saga with its first two steps swapped (stock is reserved before the order exists),
 * the kind of "harmless reordering" that breaks every saga in flight. Replaying any committed
 * PlaceOrder history with this code must fail with a DeterminismViolationError; if it did not, the
 * replay suite would be unable to catch anything. Never registered by a real worker.
 */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  Saga,
  type CompensatedSaga,
  type CompensationContext,
  type StepContext,
  type StepSpec,
} from '../../workflows/saga';
import { sagaActivityOptions } from '../../workflows/options';
import { PARALLEL_CREATE_AND_RESERVE, PLACE_ORDER } from '../../workflows/place-order';
import type { PlaceOrderInput, PlaceOrderResult } from '../../workflows/place-order';

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult | CompensatedSaga> {
  const opts = sagaActivityOptions(input.options);
  const forward = proxyActivities<Activities>(opts.forward);
  const undo = proxyActivities<Activities>(opts.compensation);
  const retriable = proxyActivities<Activities>(opts.retriable);
  const saga = new Saga({
    type: PLACE_ORDER,
    deadlineMs: input.options?.deadlineMs,
    compensation: input.options?.compensation,
  });
  const { orderId } = input;

  return saga.run(async () => {
    // Swapped: the real workflow creates the order first (in one parallel group where the history
    // says so: the swap then schedules reserveStock where the history has createOrder).
    const reserve = {
      name: 'reserveStock',
      action: ({ idempotencyKey }: StepContext) =>
        forward.reserveStock({ idempotencyKey, orderId, lines: input.items }),
      compensate: ({ idempotencyKey }: CompensationContext) => undo.releaseStock({ idempotencyKey, orderId }),
    };
    const create: StepSpec<unknown> = {
      name: 'createOrder',
      action: ({ idempotencyKey }) =>
        forward.createOrder({ idempotencyKey, orderId, customerId: input.customerId, lines: input.items }),
      compensate: ({ idempotencyKey }) => undo.cancelOrder({ idempotencyKey, orderId, reason: 'saga compensated' }),
    };
    const reservation = patched(PARALLEL_CREATE_AND_RESERVE)
      ? (await saga.parallel([reserve, create]))[0]
      : await saga.step(reserve).then(async (r) => (await saga.step(create), r));
    const payment = await saga.step({
      name: 'chargePayment',
      action: ({ idempotencyKey }) =>
        forward.chargePayment({
          idempotencyKey,
          orderId,
          amountCents: reservation.totalCents,
          cardToken: input.payment.cardToken,
        }),
      compensate: ({ idempotencyKey }) => undo.refundPayment({ idempotencyKey, orderId }),
    });
    const shipment = await saga.step({
      name: 'scheduleShipment',
      action: ({ idempotencyKey }) =>
        forward.scheduleShipment({ idempotencyKey, orderId, address: input.shippingAddress }),
      compensate: ({ idempotencyKey }) => undo.cancelShipment({ idempotencyKey, orderId }),
    });
    await saga.step({
      name: 'confirmOrder',
      kind: 'pivot',
      action: ({ idempotencyKey }) => forward.confirmOrder({ idempotencyKey, orderId, lines: reservation.lines }),
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
      lines: reservation.lines,
    };
  });
}

/**
 * Test-only: a deliberately non-deterministic PlaceOrder for the replay suite's negative test. It
 * is the real saga with its first two steps swapped (stock is reserved before the order exists),
 * the kind of "harmless reordering" that breaks every saga in flight. Replaying any committed
 * PlaceOrder history with this code must fail with a DeterminismViolationError; if it did not, the
 * replay suite would be unable to catch anything. Never registered by a real worker.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { Saga } from '../../workflows/saga';
import { sagaActivityOptions } from '../../workflows/options';
import { PLACE_ORDER } from '../../shared/saga-names';
import type { PlaceOrderInput, PlaceOrderResult } from '../../workflows/place-order';

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult> {
  const opts = sagaActivityOptions(input.options);
  const forward = proxyActivities<Activities>(opts.forward);
  const undo = proxyActivities<Activities>(opts.compensation);
  const retriable = proxyActivities<Activities>(opts.retriable);
  const saga = new Saga({ type: PLACE_ORDER, deadlineMs: input.options?.deadlineMs, compensation: input.options?.compensation });
  const wf = workflowInfo().workflowId;
  const key = (step: string) => `${wf}:${step}`;
  const undoKey = (step: string, round: number) => `${wf}:${step}:compensate:${round}`;
  const { orderId } = input;

  return saga.run(async () => {
    // Swapped: the real workflow creates the order first.
    const reservation = await saga.step({
      name: 'reserveStock',
      action: () => forward.reserveStock({ idempotencyKey: key('reserveStock'), orderId, lines: input.items }),
      compensate: ({ round }) => undo.releaseStock({ idempotencyKey: undoKey('reserveStock', round), orderId }),
    });
    await saga.step({
      name: 'createOrder',
      action: () => forward.createOrder({ idempotencyKey: key('createOrder'), orderId, customerId: input.customerId, lines: input.items }),
      compensate: ({ round }) => undo.cancelOrder({ idempotencyKey: undoKey('createOrder', round), orderId, reason: 'saga compensated' }),
    });
    const payment = await saga.step({
      name: 'chargePayment',
      action: () =>
        forward.chargePayment({ idempotencyKey: key('chargePayment'), orderId, amountCents: reservation.totalCents, cardToken: input.payment.cardToken }),
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
    return { orderId, totalCents: reservation.totalCents, paymentId: payment.paymentId, shipmentId: shipment.shipmentId, lines: reservation.lines };
  });
}

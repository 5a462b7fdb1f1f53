/**
 * The TypeScript SDK floor of the benchmark (bench/run.ts, mode floor-ts): PlaceOrder's happy path
 * as plain `proxyActivities` calls, with no saga runtime: the same six activities (activities/*.ts,
 * the same HTTP client), the same activity options as the saga's forward steps and its retried
 * commit (workflows/options.ts), the same idempotency keys `<workflowId>:<step>`. No compensation,
 * no state query, no search attributes: what is left is what the TypeScript SDK itself costs.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { PlaceOrderInput } from '../../workflows/place-order';

/** The workflow type the bench starts on the floor-ts worker's task queue. */
export const FLOOR_PLACE_ORDER = 'FloorPlaceOrder';

const forward = proxyActivities<Activities>({
  startToCloseTimeout: 10_000,
  retry: { initialInterval: 1000, backoffCoefficient: 2, maximumInterval: 5000, maximumAttempts: 20 },
});
const retriable = proxyActivities<Activities>({
  startToCloseTimeout: 10_000,
  retry: { initialInterval: 1000, backoffCoefficient: 2, maximumInterval: 5000 },
});

export async function FloorPlaceOrder(input: PlaceOrderInput): Promise<{ orderId: string; totalCents: number }> {
  const key = (step: string) => `${workflowInfo().workflowId}:${step}`;
  const { orderId } = input;
  const [, reserved] = await Promise.all([
    forward.createOrder({
      idempotencyKey: key('createOrder'),
      orderId,
      customerId: input.customerId,
      lines: input.items,
    }),
    forward.reserveStock({ idempotencyKey: key('reserveStock'), orderId, lines: input.items }),
  ]);
  const reservation = reserved.value;
  await Promise.all([
    forward.chargePayment({
      idempotencyKey: key('chargePayment'),
      orderId,
      amountCents: reservation.totalCents,
      cardToken: input.payment.cardToken,
    }),
    forward.scheduleShipment({ idempotencyKey: key('scheduleShipment'), orderId, address: input.shippingAddress }),
  ]);
  await forward.confirmOrder({ idempotencyKey: key('confirmOrder'), orderId, lines: reservation.lines });
  await retriable.commitStock({ idempotencyKey: key('commitStock'), orderId });
  return { orderId, totalCents: reservation.totalCents };
}

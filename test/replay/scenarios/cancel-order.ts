/** The recorder scenarios of CancelOrder (sagas/cancel-order.ts, workflows/cancel-order.ts). */
import { CANCEL_ORDER, type CancelOrderInput } from '../../../workflows/cancel-order';
import { PLACE_ORDER } from '../../../workflows/place-order';
import type { Scenario, ScenarioContext } from './scenario';

/** A PlaceOrder that completed: a CONFIRMED order, its stock committed, its shipment scheduled. */
async function confirmedOrder(ctx: ScenarioContext, name: string): Promise<string> {
  const input = ctx.orderInput(await ctx.putProduct({ available: 10, name }), { options: ctx.fast });
  const state = await ctx.finalState(await ctx.start(PLACE_ORDER, input));
  if (state.status !== 'COMPLETED') throw new Error(`the order to cancel was not placed: ${state.status}`);
  return input.orderId;
}

/** CancelOrder's runs: completed (regular and local activities), refused at its pivot and at its first step. */
export const cancelOrderScenarios: Scenario[] = [
  {
    name: 'cancel-order-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const orderId = await confirmedOrder(ctx, 'Teapot');
      return ctx.start(CANCEL_ORDER, {
        orderId,
        reason: 'ordered the wrong size',
        options: ctx.fast,
      } satisfies CancelOrderInput);
    },
  },
  {
    name: 'cancel-order-local-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const orderId = await confirmedOrder(ctx, 'Kettle');
      return ctx.start(CANCEL_ORDER, {
        orderId,
        options: { ...ctx.fast, activityMode: 'local' },
      } satisfies CancelOrderInput);
    },
  },
  {
    // The parcel left before the cancel: the pivot is refused and the CANCELLING mark reverted.
    name: 'cancel-order-dispatched-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const orderId = await confirmedOrder(ctx, 'Mug');
      const dispatched = await ctx.callService('shipping', 'operator', {
        method: 'POST',
        path: `/shipments/${orderId}/dispatch`,
        body: {},
      });
      if (dispatched.status !== 200) throw new Error(`dispatch answered ${dispatched.status}`);
      return ctx.start(CANCEL_ORDER, { orderId, options: ctx.fast } satisfies CancelOrderInput);
    },
  },
  {
    // Refused at its first step (ORDER_NOT_FOUND; a PENDING or CANCELLED order takes the same path).
    name: 'cancel-order-unknown-order-rejected',
    ends: 'COMPENSATED',
    async run(ctx) {
      return ctx.start(CANCEL_ORDER, { orderId: 'no-such-order', options: ctx.fast } satisfies CancelOrderInput);
    },
  },
];

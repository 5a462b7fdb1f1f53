/** The recorder scenarios of PlaceOrder (sagas/place-order.ts, workflows/place-order.ts). */
import { PLACE_ORDER } from '../../../workflows/place-order';
import type { SagaRunOptions } from '../../../workflows/options';
import { resolveManuallySignal, retryCompensationSignal } from '../../../workflows/saga';
import type { Scenario, ScenarioContext } from './scenario';

/** Forward steps that retry until the service is back (outage scenarios). */
const untilBack = (ctx: ScenarioContext): SagaRunOptions => ({
  ...ctx.fast,
  stepRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 },
});
/** Forward steps and compensations that give up after two attempts (STUCK scenarios). */
const giveUpFast = (ctx: ScenarioContext): SagaRunOptions => ({
  ...ctx.fast,
  stepRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 },
  compensationRetry: { initialIntervalMs: 100, maximumIntervalMs: 200, maximumAttempts: 2 },
});

async function shippingDownUntilStuck(ctx: ScenarioContext) {
  const sku = await ctx.putProduct({ available: 5 });
  await ctx.service('shipping').stop();
  const handle = await ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: giveUpFast(ctx) }));
  await ctx.waitForState(handle, (s) => s.status === 'STUCK');
  return handle;
}

/** PlaceOrder's runs: every path worth guarding (outcomes, outages, cancellation, STUCK and an operator). */
export const placeOrderScenarios: Scenario[] = [
  {
    name: 'place-order-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 10, name: 'Teapot' });
      return ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: ctx.fast }));
    },
  },
  // Local-activity mode (SAGA_ACTIVITY_MODE=local, and the fastest mode): the same workflow code, whose
  // history holds markers instead of activity events; replay checks those against the code too.
  {
    name: 'place-order-local-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 10, name: 'Kettle' });
      return ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: { ...ctx.fast, activityMode: 'local' } }));
    },
  },
  {
    name: 'place-order-local-card-declined-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 5 });
      return ctx.start(
        PLACE_ORDER,
        ctx.orderInput(sku, { options: { ...ctx.fast, activityMode: 'local' }, cardNumber: ctx.cards.declined }),
      );
    },
  },
  {
    name: 'place-order-insufficient-stock-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 1 });
      return ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: ctx.fast }));
    },
  },
  {
    name: 'place-order-card-declined-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 5 });
      return ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: ctx.fast, cardNumber: ctx.cards.declined }));
    },
  },
  {
    name: 'place-order-unserviceable-address-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 5 });
      return ctx.start(
        PLACE_ORDER,
        ctx.orderInput(sku, { options: ctx.fast, shippingAddress: { ...ctx.address, country: 'AQ' } }),
      );
    },
  },
  {
    name: 'place-order-cancelled',
    ends: 'CANCELLED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 5 });
      await ctx.service('payments').stop();
      const handle = await ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: untilBack(ctx) }));
      // Cancel while the charge retries against the stopped service, once every other step settled.
      await ctx.waitForState(
        handle,
        (s) =>
          s.steps.some((st) => st.name === 'chargePayment') &&
          s.steps.every((st) => st.name === 'chargePayment' || st.status !== 'RUNNING'),
      );
      await handle.cancel();
      await ctx.waitForState(handle, (s) => s.status === 'COMPENSATING');
      await ctx.service('payments').start();
      return handle;
    },
  },
  {
    name: 'place-order-payments-outage-healed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 5 });
      await ctx.service('payments').stop();
      const handle = await ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: untilBack(ctx) }));
      await ctx.waitForState(handle, (s) => s.steps.some((st) => st.name === 'chargePayment'));
      await ctx.sleep(2000);
      await ctx.service('payments').start();
      return handle;
    },
  },
  {
    name: 'place-order-deadline-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await ctx.putProduct({ available: 5 });
      await ctx.service('shipping').stop();
      const handle = await ctx.start(
        PLACE_ORDER,
        ctx.orderInput(sku, { options: { ...untilBack(ctx), deadlineMs: 1500 } }),
      );
      await ctx.waitForState(handle, (s) => s.status === 'COMPENSATING');
      await ctx.service('shipping').start();
      return handle;
    },
  },
  {
    name: 'place-order-stuck-retried-compensated',
    ends: 'COMPENSATED',
    async run(ctx) {
      const handle = await shippingDownUntilStuck(ctx);
      await ctx.service('shipping').start();
      await handle.signal(retryCompensationSignal);
      return handle;
    },
  },
  {
    name: 'place-order-stuck-resolved-manually',
    ends: 'RESOLVED_MANUALLY',
    async run(ctx) {
      const handle = await shippingDownUntilStuck(ctx);
      await handle.signal(resolveManuallySignal, {
        note: 'carrier confirmed no shipment exists',
        operator: 'ops@example.com',
      });
      await ctx.service('shipping').start();
      return handle;
    },
  },
];

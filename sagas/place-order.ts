/** PlaceOrder: `POST /orders` (or `POST /sagas/PlaceOrder`) starts workflows/place-order.ts. */
import { z } from 'zod';
import { ISO_3166_ALPHA2 } from '../lib/countries';
import { idSchema, safeText } from '../lib/text';
import { PLACE_ORDER, placeOrder, type PlaceOrderInput } from '../workflows/place-order';
import type { SagaRunOptions } from '../workflows/options';
import { defineSaga } from './definition';
import type { Scenario, ScenarioContext } from './scenario';
import { resolveManuallySignal, retryCompensationSignal } from '../workflows/saga';

export const placeOrderBody = z.strictObject({
  customerId: idSchema('customer ID'),
  items: z
    .array(z.strictObject({ sku: idSchema('SKU'), quantity: z.number().int().min(1).max(10_000) }))
    .min(1)
    .max(50)
    .refine((items) => new Set(items.map((i) => i.sku)).size === items.length, 'each SKU may appear once'),
  payment: z.strictObject({ cardNumber: z.string().regex(/^\d{12,19}$/, '12-19 digits') }),
  shippingAddress: z.strictObject({
    name: safeText(1, 200),
    line1: safeText(1, 200),
    city: safeText(1, 100),
    postalCode: safeText(1, 20),
    country: z.string().refine((c) => ISO_3166_ALPHA2.has(c), 'an ISO 3166-1 alpha-2 code, upper case (e.g. GB)'),
  }),
});
export type PlaceOrderBody = z.infer<typeof placeOrderBody>;

/** Workflow ID of the saga that places `orderId`: a business key, so one order has one saga. */
export function placeOrderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

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

const scenarios: Scenario[] = [
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

export const placeOrderSaga = defineSaga({
  type: PLACE_ORDER,
  workflow: placeOrder,
  idPrefix: 'order',
  body: placeOrderBody,
  summary: 'Place an order: create it, reserve stock, charge the card and schedule the shipment, confirm',
  toInput(body, ctx): PlaceOrderInput {
    const orderId = ctx.newId('orders');
    const { payment, ...rest } = body;
    return {
      ...rest,
      orderId,
      payment: { cardToken: ctx.sealCard(payment.cardNumber, orderId), last4: payment.cardNumber.slice(-4) },
      options: ctx.options,
    };
  },
  workflowId: (input) => placeOrderWorkflowId(input.orderId),
  digestRequest: (body) => ({ path: '/orders', body }),
  echo: (input) => ({ orderId: input.orderId }),
  route: {
    path: '/orders',
    body: placeOrderBody,
    toSagaBody: (_params, body: PlaceOrderBody) => body,
    summary: 'Start a PlaceOrder saga',
  },
  scenarios,
});

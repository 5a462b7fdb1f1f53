/** PlaceOrder: `POST /orders` (or `POST /sagas/PlaceOrder`) starts workflows/place-order.ts. */
import { z } from 'zod';
import { ISO_3166_ALPHA2 } from '../lib/validation/countries';
import { idSchema, safeText } from '../lib/validation/text';
import { PLACE_ORDER, placeOrder, type PlaceOrderInput } from '../workflows/place-order';
import { defineSaga } from './definition';

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

export const placeOrderSaga = defineSaga({
  type: PLACE_ORDER,
  workflow: placeOrder,
  idPrefix: 'order',
  body: placeOrderBody,
  summary: 'Place an order: create it, reserve stock, charge the card and schedule the shipment, confirm',
  plan: [
    { steps: ['createOrder', 'reserveStock'] },
    { steps: ['chargePayment', 'scheduleShipment'] },
    { steps: ['confirmOrder'], kind: 'pivot' },
    { steps: ['commitStock'], kind: 'retriable' },
  ],
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
});

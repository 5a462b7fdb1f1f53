/** CancelOrder: `POST /orders/{orderId}/cancel` (or `POST /sagas/CancelOrder`) starts workflows/cancel-order.ts. */
import { z } from 'zod';
import { idSchema, safeText } from '../lib/validation/text';
import { CANCEL_ORDER, cancelOrder, type CancelOrderInput } from '../workflows/cancel-order';
import { defineSaga } from './definition';

const orderIdSchema = idSchema('order ID');
const reasonSchema = safeText(1, 255);
const cancelRouteBody = z.strictObject({ reason: reasonSchema.optional() });
export const cancelOrderBody = z.strictObject({ orderId: orderIdSchema, reason: reasonSchema.optional() });
export type CancelOrderBody = z.infer<typeof cancelOrderBody>;

/**
 * Workflow ID of the saga that cancels `orderId`: the business key. A cancel request while one runs
 * joins it; one after it closed runs again, judged on the order as it is then (see the definition).
 */
export function cancelOrderWorkflowId(orderId: string): string {
  return `cancel-${orderId}`;
}

export const cancelOrderSaga = defineSaga({
  type: CANCEL_ORDER,
  workflow: cancelOrder,
  idPrefix: 'cancel',
  body: cancelOrderBody,
  summary:
    'Cancel a confirmed order: mark it CANCELLING, cancel its shipment (refused once dispatched), refund it, return its stock, mark it CANCELLED',
  plan: [
    { steps: ['beginOrderCancellation'] },
    { steps: ['cancelShipment'], kind: 'pivot' },
    { steps: ['refundPayment', 'returnStock'], kind: 'retriable' },
    { steps: ['completeOrderCancellation'], kind: 'retriable' },
  ],
  toInput: (body, ctx): CancelOrderInput => ({
    orderId: body.orderId,
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
    options: ctx.options,
  }),
  workflowId: (input) => cancelOrderWorkflowId(input.orderId),
  // One cancellation of an order at a time, whatever the Idempotency-Key; a new one once it ended
  // (refused while PENDING, the order can be cancelled once confirmed; already cancelled, it is 409).
  workflowIdentity: 'business-key',
  digestRequest: (body) => ({
    path: `/orders/${body.orderId}/cancel`,
    body: body.reason !== undefined ? { reason: body.reason } : {},
  }),
  echo: (input) => ({ orderId: input.orderId }),
  rejections: {
    ORDER_NOT_FOUND: { status: 404, description: 'there is no such order' },
    ILLEGAL_TRANSITION: {
      status: 409,
      description: 'the order is not CONFIRMED (still PENDING, already CANCELLED, or being cancelled)',
    },
    SHIPMENT_ALREADY_DISPATCHED: {
      status: 409,
      description: 'its parcel has left: the order stays CONFIRMED and nothing is refunded',
    },
  },
  route: {
    path: '/orders/:orderId/cancel',
    params: z.strictObject({ orderId: orderIdSchema }),
    body: cancelRouteBody,
    toSagaBody: (params, body: z.infer<typeof cancelRouteBody>) => ({
      orderId: params.orderId!,
      ...(body.reason !== undefined ? { reason: body.reason } : {}),
    }),
    summary: 'Start a CancelOrder saga',
  },
});

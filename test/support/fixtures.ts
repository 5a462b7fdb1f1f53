import type { ServiceStack } from './services';
import { callAs, uniqueId } from './services';
import type { PlaceOrderInput } from '../../workflows/place-order';
import { sealCardNumber } from '../../lib/auth/card-token';

export const GOOD_CARD = '4242424242424242';
/** The key the suites' workers and API seal card numbers with. */
export const TEST_CARD_KEY = Buffer.alloc(32, 7);
export const DECLINED_CARD = '4000000000000002';
export const ADDRESS = {
  name: 'Ada Lovelace',
  line1: '12 St James Square',
  city: 'London',
  postalCode: 'SW1Y 4JH',
  country: 'GB',
};

/** Creates a product through the inventory service's real admin route, as the operator. */
export async function putProduct(
  stack: ServiceStack,
  opts: { sku?: string; name?: string; priceCents?: number; available: number },
) {
  const sku = opts.sku ?? uniqueId('SKU');
  const res = await callAs(stack.inventory.app, 'operator')
    .put(`/products/${sku}`)
    .send({ name: opts.name ?? `Product ${sku}`, priceCents: opts.priceCents ?? 1250, available: opts.available });
  if (res.status >= 300) throw new Error(`could not create product: ${res.status} ${JSON.stringify(res.body)}`);
  return sku;
}

/** A PlaceOrder input as the API would build it (the card number sealed for the order). */
export function orderInput(
  sku: string,
  overrides: Partial<Omit<PlaceOrderInput, 'payment'>> & { cardNumber?: string } = {},
): PlaceOrderInput {
  const { cardNumber = GOOD_CARD, ...rest } = overrides;
  const orderId = rest.orderId ?? uniqueId('ord');
  return {
    orderId,
    customerId: 'cust-1',
    items: [{ sku, quantity: 2 }],
    payment: { cardToken: sealCardNumber(cardNumber, TEST_CARD_KEY, orderId), last4: cardNumber.slice(-4) },
    shippingAddress: ADDRESS,
    ...rest,
  };
}

/** Everything the four services hold about one order, straight from their databases. */
export async function orderFootprint(stack: ServiceStack, orderId: string) {
  const [order] = await stack.orders.query<{ status: string; total_cents: number | null }>(
    'SELECT status, total_cents FROM orders WHERE order_id = ?',
    [orderId],
  );
  const [reservation] = await stack.inventory.query<{ status: string }>(
    'SELECT status FROM reservations WHERE order_id = ?',
    [orderId],
  );
  const payments = await stack.payments.query<{ status: string; amount_cents: number }>(
    'SELECT status, amount_cents FROM payments WHERE order_id = ?',
    [orderId],
  );
  const shipments = await stack.shipping.query<{ status: string }>('SELECT status FROM shipments WHERE order_id = ?', [
    orderId,
  ]);
  return {
    order: order?.status,
    totalCents: order?.total_cents ?? null,
    reservation: reservation?.status,
    payments: payments.map((p) => p.status),
    paymentAmounts: payments.map((p) => p.amount_cents),
    shipments: shipments.map((s) => s.status),
  };
}

export async function stockOf(stack: ServiceStack, sku: string) {
  const [row] = await stack.inventory.query<{ available: number; reserved: number; committed: number }>(
    'SELECT available, reserved, committed FROM products WHERE sku = ?',
    [sku],
  );
  return row;
}

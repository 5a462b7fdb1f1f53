/** The payments service's events (lib/events/events.ts), written to the outbox in the change's transaction. */
import { eq } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { recordEvent } from '../../lib/events/outbox';
import type * as schema from './schema';
import { payments } from './schema';

/** Records PaymentCaptured / PaymentDeclined / PaymentRefunded with the payment's current state; returns the row (what the route answers), so it is read once. */
export async function recordPaymentEvent(
  tx: Tx<typeof schema>,
  type: 'PaymentCaptured' | 'PaymentDeclined' | 'PaymentRefunded',
  orderId: string,
): Promise<typeof payments.$inferSelect> {
  const [p] = await tx.select().from(payments).where(eq(payments.orderId, orderId));
  if (!p) throw new Error(`recordPaymentEvent: no payment for ${orderId} in this transaction`);
  await recordEvent(tx, type, orderId, {
    orderId,
    paymentId: p.paymentId,
    status: p.status,
    amountCents: p.amountCents,
  });
  return p;
}

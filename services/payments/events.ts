/** The payments service's events (lib/events.ts), written to the outbox in the change's transaction. */
import { eq } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { recordEvent } from '../../lib/outbox';
import type * as schema from './schema';
import { payments } from './schema';

/** Records PaymentCaptured / PaymentDeclined / PaymentRefunded with the payment's current state. */
export async function recordPaymentEvent(
  tx: Tx<typeof schema>,
  type: 'PaymentCaptured' | 'PaymentDeclined' | 'PaymentRefunded',
  orderId: string,
): Promise<void> {
  const [p] = await tx.select().from(payments).where(eq(payments.orderId, orderId));
  if (!p) throw new Error(`recordPaymentEvent: no payment for ${orderId} in this transaction`);
  await recordEvent(tx, type, orderId, {
    orderId,
    paymentId: p.paymentId,
    status: p.status,
    amountCents: p.amountCents,
  });
}

import { randomUUID } from 'node:crypto';
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../lib/db';
import { idempotentRoute, jsonBody, parse } from '../../lib/http/http';
import { rejection, type Reply } from '../../lib/http/idempotency';
import { createServiceApp, type ServiceDeps } from '../../lib/service';
import { SAGA_CALLERS, allowCallers } from '../../lib/auth/service-auth';
import { recordPaymentEvent } from './events';
import * as schema from './schema';
import { payments } from './schema';
import {
  PaymentsErrors,
  chargeBody,
  refundBody,
  listPaymentsQuery,
  orderIdSchema,
  type Payment,
  type RefundResult,
} from './contract';

type Schema = typeof schema;
export type PaymentsDeps = ServiceDeps<Schema>;
type Row = typeof payments.$inferSelect;

function toPayment(row: Row): Payment {
  return {
    paymentId: row.paymentId,
    orderId: row.orderId,
    amountCents: row.amountCents,
    status: row.status as Payment['status'],
    cardLast4: row.cardLast4,
  };
}

/** The card network's rule, as far as this service knows it: cards ending in 0002 are declined. */
function isDeclined(cardNumber: string): boolean {
  return cardNumber.endsWith('0002');
}

/** Locks the order's payment row, inserting a PENDING placeholder if absent. */
async function lockPayment(tx: Tx<Schema>, orderId: string, placeholder: Partial<Row>): Promise<Row> {
  await tx
    .insert(payments)
    .values({ paymentId: randomUUID(), orderId, amountCents: 0, status: 'PENDING', ...placeholder })
    .onDuplicateKeyUpdate({ set: { orderId: sql`${payments.orderId}` } });
  const [row] = await tx.select().from(payments).where(eq(payments.orderId, orderId)).for('update');
  if (!row) throw new Error(`payment row for ${orderId} vanished under lock`);
  return row;
}

export function createPaymentsApp(deps: PaymentsDeps) {
  const { db } = deps;
  return createServiceApp(deps, (app) => {
    app.get('/payments', async (req, res) => {
      const query = parse(listPaymentsQuery, req.query, 'query');
      const rows = await db
        .select()
        .from(payments)
        .where(and(eq(payments.orderId, query.orderId), ne(payments.status, 'VOIDED'), ne(payments.status, 'PENDING')))
        .orderBy(asc(payments.createdAt));
      res.json(rows.map(toPayment));
    });

    /** Charges an order's amount. Declined cards are recorded as DECLINED and answered 402. */
    app.post(
      '/charges',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(
        db,
        (req) => {
          const body = parse(chargeBody, jsonBody(req));
          return async (tx): Promise<Reply> => {
            const row = await lockPayment(tx, body.orderId, { amountCents: body.amountCents });
            if (row.status === 'PENDING') {
              const declined = isDeclined(body.cardNumber);
              await tx
                .update(payments)
                .set({
                  status: declined ? 'DECLINED' : 'CAPTURED',
                  amountCents: body.amountCents,
                  cardLast4: body.cardNumber.slice(-4),
                })
                .where(eq(payments.orderId, body.orderId));
              const saved = await recordPaymentEvent(
                tx,
                declined ? 'PaymentDeclined' : 'PaymentCaptured',
                body.orderId,
              );
              return declined
                ? rejection(
                    402,
                    PaymentsErrors.PAYMENT_DECLINED,
                    `Card ending ${body.cardNumber.slice(-4)} was declined for order ${body.orderId}`,
                    {
                      paymentId: saved.paymentId,
                    },
                  )
                : { status: 201, body: toPayment(saved) };
            }
            switch (row.status) {
              case 'VOIDED':
                return rejection(
                  409,
                  PaymentsErrors.PAYMENT_VOIDED,
                  `Order ${body.orderId}'s payment was refunded before the charge arrived`,
                );
              case 'DECLINED':
                return rejection(
                  402,
                  PaymentsErrors.PAYMENT_DECLINED,
                  `Order ${body.orderId}'s card was already declined`,
                  { paymentId: row.paymentId },
                );
              case 'REFUNDED':
                return rejection(
                  409,
                  PaymentsErrors.ALREADY_REFUNDED,
                  `Order ${body.orderId} was charged and refunded already`,
                );
              default:
                return row.amountCents === body.amountCents && row.cardLast4 === body.cardNumber.slice(-4)
                  ? { status: 200, body: toPayment(row) }
                  : rejection(
                      409,
                      PaymentsErrors.ALREADY_CHARGED,
                      `Order ${body.orderId} was already charged with other details`,
                    );
            }
          };
        },
        // A 16-digit card number is guessable from its SHA-256: the stored hash covers its last four digits only.
        {
          hashedBody: (b) => ({
            ...(b as Record<string, unknown>),
            cardNumber: String((b as { cardNumber?: unknown })?.cardNumber ?? '').slice(-4),
          }),
        },
      ),
    );

    /** Compensation: refunds a captured payment; before any charge, leaves a VOIDED tombstone. */
    app.post(
      '/charges/:orderId/refund',
      allowCallers(...SAGA_CALLERS),
      idempotentRoute(db, (req) => {
        const orderId = parse(orderIdSchema, req.params.orderId, 'order ID');
        parse(refundBody, jsonBody(req));
        return async (tx): Promise<Reply> => {
          const row = await lockPayment(tx, orderId, {});
          let result: RefundResult;
          if (row.status === 'PENDING') {
            await tx.update(payments).set({ status: 'VOIDED' }).where(eq(payments.orderId, orderId));
            result = { orderId, refunded: false, tombstone: true };
          } else if (row.status === 'CAPTURED') {
            await tx.update(payments).set({ status: 'REFUNDED' }).where(eq(payments.orderId, orderId));
            await recordPaymentEvent(tx, 'PaymentRefunded', orderId);
            result = { orderId, refunded: true, tombstone: false, payment: { ...toPayment(row), status: 'REFUNDED' } };
          } else {
            result = {
              orderId,
              refunded: false,
              tombstone: row.status === 'VOIDED',
              ...(row.status === 'VOIDED' ? {} : { payment: toPayment(row) }),
            };
          }
          return { status: 200, body: result };
        };
      }),
    );
  });
}

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Agent } from 'undici';
import { createAgent, ServiceClient } from '../activities/http-client';
import { createInventoryActivities } from '../activities/inventory';
import { createOrdersActivities } from '../activities/orders';
import { createShippingActivities } from '../activities/shipping';
import { assertChargeable } from '../activities/payments';
import type { PlaceOrderBody } from '../sagas/place-order';
import { AppError, ErrorCodes } from '../lib/errors';
import { keyedDigest } from '../lib/auth/keyed-hash';
import type { Payment, RefundResult } from '../services/payments/contract';
import type { Attempted } from '../shared/attempted';

/**
 * The gateway coordinator: the approach the sagas replace, implemented honestly as a baseline.
 *
 * It places an order by calling the four services in turn, in process, one HTTP attempt per call
 * (per-call timeout, keep-alive pool, an Idempotency-Key per call), and when a call fails it calls
 * the rollback of each step that succeeded, in reverse, once each. It keeps no durable state:
 * - a process that dies mid-way leaves whatever it had done, and nothing resumes it;
 * - a rollback that fails is reported, never retried: the inconsistency stays in the databases;
 * - a call that failed technically (timeout, lost answer) may have landed, but only steps that
 *   *answered* success are rolled back, so an effect whose answer was lost stays in place.
 * When nothing fails it does exactly what the PlaceOrder saga does, with the same requests.
 */

/** The forward steps, named as the PlaceOrder saga names them. */
export type GatewayStep =
  'createOrder' | 'reserveStock' | 'chargePayment' | 'scheduleShipment' | 'confirmOrder' | 'commitStock';
/** The rollback of each step that has one (the saga's compensations). */
export type GatewayRollback = 'cancelOrder' | 'releaseStock' | 'refundPayment' | 'cancelShipment';
export type GatewayStatus = 'COMPLETED' | 'COMPENSATED' | 'FAILED';

/** What `POST /orders` on the gateway answers (always 200 once the order was processed). */
export interface GatewayOrderAnswer {
  orderId: string;
  /**
   * COMPLETED: every step succeeded. COMPENSATED: a step failed and every rollback succeeded.
   * FAILED: a rollback failed, or the stock commit failed after the order was confirmed.
   */
  status: GatewayStatus;
  result?: { totalCents: number; paymentId: string; shipmentId: string };
  /** The forward step that failed: `type` is the service's error code or a technical failure type. */
  failure?: { step: GatewayStep; type: string; message: string };
  /** Rollbacks that failed: `step` is the forward step left in place, `rollback` the call that failed. */
  rollbackErrors?: { step: GatewayStep; rollback: GatewayRollback; type: string; message: string }[];
}

export interface CoordinatorOptions {
  urls: { orders: string; inventory: string; payments: string; shipping: string };
  /** Per-call timeout: the one attempt each call gets. */
  httpTimeoutMs: number;
  /** Keep-alive connections per service. */
  httpConnections: number;
  /** The gateway's bearer token for the services (SERVICE_TOKEN; each service lists it as caller `gateway`). */
  serviceToken: string;
  logger: Logger;
}

/**
 * The order ID of a request: derived from its Idempotency-Key (so a repeat addresses the same
 * order), else random. Keyed (HMAC under `idKey`, a secret of the process), so nobody who knows a
 * customer's key can compute the order ID and act on the order in the services first. The
 * namespace differs from the API's, so one key sent to both never addresses the same order.
 */
export function gatewayOrderId(idKey: Buffer, idempotencyKey?: string): string {
  return idempotencyKey === undefined
    ? randomUUID()
    : `g${keyedDigest(idKey, `gateway-orders:${idempotencyKey}`).slice(0, 32)}`;
}

/** How the gateway sees a failed call: the client's ApplicationFailure `type` (code or technical type). */
function describeFailure(err: unknown): { type: string; message: string } {
  const e = err as { type?: unknown; message?: unknown } | undefined;
  if (typeof e?.type === 'string') return { type: e.type, message: String(e.message ?? '') };
  // Not a service answer: a bug in this process. Reported like a technical failure.
  return { type: ErrorCodes.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}

interface DoneStep {
  step: GatewayStep;
  rollback: GatewayRollback;
  run: () => Promise<unknown>;
}

/** Calls the services for one order at a time per request; one instance (one HTTP pool) per process. */
export class OrderCoordinator {
  private readonly agent: Agent;
  private readonly orders: ReturnType<typeof createOrdersActivities>;
  private readonly inventory: ReturnType<typeof createInventoryActivities>;
  private readonly shipping: ReturnType<typeof createShippingActivities>;
  private readonly payments: ServiceClient;

  constructor(private readonly opts: CoordinatorOptions) {
    // The activities' HTTP client and request builders, reused outside Temporal: the client falls
    // back to attempt 1 and no cancellation signal when it is not inside an activity.
    this.agent = createAgent({ timeoutMs: opts.httpTimeoutMs, connections: opts.httpConnections });
    const client = (name: string, url: string) =>
      new ServiceClient(name, url, this.agent, opts.httpTimeoutMs, opts.serviceToken);
    this.orders = createOrdersActivities(client('orders', opts.urls.orders));
    this.inventory = createInventoryActivities(client('inventory', opts.urls.inventory));
    this.shipping = createShippingActivities(client('shipping', opts.urls.shipping));
    // Payments is called directly: the charging activity opens a sealed card token, and the
    // gateway, with no Temporal history to keep card data out of, sends the number as it came.
    this.payments = client('payments', opts.urls.payments);
  }

  /**
   * Places one order: createOrder → reserveStock → chargePayment → scheduleShipment →
   * confirmOrder → commitStock. A failure before or at the confirmation rolls back the steps that
   * succeeded, in reverse; a failure of the stock commit (the order is confirmed) is reported
   * FAILED with nothing rolled back.
   * @throws AppError 422 IDEMPOTENCY_KEY_REUSED when a service saw this order's step key with
   *   another request: the request reused an Idempotency-Key with a different body, and every
   *   step before was a replay of the earlier request's effects, so nothing is rolled back.
   */
  async placeOrder(orderId: string, order: PlaceOrderBody): Promise<GatewayOrderAnswer> {
    const log = this.opts.logger.child({ orderId });
    const startedAt = Date.now();
    // Keys derive from the order and the step, as the saga's do, so a repeat of the same request
    // (same Idempotency-Key, same order ID) replays what the services stored.
    const key = (call: GatewayStep | GatewayRollback) => `gateway-order-${orderId}:${call}`;
    const done: DoneStep[] = [];
    const at: { step: GatewayStep } = { step: 'createOrder' };
    const call = async <T>(step: GatewayStep, fn: () => Promise<Attempted<T>>): Promise<T> => {
      at.step = step;
      const t0 = Date.now();
      const out = await fn();
      log.debug({ step, ms: Date.now() - t0 }, 'step succeeded');
      return out.value;
    };
    const answer = (a: GatewayOrderAnswer): GatewayOrderAnswer => {
      const level = a.status === 'FAILED' ? 'error' : 'info';
      log[level](
        { status: a.status, failure: a.failure, rollbackErrors: a.rollbackErrors, ms: Date.now() - startedAt },
        'order processed',
      );
      return a;
    };

    let result: NonNullable<GatewayOrderAnswer['result']>;
    try {
      await call('createOrder', () =>
        this.orders.createOrder({
          idempotencyKey: key('createOrder'),
          orderId,
          customerId: order.customerId,
          lines: order.items,
        }),
      );
      // A constant reason: the rollback's request (and so its stored hash) is the same on every repeat.
      done.push({
        step: 'createOrder',
        rollback: 'cancelOrder',
        run: () =>
          this.orders.cancelOrder({ idempotencyKey: key('cancelOrder'), orderId, reason: 'gateway rolled back' }),
      });

      const reservation = await call('reserveStock', () =>
        this.inventory.reserveStock({ idempotencyKey: key('reserveStock'), orderId, lines: order.items }),
      );
      done.push({
        step: 'reserveStock',
        rollback: 'releaseStock',
        run: () => this.inventory.releaseStock({ idempotencyKey: key('releaseStock'), orderId }),
      });

      const payment = await call('chargePayment', async () => {
        // The total is known once the stock is reserved: an order payments would refuse for its
        // size fails here, with a failure that says so, and is rolled back like any rejection.
        assertChargeable(orderId, reservation.totalCents);
        return this.payments.call<Payment>('POST', '/charges', {
          body: { orderId, amountCents: reservation.totalCents, cardNumber: order.payment.cardNumber },
          idempotencyKey: key('chargePayment'),
        });
      });
      done.push({
        step: 'chargePayment',
        rollback: 'refundPayment',
        run: () =>
          this.payments.call<RefundResult>('POST', `/charges/${encodeURIComponent(orderId)}/refund`, {
            body: {},
            idempotencyKey: key('refundPayment'),
          }),
      });

      const shipment = await call('scheduleShipment', () =>
        this.shipping.scheduleShipment({
          idempotencyKey: key('scheduleShipment'),
          orderId,
          address: order.shippingAddress,
        }),
      );
      done.push({
        step: 'scheduleShipment',
        rollback: 'cancelShipment',
        run: () => this.shipping.cancelShipment({ idempotencyKey: key('cancelShipment'), orderId }),
      });

      // The confirmation has no rollback of its own: when it fails, everything above is rolled
      // back (if it landed anyway, cancelling the order is refused and the answer is FAILED).
      await call('confirmOrder', () =>
        this.orders.confirmOrder({ idempotencyKey: key('confirmOrder'), orderId, lines: reservation.lines }),
      );
      result = { totalCents: reservation.totalCents, paymentId: payment.paymentId, shipmentId: shipment.shipmentId };
    } catch (err) {
      const failure = { step: at.step, ...describeFailure(err) };
      if (failure.type === ErrorCodes.IDEMPOTENCY_KEY_REUSED) {
        log.warn({ failure }, 'idempotency key reused with another request');
        throw new AppError(
          422,
          ErrorCodes.IDEMPOTENCY_KEY_REUSED,
          `This Idempotency-Key was already used for order ${orderId} with a different request`,
        );
      }
      log.warn({ failure }, 'step failed; rolling back');
      return answer(await this.rollBack(orderId, failure, done, log));
    }

    try {
      await call('commitStock', () => this.inventory.commitStock({ idempotencyKey: key('commitStock'), orderId }));
    } catch (err) {
      // The order is confirmed: it stands, and its stock stays held until someone commits it.
      return answer({ orderId, status: 'FAILED', failure: { step: 'commitStock', ...describeFailure(err) } });
    }
    return answer({ orderId, status: 'COMPLETED', result });
  }

  /** Calls each rollback once, in reverse; a failing rollback is recorded and the next one still runs. */
  private async rollBack(
    orderId: string,
    failure: NonNullable<GatewayOrderAnswer['failure']>,
    done: DoneStep[],
    log: Logger,
  ): Promise<GatewayOrderAnswer> {
    const rollbackErrors: NonNullable<GatewayOrderAnswer['rollbackErrors']> = [];
    for (const d of [...done].reverse()) {
      try {
        await d.run();
        log.debug({ step: d.step, rollback: d.rollback }, 'rolled back');
      } catch (err) {
        const f = describeFailure(err);
        rollbackErrors.push({ step: d.step, rollback: d.rollback, ...f });
        log.error({ step: d.step, rollback: d.rollback, error: f }, 'rollback failed; the step stays in place');
      }
    }
    return rollbackErrors.length === 0
      ? { orderId, status: 'COMPENSATED', failure }
      : { orderId, status: 'FAILED', failure, rollbackErrors };
  }

  /** Closes the keep-alive pool (after the HTTP server stopped taking requests). */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/**
 * The domain events the services publish about their own changes, in one place: each event's
 * owner (the service whose outbox writes it, and so the stream it lands in), its aggregate and its
 * payload schema. Consumers validate what they read against the same schemas.
 *
 * Events carry the state that changed (not a diff), so a consumer that keeps the newest version of
 * an aggregate can drop an older event it gets late (a redelivery after a newer one) and still be
 * right: see lib/events/event-consumer.ts.
 */
import { z } from 'zod';

/** The services that publish events; each owns one JetStream stream. */
export const EVENT_SOURCES = ['orders', 'inventory', 'payments', 'shipping'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

/** The stream of each source: every subject `<source>.<aggregate>.<EventType>`, kept (limits retention) so a new consumer can rebuild from the start. */
export function streamOf(source: EventSource): { name: string; subjects: string[] } {
  return { name: `EVENTS_${source.toUpperCase()}`, subjects: [`${source}.>`] };
}

const id = z.string().min(1).max(64);
const cents = z.number().int().min(0);
const orderLine = z.object({
  sku: id,
  quantity: z.number().int().min(1),
  productName: z.string().nullable(),
  nameVersion: z.number().int().min(0),
  unitPriceCents: z.number().int().nullable(),
});
const orderState = z.object({
  orderId: id,
  customerId: id.nullable(),
  status: z.string().min(1).max(16),
  totalCents: cents.nullable(),
  lines: z.array(orderLine),
});
const paymentState = z.object({
  orderId: id,
  paymentId: z.string().min(1).max(36),
  status: z.string().min(1).max(16),
  amountCents: cents,
});
const shipmentState = z.object({
  orderId: id,
  shipmentId: z.string().min(1).max(36),
  status: z.string().min(1).max(16),
  country: z.string().length(2).nullable(),
});
const reservationState = z.object({
  orderId: id,
  status: z.string().min(1).max(16),
  totalCents: cents,
  lines: z.array(z.object({ sku: id, quantity: z.number().int().min(1) })),
});
const product = z.object({
  sku: id,
  name: z.string().min(1).max(255),
  nameVersion: z.number().int().min(1),
  priceCents: cents,
});

/** Every event type: who publishes it, about which aggregate, with which payload. */
export const EVENT_CATALOG = {
  // orders
  OrderCreated: { source: 'orders', aggregate: 'order', payload: orderState },
  OrderConfirmed: { source: 'orders', aggregate: 'order', payload: orderState },
  OrderCancelled: {
    source: 'orders',
    aggregate: 'order',
    payload: orderState.extend({ reason: z.string().nullable() }),
  },
  // a customer's cancellation of a confirmed order (CancelOrder): CANCELLING, then CANCELLED or back to CONFIRMED
  OrderCancellationStarted: { source: 'orders', aggregate: 'order', payload: orderState },
  OrderCancellationReverted: { source: 'orders', aggregate: 'order', payload: orderState },
  // inventory
  ProductCreated: { source: 'inventory', aggregate: 'product', payload: product },
  ProductRenamed: { source: 'inventory', aggregate: 'product', payload: product.extend({ previousName: z.string() }) },
  PriceChanged: { source: 'inventory', aggregate: 'product', payload: product.extend({ previousPriceCents: cents }) },
  StockReserved: { source: 'inventory', aggregate: 'reservation', payload: reservationState },
  StockReleased: { source: 'inventory', aggregate: 'reservation', payload: reservationState },
  StockCommitted: { source: 'inventory', aggregate: 'reservation', payload: reservationState },
  StockReturned: { source: 'inventory', aggregate: 'reservation', payload: reservationState },
  // payments
  PaymentCaptured: { source: 'payments', aggregate: 'payment', payload: paymentState },
  PaymentDeclined: { source: 'payments', aggregate: 'payment', payload: paymentState },
  PaymentRefunded: { source: 'payments', aggregate: 'payment', payload: paymentState },
  // shipping
  ShipmentScheduled: { source: 'shipping', aggregate: 'shipment', payload: shipmentState },
  ShipmentCancelled: { source: 'shipping', aggregate: 'shipment', payload: shipmentState },
  ShipmentDispatched: { source: 'shipping', aggregate: 'shipment', payload: shipmentState },
} as const satisfies Record<string, { source: EventSource; aggregate: string; payload: z.ZodType }>;

export type EventType = keyof typeof EVENT_CATALOG;
export type EventPayload<T extends EventType> = z.infer<(typeof EVENT_CATALOG)[T]['payload']>;
export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

/** What travels on the broker (the message body, JSON). */
export interface EventEnvelope<T extends EventType = EventType> {
  /** UUID; the broker's `Nats-Msg-Id` and the consumers' inbox key. */
  eventId: string;
  type: T;
  source: EventSource;
  aggregate: string;
  aggregateId: string;
  /** 1, 2, 3, … per aggregate in its source's outbox: a consumer never applies an older one over a newer. */
  version: number;
  occurredAt: string;
  payload: EventPayload<T>;
}

/** The subject an event is published on: `<source>.<aggregate>.<EventType>`. */
export function subjectOf(type: EventType): string {
  const e = EVENT_CATALOG[type];
  return `${e.source}.${e.aggregate}.${type}`;
}

const envelopeSchema = z.object({
  eventId: z.string().uuid(),
  type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
  source: z.enum(EVENT_SOURCES),
  aggregate: z.string().min(1).max(32),
  aggregateId: id,
  version: z.number().int().min(1),
  occurredAt: z.string(),
  payload: z.unknown(),
});

/** Parses and validates a message body; throws (with what was wrong) on anything else. */
export function parseEvent(data: Uint8Array | string): EventEnvelope {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
  const envelope = envelopeSchema.parse(JSON.parse(text));
  const spec = EVENT_CATALOG[envelope.type];
  if (spec.source !== envelope.source || spec.aggregate !== envelope.aggregate) {
    throw new Error(
      `event ${envelope.eventId}: ${envelope.type} belongs to ${spec.source}/${spec.aggregate}, not ${envelope.source}/${envelope.aggregate}`,
    );
  }
  const payload = spec.payload.parse(envelope.payload) as EventPayload<EventType>;
  return { ...envelope, payload };
}

/** Narrows an envelope to one type. */
export function isEvent<T extends EventType>(e: EventEnvelope, type: T): e is EventEnvelope<T> {
  return e.type === type;
}

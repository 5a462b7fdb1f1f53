/**
 * The transactional outbox every service includes in its own schema (and so in its own
 * migrations): a handler writes its domain event here in the same transaction as the change, so
 * the event exists exactly when the change does. lib/events/event-relay.ts publishes the rows in `seq`
 * order and marks them sent once the broker acknowledged them.
 */
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import {
  bigint,
  char,
  index,
  int,
  mysqlTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/mysql-core';
import type { Tx } from '../db';
import { EVENT_CATALOG, subjectOf, type EventEnvelope, type EventPayload, type EventType } from './events';

export const outbox = mysqlTable(
  'outbox',
  {
    /** Outbox order: the relay publishes by it. */
    seq: bigint('seq', { mode: 'number', unsigned: true }).autoincrement().primaryKey(),
    eventId: char('event_id', { length: 36 }).notNull(),
    aggregate: varchar('aggregate', { length: 32 }).notNull(),
    aggregateId: varchar('aggregate_id', { length: 64 }).notNull(),
    version: int('version').notNull(),
    type: varchar('type', { length: 64 }).notNull(),
    subject: varchar('subject', { length: 200 }).notNull(),
    /** The whole envelope as published (JSON). */
    body: text('body').notNull(),
    occurredAt: timestamp('occurred_at', { fsp: 3, mode: 'date' }).notNull().defaultNow(),
    /** Set once the broker acknowledged the publish (a duplicate acknowledgement counts). */
    sentAt: timestamp('sent_at', { fsp: 3, mode: 'date' }),
    /** The stream sequence the broker gave it. */
    streamSeq: bigint('stream_seq', { mode: 'number', unsigned: true }),
  },
  (t) => [
    uniqueIndex('outbox_event_id').on(t.eventId),
    uniqueIndex('outbox_aggregate_version').on(t.aggregate, t.aggregateId, t.version),
    index('outbox_unsent').on(t.sentAt, t.seq),
  ],
);

/**
 * The newest version of each aggregate: a counter row per aggregate, bumped under its row lock in
 * the change's transaction, so versions are 1, 2, 3, … with no gap and no repeat even after sent
 * outbox rows are pruned.
 */
export const outboxVersions = mysqlTable(
  'outbox_versions',
  {
    aggregate: varchar('aggregate', { length: 32 }).notNull(),
    aggregateId: varchar('aggregate_id', { length: 64 }).notNull(),
    version: int('version').notNull(),
  },
  (t) => [primaryKey({ columns: [t.aggregate, t.aggregateId] })],
);

/**
 * Writes a domain event into the outbox, inside the caller's transaction (the one that makes the
 * change): the next version of its aggregate, a new event ID, and the envelope the relay publishes.
 * Call it after the change, with the state the change left.
 */
export async function recordEvent<TSchema extends Record<string, unknown>, T extends EventType>(
  tx: Tx<TSchema>,
  type: T,
  aggregateId: string,
  payload: EventPayload<T>,
): Promise<EventEnvelope<T>> {
  const spec = EVENT_CATALOG[type];
  // Refuse a payload the consumers would refuse: the mistake shows up in the handler's tests, not downstream.
  spec.payload.parse(payload);
  await tx
    .insert(outboxVersions)
    .values({ aggregate: spec.aggregate, aggregateId, version: 1 })
    .onDuplicateKeyUpdate({ set: { version: sql`${outboxVersions.version} + 1` } });
  const [row] = await tx
    .select({ version: outboxVersions.version })
    .from(outboxVersions)
    .where(and(eq(outboxVersions.aggregate, spec.aggregate), eq(outboxVersions.aggregateId, aggregateId)))
    .for('update');
  const occurredAt = new Date();
  const envelope: EventEnvelope<T> = {
    eventId: randomUUID(),
    type,
    source: spec.source,
    aggregate: spec.aggregate,
    aggregateId,
    version: row!.version,
    occurredAt: occurredAt.toISOString(),
    payload,
  };
  await tx.insert(outbox).values({
    eventId: envelope.eventId,
    aggregate: spec.aggregate,
    aggregateId,
    version: envelope.version,
    type,
    subject: subjectOf(type),
    body: JSON.stringify(envelope),
    occurredAt,
  });
  return envelope;
}

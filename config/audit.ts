import { z } from 'zod';
import { dbPrefix, mysqlUrl, natsUrl, parseConfig } from '../lib/config';

/**
 * What the consistency auditor needs: the services' MySQL server and database prefix (the same
 * values the services use) and the settle time. The API (`GET /audit`) takes the same settings.
 */
export const auditEnv = {
  MYSQL_URL: mysqlUrl,
  DB_PREFIX: dbPrefix,
  /** How old an order must be before the auditor requires it to be CONFIRMED or CANCELLED. */
  AUDIT_SETTLE_MS: z.coerce.number().int().min(0).default(60_000),
  /** The event broker: with it, the audit also checks that every consumer is drained (audit/event-checks.ts). */
  NATS_URL: z.preprocess((v) => (v === '' ? undefined : v), natsUrl.optional()),
};

export const auditConfigSchema = z.object(auditEnv);
export type AuditConfig = z.infer<typeof auditConfigSchema>;

/** `npm run audit`'s configuration; the only place it reads `process.env`. */
export function loadAuditConfig(env: Record<string, string | undefined> = process.env): AuditConfig {
  return parseConfig(auditConfigSchema, env, 'audit');
}

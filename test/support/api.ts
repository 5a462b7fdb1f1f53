import request from 'supertest';
import type express from 'express';
import { createApiApp } from '../../api/app';
import type { SagaApiOptions } from '../../api/options';
import { createLogger } from '../../lib/logger';
import { runFullAudit } from '../../audit/auditor';
import { MYSQL_URL } from './services';
import type { TemporalHarness } from './temporal';
import { ADDRESS, GOOD_CARD, TEST_CARD_KEY } from './fixtures';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

/**
 * The real API app over the suite's Temporal client and, for `GET /audit`, the real auditor over
 * the suite's service databases (`dbPrefix`: the stack's prefix). It never listens; supertest drives it.
 */
export function createTestApi(
  t: TemporalHarness,
  opts: {
    dbPrefix: string;
    cardKey?: Buffer;
    waitMaxMs?: number;
    auditSettleMs?: number;
    sagaDeadlineMs?: number;
    compensationMaxAttempts?: number;
    activityMode?: 'regular' | 'local';
  },
): { app: express.Express; sagaOptions: SagaApiOptions } {
  const sagaOptions: SagaApiOptions = {
    namespace: 'default',
    taskQueue: t.taskQueue,
    temporalUiUrl: process.env.TEST_TEMPORAL_UI_URL ?? 'http://localhost:8233',
    sagaDeadlineMs: opts.sagaDeadlineMs ?? 0,
    cardKey: opts.cardKey ?? TEST_CARD_KEY,
    compensationMaxAttempts: opts.compensationMaxAttempts,
    activityMode: opts.activityMode,
  };
  const audit = () => runFullAudit({ mysqlUrl: MYSQL_URL, dbPrefix: opts.dbPrefix, settleMs: opts.auditSettleMs ?? 0 });
  const app = createApiApp({
    client: t.client,
    sagaOptions,
    logger: createLogger('api', 'silent'),
    apiToken: TEST_TOKEN,
    waitMaxMs: opts.waitMaxMs ?? 20_000,
    audit,
  });
  return { app, sagaOptions };
}

export const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

export function orderBody(sku: string, overrides: Record<string, unknown> = {}) {
  return {
    customerId: 'cust-42',
    items: [{ sku, quantity: 1 }],
    payment: { cardNumber: GOOD_CARD },
    shippingAddress: ADDRESS,
    ...overrides,
  };
}

export function post(app: express.Express, path: string) {
  return request(app).post(path).set(auth);
}

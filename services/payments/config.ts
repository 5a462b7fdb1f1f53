import { z } from 'zod';
import { mysqlServiceEnv, parseConfig, port, requireAdminTokenForFaults } from '../../lib/config';

export const paymentsConfigSchema = z
  .object({
    ...mysqlServiceEnv,
    PAYMENTS_PORT: port(3003),
  })
  .superRefine(requireAdminTokenForFaults);
export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;

/** The payments service's configuration; the only place it reads `process.env`. */
export function loadPaymentsConfig(env: Record<string, string | undefined> = process.env): PaymentsConfig {
  return parseConfig(paymentsConfigSchema, env, 'payments');
}

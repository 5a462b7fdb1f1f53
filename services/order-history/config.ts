import { z } from 'zod';
import { mysqlServiceEnv, natsUrl, parseConfig, port, requireAdminTokenForFaults } from '../../lib/config';

export const orderHistoryConfigSchema = z
  .object({
    ...mysqlServiceEnv,
    // The read model exists only through the streams: no broker, no service.
    NATS_URL: natsUrl,
    ORDER_HISTORY_PORT: port(3006),
    /**
     * Prefix of its durable consumers' names (`<prefix>-orders`, `-payments`, `-shipping`). A new
     * prefix with a new database is a second copy built from the start of the streams.
     */
    ORDER_HISTORY_CONSUMER: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, - and _ only (1-40)')
      .default('order-history'),
  })
  .superRefine(requireAdminTokenForFaults);
export type OrderHistoryConfig = z.infer<typeof orderHistoryConfigSchema>;

/** The order-history service's configuration; the only place it reads `process.env`. */
export function loadOrderHistoryConfig(env: Record<string, string | undefined> = process.env): OrderHistoryConfig {
  return parseConfig(orderHistoryConfigSchema, env, 'order-history');
}

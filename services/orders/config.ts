import { z } from 'zod';
import { mysqlServiceEnv, parseConfig, port, requireAdminTokenForFaults } from '../../lib/config';

export const ordersConfigSchema = z
  .object({
    ...mysqlServiceEnv,
    ORDERS_PORT: port(3001),
  })
  .superRefine(requireAdminTokenForFaults);
export type OrdersConfig = z.infer<typeof ordersConfigSchema>;

/** The orders service's configuration; the only place it reads `process.env`. */
export function loadOrdersConfig(env: Record<string, string | undefined> = process.env): OrdersConfig {
  return parseConfig(ordersConfigSchema, env, 'orders');
}

import { z } from 'zod';
import { mysqlServiceEnv, parseConfig, port, requireAdminTokenForFaults } from '../../lib/config';

export const inventoryConfigSchema = z
  .object({
    ...mysqlServiceEnv,
    INVENTORY_PORT: port(3002),
  })
  .superRefine(requireAdminTokenForFaults);
export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;

/** The inventory service's configuration; the only place it reads `process.env`. */
export function loadInventoryConfig(env: Record<string, string | undefined> = process.env): InventoryConfig {
  return parseConfig(inventoryConfigSchema, env, 'inventory');
}

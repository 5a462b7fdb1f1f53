import { z } from 'zod';
import { mysqlServiceEnv, parseConfig, port, requireAdminTokenForFaults } from '../../lib/config';

export const DEFAULT_SERVED_COUNTRIES = 'US,CA,MX,GB,IE,FR,DE,NL,BE,LU,ES,PT,IT,AT,CH,DK,SE,NO,FI,PL,CZ,AU,NZ,JP';

export const shippingConfigSchema = z
  .object({
    ...mysqlServiceEnv,
    SHIPPING_PORT: port(3004),
    /** Comma-separated ISO 3166-1 alpha-2 codes this carrier delivers to. `AQ` is never served. */
    SHIPPING_SERVED_COUNTRIES: z
      .string()
      .default(DEFAULT_SERVED_COUNTRIES)
      .transform((s) =>
        s
          .split(',')
          .map((c) => c.trim().toUpperCase())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[A-Z]{2}$/, 'two-letter country codes')).min(1)),
  })
  .superRefine(requireAdminTokenForFaults);
export type ShippingConfig = z.infer<typeof shippingConfigSchema>;

/** The shipping service's configuration; the only place it reads `process.env`. */
export function loadShippingConfig(env: Record<string, string | undefined> = process.env): ShippingConfig {
  return parseConfig(shippingConfigSchema, env, 'shipping');
}

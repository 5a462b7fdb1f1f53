import { z } from 'zod';
import { idSchema, safeText } from '../../lib/text';

/** The shipping service's HTTP contract, shared with its callers (the activities and the API). */
export const orderIdSchema = idSchema('orderId');

/** Printed on labels: free text without control or bidirectional characters (lib/text.ts). */
export const addressSchema = z.strictObject({
  name: safeText(1, 200),
  line1: safeText(1, 200),
  city: safeText(1, 100),
  postalCode: safeText(1, 20),
  country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 country code, upper case'),
});
export type Address = z.infer<typeof addressSchema>;

export const scheduleBody = z.strictObject({ orderId: orderIdSchema, address: addressSchema });
export type ScheduleRequest = z.infer<typeof scheduleBody>;
export const cancelShipmentBody = z.strictObject({ reason: z.string().max(255).optional() });
export const listShipmentsQuery = z.strictObject({ orderId: orderIdSchema });

export interface Shipment {
  shipmentId: string;
  orderId: string;
  status: 'SCHEDULED' | 'CANCELLED';
  tombstone: boolean;
  address: Address | null;
}

export const ShippingErrors = {
  UNSERVICEABLE_ADDRESS: 'UNSERVICEABLE_ADDRESS',
  SHIPMENT_CANCELLED: 'SHIPMENT_CANCELLED',
  SHIPMENT_CONFLICT: 'SHIPMENT_CONFLICT',
} as const;

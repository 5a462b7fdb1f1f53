import { z } from 'zod';

/** The shipping service's HTTP contract, shared with its callers (the activities and the API). */
export const orderIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'orderId: 1-64 letters, digits, . _ -');

export const addressSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  line1: z.string().trim().min(1).max(200),
  city: z.string().trim().min(1).max(100),
  postalCode: z.string().trim().min(1).max(20),
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

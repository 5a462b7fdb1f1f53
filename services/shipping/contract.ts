import { z } from 'zod';
import { idSchema, safeText } from '../../lib/validation/text';

/** The shipping service's HTTP contract, shared with its callers (the activities and the API). */
export const orderIdSchema = idSchema('orderId');

/** Printed on labels: free text without control or bidirectional characters (lib/validation/text.ts). */
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
/** A dispatch takes no parameters: an empty JSON object (or no body). */
export const dispatchShipmentBody = z.strictObject({});
export const listShipmentsQuery = z.strictObject({ orderId: orderIdSchema });

export interface Shipment {
  shipmentId: string;
  orderId: string;
  /** SCHEDULED → DISPATCHED (the parcel left the warehouse: it can no longer be cancelled) or CANCELLED. */
  status: 'SCHEDULED' | 'DISPATCHED' | 'CANCELLED';
  tombstone: boolean;
  address: Address | null;
}

export const ShippingErrors = {
  UNSERVICEABLE_ADDRESS: 'UNSERVICEABLE_ADDRESS',
  SHIPMENT_CANCELLED: 'SHIPMENT_CANCELLED',
  SHIPMENT_CONFLICT: 'SHIPMENT_CONFLICT',
  /** A cancel of a shipment whose parcel has left: the CancelOrder saga's pivot fails on it. */
  SHIPMENT_ALREADY_DISPATCHED: 'SHIPMENT_ALREADY_DISPATCHED',
  SHIPMENT_NOT_FOUND: 'SHIPMENT_NOT_FOUND',
} as const;

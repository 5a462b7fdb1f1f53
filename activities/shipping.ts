import type { ServiceClient } from './http-client';
import type { Address, Shipment } from '../services/shipping/contract';
import type { Attempted } from '../shared/attempted';

/** Activities of the shipping service. */
export function createShippingActivities(shipping: ServiceClient) {
  return {
    /**
     * Schedules the order's shipment. Compensation: `cancelShipment`.
     * @throws ApplicationFailure UNSERVICEABLE_ADDRESS | SHIPMENT_CANCELLED | SHIPMENT_CONFLICT (non-retryable).
     */
    async scheduleShipment(input: {
      idempotencyKey: string;
      orderId: string;
      address: Address;
    }): Promise<Attempted<Shipment>> {
      const { idempotencyKey, ...body } = input;
      return shipping.call<Shipment>('POST', '/shipments', { body, idempotencyKey });
    },

    /**
     * Cancels the order's scheduled shipment: the compensation of `scheduleShipment`, and the pivot
     * of CancelOrder. With no shipment yet, leaves a CANCELLED tombstone.
     * @throws ApplicationFailure SHIPMENT_ALREADY_DISPATCHED (non-retryable) once the parcel has left.
     */
    async cancelShipment(input: { idempotencyKey: string; orderId: string }): Promise<Attempted<Shipment>> {
      return shipping.call<Shipment>('POST', `/shipments/${encodeURIComponent(input.orderId)}/cancel`, {
        body: {},
        idempotencyKey: input.idempotencyKey,
      });
    },
  };
}

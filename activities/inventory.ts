import type { ServiceClient } from './http-client';
import type { RenameResult, Reservation, RevertResult } from '../services/inventory/contract';
import type { Attempted } from '../shared/attempted';

/** Activities of the inventory service. */
export function createInventoryActivities(inventory: ServiceClient) {
  return {
    /**
     * Holds stock for every line of an order (all or none); returns names, unit prices and the
     * total. Compensation: `releaseStock`.
     * @throws ApplicationFailure INSUFFICIENT_STOCK | UNKNOWN_SKU | RESERVATION_RELEASED (non-retryable).
     */
    async reserveStock(input: {
      idempotencyKey: string;
      orderId: string;
      lines: { sku: string; quantity: number }[];
    }): Promise<Attempted<Reservation>> {
      const { idempotencyKey, ...body } = input;
      return inventory.call<Reservation>('POST', '/reservations', { body, idempotencyKey });
    },

    /**
     * Compensation of `reserveStock`: returns the held units; with no reservation yet, leaves a
     * tombstone so a late reservation holds nothing.
     * @throws ApplicationFailure ILLEGAL_TRANSITION when the stock was already committed.
     */
    async releaseStock(input: { idempotencyKey: string; orderId: string }): Promise<Attempted<Reservation>> {
      return inventory.call<Reservation>('POST', `/reservations/${encodeURIComponent(input.orderId)}/release`, {
        body: {},
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * After the pivot: moves the held units from reserved to committed. Retried until it succeeds; no compensation.
     * @throws ApplicationFailure RESERVATION_NOT_FOUND | ILLEGAL_TRANSITION.
     */
    async commitStock(input: { idempotencyKey: string; orderId: string }): Promise<Attempted<Reservation>> {
      return inventory.call<Reservation>('POST', `/reservations/${encodeURIComponent(input.orderId)}/commit`, {
        body: {},
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * CancelOrder, after its pivot: puts a cancelled confirmed order's units back to available
     * (committed or still held). Retried until it succeeds; no compensation; a repeat is a no-op.
     * @throws ApplicationFailure RESERVATION_NOT_FOUND | ILLEGAL_TRANSITION (the reservation was released).
     */
    async returnStock(input: { idempotencyKey: string; orderId: string }): Promise<Attempted<Reservation>> {
      return inventory.call<Reservation>('POST', `/reservations/${encodeURIComponent(input.orderId)}/return`, {
        body: {},
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * Renames a product in the catalog (the source of truth); its name version goes up by one.
     * Compensation: `revertProductRename`.
     * @throws ApplicationFailure PRODUCT_NOT_FOUND | RENAME_REVERTED | RENAME_CONFLICT.
     */
    async renameProduct(input: {
      idempotencyKey: string;
      sku: string;
      renameId: string;
      name: string;
    }): Promise<Attempted<RenameResult>> {
      return inventory.call<RenameResult>('POST', `/products/${encodeURIComponent(input.sku)}/rename`, {
        body: { renameId: input.renameId, name: input.name },
        idempotencyKey: input.idempotencyKey,
      });
    },

    /**
     * Compensation of `renameProduct`: the rename stops standing; unless a newer rename (or catalog
     * name) stands, the product goes back to the newest name that was not itself reverted. Before the
     * rename arrives, leaves a tombstone.
     */
    async revertProductRename(input: {
      idempotencyKey: string;
      sku: string;
      renameId: string;
    }): Promise<Attempted<RevertResult>> {
      return inventory.call<RevertResult>(
        'POST',
        `/products/${encodeURIComponent(input.sku)}/renames/${encodeURIComponent(input.renameId)}/revert`,
        { body: {}, idempotencyKey: input.idempotencyKey },
      );
    },
  };
}

/**
 * Test-only: PlaceOrder with the parallel charge-and-ship change deployed *without* its
 * `patched()` guard, i.e. the same saga body (`runPlaceOrder`) told to always run the two steps in
 * parallel. The replay suite shows what that would break: the runs recorded before the change in
 * which the charge failed or was cancelled before the shipment was scheduled, and every run that
 * recorded the patch marker (so the guard cannot simply be dropped later: it goes through
 * `deprecatePatch` first). Never registered by a real worker.
 */
import type { CompensatedSaga } from '../../workflows/saga';
import { runPlaceOrder, type PlaceOrderInput, type PlaceOrderResult } from '../../workflows/place-order';

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult | CompensatedSaga> {
  return runPlaceOrder(input, () => true);
}

/**
 * Test-only: PlaceOrder with the parallel create-and-reserve change deployed *without* its
 * `patched()` guard: the same saga body (`runPlaceOrder`) told to always create the order and
 * reserve the stock in parallel. The replay suite shows what that breaks: every run that recorded
 * the marker (so the guard goes through `deprecatePatch` before it is dropped), and which runs
 * recorded before the change it would still replay. Never registered by a real worker.
 */
import { patched } from '@temporalio/workflow';
import type { CompensatedSaga } from '../../workflows/saga';
import {
  PARALLEL_CHARGE_AND_SHIP,
  runPlaceOrder,
  type PlaceOrderInput,
  type PlaceOrderResult,
} from '../../workflows/place-order';

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult | CompensatedSaga> {
  return runPlaceOrder(
    input,
    () => patched(PARALLEL_CHARGE_AND_SHIP),
    undefined,
    () => true,
  );
}

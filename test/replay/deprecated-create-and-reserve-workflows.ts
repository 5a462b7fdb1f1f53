/**
 * Test-only: PlaceOrder at the second stage of the parallel create-and-reserve patch's life:
 * `deprecatePatch(PARALLEL_CREATE_AND_RESERVE)` and the new path only. The replay suite shows that
 * it replays every history that took the new path, so this stage can ship once no run that could
 * take the old path is open.
 */
import { deprecatePatch, patched } from '@temporalio/workflow';
import type { CompensatedSaga } from '../../workflows/saga';
import {
  PARALLEL_CHARGE_AND_SHIP,
  PARALLEL_CREATE_AND_RESERVE,
  runPlaceOrder,
  type PlaceOrderInput,
  type PlaceOrderResult,
} from '../../workflows/place-order';

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult | CompensatedSaga> {
  return runPlaceOrder(
    input,
    () => patched(PARALLEL_CHARGE_AND_SHIP),
    undefined,
    () => {
      deprecatePatch(PARALLEL_CREATE_AND_RESERVE);
      return true;
    },
  );
}

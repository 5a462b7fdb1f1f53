/**
 * Test-only: PlaceOrder as it will look at the second stage of the parallel charge-and-ship
 * patch's life: `deprecatePatch(PARALLEL_CHARGE_AND_SHIP)` and the new path only. The replay suite
 * shows that it replays every history that took the new path (they hold the marker `patched()`
 * wrote), so this stage can ship once no run that could take the old path is open.
 */
import type { CompensatedSaga } from '../../workflows/saga';
import { deprecatePatch } from '@temporalio/workflow';
import {
  PARALLEL_CHARGE_AND_SHIP,
  runPlaceOrder,
  type PlaceOrderInput,
  type PlaceOrderResult,
} from '../../workflows/place-order';

export async function placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult | CompensatedSaga> {
  return runPlaceOrder(input, () => {
    deprecatePatch(PARALLEL_CHARGE_AND_SHIP);
    return true;
  });
}

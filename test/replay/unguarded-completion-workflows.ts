/**
 * Test-only: PlaceOrder with the "a compensated saga completes" change deployed *without* its
 * `patched()` guard: the saga runtime told to always complete with its final state once it has
 * compensated. The replay suite shows that this breaks every compensated run recorded before the
 * change (their histories end in WorkflowExecutionFailed) and every run that recorded the marker.
 * Never registered by a real worker.
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
    () => true,
  );
}

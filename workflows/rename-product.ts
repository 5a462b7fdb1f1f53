import { workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { Saga, type CompensatedSaga } from './saga';
import { sagaOptionsFrom, sagaProxies, type SagaRunOptions } from './options';

/** The saga type (the `SagaType` search attribute); its definition is sagas/rename-product.ts. */
export const RENAME_PRODUCT = 'RenameProduct';

export interface RenameProductInput {
  sku: string;
  name: string;
  /** The rename's own identity, part of its workflow ID (runs started before it was in the input lack it; the workflow never reads it). */
  requestId: string;
  options?: SagaRunOptions;
}

export interface RenameProductResult {
  sku: string;
  name: string;
  version: number;
  previousName: string;
  ordersLinesUpdated: number;
}

/**
 * Renames a product everywhere its name is held: first in inventory (the source of truth, which
 * versions the name), then in the orders service's copies, applied by version so repeated or
 * out-of-order updates never roll a copy back.
 *
 * While the orders service is down the second step keeps retrying (unlimited, capped backoff):
 * the copies converge once it is back. If the orders service *rejects* the name (a business rule,
 * e.g. INVALID_PRODUCT_NAME), the saga compensates by reverting the rename in inventory
 * (`revertProductRename`, which leaves a newer rename alone, and otherwise goes back to the newest
 * name not itself reverted: two overlapping refused renames end on the name from before both).
 */
export async function renameProduct(input: RenameProductInput): Promise<RenameProductResult | CompensatedSaga> {
  const { forward, undo, retriable: untilDone } = sagaProxies<Activities>(input.options);
  const saga = new Saga({ type: RENAME_PRODUCT, ...sagaOptionsFrom(input.options) });
  // The rename's identity in inventory (which keeps a newer rename when an older one is reverted).
  const renameId = workflowInfo().workflowId;

  return saga.run(async () => {
    const renamed = await saga.step({
      name: 'renameProduct',
      action: ({ idempotencyKey }) =>
        forward.renameProduct({ idempotencyKey, sku: input.sku, renameId, name: input.name }),
      compensate: ({ idempotencyKey }) => undo.revertProductRename({ idempotencyKey, sku: input.sku, renameId }),
    });
    // Compensatable without its own compensation: its effect is version-guarded, and a rejection
    // here must undo the rename above. Technical failures are retried without limit.
    const copies = await saga.step({
      name: 'updateOrderProductNames',
      kind: 'compensatable',
      action: ({ idempotencyKey }) =>
        untilDone.updateOrderProductNames({
          idempotencyKey,
          sku: input.sku,
          name: renamed.name,
          version: renamed.version,
        }),
    });
    return {
      sku: input.sku,
      name: renamed.name,
      version: renamed.version,
      previousName: renamed.previousName,
      ordersLinesUpdated: copies.linesUpdated,
    };
  });
}

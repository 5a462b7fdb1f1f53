import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { Saga } from './saga';
import { sagaActivityOptions, type SagaRunOptions } from './options';
import { RENAME_PRODUCT } from '../shared/saga-names';

export { RENAME_PRODUCT, renameProductWorkflowId } from '../shared/saga-names';


export interface RenameProductInput {
  sku: string;
  name: string;
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
 * (`revertProductRename`, which leaves a newer rename alone).
 */
export async function renameProduct(input: RenameProductInput): Promise<RenameProductResult> {
  const opts = sagaActivityOptions(input.options);
  const forward = proxyActivities<Activities>(opts.forward);
  const undo = proxyActivities<Activities>(opts.compensation);
  const untilDone = proxyActivities<Activities>(opts.retriable);
  const saga = new Saga({ type: RENAME_PRODUCT, deadlineMs: input.options?.deadlineMs, compensation: input.options?.compensation, searchAttributesAtStart: input.options?.searchAttributesAtStart });
  const wf = workflowInfo().workflowId;
  const renameId = wf;

  return saga.run(async () => {
    const renamed = await saga.step({
      name: 'renameProduct',
      action: () => forward.renameProduct({ idempotencyKey: `${wf}:renameProduct`, sku: input.sku, renameId, name: input.name }),
      compensate: ({ round }) =>
        undo.revertProductRename({ idempotencyKey: `${wf}:renameProduct:compensate:${round}`, sku: input.sku, renameId }),
    });
    // Compensatable without its own compensation: its effect is version-guarded, and a rejection
    // here must undo the rename above. Technical failures are retried without limit.
    const copies = await saga.step({
      name: 'updateOrderProductNames',
      kind: 'compensatable',
      action: () =>
        untilDone.updateOrderProductNames({
          idempotencyKey: `${wf}:updateOrderProductNames`,
          sku: input.sku,
          name: renamed.name,
          version: renamed.version,
        }),
    });
    return { sku: input.sku, name: renamed.name, version: renamed.version, previousName: renamed.previousName, ordersLinesUpdated: copies.linesUpdated };
  });
}

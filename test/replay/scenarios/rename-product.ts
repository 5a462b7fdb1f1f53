/** The recorder scenarios of RenameProduct (sagas/rename-product.ts, workflows/rename-product.ts). */
import { PLACE_ORDER } from '../../../workflows/place-order';
import { RENAME_PRODUCT } from '../../../workflows/rename-product';
import type { SagaRunOptions } from '../../../workflows/options';
import type { Scenario, ScenarioContext } from './scenario';

const renameOptions = (ctx: ScenarioContext): SagaRunOptions => ({
  ...ctx.fast,
  retriableRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 },
});

/** A product with one confirmed order holding a copy of its name. */
async function productWithOrder(ctx: ScenarioContext, name: string): Promise<string> {
  const sku = await ctx.putProduct({ available: 10, name });
  await ctx.finalState(await ctx.start(PLACE_ORDER, ctx.orderInput(sku, { options: ctx.fast })));
  return sku;
}

/** RenameProduct's runs: completed, converged after an orders outage, rejected and reverted. */
export const renameProductScenarios: Scenario[] = [
  {
    name: 'rename-product-completed',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await productWithOrder(ctx, 'Mug');
      return ctx.start(RENAME_PRODUCT, { sku, name: 'Mug Deluxe', requestId: 'r1', options: renameOptions(ctx) });
    },
  },
  {
    name: 'rename-product-orders-outage-converged',
    ends: 'COMPLETED',
    async run(ctx) {
      const sku = await productWithOrder(ctx, 'Old Kettle');
      await ctx.service('orders').stop();
      const handle = await ctx.start(RENAME_PRODUCT, {
        sku,
        name: 'Kettle Pro',
        requestId: 'r1',
        options: renameOptions(ctx),
      });
      await ctx.waitForState(handle, (s) => s.steps.some((st) => st.name === 'updateOrderProductNames'));
      await ctx.sleep(2000);
      await ctx.service('orders').start();
      return handle;
    },
  },
  {
    name: 'rename-product-rejected-reverted',
    ends: 'COMPENSATED',
    async run(ctx) {
      const sku = await productWithOrder(ctx, 'Lamp');
      // The orders service rejects names over its length limit (INVALID_PRODUCT_NAME).
      return ctx.start(RENAME_PRODUCT, { sku, name: 'L'.repeat(150), requestId: 'r1', options: renameOptions(ctx) });
    },
  },
];

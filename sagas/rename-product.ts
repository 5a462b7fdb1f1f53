/** RenameProduct: `POST /products/{sku}/rename` (or `POST /sagas/RenameProduct`) starts workflows/rename-product.ts. */
import { z } from 'zod';
import { idSchema, safeText } from '../lib/text';
import { RENAME_PRODUCT, renameProduct, type RenameProductInput } from '../workflows/rename-product';
import type { SagaRunOptions } from '../workflows/options';
import { defineSaga } from './definition';
import type { Scenario, ScenarioContext } from './scenario';

const skuSchema = idSchema('SKU');
const renameRouteBody = z.strictObject({ name: safeText(1, 255) });
export const renameProductBody = z.strictObject({ sku: skuSchema, name: safeText(1, 255) });
export type RenameProductBody = z.infer<typeof renameProductBody>;

/** Workflow ID of a rename: the SKU plus a caller-chosen request ID (the rename's own identity). */
export function renameProductWorkflowId(sku: string, requestId: string): string {
  return `rename-${sku}-${requestId}`;
}

const renameOptions = (ctx: ScenarioContext): SagaRunOptions => ({
  ...ctx.fast,
  retriableRetry: { initialIntervalMs: 200, maximumIntervalMs: 400, maximumAttempts: 0 },
});

/** A product with one confirmed order holding a copy of its name. */
async function productWithOrder(ctx: ScenarioContext, name: string): Promise<string> {
  const sku = await ctx.putProduct({ available: 10, name });
  await ctx.finalState(await ctx.start('PlaceOrder', ctx.orderInput(sku, { options: ctx.fast })));
  return sku;
}

const scenarios: Scenario[] = [
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

export const renameProductSaga = defineSaga({
  type: RENAME_PRODUCT,
  workflow: renameProduct,
  idPrefix: 'rename',
  body: renameProductBody,
  summary: "Rename a product: in inventory (which versions the name), then in the orders service's copies",
  toInput: (body, ctx): RenameProductInput => ({
    sku: body.sku,
    name: body.name,
    requestId: ctx.newId('rename'),
    options: ctx.options,
  }),
  workflowId: (input) => renameProductWorkflowId(input.sku, input.requestId),
  digestRequest: (body) => ({ path: `/products/${body.sku}/rename`, body: { name: body.name } }),
  echo: (input) => ({ sku: input.sku }),
  route: {
    path: '/products/:sku/rename',
    params: z.strictObject({ sku: skuSchema }),
    body: renameRouteBody,
    toSagaBody: (params, body: z.infer<typeof renameRouteBody>) => ({ sku: params.sku!, name: body.name }),
    summary: 'Start a RenameProduct saga',
  },
  scenarios,
});

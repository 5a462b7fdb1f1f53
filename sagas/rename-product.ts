/** RenameProduct: `POST /products/{sku}/rename` (or `POST /sagas/RenameProduct`) starts workflows/rename-product.ts. */
import { z } from 'zod';
import { idSchema, safeText } from '../lib/validation/text';
import { RENAME_PRODUCT, renameProduct, type RenameProductInput } from '../workflows/rename-product';
import { defineSaga } from './definition';

const skuSchema = idSchema('SKU');
const renameRouteBody = z.strictObject({ name: safeText(1, 255) });
export const renameProductBody = z.strictObject({ sku: skuSchema, name: safeText(1, 255) });
export type RenameProductBody = z.infer<typeof renameProductBody>;

/** Workflow ID of a rename: the SKU plus a caller-chosen request ID (the rename's own identity). */
export function renameProductWorkflowId(sku: string, requestId: string): string {
  return `rename-${sku}-${requestId}`;
}

export const renameProductSaga = defineSaga({
  type: RENAME_PRODUCT,
  workflow: renameProduct,
  idPrefix: 'rename',
  body: renameProductBody,
  summary: "Rename a product: in inventory (which versions the name), then in the orders service's copies",
  plan: [{ steps: ['renameProduct'] }, { steps: ['updateOrderProductNames'] }],
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
});

/** Saga types and their workflow IDs (business keys), shared by the workflows, the API and tests. */
export const PLACE_ORDER = 'PlaceOrder';
export const RENAME_PRODUCT = 'RenameProduct';

/** Workflow ID of the saga that places `orderId`: a business key, so one order has one saga. */
export function placeOrderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/** Workflow ID of a rename: the SKU plus a caller-chosen request ID (the rename's own identity). */
export function renameProductWorkflowId(sku: string, requestId: string): string {
  return `rename-${sku}-${requestId}`;
}

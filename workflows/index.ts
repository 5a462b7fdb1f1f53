/** The workflows the saga worker registers (this file is the worker's `workflowsPath`). */
export { placeOrder } from './place-order';
export { renameProduct } from './rename-product';

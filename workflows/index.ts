/**
 * The worker's workflows (this file is its `workflowsPath`): each saga's workflow, exported under
 * its workflow type (the function's name). Only the workflow functions are bundled: no registry, no
 * validation library, no test scenarios. test/workflows-index.test.ts checks that every saga in the
 * registry (sagas/index.ts) is exported here. A workflow type this module does not export fails its
 * workflow task (the SDK's TypeError), so it is retried once a worker that knows it is deployed.
 */
export { cancelOrder } from './cancel-order';
export { placeOrder } from './place-order';
export { renameProduct } from './rename-product';

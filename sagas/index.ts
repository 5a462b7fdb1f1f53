/**
 * The saga registry: every saga this deployment runs, each defined once (sagas/<saga>.ts). The
 * worker runs their workflows (workflows/index.ts exports each; test/workflows-index.test.ts checks
 * it against this list), the API serves `POST /sagas/{type}` and their domain routes (validation
 * and OpenAPI from their schemas), `GET /sagas?type=` lists them, the history recorder records
 * their scenarios (test/replay/scenarios/) and the replay suite expects their fixtures. Adding a
 * saga is adding its definition here, its workflow's export and its scenarios.
 */
import type { SagaDefinition } from './definition';
import { cancelOrderSaga } from './cancel-order';
import { placeOrderSaga } from './place-order';
import { renameProductSaga } from './rename-product';

export const SAGAS: readonly SagaDefinition[] = [placeOrderSaga, renameProductSaga, cancelOrderSaga];

export type { SagaDefinition } from './definition';

/** The definition of a saga type (`PlaceOrder`), or undefined. */
export function sagaByType(type: string): SagaDefinition | undefined {
  return SAGAS.find((s) => s.type === type);
}

/** The definition whose workflow has this workflow type (`placeOrder`), or undefined. */
export function sagaByWorkflowType(workflowType: string): SagaDefinition | undefined {
  return SAGAS.find((s) => s.workflow.name === workflowType);
}

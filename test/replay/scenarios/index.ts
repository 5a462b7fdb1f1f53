/**
 * The recorder scenarios of every saga, by saga type: what `npm run histories:record` runs and the
 * replay suite expects a history of. A saga in the registry (sagas/index.ts) without an entry here,
 * or an entry for a saga the registry does not list, fails the replay suite.
 */
import { SAGAS, type SagaDefinition } from '../../../sagas';
import { CANCEL_ORDER } from '../../../workflows/cancel-order';
import { PLACE_ORDER } from '../../../workflows/place-order';
import { RENAME_PRODUCT } from '../../../workflows/rename-product';
import { cancelOrderScenarios } from './cancel-order';
import { placeOrderScenarios } from './place-order';
import { renameProductScenarios } from './rename-product';
import type { Scenario } from './scenario';

export type { Scenario, ScenarioContext, ServiceName } from './scenario';

export const SCENARIOS_BY_SAGA: Readonly<Record<string, readonly Scenario[]>> = {
  [PLACE_ORDER]: placeOrderScenarios,
  [RENAME_PRODUCT]: renameProductScenarios,
  [CANCEL_ORDER]: cancelOrderScenarios,
};

/** Every scenario of every registered saga, in registry order, with the saga it runs. */
export const SCENARIOS: readonly { saga: SagaDefinition; scenario: Scenario }[] = SAGAS.flatMap((saga) =>
  (SCENARIOS_BY_SAGA[saga.type] ?? []).map((scenario) => ({ saga, scenario })),
);

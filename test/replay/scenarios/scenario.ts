/**
 * A recorder scenario: a run of a saga that the history recorder (`npm run histories:record`)
 * drives against the real services and records, and whose history the replay suite replays.
 *
 * Scenarios are test code (one file per saga here, listed by saga type in index.ts), never part of
 * the workflow bundle. Everything a scenario does goes through the `ScenarioContext` the recorder
 * hands it (real services, a real Temporal, test fixtures), so a scenario reads as the run it is.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { SagaState, SagaStatus } from '../../../shared/saga-types';
import type { SagaRunOptions } from '../../../workflows/options';
import type { PlaceOrderInput } from '../../../workflows/place-order';

export type ServiceName = 'orders' | 'inventory' | 'payments' | 'shipping';

export interface ScenarioContext {
  /** Starts the saga of the given type with this input (workflow ID from its definition) on the recorder's worker. */
  start(type: string, input: unknown): Promise<WorkflowHandle>;
  /** Puts a product in the catalog; returns its (fresh) SKU. */
  putProduct(opts: { name?: string; available: number }): Promise<string>;
  /** Stops or starts one of the real services (an outage). */
  service(name: ServiceName): { stop(): Promise<void>; start(): Promise<void> };
  /**
   * Calls a route of one of the real services as one of its callers, e.g. what the warehouse does
   * while a saga runs (`operator`: `POST /shipments/:orderId/dispatch`). Answers the status and body.
   */
  callService(
    name: ServiceName,
    caller: 'worker' | 'operator',
    request: { method: 'GET' | 'POST' | 'PUT'; path: string; body?: unknown },
  ): Promise<{ status: number; body: unknown }>;
  /** Polls the saga's state until `predicate` holds. */
  waitForState(handle: WorkflowHandle, predicate: (s: SagaState) => boolean): Promise<SagaState>;
  /** The saga's final state once its workflow closed. */
  finalState(handle: WorkflowHandle): Promise<SagaState>;
  sleep(ms: number): Promise<void>;
  /** A PlaceOrder input for one unit of `sku` (a good card and address unless overridden). */
  orderInput(
    sku: string,
    overrides?: Partial<Omit<PlaceOrderInput, 'payment'>> & { cardNumber?: string },
  ): PlaceOrderInput;
  cards: { good: string; declined: string };
  address: PlaceOrderInput['shippingAddress'];
  /** Short timers: FAST (steps give up after a few attempts, compensations never). */
  fast: SagaRunOptions;
}

export interface Scenario {
  /** The fixture's base name (`<saga>-<what happens>`); patches the run went through are appended. */
  name: string;
  /** The status the run must end in; otherwise its history would not show the scenario's path. */
  ends: SagaStatus;
  /** Starts the saga, drives it (outages, signals, cancellation) and returns its handle. */
  run(ctx: ScenarioContext): Promise<WorkflowHandle>;
}

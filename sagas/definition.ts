/**
 * What defines a saga, once: everything the worker, the API (routes, validation, OpenAPI), the
 * saga list, the history recorder and the replay suite need to know about it.
 *
 * A definition is not part of the workflow bundle (workflows/index.ts exports the workflow functions
 * only), and it holds no keys and does no I/O: what the API does with Node (random IDs, keyed
 * hashes, sealing a card number) it hands in through `StartContext`. The runs the history recorder
 * records for a saga are test code: test/replay/scenarios/.
 */
import type { z } from 'zod';
import type { SagaRunOptions } from '../workflows/options';
import type { SagaPlan } from './plan';

/** What the API gives a definition to turn a validated request body into the workflow's input. */
export interface StartContext {
  /**
   * An ID for the saga's own identity: derived from the request's Idempotency-Key when it has one
   * (a keyed hash, so the same key gives the same ID and the key does not predict it), a random
   * UUID otherwise. `namespace` keeps the IDs of different sagas apart.
   */
  newId(namespace: string): string;
  /** Seals a card number (lib/auth/card-token.ts) bound to `boundTo`: what a workflow input may hold instead of the number. */
  sealCard(cardNumber: string, boundTo: string): string;
  /** The run options every saga the API starts gets from its configuration. */
  options: SagaRunOptions;
}

/** The domain route a saga is started from besides `POST /sagas/{type}` (e.g. `POST /orders`). */
export interface DomainRoute<Body> {
  /** Express path, e.g. `/products/:sku/rename`. */
  path: string;
  /** Path parameters (validated by `params`) and the route's own body (validated by `body`) make the saga's body. */
  params?: z.ZodType<Record<string, string>>;
  body: z.ZodType;
  toSagaBody(params: Record<string, string>, body: never): Body;
  summary: string;
}

/**
 * A business rejection the API answers as a client error: the saga compensated completely after a
 * step failed with this failure type, so nothing it did is left (a first step that was refused, or
 * a later one whose refusal undid the earlier ones). The answer's code is the failure type.
 */
export interface Rejection {
  status: 404 | 409 | 422;
  /** What the OpenAPI document says the status means for this saga. */
  description: string;
}

/**
 * What a saga's workflow ID stands for, and so what a start that meets an existing saga with the same ID does:
 * - `request` (the default): the ID derives from the request (its Idempotency-Key, or a random ID).
 *   A start that meets it is a repeat of that request: with the same body it answers that saga
 *   (422 when the body differs); the ID never runs twice.
 * - `business-key`: the ID is the business key itself (e.g. `cancel-<orderId>`). Any request for it
 *   while a run is open joins that run, with or without an Idempotency-Key (a key does not make
 *   it another operation); once the run has closed, a request starts a new run under the same ID,
 *   judged on the data as it is then (e.g. refused, changing nothing, when the first run already
 *   did the work). Its workflow must scope its idempotency keys to the run
 *   (SagaOptions.idempotencyScope 'run'), or the new run would be answered with the old run's replies.
 */
export type WorkflowIdentity = 'request' | 'business-key';

/** The start options that follow from a saga's `WorkflowIdentity` (for the API, the recorder and tests). */
export function workflowIdPolicies(identity: WorkflowIdentity = 'request') {
  return {
    // FAIL (not USE_EXISTING): a start that returns started something; a duplicate lands in the caller's catch.
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: identity === 'business-key' ? 'ALLOW_DUPLICATE' : 'REJECT_DUPLICATE',
  } as const;
}

export interface SagaDefinition<Body = unknown, Input = unknown, Result = unknown> {
  /** The saga type: the `SagaType` search attribute, `POST /sagas/{type}` and `GET /sagas?type=`. */
  type: string;
  /** The workflow the worker registers; its function name is the workflow type. */
  workflow: (input: Input) => Promise<Result>;
  /** Every workflow ID of this saga starts with `${idPrefix}-` (the API validates saga IDs with it). */
  idPrefix: string;
  /** The request body of `POST /sagas/{type}`. */
  body: z.ZodType<Body>;
  /** The workflow input, from a validated body. */
  toInput(body: Body, ctx: StartContext): Input;
  /** The workflow ID from the input: the business key, so one business operation is one saga. */
  workflowId(input: Input): string;
  /** What the workflow ID stands for (default `request`): see WorkflowIdentity. */
  workflowIdentity?: WorkflowIdentity;
  /**
   * The request an Idempotency-Key repeat is compared with (a keyed digest of it rides in the memo).
   * Domain-shaped, so a key sent to the domain route and to `POST /sagas/{type}` is the same request.
   */
  digestRequest(body: Body): { path: string; body: unknown };
  /** Fields the 202 answer carries besides the saga ID (e.g. the new order's ID). */
  echo(input: Input): Record<string, string>;
  route?: DomainRoute<Body>;
  /**
   * Business rejections the API answers with a 4xx, by failure type, when it waited for the outcome
   * (`?wait=true` or `decided`) and the saga compensated completely (see Rejection). Without a wait,
   * or for any other failure type, the answer is the saga (202, or 200 with its view).
   */
  rejections?: Record<string, Rejection>;
  /** One line for the OpenAPI document and the README. */
  summary: string;
  /** The steps its workflow runs, in stages (see sagas/plan.ts): the view's steps ahead. */
  plan: SagaPlan;
}

/** Erases a definition's type parameters, for the registry's list. */
export function defineSaga<Body, Input, Result>(def: SagaDefinition<Body, Input, Result>): SagaDefinition {
  return def as unknown as SagaDefinition;
}

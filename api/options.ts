/** What the API's Temporal side is configured with (main.ts reads it from the config; the tests set it). */
export interface SagaApiOptions {
  namespace: string;
  taskQueue: string;
  temporalUiUrl: string;
  /** Deadline given to every saga started (0 = none). */
  sagaDeadlineMs: number;
  /** Seals card numbers before they enter a workflow input. */
  cardKey: Buffer;
  /** PlaceOrder's activity mode (default regular). */
  activityMode?: 'regular' | 'local';
  /** Attempts per compensation before STUCK (0 or absent: retry until it succeeds). */
  compensationMaxAttempts?: number;
  /** Ask for eager workflow start (the client must share a NativeConnection with a worker of the task queue). */
  eagerStart?: boolean;
}

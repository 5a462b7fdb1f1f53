/**
 * What every saga activity returns: its value and the attempt that produced it, so the saga's
 * visible state can say how many tries a step took (Temporal retries activities out of sight).
 */
export interface Attempted<T> {
  value: T;
  attempt: number;
  /** The service's own handling time of the call that produced it (its `Server-Timing`), in ms. */
  serviceMs?: number;
  /**
   * The service answered from the response it had stored for this idempotency key (its
   * `Idempotent-Replayed` header): the call had landed before. The runtime uses it to tell, in
   * local-activity mode, whether a lost workflow task may have run further (Saga.onStopRequested).
   */
  replayed?: boolean;
}

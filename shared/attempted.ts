/**
 * What every saga activity returns: its value and the attempt that produced it, so the saga's
 * visible state can say how many tries a step took (Temporal retries activities out of sight).
 */
export interface Attempted<T> {
  value: T;
  attempt: number;
  /** The service's own handling time of the call that produced it (its `Server-Timing`), in ms. */
  serviceMs?: number;
}

/**
 * The API's one way to say "wait at most `ms`": `work`'s value, or undefined once the time ran
 * out first (then `work`'s own outcome, value or error, is dropped).
 *
 * `work` gets an `AbortSignal` that aborts when the time runs out. A gRPC call made under it
 * (`client.withAbortSignal(signal, ...)`) is cancelled then rather than left running; work that
 * must outlive the wait (an Update-with-Start, whose start has to land) ignores it. The timer never
 * keeps the process up (`AbortSignal.timeout`'s timer is unref'd).
 */
export async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
  // AbortSignal.timeout takes a whole number of ms within uint32; a budget already spent waits 0.
  const signal = AbortSignal.timeout(Math.min(Math.max(0, Math.ceil(ms)), 0xffff_ffff));
  let onAbort = () => {};
  const timedOut = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(signal), timedOut]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

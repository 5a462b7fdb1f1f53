import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout } from './timeout';

describe('withTimeout', () => {
  test('when the work finishes in time, then its value is the answer and its signal never aborts', async () => {
    let signal: AbortSignal | undefined;
    const value = await withTimeout(1000, async (s) => {
      signal = s;
      return 'done';
    });
    expect(value).toBe('done');
    expect(signal?.aborted).toBe(false);
  });

  test('when the time runs out first, then the answer is undefined, the signal aborts and a later failure is dropped', async () => {
    let signal: AbortSignal | undefined;
    const value = await withTimeout(20, async (s) => {
      signal = s;
      await sleep(100);
      throw new Error('too late to matter');
    });
    expect(value).toBeUndefined();
    expect(signal?.aborted).toBe(true);
    await sleep(150);
  });

  test('when the work fails in time, then its error is thrown', async () => {
    await expect(withTimeout(1000, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  test('when the budget is already spent (negative ms), then it waits no time at all', async () => {
    expect(await withTimeout(-5, () => sleep(100).then(() => 'late'))).toBeUndefined();
  });
});

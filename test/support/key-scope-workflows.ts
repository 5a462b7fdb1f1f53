/**
 * Tiny workflows for test/saga-keys.test.ts: a saga of two steps whose activity only answers the
 * idempotency key it was called with, so the test reads the runtime's keys from the results.
 */
import { proxyActivities } from '@temporalio/workflow';
import { Saga } from '../../workflows/saga';
import type { Attempted } from '../../shared/attempted';

interface KeyActivities {
  /** Answers its key; `fail` makes it a business rejection (non-retryable), so the saga compensates. */
  echoKey(input: { idempotencyKey: string; fail?: boolean }): Promise<Attempted<string>>;
}

const { echoKey } = proxyActivities<KeyActivities>({ startToCloseTimeout: 5000, retry: { maximumAttempts: 1 } });

/** Step `first` (compensated by `echoKey` too), then step `second`, which fails when asked to. */
export async function keyScopeSaga(input: {
  scope?: 'workflow' | 'run';
  failSecond?: boolean;
  id?: string;
}): Promise<unknown> {
  const saga = new Saga({ type: 'KeyScope', idempotencyScope: input.scope, compensatedCompletes: () => true });
  const keys: string[] = [];
  const echo = async (idempotencyKey: string, fail?: boolean) => {
    const out = await echoKey({ idempotencyKey, fail });
    keys.push(out.value);
    return out;
  };
  const result = await saga.run(async () => {
    await saga.step({
      name: 'first',
      action: ({ idempotencyKey }) => echo(idempotencyKey),
      compensate: ({ idempotencyKey }) => echo(idempotencyKey),
    });
    await saga.step({
      name: 'second',
      kind: 'compensatable',
      action: ({ idempotencyKey }) => echo(idempotencyKey, input.failSecond),
    });
    return 'done';
  });
  return { keys, keyScope: saga.keyScope, status: typeof result === 'string' ? 'COMPLETED' : result.status };
}

import { randomUUID } from 'node:crypto';
import { msToTs } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { temporalAddress } from '../test/support/temporal';
import { checkSagaNamespace } from './namespace-check';

/** Against the run's real Temporal (dev server or cluster): a namespace that is not ready stops the worker at start, saying what to run. */
describe('the worker checks its namespace at start', () => {
  let connection: NativeConnection;
  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: temporalAddress() });
  });
  afterAll(async () => {
    await connection?.close();
  });

  test("when the namespace has the sagas' search attributes, then the check passes", async () => {
    await expect(checkSagaNamespace(connection, 'default', temporalAddress())).resolves.toBe('ok');
  });

  test('when the namespace lacks the search attributes, then the check fails naming them and the script that adds them', async () => {
    const namespace = `bare-${randomUUID().slice(0, 8)}`;
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const failure = checkSagaNamespace(connection, namespace, temporalAddress());
    await expect(failure).rejects.toMatchObject({ name: 'NamespaceNotReadyError' });
    await expect(failure).rejects.toThrow(
      /SagaStatus is missing; SagaType is missing[\s\S]*deploy\/temporal\/namespace\.sh/,
    );
  });

  test('when the namespace does not exist, then the check fails naming it and what creates it', async () => {
    const namespace = `missing-${randomUUID().slice(0, 8)}`;
    await expect(checkSagaNamespace(connection, namespace, temporalAddress())).rejects.toThrow(
      new RegExp(`"${namespace}" does not exist[\\s\\S]*namespace\\.sh`),
    );
  });
});

/**
 * The worker's workflows (this file is its `workflowsPath`): every saga in the registry
 * (sagas/index.ts), dispatched by workflow type. The SDK runs the default export for any workflow
 * type this module does not export by name; an unknown type fails the workflow task (a plain
 * Error), so it is retried once a worker that knows it is deployed.
 */
import { workflowInfo } from '@temporalio/workflow';
import { sagaByWorkflowType } from '../sagas';

export default async function runRegisteredSaga(input: unknown): Promise<unknown> {
  const { workflowType } = workflowInfo();
  const saga = sagaByWorkflowType(workflowType);
  if (!saga) throw new Error(`No saga in the registry (sagas/index.ts) has the workflow type ${workflowType}`);
  return saga.workflow(input);
}

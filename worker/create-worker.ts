import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivitiesConfig } from '../activities';

export interface SagaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ActivitiesConfig;
  /** A prebuilt bundle (tests and production build it once) or the workflows path (dev). */
  workflows: { code: string } | { codePath: string } | { workflowsPath: string };
  tuning?: Pick<
    WorkerOptions,
    | 'maxConcurrentActivityTaskExecutions'
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxCachedWorkflows'
    | 'maxConcurrentWorkflowTaskPolls'
    | 'maxConcurrentActivityTaskPolls'
    | 'workflowTaskPollerBehavior'
    | 'activityTaskPollerBehavior'
    | 'workflowThreadPoolSize'
  >;
  /** `main` runs workflow code on the main thread (see WORKER_WORKFLOW_THREAD in config/worker.ts). */
  workflowThread?: 'thread' | 'main';
}

/** Creates the saga worker: every workflow in `workflows/` and every activity from `createActivities`. */
export async function createSagaWorker(
  opts: SagaWorkerOptions,
): Promise<{ worker: Worker; close: () => Promise<void> }> {
  const { close, ...activities } = createActivities(opts.activities);
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities,
    ...('workflowsPath' in opts.workflows
      ? { workflowsPath: opts.workflows.workflowsPath }
      : { workflowBundle: opts.workflows }),
    ...opts.tuning,
    // The SDK's debug mode is what runs workflows on the main thread; it would also lift the deadlock timeout, which stays.
    ...(opts.workflowThread === 'main' ? { debugMode: true, isolateExecutionTimeout: '5s' } : {}),
  });
  return { worker, close };
}

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
    'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskPolls' | 'maxConcurrentActivityTaskPolls'
  >;
}

/** Creates the saga worker: every workflow in `workflows/` and every activity from `createActivities`. */
export async function createSagaWorker(opts: SagaWorkerOptions): Promise<{ worker: Worker; close: () => Promise<void> }> {
  const { close, ...activities } = createActivities(opts.activities);
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities,
    ...('workflowsPath' in opts.workflows ? { workflowsPath: opts.workflows.workflowsPath } : { workflowBundle: opts.workflows }),
    ...opts.tuning,
  });
  return { worker, close };
}

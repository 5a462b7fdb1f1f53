/** The task queue the saga worker polls unless configured otherwise. */
export const DEFAULT_TASK_QUEUE = 'sagas';

/**
 * The saga runtime's own activity. `sagaCheckpoint` does nothing: a saga that runs its steps as
 * local activities calls it (as a regular activity) before it closes, so that its steps' markers
 * are recorded in a workflow task of their own (see Saga.persistLocalResults in workflows/saga.ts).
 */
export function createSagaRuntimeActivities() {
  return {
    async sagaCheckpoint(): Promise<void> {},
  };
}

export type SagaRuntimeActivities = ReturnType<typeof createSagaRuntimeActivities>;

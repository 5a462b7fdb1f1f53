/**
 * A saga's end as Temporal itself reports it (describe: no query, so no wait on a worker that was
 * just killed): its SagaStatus once the workflow closed, or STUCK while it waits for an operator;
 * undefined while it is still on its way. The chaos runs read their settle and stall times from it.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { SagaStatusKey } from '../shared/search-attributes';

export interface SagaEnd {
  status: string;
  /** When the workflow closed (undefined for a STUCK saga: it is still open). */
  closedAt?: number;
}

export function sagaEnd(d: WorkflowExecutionDescription): SagaEnd | undefined {
  const status = d.typedSearchAttributes.get(SagaStatusKey);
  if (d.status.name !== 'RUNNING') return { status: status ?? d.status.name, closedAt: d.closeTime?.getTime() };
  return status === 'STUCK' ? { status } : undefined;
}

/**
 * GET /sagas: sagas listed through Temporal visibility, a page at a time, with page tokens the API
 * signs so that a forged one never reaches Temporal.
 */
import { timingSafeEqual } from 'node:crypto';
import { ServiceError, type Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { AppError, ErrorCodes } from '../lib/errors';
import { deriveKey, keyedDigest } from '../lib/auth/keyed-hash';
import { SagaStatusKey, SagaTypeKey } from '../shared/search-attributes';
import { TERMINAL_STATUSES } from '../shared/saga-types';
import { SAGAS } from '../sagas';
import type { SagaApiOptions } from './options';
import { withTimeout } from './timeout';
import { sagaTypeOf, type SagaReader } from './view';

/** How long GET /sagas waits for visibility before answering 503. */
const LIST_DEADLINE_MS = 10_000;

const { WORKFLOW_EXECUTION_STATUS_TERMINATED, WORKFLOW_EXECUTION_STATUS_TIMED_OUT } =
  temporal.api.enums.v1.WorkflowExecutionStatus;

/**
 * A keyword search attribute of a list entry, read through its typed key. The entries come from the
 * raw `listWorkflowExecutions` (the client's `workflow.list()`, which decodes `typedSearchAttributes`,
 * hides the page tokens GET /sagas hands out), so the payload (a JSON value or list) is decoded here.
 */
function keywordOf(
  fields: Record<string, Payload> | null | undefined,
  key: typeof SagaStatusKey | typeof SagaTypeKey,
): string | undefined {
  const payload = fields?.[key.name];
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** A protobuf timestamp as a Date (undefined when absent). */
function tsToDate(
  ts: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined,
): Date | undefined {
  if (!ts) return undefined;
  return new Date(Number(ts.seconds?.toString() ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

/** Lists sagas a page at a time. */
export class SagaLister {
  /** Signs the page tokens GET /sagas hands out, so a forged one never reaches Temporal. */
  private readonly pageKey: Buffer;

  constructor(
    private readonly client: Client,
    private readonly opts: Pick<SagaApiOptions, 'namespace' | 'cardKey'>,
    private readonly reader: Pick<SagaReader, 'links'>,
  ) {
    this.pageKey = deriveKey(opts.cardKey, 'api/page-tokens');
  }

  /**
   * Lists sagas through Temporal visibility (the SagaStatus / SagaType search attributes), paginated.
   * TERMINATED / TIMED_OUT are Temporal's execution statuses (a workflow closed from outside keeps
   * its last SagaStatus). Page tokens are Temporal's, signed by the API and bound to the query: a
   * forged or foreign token is a 400 here, never sent to Temporal.
   */
  async list(q: { status?: string; type?: string; limit?: number; pageToken?: string }) {
    const clauses = [
      q.type
        ? `${SagaTypeKey.name} = '${q.type}'`
        : `${SagaTypeKey.name} IN (${SAGAS.map((saga) => `'${saga.type}'`).join(', ')})`,
    ];
    if (q.status === 'TERMINATED') clauses.push(`ExecutionStatus = 'Terminated'`);
    else if (q.status === 'TIMED_OUT') clauses.push(`ExecutionStatus = 'TimedOut'`);
    else if (q.status) {
      clauses.push(`${SagaStatusKey.name} = '${q.status}'`);
      // a workflow terminated mid-way keeps SagaStatus RUNNING (or STUCK): it is TERMINATED, not that
      if (!(TERMINAL_STATUSES as readonly string[]).includes(q.status)) clauses.push(`ExecutionStatus = 'Running'`);
    }
    const query = clauses.join(' AND ');
    const nextPageToken = q.pageToken === undefined ? undefined : this.openPageToken(q.pageToken, query);
    const resp = await withTimeout(LIST_DEADLINE_MS, (signal) =>
      this.client.withAbortSignal(signal, () =>
        this.client.workflowService.listWorkflowExecutions({
          namespace: this.opts.namespace,
          pageSize: q.limit ?? 20,
          query,
          nextPageToken,
        }),
      ),
    );
    // Temporal not answering in time is Temporal unavailable (503), like any service error
    if (!resp) throw new ServiceError(`Temporal visibility did not answer within ${LIST_DEADLINE_MS} ms`);
    const sagas = (resp.executions ?? []).map((e) => {
      const fields = e.searchAttributes?.indexedFields as Record<string, Payload> | null | undefined;
      const sagaId = e.execution?.workflowId ?? '';
      const workflowStatus = e.status;
      const status =
        workflowStatus === WORKFLOW_EXECUTION_STATUS_TERMINATED
          ? 'TERMINATED'
          : workflowStatus === WORKFLOW_EXECUTION_STATUS_TIMED_OUT
            ? 'TIMED_OUT'
            : (keywordOf(fields, SagaStatusKey) ?? 'RUNNING');
      const closedAt = tsToDate(e.closeTime);
      return {
        sagaId,
        type: String(keywordOf(fields, SagaTypeKey) ?? sagaTypeOf(e.type?.name ?? undefined)),
        status,
        startedAt: (tsToDate(e.startTime) ?? new Date(0)).toISOString(),
        ...(closedAt ? { closedAt: closedAt.toISOString() } : {}),
        links: this.reader.links(sagaId),
      };
    });
    const token =
      resp.nextPageToken && resp.nextPageToken.length > 0
        ? this.sealPageToken(Buffer.from(resp.nextPageToken), query)
        : undefined;
    return { sagas, ...(token ? { nextPageToken: token } : {}) };
  }

  private pageTokenMac(raw: Buffer, query: string): string {
    return keyedDigest(this.pageKey, `${query}\n${raw.toString('base64url')}`).slice(0, 32);
  }

  private sealPageToken(raw: Buffer, query: string): string {
    return `${raw.toString('base64url')}.${this.pageTokenMac(raw, query)}`;
  }

  /** Temporal's token inside a pageToken this API issued for this query; 400 for anything else. */
  private openPageToken(token: string, query: string): Buffer {
    const [data, mac, extra] = token.split('.');
    const raw = Buffer.from(data ?? '', 'base64url');
    const expected = raw.length > 0 && extra === undefined ? this.pageTokenMac(raw, query) : '';
    if (!mac || mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) {
      throw new AppError(
        400,
        ErrorCodes.VALIDATION_FAILED,
        'Invalid pageToken: pass the nextPageToken of a previous answer, with the same status and type filters',
      );
    }
    return raw;
  }
}

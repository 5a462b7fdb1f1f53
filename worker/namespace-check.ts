import type { NativeConnection } from '@temporalio/worker';
import { SAGA_SEARCH_ATTRIBUTES } from '../shared/search-attributes';

/** gRPC status codes (the SDK's own dependency defines them; not worth a direct one here). */
const status = { NOT_FOUND: 5, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 } as const;
/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const INDEXED_VALUE_TYPE_KEYWORD = 2;

/** What a namespace must have before the sagas can run in it; the message names what to run. */
export class NamespaceNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NamespaceNotReadyError';
  }
}

const SETUP_HINT = (namespace: string, address: string) =>
  `run \`TEMPORAL_ADDRESS=${address} TEMPORAL_NAMESPACE=${namespace} sh deploy/temporal/namespace.sh\` ` +
  `(or: temporal operator search-attribute create --namespace ${namespace} ${SAGA_SEARCH_ATTRIBUTES.map((k) => `--name ${k.name} --type Keyword`).join(' ')}; ` +
  'Temporal Cloud: add them in the namespace settings)';

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Fails fast, before the worker polls, when the namespace does not exist or lacks the custom search
 * attributes the sagas upsert (every workflow task would otherwise fail on its first upsert).
 * A connection that may not list search attributes (e.g. a Cloud API key without that permission)
 * skips the attribute check: the answer is `skipped` with the reason.
 */
export async function checkSagaNamespace(
  connection: NativeConnection,
  namespace: string,
  address: string,
): Promise<'ok' | { skipped: string }> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (grpcCode(err) === status.NOT_FOUND) {
      throw new NamespaceNotReadyError(
        `Temporal namespace "${namespace}" does not exist at ${address}: ${SETUP_HINT(namespace, address)}`,
      );
    }
    throw err;
  }
  let listed;
  try {
    listed = await connection.operatorService.listSearchAttributes({ namespace });
  } catch (err) {
    const code = grpcCode(err);
    if (code === status.PERMISSION_DENIED || code === status.UNIMPLEMENTED || code === status.UNAUTHENTICATED) {
      return { skipped: `cannot list search attributes of ${namespace}: ${(err as Error).message}` };
    }
    throw err;
  }
  const custom = listed.customAttributes ?? {};
  const problems = SAGA_SEARCH_ATTRIBUTES.flatMap((key) => {
    const type = custom[key.name];
    if (type === undefined || type === null) return [`${key.name} is missing`];
    if (type !== INDEXED_VALUE_TYPE_KEYWORD)
      return [`${key.name} has indexed value type ${type}, not KEYWORD (${INDEXED_VALUE_TYPE_KEYWORD})`];
    return [];
  });
  if (problems.length > 0) {
    throw new NamespaceNotReadyError(
      `Temporal namespace "${namespace}" at ${address} lacks the sagas' search attributes (${problems.join('; ')}): ${SETUP_HINT(namespace, address)}`,
    );
  }
  return 'ok';
}

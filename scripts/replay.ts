/**
 * `npm run replay -- --workflow-id <id> [--run-id <id>]` or `npm run replay -- --query '<visibility query>'`
 *
 * Fetches live workflow histories from the configured cluster and namespace (Temporal's standard
 * environment configuration, see config/replay.ts) and replays them against the workflow code in
 * this checkout. Run it before deploying a workflow change: a history that fails here belongs to a
 * workflow that the new code would break. Prints one line per workflow (OK / FAILED with the
 * reason) and exits 1 when any replay failed or nothing matched, 2 on bad arguments.
 *
 *   npm run replay -- --query "SagaType = 'PlaceOrder' AND CloseTime > '2026-11-21T00:00:00Z'"
 *   npm run replay -- --query "ExecutionStatus = 'Running'" --limit 500
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { loadReplayConfig } from '../config/replay';

export type ReplayTarget = { workflowId: string; runId?: string } | { query: string; limit?: number };

/** The workflow code to replay against: the workflows folder (bundled on the fly) or a prebuilt bundle. */
export type ReplayWorkflows = Pick<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle'>;

export interface LiveReplayResult {
  workflowId: string;
  runId: string;
  ok: boolean;
  /** Why it failed: the replay error (e.g. `DeterminismViolationError: …`) or why its history could not be read. */
  error?: string;
}

const describeError = (err: unknown) => {
  const e = err as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
};

interface Run {
  workflowId: string;
  runId: string;
}

async function* runsOf(client: Client, target: ReplayTarget): AsyncGenerator<Run> {
  if ('workflowId' in target) {
    // Without a run ID, the latest run; pin it so the history and the report name the same run.
    const runId = target.runId ?? (await client.workflow.getHandle(target.workflowId).describe()).runId;
    yield { workflowId: target.workflowId, runId };
    return;
  }
  let n = 0;
  for await (const info of client.workflow.list({ query: target.query })) {
    if (target.limit !== undefined && n++ >= target.limit) return;
    yield { workflowId: info.workflowId, runId: info.runId };
  }
}

/**
 * Replays the live histories of `target` against `workflows`. Every workflow gets a result, in
 * the order found; one whose history cannot be read is a failure too. `onResult` sees each as it
 * comes (a query can match many).
 */
export async function replayLive(
  client: Client,
  target: ReplayTarget,
  workflows: ReplayWorkflows,
  onResult: (r: LiveReplayResult) => void = () => undefined,
): Promise<LiveReplayResult[]> {
  const results: LiveReplayResult[] = [];
  const report = (r: LiveReplayResult) => {
    results.push(r);
    onResult(r);
  };
  const queued: Run[] = [];
  async function* histories(): AsyncGenerator<HistoryAndWorkflowId> {
    try {
      for await (const run of runsOf(client, target)) {
        try {
          const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
          queued.push(run);
          yield { workflowId: run.workflowId, history };
        } catch (err) {
          report({ ...run, ok: false, error: `could not fetch its history: ${describeError(err)}` });
        }
      }
    } catch (err) {
      const id = 'workflowId' in target ? target.workflowId : `query ${target.query}`;
      report({
        workflowId: id,
        runId: 'workflowId' in target ? (target.runId ?? '') : '',
        ok: false,
        error: `could not list or describe: ${describeError(err)}`,
      });
    }
  }
  for await (const r of Worker.runReplayHistories({ ...workflows, replayName: 'replay-cli' }, histories())) {
    // Histories are replayed one at a time, in the order given.
    const run = queued.shift() ?? { workflowId: r.workflowId, runId: r.runId };
    report(r.error ? { ...run, ok: false, error: describeError(r.error) } : { ...run, ok: true });
  }
  return results;
}

const USAGE = `usage:
  npm run replay -- --workflow-id <id> [--run-id <id>]
  npm run replay -- --query '<visibility query>' [--limit <n>]
Connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE (standard env config).`;

async function main(): Promise<number> {
  let values: { 'workflow-id'?: string; 'run-id'?: string; query?: string; limit?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        'workflow-id': { type: 'string' },
        'run-id': { type: 'string' },
        query: { type: 'string' },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  const byId = values['workflow-id'] !== undefined;
  if (
    byId === (values.query !== undefined) ||
    (values['run-id'] !== undefined && !byId) ||
    (limit !== undefined && (byId || !Number.isInteger(limit) || limit < 1))
  ) {
    console.error(
      `Give either --workflow-id (optionally with --run-id) or --query (optionally with --limit, a positive integer).\n${USAGE}`,
    );
    return 2;
  }
  const target: ReplayTarget = byId
    ? { workflowId: values['workflow-id']!, runId: values['run-id'] }
    : { query: values.query!, limit };

  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadReplayConfig();
  const connection = await Connection.connect(config.temporal.connection);
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    console.log(
      `Replaying against the workflows in this checkout (namespace ${config.temporal.namespace} at ${config.temporal.connection.address})`,
    );
    const results = await replayLive(client, target, { workflowsPath: require.resolve('../workflows') }, (r) => {
      const run = r.runId ? ` (run ${r.runId})` : '';
      console.log(r.ok ? `OK      ${r.workflowId}${run}` : `FAILED  ${r.workflowId}${run}: ${r.error}`);
    });
    const failed = results.filter((r) => !r.ok).length;
    if (results.length === 0) {
      console.log('No workflow matched: nothing was replayed.');
      return 1;
    }
    console.log(`${results.length} workflow(s): ${results.length - failed} OK, ${failed} FAILED`);
    return failed > 0 ? 1 : 0;
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

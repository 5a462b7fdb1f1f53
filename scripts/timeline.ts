/**
 * `npm run timeline -- <sagaId> [--json]`: where one saga's time went, read from its history on the
 * configured cluster (Temporal's standard environment configuration, like `npm run replay`).
 * Prints each leg in order (workflow tasks, activities or local activities, the services' own
 * handling time) and a summary; `--json` prints the timeline as `GET /sagas/:id/timeline` answers.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadReplayConfig } from '../config/replay';
import { sagaTimeline, type SagaTimeline } from '../lib/temporal/saga-timeline';

export function formatTimeline(sagaId: string, t: SagaTimeline): string {
  const lines = [
    `${sagaId}: ${t.totalMs} ms ${t.closed ? 'start to close' : 'so far (still running)'}, ${t.events} events, ${t.workflowTasks} workflow tasks, ${t.activities} activities, ${t.localActivities} local activities`,
  ];
  for (const l of t.legs)
    lines.push(
      `  +${String(l.atMs).padStart(8)} ms  ${l.kind.padEnd(29)} ${String(l.durationMs).padStart(8)} ms  ${l.name ?? ''}`,
    );
  lines.push('  summary (count, total, max):');
  for (const [kind, s] of Object.entries(t.summary))
    lines.push(
      `    ${kind.padEnd(29)} ${String(s.count).padStart(3)}  ${String(s.totalMs).padStart(8)} ms  ${String(s.maxMs).padStart(8)} ms`,
    );
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error('usage: npm run timeline -- <sagaId> [--json]');
    return 2;
  }
  const sagaId = positionals[0]!;
  const config = loadReplayConfig();
  const connection = await Connection.connect(config.temporal.connection);
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const history = await client.workflow.getHandle(sagaId).fetchHistory();
    const t = sagaTimeline(history);
    console.log(values.json ? JSON.stringify({ sagaId, ...t }, null, 2) : formatTimeline(sagaId, t));
    return 0;
  } catch (err) {
    console.error(`${sagaId}: ${(err as Error).message}`);
    return 1;
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}

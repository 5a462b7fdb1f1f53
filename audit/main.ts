/**
 * `npm run audit`: checks the cross-service invariants over the four service databases and prints
 * the violations (a table, or the report as JSON with `--json`). Exit code 0: consistent;
 * 1: violations found; 2: the audit could not run (configuration, MySQL unreachable, …).
 */
import { loadAuditConfig } from '../config/audit';
import {
  runFullAudit,
  EVENT_VIOLATION_CLASSES,
  VIOLATION_CLASSES,
  type AuditReport,
  type EventAuditReport,
} from './auditor';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

function formatReport(report: AuditReport, databases: string): string {
  const out = [
    `Consistency audit of ${databases} at ${report.auditedAt} (settle time ${report.settleMs} ms)`,
    `orders checked: ${report.checkedOrders}, in flight (not judged): ${report.inFlightOrders}, SKUs checked: ${report.checkedSkus}`,
    '',
    table([['class', 'violations'], ...VIOLATION_CLASSES.map((c) => [c, String(report.byClass[c])])]),
    '',
  ];
  if (report.violations.length === 0) {
    out.push('No violations.');
  } else {
    out.push(`${report.violations.length} violation(s):`, '');
    out.push(
      table([
        ['class', 'order', 'sku', 'message'],
        ...report.violations.map((v) => [v.class, v.orderId ?? '', v.sku ?? '', v.message]),
      ]),
    );
  }
  return out.join('\n');
}

function formatEvents(report: EventAuditReport, natsUrl: string | undefined): string {
  const out = [
    `Copies kept from events: ${report.checkedCopies} name copies, ${report.checkedHistory} order histories; ` +
      (natsUrl
        ? `pipeline ${report.drained ? 'drained' : 'not drained (copies not judged against their sources)'}`
        : 'NATS_URL not set: lag not checked'),
    '',
    table([['class', 'violations'], ...EVENT_VIOLATION_CLASSES.map((c) => [c, String(report.byClass[c])])]),
  ];
  if (report.consumers.length > 0)
    out.push(
      '',
      table([['stream', 'consumer', 'lag'], ...report.consumers.map((c) => [c.stream, c.consumer, String(c.lag)])]),
    );
  for (const v of report.violations) out.push(`${v.class}: ${v.message}`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const config = loadAuditConfig();
  const report = await runFullAudit({
    mysqlUrl: config.MYSQL_URL,
    dbPrefix: config.DB_PREFIX,
    settleMs: config.AUDIT_SETTLE_MS,
    natsUrl: config.NATS_URL,
  });
  const { events } = report;
  if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
  else
    console.log(
      `${formatReport(report, `${config.DB_PREFIX}{orders,inventory,payments,shipping}`)}\n\n${formatEvents(events, config.NATS_URL)}`,
    );
  return report.violations.length + events.violations.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`audit failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);

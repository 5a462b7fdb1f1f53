/**
 * `npm run audit`: checks the cross-service invariants over the four service databases and prints
 * the violations (a table, or the report as JSON with `--json`). Exit code 0: consistent;
 * 1: violations found; 2: the audit could not run (configuration, MySQL unreachable, …).
 */
import { loadAuditConfig } from '../config/audit';
import { runAudit, VIOLATION_CLASSES, type AuditReport } from './auditor';

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
    out.push(table([['class', 'order', 'sku', 'message'], ...report.violations.map((v) => [v.class, v.orderId ?? '', v.sku ?? '', v.message])]));
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  const config = loadAuditConfig();
  const report = await runAudit({ mysqlUrl: config.MYSQL_URL, dbPrefix: config.DB_PREFIX, settleMs: config.AUDIT_SETTLE_MS });
  if (process.argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
  else console.log(formatReport(report, `${config.DB_PREFIX}{orders,inventory,payments,shipping}`));
  return report.violations.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`audit failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);

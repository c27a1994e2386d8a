// Audits the production dependencies (what the image ships) against npm's advisory database.
// Fails on a high or critical advisory: those are fixed (upgrade, override) before a change lands.
// When the registry offers no advisory service (a read-only mirror answers 405), it says so and
// passes, unless AUDIT_REQUIRED=true.
//   node scripts/audit.mjs
import { spawnSync } from 'node:child_process';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const r = spawnSync(npm, ['audit', '--omit=dev', '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
let report;
try {
  report = JSON.parse(r.stdout || '{}');
} catch {
  report = {};
}
const counts = report.metadata?.vulnerabilities;
if (!counts) {
  const why =
    report.message ??
    report.error?.summary ??
    (r.stderr || '').split('\n').find((l) => l.includes('error')) ??
    `npm exited ${r.status}`;
  process.stdout.write(`npm audit: no result, the advisory service did not answer (${why})\n`);
  process.exit(process.env.AUDIT_REQUIRED === 'true' ? 1 : 0);
}
const total = counts.total ?? ['info', 'low', 'moderate', 'high', 'critical'].reduce((a, k) => a + (counts[k] ?? 0), 0);
process.stdout.write(
  `npm audit (production dependencies, ${report.metadata.dependencies?.prod ?? '?'} packages): ${total} advisories: ` +
    `${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low\n`,
);
for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
  const titles = (v.via ?? []).filter((x) => typeof x === 'object').map((x) => x.title);
  process.stdout.write(
    `  ${v.severity.padEnd(8)} ${name} ${v.range ?? ''}${titles.length ? `: ${[...new Set(titles)].join('; ')}` : ''}${v.fixAvailable ? ' (fix available)' : ''}\n`,
  );
}
process.exit((counts.critical ?? 0) + (counts.high ?? 0) > 0 ? 1 : 0);

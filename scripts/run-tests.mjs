// The test command: installs Temporal's servers when they are missing (once, printing its progress), then
// runs node's built-in runner over the whole suite in one process, and closes with the wall time and,
// for every test this machine could not run, why and how to enable it.
// Usage: npm test [-- test/some.test.ts ...]; npm run test:fast (the fast tests only, below).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The fast tests: no Temporal server, no HubSpot emulator, a few seconds in all. The activities run in
 * Temporal's MockActivityEnvironment over an in-memory HubSpot behind their port; the rest is pure.
 */
const FAST = [
  'contact-sync-activities',
  'conversation-state',
  'action-plan',
  'action-config',
  'worker-config',
  'worker-logs',
  'hubspot-pacer',
  'security-config',
  'security-codec-server',
  'layout',
].map((name) => `test/${name}.test.ts`);

const fast = process.argv.includes('--fast');
const files = fast ? FAST : process.argv.slice(2);
const say = (line) => process.stderr.write(`[test] ${line}\n`);

// Idempotent, and a file check when the servers are there; without Java/Maven or Go it says so and the
// SDK's download is the fallback. The fast tests need none.
if (!fast) {
  const install = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/install-temporal-servers.ts', '--quiet'], {
    stdio: 'inherit',
  });
  if (install.status !== 0)
    say('the Temporal servers could not all be installed (above); the tests fall back to the SDK download');
}

const skipDir = mkdtempSync(join(tmpdir(), 'test-skips-'));
const skipReport = join(skipDir, 'skips.jsonl');
const start = Date.now();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/all.ts'], {
  stdio: 'inherit',
  env: { ...process.env, TEST_FILES: files.join(','), TEST_SKIP_REPORT: skipReport },
});
say(`suite wall time ${((Date.now() - start) / 1000).toFixed(1)} s`);

let skips = [];
try {
  skips = readFileSync(skipReport, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
} catch {
  // no test was skipped
}
rmSync(skipDir, { recursive: true, force: true });
if (skips.length > 0) {
  say(`skipped on this machine (${skips.length}), and how to run ${skips.length === 1 ? 'it' : 'them'}:`);
  for (const s of skips) {
    say(`  - ${s.test}: ${s.why}.`);
    say(`    To run it: ${s.enable}`);
  }
}
process.exit(r.status ?? 1);

// The test command: node's built-in runner over the whole suite in one process.
// Usage: npm test [-- test/some.test.ts ...]
import { spawnSync } from 'node:child_process';

const files = process.argv.slice(2);
const start = Date.now();
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/all.ts'],
  { stdio: 'inherit', env: { ...process.env, TEST_FILES: files.join(',') } },
);
process.stderr.write(`[test] suite wall time ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
process.exit(r.status ?? 1);

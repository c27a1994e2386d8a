// The whole suite runs in one process so that each Temporal server starts once per run
// (node's runner would otherwise start a process, and so a server, per file).
// TEST_FILES (comma-separated names or paths) narrows the run.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const only = (process.env.TEST_FILES ?? '')
  .split(',')
  .map((f) => basename(f.trim()))
  .filter(Boolean);

const files = readdirSync(__dirname)
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => only.length === 0 || only.includes(f))
  .sort();
if (only.length > 0 && files.length !== only.length) {
  throw new Error(
    `TEST_FILES names files that do not exist in test/: ${only.filter((f) => !files.includes(f)).join(', ')}`,
  );
}
for (const file of files) require(join(__dirname, file));

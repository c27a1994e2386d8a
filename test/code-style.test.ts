// The formatter and the linter hold the code base (README, "Tests"): prettier at 120 columns on every
// TypeScript and module file, eslint's rules of eslint.config.mjs (no floating promise, only errors
// thrown, no Node module or I/O library in workflow code). `npm run format` fixes the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

test('prettier: the code is formatted (npm run format)', { timeout: 120_000 }, () => {
  const r = spawnSync(bin('prettier'), ['--check', '**/*.{ts,mjs}'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('eslint: no floating promise, only errors thrown, workflow imports (npm run lint)', { timeout: 300_000 }, () => {
  const r = spawnSync(bin('eslint'), ['--max-warnings', '0', '.'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

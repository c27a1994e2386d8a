// The README's two commands on a machine that lacks something: the Temporal servers are installed on
// first use, with progress, into an empty folder (and a second run only checks); a test the machine
// cannot run says why and how to enable it in the suite's closing lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; ms: number }> {
  const start = Date.now();
  return new Promise((resolveRun, reject) => {
    // A child of a test process would otherwise report to this runner instead of printing.
    const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...outer, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolveRun({ code, output, ms: Date.now() - start }));
  });
}

const installer = ['--import', 'tsx', 'scripts/install-temporal-servers.ts', '--only', 'test-server'];

describe('Temporal servers installed on first use', () => {
  test('a missing server is installed with progress; two installs at once leave one copy; a second run only checks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'temporal-servers-'));
    try {
      const [a, b] = await Promise.all([run(installer, { TEMPORAL_SERVERS_DIR: dir }), run(installer, { TEMPORAL_SERVERS_DIR: dir })]);
      for (const r of [a, b]) {
        assert.equal(r.code, 0, r.output);
        assert.match(r.output, /resolving io\.temporal:temporal-test-server .* from Maven Central/);
        assert.match(r.output, /installed at .*temporal-test-server in \d+ s/);
        assert.doesNotMatch(r.output, /\x1b\[/, 'no colour codes in the progress');
      }
      assert.deepEqual(readdirSync(dir), ['test-server-1.38.0'], 'one copy, no partial folders left');
      assert.ok(existsSync(join(dir, 'test-server-1.38.0', 'temporal-test-server')));

      const again = await run(installer, { TEMPORAL_SERVERS_DIR: dir });
      assert.equal(again.code, 0);
      assert.match(again.output, /already installed/);
      assert.doesNotMatch(again.output, /resolving/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--only with an unknown server is refused, naming the choices', async () => {
    const r = await run(['--import', 'tsx', 'scripts/install-temporal-servers.ts', '--only', 'server'], {});
    assert.equal(r.code, 2);
    assert.match(r.output, /--only takes test-server or cli, not server/);
  });
});

describe('npm test on a machine without Chromium', () => {
  test('the skipped browser test says why and how to enable it in the closing lines', async () => {
    const r = await run(['scripts/run-tests.mjs', 'test/web-ui.test.ts'], { CHROMIUM_PATH: '/nonexistent/chromium' });
    assert.equal(r.code, 0, r.output);
    const closing = r.output.slice(r.output.lastIndexOf('suite wall time'));
    assert.match(closing, /skipped on this machine \(1\), and how to run it:/);
    assert.match(closing, /the Web UI finds a conversation .*: no Chromium at \/nonexistent\/chromium\./);
    assert.match(closing, /To run it: install Debian's chromium .* or set CHROMIUM_PATH/);
  });
});

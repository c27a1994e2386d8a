// The README's two commands on a machine that lacks something: the Temporal servers are installed on
// first use, with progress, into an empty folder, once even when two commands race, and an interrupted
// install leaves nothing half-done; a test the machine cannot run says why and how to enable it in the
// suite's closing lines.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingToolchain } from '../src/temporal-servers/install';
import { skipUnless } from './helpers/skips';

const ROOT = join(__dirname, '..');

/** The project's command as a child process (not a child of this test runner: it prints as on a terminal). */
function start(args: string[], env: NodeJS.ProcessEnv): ChildProcessWithoutNullStreams {
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  return spawn(process.execPath, args, { cwd: ROOT, env: { ...outer, ...env }, stdio: 'pipe' });
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = start(args, env);
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolveRun({ code, output }));
  });
}

const installer = ['--import', 'tsx', 'scripts/install-temporal-servers.ts', '--only', 'test-server'];
const FOLDER = 'test-server-1.38.0';
const lacking = missingToolchain('test-server');
const skip = skipUnless(
  !lacking,
  'Temporal servers installed on first use',
  lacking ?? '',
  'install Java 17 and Maven (Debian: sudo apt-get install openjdk-17-jdk-headless maven)',
);

describe('Temporal servers installed on first use', { skip }, () => {
  const dirs: string[] = [];
  const emptyDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'temporal-servers-'));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('two commands at once: one installs with progress, the other waits for it; a later run only checks', async () => {
    const dir = emptyDir();
    const runs = await Promise.all([
      run(installer, { TEMPORAL_SERVERS_DIR: dir }),
      run(installer, { TEMPORAL_SERVERS_DIR: dir }),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 0, r.output);
      assert.doesNotMatch(r.output, /\x1b\[/, 'no colour codes in the progress');
    }
    const installers = runs.filter((r) =>
      /resolving io\.temporal:temporal-test-server .* from Maven Central/.test(r.output),
    );
    assert.equal(installers.length, 1, runs.map((r) => r.output).join('\n---\n'));
    assert.match(installers[0]!.output, /installed at .*temporal-test-server in \d+ s/);
    const other = runs.find((r) => r !== installers[0])!;
    assert.match(other.output, /another command \(pid \d+\) is installing it; waiting|already installed/);
    assert.deepEqual(readdirSync(dir), [FOLDER], 'one copy; no scratch folder or lock left');
    assert.ok(existsSync(join(dir, FOLDER, 'temporal-test-server')));

    const again = await run(installer, { TEMPORAL_SERVERS_DIR: dir });
    assert.equal(again.code, 0);
    assert.match(again.output, /already installed/);
    assert.doesNotMatch(again.output, /resolving/);
  });

  test('a lock and a scratch folder left by a killed install are taken over and swept', async () => {
    const dir = emptyDir();
    writeFileSync(join(dir, 'test-server.lock'), '2147483646\n'); // no such process
    mkdirSync(join(dir, `${FOLDER}.partial-2147483646`, 'lib'), { recursive: true });
    const r = await run(installer, { TEMPORAL_SERVERS_DIR: dir });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /installed at/);
    assert.deepEqual(readdirSync(dir), [FOLDER]);
  });

  test('Ctrl-C during an install stops it and leaves neither a half-installed server nor a lock', async () => {
    const dir = emptyDir();
    const child = start(installer, { TEMPORAL_SERVERS_DIR: dir });
    let output = '';
    const interrupted = new Promise<void>((resolveSent) => {
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
        if (/resolving/.test(output) && !child.killed) {
          child.kill('SIGINT');
          resolveSent();
        }
      });
    });
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, signal) => r({ code, signal })),
    );
    await interrupted;
    const { signal } = await exit;
    assert.equal(signal, 'SIGINT', output);
    assert.deepEqual(readdirSync(dir), [], 'nothing left behind');
  });

  test('a toolchain that gives no result within the time limit is stopped; nothing is left, and the command goes on', async () => {
    const dir = emptyDir();
    const r = await run(installer, { TEMPORAL_SERVERS_DIR: dir, TEMPORAL_INSTALL_TIMEOUT_MINUTES: '0.005' });
    assert.equal(r.code, 0, r.output); // not --strict: the SDK's download is the fallback
    assert.match(
      r.output,
      /install failed: mvn gave no result within 0\.3 s \(TEMPORAL_INSTALL_TIMEOUT_MINUTES raises the limit\)/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  test('--only with an unknown server, or none, is refused, naming the choices', async () => {
    for (const args of [['--only', 'temporal'], ['--only']]) {
      const r = await run(['--import', 'tsx', 'scripts/install-temporal-servers.ts', ...args], {});
      assert.equal(r.code, 2);
      assert.match(r.output, /--only takes test-server, cli or server/);
    }
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

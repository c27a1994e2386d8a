// The main job as a newcomer runs it (`npm start`, nothing configured): an embedded Temporal dev
// server and the HubSpot emulator, the demo synced into the emulator, readable logs without personal
// data (the SDK's lines included, the workflow bundle's report in one line), `npm run demo` against the running worker, and a graceful stop on SIGTERM.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers/temporal-env';
import { mainJobPorts, portsEnv, startMain, watch, type Job } from './helpers/main-job';
import { isInstalled, serverPaths } from '../src/temporal-servers';
import { skipUnless } from './helpers/skips';

const ROOT = join(__dirname, '..');
// The two tests of the dev server's start need the installed CLI (the SDK's download is started by the SDK, not watched).
const skipWithoutCli = skipUnless(
  isInstalled('cli'),
  'the main job: fresh clone and failed dev server start',
  'the Temporal CLI is not installed (it is built with Go)',
  'install Go 1.21 or later, then npm run install-servers',
);
// Demo data that must never appear in a log line.
const PERSONAL = [/alex\.morgan/i, /maria/i, /garcia/i, /Team plan/, /renewal/i, /\bAlex\b/];

/** A readable log line (development): "time level [source] message key=value". */
const READABLE_LINE = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR) \[[a-z]+\] \S/;

/**
 * Development logs: every line of the worker is a readable log line (the demo's own `[demo]` output and
 * the dev server's are not log lines), none is JSON, and none carries personal data.
 */
function assertReadableLogsWithoutPersonalData(job: Job): void {
  const output = job.output();
  const lines = job.lines();
  const logLines = lines.filter((l) => READABLE_LINE.test(l));
  assert.ok(logLines.length > 5, 'no readable log lines');
  const other = lines.filter((l) => !READABLE_LINE.test(l) && !l.startsWith('[demo]'));
  assert.deepEqual(other, [], 'lines that are neither readable log lines nor the demo');
  // The SDK's own lines (worker lifecycle, workflow and activity loggers) are among them.
  for (const source of ['worker', 'sdk', 'workflow', 'activity', 'bundle'])
    assert.ok(
      logLines.some((l) => l.includes(` [${source}] `)),
      `no [${source}] line`,
    );
  // The webpack report is one summary line.
  assert.equal(logLines.filter((l) => / \[bundle\] workflow bundle built: \d+\.\d MB in \d+\.\d s/.test(l)).length, 1);
  assert.doesNotMatch(output, /orphan modules|webpack \d+\.\d+\.\d+ compiled/);
  for (const line of logLines)
    for (const p of PERSONAL) assert.doesNotMatch(line, p, `personal data in a log line: ${line.slice(0, 300)}`);
}

describe('the main job (npm start)', () => {
  test('with nothing configured: embedded servers, the demo synced into the emulator, readable logs without personal data', async () => {
    const job = await startMain(['--demo-then-exit'], {});
    try {
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        job.exited,
        new Promise<never>(
          (_, r) =>
            (timer = setTimeout(
              () => r(new Error(`still running after 150 s:\n${job.output().slice(-3000)}`)),
              150_000,
            )),
        ),
      ]).finally(() => clearTimeout(timer));
      const out = job.output();
      assert.equal(code, 0, out.slice(-3000));
      assert.match(out, new RegExp(`Temporal Web UI: +http://localhost:${job.ports.TEMPORAL_DEV_UI_PORT}`));
      assert.match(out, new RegExp(`HubSpot emulator at http://127\\.0\\.0\\.1:${job.ports.HUBSPOT_EMULATOR_PORT}`));
      // The WhatsApp conversation created the contact, with a WhatsApp Communication on its timeline; the call found Maria by her secondary email.
      assert.match(out, /\[demo\] {3}outcome: created/);
      assert.match(out, /\[demo\] {5}email +alex\.morgan@example\.com/);
      assert.match(out, /\[demo\] {5}hs_object_source_id +1000001/);
      assert.match(
        out,
        /\[demo\] {3}HubSpot communication \d+ on the contact's timeline: .*Team plan for 12 seats &amp; wants a demo/,
      );
      assert.match(out, /\[demo\] {3}HubSpot call \d+ on the contact's timeline: .*renewal to March/);
      assert.match(out, /\[demo\] {3}outcome: note_only/);
      assert.match(out, /\[demo\] {5}email +maria\.garcia@example\.com/);
      assert.match(out, /\[worker\] stopped/);
      assertReadableLogsWithoutPersonalData(job);
    } finally {
      job.child.kill('SIGKILL');
      job.cleanup();
    }
  });

  test('`npm run demo` plays against the running worker; outcomes are counted in the metrics; SIGTERM stops it cleanly', async () => {
    const metricsPort = await freePort();
    const job = await startMain([], { DEMO: 'false', METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}` });
    try {
      await job.waitFor(/\[worker\] ready/);
      assert.doesNotMatch(job.output(), /\[demo\]/, 'DEMO=false still played the demo');
      const demo = watch(
        spawn(process.execPath, ['--import', 'tsx', 'src/worker/development/demo.ts'], {
          cwd: ROOT,
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: `127.0.0.1:${job.ports.TEMPORAL_DEV_PORT}`,
            HUBSPOT_EMULATOR_PORT: String(job.ports.HUBSPOT_EMULATOR_PORT),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      assert.equal(await demo.exited, 0, demo.output());
      assert.match(demo.output(), /outcome: created/);
      assert.match(demo.output(), /outcome: note_only/);

      // Prometheus: the Temporal runtime's worker metrics and the action outcome counter by result and account.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /temporal_workflow_task_execution_latency/);
      assert.match(metrics, /hubspot_contact_sync_outcomes\{[^}]*hubspot_account="demo"[^}]*result="created"[^}]*\} 1/);
      assert.match(metrics, /hubspot_contact_sync_outcomes\{[^}]*result="note_only"[^}]*\} 1/);

      job.child.kill('SIGTERM');
      assert.equal(await job.exited, 0, job.output().slice(-3000));
      assert.match(job.output(), /SIGTERM: finishing running activities, then stopping/);
      assert.match(job.output(), /\[worker\] stopped/);
      assertReadableLogsWithoutPersonalData(job);
    } finally {
      job.child.kill('SIGKILL');
      job.cleanup();
    }
  });

  test('`npm run demo` with no worker running says what to start', async () => {
    const port = await freePort();
    const demo = watch(
      spawn(process.execPath, ['--import', 'tsx', 'src/worker/development/demo.ts'], {
        cwd: ROOT,
        env: { ...process.env, HUBSPOT_EMULATOR_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    assert.equal(await demo.exited, 1);
    assert.match(
      demo.output(),
      new RegExp(
        `no HubSpot emulator answers at http://127\\.0\\.0\\.1:${port}: start the worker first \\(npm start\\)`,
      ),
    );
  });

  // A fresh clone run with its Temporal servers installed elsewhere (TEMPORAL_SERVERS_DIR): nothing
  // under the checkout exists yet. The sources are copied into an empty folder, node_modules linked.
  test(
    'on a fresh clone with TEMPORAL_SERVERS_DIR elsewhere, npm start creates the folders it writes to and starts',
    { skip: skipWithoutCli, timeout: 180_000 },
    async () => {
      const clone = freshClone();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...portsEnv(await mainJobPorts()),
        TEMPORAL_SERVERS_DIR: serverPaths().root,
        DEMO: 'false',
      };
      for (const k of [
        'TEMPORAL_ADDRESS',
        'HUBSPOT_ACCOUNTS',
        'HUBSPOT_ACCOUNTS_FILE',
        'WORKER_MODE',
        'CODEC_KEYS',
        'TEMPORAL_DEV_DB',
        'ACCOUNT_STORE_DIR',
        'ACCOUNT_STORE_KEYS',
        'ACCOUNT_STORE_KEYS_FILE',
        'CONFIG_API_TOKEN',
        'CONFIG_API_TOKEN_FILE',
      ])
        delete env[k];
      const job = watch(
        spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
          cwd: clone,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      try {
        await job.waitFor(/\[worker\] ready/, 120_000);
        for (const written of [
          '.cache/dev-server.sqlite',
          '.cache/account-store',
          '.cache/account-store-keys.json',
          '.cache/config-api-token',
        ]) {
          assert.ok(existsSync(join(clone, written)), `${written} was not created`);
        }
        assert.doesNotMatch(job.output(), /did not start within/);
        job.child.kill('SIGTERM');
        assert.equal(await job.exited, 0, job.output().slice(-3000));
      } finally {
        job.child.kill('SIGKILL');
        rmSync(clone, { recursive: true, force: true });
      }
    },
  );

  test(
    "a dev server that cannot start (its port taken) stops npm start with the server's own error",
    { skip: skipWithoutCli, timeout: 120_000 },
    async () => {
      const taken = createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      const port = (taken.address() as { port: number }).port;
      const job = await startMain([], { TEMPORAL_DEV_PORT: String(port), DEMO: 'false' });
      try {
        assert.equal(await job.exited, 1, job.output().slice(-3000));
        const out = job.output();
        assert.match(
          out,
          new RegExp(
            `\\[worker\\] failed: .*the Temporal dev server \\(CLI [^)]+\\) exited \\(\\d+\\) before it answered on 127\\.0\\.0\\.1:${port}; its own error:`,
          ),
        );
        assert.match(out, /address already in use/);
        assert.doesNotMatch(out, /did not start within/);
      } finally {
        job.child.kill('SIGKILL');
        job.cleanup();
        taken.close();
      }
    },
  );
});

/** The project's sources in an empty folder, as a fresh clone has them (no .cache/), with node_modules linked. */
function freshClone(): string {
  const clone = mkdtempSync(join(tmpdir(), 'fresh-clone-'));
  for (const part of ['src', 'workflows', 'activities', 'hubspot-emulator', 'package.json', 'tsconfig.json'])
    cpSync(join(ROOT, part), join(clone, part), { recursive: true });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'));
  return clone;
}

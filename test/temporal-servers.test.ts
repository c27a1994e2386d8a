// Proves that the Temporal servers the tests run on are real ones.
import { describe, test } from 'node:test';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import {
  serverPaths,
  startTemporalServer,
  temporalServerMissing,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_VERSION,
} from '../src/temporal-servers';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from './helpers/skips';
import { localEnv, timeSkippingEnv, workflowBundle } from './helpers/temporal-env';
import { ConversationIdAttr, conversationSearchAttributes } from '../src/platform/search-attributes';
import { finishSignal, sleepTenMinutes, waitForFinish } from './fixtures/smoke-workflows';

const smokeWorkflows = require.resolve('./fixtures/smoke-workflows');

describe('time-skipping test server', () => {
  test('a workflow that sleeps 10 minutes finishes in well under a second of wall time', async () => {
    const env = await timeSkippingEnv();
    assert.equal(env.supportsTimeSkipping, true);
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'smoke-time-skipping',
      workflowBundle: await workflowBundle(smokeWorkflows),
    });
    await worker.runUntil(async () => {
      // Warm-up: the first workflow task of a fresh worker pays for creating the sandbox.
      await env.client.workflow.execute(sleepTenMinutes, {
        taskQueue: 'smoke-time-skipping',
        workflowId: 'smoke-warmup',
      });
      const serverStart = await env.currentTimeMs();
      const wallStart = performance.now();
      const result = await env.client.workflow.execute(sleepTenMinutes, {
        taskQueue: 'smoke-time-skipping',
        workflowId: 'smoke-sleep-10m',
      });
      const wallMs = performance.now() - wallStart;
      const serverMs = (await env.currentTimeMs()) - serverStart;
      assert.equal(result, 'woke up');
      assert.ok(serverMs >= 10 * 60_000, `server time advanced ${serverMs} ms, expected at least 10 minutes`);
      assert.ok(wallMs < 1000, `10 minutes of workflow time took ${wallMs.toFixed(0)} ms of wall time`);
    });
  });
});

describe('dev server (Temporal CLI)', () => {
  test('a workflow started with a custom search attribute is found by it through the list API', async () => {
    const { env } = await localEnv();
    assert.equal(env.supportsTimeSkipping, false);
    const conversationId = `smoke-${Date.now()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'smoke-dev-server',
      workflowBundle: await workflowBundle(smokeWorkflows),
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(waitForFinish, {
        taskQueue: 'smoke-dev-server',
        workflowId: `smoke-wf-${conversationId}`,
        typedSearchAttributes: [{ key: ConversationIdAttr, value: conversationId }],
      });
      // Visibility is eventually consistent: poll briefly.
      let found: string[] = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        found = [];
        for await (const wf of env.client.workflow.list({ query: `ConversationId = '${conversationId}'` })) {
          found.push(wf.workflowId);
        }
        if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(found, [handle.workflowId]);
      const other: string[] = [];
      for await (const wf of env.client.workflow.list({ query: `ConversationId = 'no-such-${conversationId}'` })) {
        other.push(wf.workflowId);
      }
      assert.deepEqual(other, []);
      await handle.signal(finishSignal);
      await handle.result();
    });
  });

  test('the Web UI answers on its HTTP port', async () => {
    const { uiPort } = await localEnv();
    let res: Response | undefined;
    for (let i = 0; i < 50; i++) {
      try {
        res = await fetch(`http://127.0.0.1:${uiPort}/`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.ok(res, 'the Web UI did not answer');
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<html/i);
  });
});

// The server production runs (docker-compose.yml), built from the Go module proxy: what the production-like
// test and the priority and fairness tests run on (src/temporal-servers/server.ts).
describe('Temporal server 1.32 (the version production runs)', () => {
  const skip = skipUnless(
    !temporalServerMissing(),
    'Temporal server 1.32 on SQLite',
    temporalServerMissing() ?? '',
    'install Go 1.21 or later, then npm run install-servers -- --only server',
  );

  test(
    'on SQLite, with dynamic config: reports its version, runs a workflow found by a custom search attribute, serves its Web UI',
    { skip, timeout: 120_000 },
    async () => {
      const server = await startTemporalServer({
        database: { kind: 'sqlite' },
        searchAttributes: conversationSearchAttributes,
        dynamicConfig: { 'matching.enableFairness': true },
        ui: true,
      });
      const connection = await Connection.connect({ address: server.address });
      try {
        const info = await connection.workflowService.getSystemInfo({});
        assert.equal(`v${info.serverVersion}`, TEMPORAL_SERVER_VERSION);
        const client = new Client({ connection });
        const conversationId = `smoke-132-${Date.now()}`;
        const nativeConnection = await NativeConnection.connect({ address: server.address });
        try {
          const worker = await Worker.create({
            connection: nativeConnection,
            taskQueue: 'smoke-server-132',
            workflowBundle: await workflowBundle(smokeWorkflows),
          });
          await worker.runUntil(async () => {
            const handle = await client.workflow.start(waitForFinish, {
              taskQueue: 'smoke-server-132',
              workflowId: `smoke-wf-${conversationId}`,
              typedSearchAttributes: [{ key: ConversationIdAttr, value: conversationId }],
            });
            let found: string[] = [];
            for (let i = 0; i < 50 && found.length === 0; i++) {
              found = [];
              for await (const wf of client.workflow.list({ query: `ConversationId = '${conversationId}'` }))
                found.push(wf.workflowId);
              if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
            }
            assert.deepEqual(found, [handle.workflowId]);
            await handle.signal(finishSignal);
            await handle.result();
          });
        } finally {
          await nativeConnection.close();
        }
        const ui = await fetch(`${server.uiUrl}/api/v1/namespaces/default`);
        assert.equal(ui.status, 200);
        assert.match(await ui.text(), /"name": ?"default"/);
      } finally {
        await connection.close();
        await server.close();
      }
    },
  );

  test(
    "a mistyped dynamic config key is refused by the server's own validator, naming it",
    { skip, timeout: 60_000 },
    async () => {
      await assert.rejects(
        startTemporalServer({ database: { kind: 'sqlite' }, dynamicConfig: { 'matching.enableFairnes': true } }),
        /dynamic config refused by Temporal server v1\.32\.\d+: warning: unregistered key "matching\.enablefairnes"/,
      );
    },
  );

  test('a server that cannot start says why in its own words', { skip, timeout: 60_000 }, async () => {
    // Its gRPC port taken by another program.
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'temporal-server-test-'));
    try {
      await assert.rejects(
        startTemporalServer({ database: { kind: 'sqlite' }, port, dir }),
        new RegExp(
          `exited \\(1\\) before it answered[^]*fatal: Failed to start gRPC listener: listen tcp 127\\.0\\.0\\.1:${port}: bind: address already in use`,
        ),
      );
    } finally {
      taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // PostgreSQL that is not there: the schema tool says so before the server starts.
    await assert.rejects(
      startTemporalServer({
        database: { kind: 'postgres', host: '127.0.0.1', port: 1, user: 'temporal', password: 'x' },
      }),
      /the schema tool failed on database temporal \(setup-schema -v 0\.0\): .*connect/is,
    );
  });
});

test('docker-compose.yml deploys the server and Web UI versions the tests run, its schema applied with the same schema-tool commands', () => {
  const compose = readFileSync(join(__dirname, '..', 'docker-compose.yml'), 'utf8');
  for (const image of ['server', 'admin-tools'])
    assert.ok(
      compose.includes(`temporalio/${image}:\${TEMPORAL_VERSION:-${TEMPORAL_SERVER_VERSION.slice(1)}}`),
      `temporalio/${image} is not at ${TEMPORAL_SERVER_VERSION}`,
    );
  assert.ok(
    compose.includes(`temporalio/ui:\${TEMPORAL_UI_VERSION:-${TEMPORAL_UI_VERSION.slice(1)}}`),
    `temporalio/ui is not at ${TEMPORAL_UI_VERSION}`,
  );
  for (const db of ['temporal', 'temporal_visibility']) {
    for (const step of [
      'create-database',
      'setup-schema -v 0.0',
      `update-schema --schema-name postgresql/v12/${db === 'temporal' ? 'temporal' : 'visibility'}`,
    ]) {
      assert.ok(
        compose.includes(`--db ${db} ${step}`),
        `the compose file's temporal-schema job does not run "--db ${db} ${step}"`,
      );
    }
  }
});

test(
  "docker-compose.yml's server has fairness between HubSpot accounts on: its dynamic config file is mounted, sets matching.enableFairness, and the server's own validator accepts it",
  {
    skip: skipUnless(
      !temporalServerMissing(),
      'the compose dynamic config',
      temporalServerMissing() ?? '',
      'install Go 1.21 or later, then npm run install-servers -- --only server',
    ),
  },
  () => {
    const root = join(__dirname, '..');
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    assert.match(compose, /DYNAMIC_CONFIG_FILE_PATH: \/etc\/temporal\/config\/dynamicconfig\/production\.yaml/);
    assert.match(
      compose,
      /\.\/temporal-dynamic-config\.yaml:\/etc\/temporal\/config\/dynamicconfig\/production\.yaml:ro/,
    );
    const file = join(root, 'temporal-dynamic-config.yaml');
    assert.match(readFileSync(file, 'utf8'), /^matching\.enableFairness:\n {2}- value: true$/m);
    const check = spawnSync(serverPaths().server.server, ['validate-dynamic-config', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.doesNotMatch(check.stdout, /error|warning/, check.stdout);
  },
);

// Proves that the Temporal servers the tests run on are real ones.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { localEnv, timeSkippingEnv, workflowBundle } from './helpers/temporal-env';
import { ConversationIdAttr } from '../src/platform/search-attributes';
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
      await env.client.workflow.execute(sleepTenMinutes, { taskQueue: 'smoke-time-skipping', workflowId: 'smoke-warmup' });
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

// Task priority and fairness on Temporal server 1.32 (docs/TEMPORAL.md, "Priority and fairness"): a
// backlog of offline syncs of one HubSpot account is waiting when the worker starts (a campaign's calls
// all ended, and their workflows scheduled their syncs, while no activity worker ran), with a few syncs
// of a second account queued after them, and an agent asks for an in-conversation run. The agent is
// answered before the backlog drains, and the second account's syncs are done among the first of the
// backlog, not after it (first-in-first-out would put them last). The worker runs one activity at a
// time, so the order HubSpot sees the notes in is the order the server dispatched the syncs in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startHubSpotEmulator } from '../hubspot-emulator';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { ConversationClient } from '../src/platform/client';
import { conversationSearchAttributes } from '../src/platform/search-attributes';
import { startTemporalServer, temporalServerMissing } from '../src/temporal-servers';
import { createConversationWorker, workflowsPath } from '../src/worker/worker';
import { action, conversation } from './helpers/conversation-harness';
import { skipUnless } from './helpers/skips';
import { workflowBundle } from './helpers/temporal-env';

const TITLE =
  'priority and fairness on Temporal server 1.32: the agent before a campaign backlog, a second account not behind the first';
const skip = skipUnless(
  !temporalServerMissing(),
  TITLE,
  temporalServerMissing() ?? '',
  'install Go 1.21 or later, then npm run install-servers -- --only server',
);

const CAMPAIGN = 30;
const OTHER = 4;

test(TITLE, { skip, timeout: 300_000 }, async () => {
  // One partition per task queue: fairness orders each partition's backlog, and with the default four a
  // backlog of 34 tasks is dispatched partition by partition, in an order that depends on where each task
  // landed. A production backlog of thousands spreads over every partition alike.
  const server = await startTemporalServer({
    database: { kind: 'sqlite' },
    searchAttributes: conversationSearchAttributes,
    dynamicConfig: {
      'matching.enableFairness': true,
      'matching.numTaskqueueReadPartitions': 1,
      'matching.numTaskqueueWritePartitions': 1,
    },
  });
  const emulator = await startHubSpotEmulator({
    port: 0,
    accounts: [
      {
        accountId: 'campaign',
        token: 'campaign-token',
        appId: 9_001,
        rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
      },
      { accountId: 'other', token: 'other-token', appId: 9_002, rateLimit: { perTenSeconds: 0, searchPerSecond: 0 } },
    ],
  });
  // Each HubSpot call of the campaign's account takes 100 ms, as HubSpot's own do: a sync then takes
  // several hundred milliseconds, so the count of syncs done while the agent waits measures the order the
  // server dispatched in, not how slowly a busy machine answered the agent's few tasks.
  emulator.setFaults('campaign', { latencyMs: 100 });
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  try {
    const hubspot = new HubSpotAccounts(
      ['campaign', 'other'].map((accountId) => ({
        accountId,
        token: `${accountId}-token`,
        appId: accountId === 'campaign' ? 9_001 : 9_002,
        basePath: emulator.url,
      })),
      { batching: false },
    );
    const taskQueue = `priority-${process.pid}`;
    const platform = new ConversationClient({
      client: new Client({ connection }),
      taskQueue,
      findLegacyConversations: false,
    });
    const offline = (accountId: string) => action({ hubspotAccountId: accountId });
    const calls = [
      ...Array.from({ length: CAMPAIGN }, (_, i) => ({
        c: conversation('voice', [offline('campaign')]),
        i,
        account: 'campaign',
      })),
      ...Array.from({ length: OTHER }, (_, i) => ({
        c: conversation('voice', [offline('other')]),
        i,
        account: 'other',
      })),
    ];
    // No worker yet: each call is opened and ended, in this order, and waits in the server's queues.
    for (const { c, i, account } of calls) {
      await platform.recordMessage(c, {
        from: 'customer',
        fields: { email: `${account}-${i}@example.com`, first_name: `C${i}` },
      });
      await platform.endCall(c, { summary: `Call ${i} of ${account}` });
    }
    const notesOf = (account: string) => emulator.notes(account).length;
    const described = await platform.handle(calls[0]!.c).describe();
    assert.deepEqual(
      {
        key: described.raw.workflowExecutionInfo?.priority?.priorityKey,
        fairness: described.raw.workflowExecutionInfo?.priority?.fairnessKey,
      },
      { key: 3, fairness: 'ws-acme/campaign' },
      'an offline-only conversation runs at the conversations priority, fair by its HubSpot account',
    );

    // The workflows run (no activity worker yet) until every call's sync waits in the server's queue.
    const bundle = await workflowBundle(workflowsPath);
    const workflowsOnly = await Worker.create({
      connection: native,
      namespace: 'default',
      taskQueue,
      workflowBundle: bundle,
      maxConcurrentWorkflowTaskExecutions: 2,
    });
    await workflowsOnly.runUntil(async () => {
      for (let i = 0; i < 300; i++) {
        const states = await Promise.all(calls.map(({ c }) => platform.getState(c)));
        if (states.every((s) => s?.syncStatus === 'running')) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('the calls never scheduled their syncs');
    });
    assert.equal(notesOf('campaign') + notesOf('other'), 0, 'no sync ran before the activity worker started');

    const worker = await createConversationWorker({
      connection: native,
      namespace: 'default',
      taskQueue,
      hubspot,
      workflowBundle: bundle,
      tuning: {
        maxConcurrentWorkflowTaskExecutions: 2,
        maxConcurrentActivityTaskExecutions: 1,
        maxCachedWorkflows: 100,
      },
    });
    await worker.runUntil(async () => {
      // The agent asks while the backlog waits: its conversation (priority 1) and its steps go first.
      const agent = conversation('chat', [action({ id: 'live', offlineSync: false, hubspotAccountId: 'campaign' })]);
      const run = await platform.runAction(agent, {
        actionId: 'live',
        fields: { email: 'agent-customer@example.com', first_name: 'Ada' },
        summary: 'Asked for a call back',
      });
      const campaignDoneWhenAnswered = notesOf('campaign') - 1; // the agent's own note is on the campaign's account
      assert.equal(run.result, 'created', run.reason);
      assert.ok(
        campaignDoneWhenAnswered < CAMPAIGN / 2,
        `the agent waited behind ${campaignDoneWhenAnswered} of ${CAMPAIGN} offline syncs`,
      );

      // The second account's syncs, queued last, are not left to the end of the campaign's.
      for (let i = 0; i < 600; i++) {
        if (notesOf('campaign') - 1 >= CAMPAIGN && notesOf('other') >= OTHER) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(notesOf('other'), OTHER, 'every sync of the second account is done');
      assert.equal(notesOf('campaign') - 1, CAMPAIGN, 'every sync of the campaign is done');
      // In the order HubSpot created the notes: the campaign's written before the second account's last.
      const createdAt = (account: string) =>
        emulator
          .notes(account)
          .filter((n) => /Call \d+ of /.test(n.properties.hs_note_body ?? ''))
          .map((n) => Date.parse(n.properties.hs_createdate ?? ''));
      const otherDoneAt = Math.max(...createdAt('other'));
      const campaignWhenOtherDone = createdAt('campaign').filter((t) => t < otherDoneAt).length;
      assert.ok(
        campaignWhenOtherDone <= CAMPAIGN / 3,
        `the second account's ${OTHER} syncs waited for ${campaignWhenOtherDone} of the campaign's ${CAMPAIGN}`,
      );
      process.stderr.write(
        `[priority] agent answered after ${campaignDoneWhenAnswered}/${CAMPAIGN} campaign syncs; the other account done after ${campaignWhenOtherDone}/${CAMPAIGN}\n`,
      );
    });
  } finally {
    await native.close();
    await connection.close();
    await emulator.close();
    await server.close();
  }
});

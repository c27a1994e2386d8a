// What an on-call engineer scrapes (docs/OPERATIONS.md, "Metrics"): the main job as a real worker
// process with METRICS_BIND_ADDRESS on a free port, on its embedded Temporal dev server and HubSpot
// emulator, runs a few syncs through the platform client (an offline one that succeeds, one that fails,
// one in conversation), and its /metrics shows each metric with the values those runs produced, with
// bounded labels. Its account store holds connections needing reconnect (prepared before it starts): the
// gauge counts them per workspace. The same process logs in LOG_FORMAT=json (production's format):
// one JSON object per line, no personal data.
// Not reached here: a convergence repair (it needs a write HubSpot applies after the worker gave up, then
// the two-minute wait of a real clock); docs/OPERATIONS.md says how the counters are fed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { freePort } from './helpers/temporal-env';
import { startMain, type Job } from './helpers/main-job';
import { AccountStore } from '../src/account-store/store';
import { ConversationClient, type Conversation } from '../src/platform/client';
import type { ActionConfigInput } from '../src/action/config';
import type { ConversationState } from '../src/platform/contract';

const PERSONAL = [/@example\.com/i, /Ada/, /Grace/, /callback about pricing/i];

const action = (id: string, extra: Partial<ActionConfigInput> = {}): ActionConfigInput => ({
  id,
  name: 'HubSpot: create or update contact',
  intent: 'Save the customer in the CRM',
  offlineSync: true,
  hubspotAccountId: 'demo',
  allowCreate: true,
  allowUpdateExisting: true,
  fieldMappings: [
    { hubspotProperty: 'email', astraField: 'email' },
    { hubspotProperty: 'firstname', astraField: 'first_name' },
  ],
  ...extra,
});

/** A metric's sample value, its labels matched in any order; undefined when there is no such sample. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of metrics.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...m[2]!.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

let job: Job & { ports: Record<string, number>; cleanup(): void };
let metricsUrl: string;
let connection: Connection;
let platform: ConversationClient;
const stamp = Date.now().toString(36);

before(async () => {
  // The account store the worker will open: two OAuth connections of one workspace whose refresh token
  // HubSpot refused, and a healthy one of another workspace.
  const dir = mkdtempSync(join(tmpdir(), 'metrics-job-'));
  const key = randomBytes(32);
  const store = await AccountStore.open({
    dataDir: join(dir, 'account-store'),
    keys: { keys: { k1: key }, activeKeyId: 'k1' },
  });
  const connect = (workspaceId: string, portalId: number) =>
    store.saveOAuthConnection({
      workspaceId,
      portalId,
      appId: 1000001,
      scopes: ['crm.objects.contacts.write'],
      refreshToken: `refresh-${portalId}`,
      accessToken: `access-${portalId}`,
      accessExpiresAt: Date.now() + 1_800_000,
    });
  for (const portal of [501, 502]) {
    const c = await connect('ws-reconnect', portal);
    await store.markNeedsReconnect(c.accountId, 'HubSpot refused the refresh token (400)');
  }
  await connect('ws-healthy', 503);
  await store.close();

  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  job = await startMain(
    [],
    {
      DEMO: 'false',
      METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
      LOG_FORMAT: 'json',
      ACCOUNT_STORE_KEYS: JSON.stringify({ k1: key.toString('base64') }),
    },
    dir,
  );
  await job.waitFor(/ready\. Ctrl-C stops it/);
  connection = await Connection.connect({ address: `127.0.0.1:${job.ports.TEMPORAL_DEV_PORT}` });
  platform = new ConversationClient({ client: new Client({ connection }) });
});

after(async () => {
  await connection?.close();
  if (job) {
    job.child.kill('SIGTERM');
    await Promise.race([job.exited, sleep(30_000)]);
    job.child.kill('SIGKILL');
    job.cleanup();
  }
});

async function offlineOutcome(conversation: Conversation, actionId: string): Promise<string> {
  for (const until = Date.now() + 60_000; Date.now() < until; await sleep(200)) {
    const state: ConversationState | undefined = await platform.getState(conversation);
    const run = state?.outcomes[actionId]?.at(-1);
    if (state?.status === 'ended' && run) return run.result;
  }
  throw new Error(`${conversation.conversationId}: no offline outcome within 60 s`);
}

describe('metrics an on-call engineer alerts on (Prometheus, METRICS_BIND_ADDRESS)', () => {
  test('outcomes per account, end to synced, the agent queue wait and connections needing reconnect', async () => {
    // An offline sync that succeeds: a call ends, the contact is created.
    const good: Conversation = {
      conversationId: `metrics-good-${stamp}`,
      workspaceId: 'default',
      channel: 'voice',
      actions: [action('sync')],
    };
    await platform.recordMessage(good, {
      from: 'customer',
      fields: { email: `ada-${stamp}@example.com`, first_name: 'Ada' },
    });
    await platform.updateFields(good, { summary: 'Wants a callback about pricing' });
    await platform.endCall(good);
    // One that fails: its mapping names a property the account does not have.
    const bad: Conversation = {
      conversationId: `metrics-bad-${stamp}`,
      workspaceId: 'default',
      channel: 'voice',
      actions: [
        action('broken', {
          fieldMappings: [
            { hubspotProperty: 'email', astraField: 'email' },
            { hubspotProperty: 'no_such_property', astraField: 'first_name' },
          ],
        }),
      ],
    };
    await platform.recordMessage(bad, {
      from: 'customer',
      fields: { email: `grace-${stamp}@example.com`, first_name: 'Grace' },
    });
    await platform.endCall(bad);
    // In conversation: the agent asks, through the agent's lane.
    const live: Conversation = {
      conversationId: `metrics-live-${stamp}`,
      workspaceId: 'default',
      channel: 'chat',
      actions: [action('live', { offlineSync: false })],
    };
    await platform.recordMessage(live, { from: 'customer', fields: {} });
    const inConversation = await platform.runAction(live, {
      actionId: 'live',
      fields: { email: `ada-live-${stamp}@example.com`, first_name: 'Ada' },
    });
    assert.equal(inConversation.result, 'created', inConversation.reason);
    assert.equal(await offlineOutcome(good, 'sync'), 'created');
    assert.equal(await offlineOutcome(bad, 'broken'), 'failed');

    // The workflow's metrics reach the exporter once its task completes: scrape until the last one is there.
    let metrics = '';
    const demo = { hubspot_account: 'demo' };
    for (const until = Date.now() + 15_000; Date.now() < until; await sleep(250)) {
      metrics = await (await fetch(metricsUrl)).text();
      if (sample(metrics, 'hubspot_contact_sync_outcomes', { ...demo, result: 'failed' }) !== undefined) break;
    }
    const outcome = (result: string, trigger: string) =>
      sample(metrics, 'hubspot_contact_sync_outcomes', { ...demo, result, trigger });
    assert.equal(outcome('created', 'offline'), 1, metrics);
    assert.equal(outcome('failed', 'offline'), 1);
    assert.equal(outcome('created', 'in-conversation'), 1);

    // End to synced: the successful offline sync only (a failed one is not synced), well under a minute.
    assert.equal(sample(metrics, 'hubspot_contact_sync_end_to_synced_ms_count', demo), 1);
    assert.equal(sample(metrics, 'hubspot_contact_sync_end_to_synced_ms_bucket', { ...demo, le: '60000' }), 1);
    const endToSynced = sample(metrics, 'hubspot_contact_sync_end_to_synced_ms_sum', demo)!;
    assert.ok(endToSynced >= 0 && endToSynced < 60_000, `end to synced ${endToSynced} ms`);

    // The agent's queue: the in-conversation run's activity, once, on the agent's task queue; offline runs are not in it.
    const agentLane = { taskQueue: 'hubspot-contact-sync-agent', activityType: 'runContactSync' };
    assert.equal(sample(metrics, 'hubspot_contact_sync_agent_queue_wait_ms_count', agentLane), 1);
    assert.equal(
      sample(metrics, 'hubspot_contact_sync_agent_queue_wait_ms_count', { taskQueue: 'hubspot-contact-sync' }),
      undefined,
    );
    assert.equal(sample(metrics, 'hubspot_contact_sync_agent_queue_wait_ms_bucket', { ...agentLane, le: '30000' }), 1);

    // Connections needing reconnect, per workspace, from the account store.
    assert.equal(sample(metrics, 'hubspot_connections_needing_reconnect', { workspace_id: 'ws-reconnect' }), 2);
    assert.equal(sample(metrics, 'hubspot_connections_needing_reconnect', { workspace_id: 'ws-healthy' }), undefined);

    // Bounded labels: no conversation id, no email, no contact id in the project's metrics.
    const ours = metrics.split('\n').filter((l) => l.startsWith('hubspot_'));
    assert.ok(ours.length > 10);
    for (const line of ours) {
      assert.doesNotMatch(line, /metrics-(good|bad|live)|@|contact_?id|conversation_?id/i, line);
      const labels = [...line.matchAll(/([a-zA-Z_]+)="/g)].map((m) => m[1]);
      for (const label of labels)
        assert.ok(
          [
            'hubspot_account',
            'result',
            'trigger',
            'workspace_id',
            'namespace',
            'taskQueue',
            'workflowType',
            'activityType',
            'le',
          ].includes(label!),
          `unexpected label ${label} in ${line}`,
        );
    }
  });

  test('LOG_FORMAT=json: every line of the worker one JSON object, the bundle in one, no personal data', async () => {
    // The runs' activity lines reach this process through the worker's stdout pipe, which can deliver them
    // after the metrics endpoint has already answered with the runs' outcomes: wait for them.
    await job.waitFor(/"message":"Action field mappings do not fit the HubSpot account"/, 30_000);
    await job.waitFor(/"message":"Contact created"[^\n]*hubspot-contact-sync-agent/, 30_000);
    const lines = job.lines();
    assert.ok(lines.length > 10, job.output());
    const entries = lines.map((l) => {
      assert.ok(l.startsWith('{'), `not a JSON line: ${l.slice(0, 200)}`);
      return JSON.parse(l) as Record<string, unknown>;
    });
    for (const e of entries) {
      assert.equal(typeof e.time, 'string');
      assert.match(String(e.level), /^(TRACE|DEBUG|INFO|WARN|ERROR)$/);
    }
    assert.ok(entries.some((e) => e.source === 'worker' && /^ready\./.test(String(e.message))));
    assert.equal(
      entries.filter((e) => e.source === 'bundle' && /^workflow bundle built: /.test(String(e.message))).length,
      1,
    );
    // The SDK's activity logger writes the same JSON lines: the failed run's refusal, the contacts created.
    const activityLines = entries.filter((e) => e.sdkComponent === 'activity');
    const messages = activityLines.map((e) => e.message);
    assert.ok(messages.includes('Action field mappings do not fit the HubSpot account'), JSON.stringify(messages));
    assert.equal(messages.filter((m) => m === 'Contact created').length, 2, JSON.stringify(messages));
    for (const line of lines)
      for (const p of PERSONAL) assert.doesNotMatch(line, p, `personal data in a log line: ${line.slice(0, 300)}`);
  });
});

// Conversations on HubSpot accounts connected at run time: the real worker, the account store's
// directory and the emulator's OAuth. A connected portal syncs without a restart (record source: the
// OAuth app); expiring access tokens are refreshed with no lost or doubled write; a revoked refresh
// token fails the run at once, named; a disconnect while a conversation is open stops the writes;
// another workspace cannot use the account; no token reaches workflow history.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { ConversationClient, type Conversation } from '../src/platform/client';
import { createConversationWorker, workflowsPath } from '../src/worker/worker';
import type { ActionConfig } from '../src/action/config';
import { freePort } from '../src/worker/net';
import type { AccountStore } from '../src/account-store/store';
import { StoreDirectory } from '../src/account-store/store-directory';
import type { HubSpotOAuthClient } from '../src/account-store/oauth-client';
import { waitForOutcome } from '../src/worker/development/connected-account-demo';
import { startConfigApi, type RunningConfigApi } from '../src/config-api/server';
import { ConfigApiClient } from '../src/config-api/client';
import { timeSkippingEnv, workflowBundle } from './helpers/temporal-env';
import {
  connectThroughPlatform,
  memoryStore,
  oauthClient,
  PLATFORM_ORIGIN,
  sleep,
  startOAuthEmulator,
} from './accounts-support';

const API_TOKEN = 'conversation-test-config-api-token-0123';
const WS = 'ws-conv';

function action(accountId: string, allowUpdateExisting = true): ActionConfig {
  return {
    id: 'hubspot-upsert',
    name: 'HubSpot: create or update contact',
    intent: 'Save the customer',
    offlineSync: true,
    hubspotAccountId: accountId,
    allowCreate: true,
    allowUpdateExisting,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
    ],
    customFields: [],
  };
}

describe('conversations on accounts connected at run time', () => {
  let env: TestWorkflowEnvironment;
  let emulator: EmulatorServer;
  let store: AccountStore;
  let oauth: HubSpotOAuthClient;
  let api: RunningConfigApi;
  let client: ConfigApiClient;
  let platform: ConversationClient;
  let hubspot: HubSpotAccounts;
  let directory: StoreDirectory;
  let accountId: string;
  const taskQueue = `accounts-conversations-${process.pid}`;
  const conversations: Conversation[] = [];
  let seq = 0;

  const connect = (workspace: ConfigApiClient): Promise<string> => connectThroughPlatform(workspace);

  /** A phone call that ends at once: its sync runs when the call ends. */
  async function call(
    account: string,
    email: string,
    workspaceId = WS,
    between?: () => Promise<void>,
    config = action(account),
  ) {
    const conversation: Conversation = {
      conversationId: `acc-call-${process.pid}-${++seq}`,
      channel: 'voice',
      workspaceId,
      actions: [config],
    };
    conversations.push(conversation);
    await platform.recordMessage(conversation, { from: 'customer', fields: { email, first_name: 'Robin' } });
    await between?.();
    const started = Date.now();
    await platform.endCall(conversation, { summary: 'Robin asked for a callback.' });
    const outcome = await waitForOutcome(platform, conversation, 'hubspot-upsert', 60_000);
    assert.ok(outcome, 'no outcome');
    return { conversationId: conversation.conversationId, outcome, ms: Date.now() - started };
  }

  async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
    const worker = await createConversationWorker({
      connection: env.nativeConnection,
      namespace: env.namespace,
      taskQueue,
      hubspot,
      directory,
      workflowBundle: await workflowBundle(workflowsPath),
    });
    return worker.runUntil(fn);
  }

  const contactsWith = (email: string) =>
    [...emulator.account(DEMO_ACCOUNT.accountId).contacts.values()].filter((c) => c.properties.email === email);

  before(async () => {
    env = await timeSkippingEnv();
    emulator = await startOAuthEmulator({ accessTokenTtlSeconds: 3 });
    store = await memoryStore();
    const port = await freePort();
    oauth = oauthClient(emulator.url, `http://127.0.0.1:${port}/oauth/callback`);
    directory = new StoreDirectory(store, { oauth, cacheTtlMs: 200 });
    hubspot = new HubSpotAccounts(directory);
    api = await startConfigApi({
      store,
      directory,
      oauth,
      apiToken: API_TOKEN,
      port,
      allowedReturnOrigins: [PLATFORM_ORIGIN],
    });
    client = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: WS });
    platform = new ConversationClient({ client: env.client, taskQueue });
    accountId = await connect(client);
  });
  after(async () => {
    for (const c of conversations)
      await platform
        .handle(c)
        .terminate('test finished')
        .catch(() => undefined);
    await api?.close();
    await store?.close();
    await emulator?.close();
  });

  test('a portal connected while the worker runs syncs a conversation; record source is the OAuth app', async () => {
    await withWorker(async () => {
      const { outcome } = await call(accountId, 'robin.one@example.com');
      assert.equal(outcome.result, 'created', outcome.reason);
      const [contact, ...more] = contactsWith('robin.one@example.com');
      assert.equal(more.length, 0);
      assert.equal(contact!.properties.hs_object_source, 'INTEGRATION');
      assert.equal(contact!.properties.hs_object_source_id, '2000001');
      assert.ok(outcome.noteId);
    });
  });

  test('the OAuth app recognises its own contacts by their record source: updated; a contact someone else created gets only the note', async () => {
    await withWorker(async () => {
      const strict = action(accountId, false); // updating contacts this system did not create is not allowed
      const first = await call(accountId, 'robin.ours@example.com', WS, undefined, strict);
      assert.equal(first.outcome.result, 'created', first.outcome.reason);
      const again = await call(accountId, 'robin.ours@example.com', WS, undefined, strict);
      assert.equal(again.outcome.result, 'updated', again.outcome.reason);
      emulator
        .account(DEMO_ACCOUNT.accountId)
        .addPersonContact({ email: 'robin.theirs@example.com', firstname: 'Theirs' });
      const theirs = await call(accountId, 'robin.theirs@example.com', WS, undefined, strict);
      assert.equal(theirs.outcome.result, 'note_only', theirs.outcome.reason);
      assert.equal(contactsWith('robin.theirs@example.com')[0]!.properties.firstname, 'Theirs');
    });
  });

  test('expiring access tokens: refreshed between runs and after a 401, no lost and no doubled write', async () => {
    await withWorker(async () => {
      const before = emulator.oauth.grantCounts.refresh_token ?? 0;
      await sleep(3_100); // every token issued so far has expired
      const first = await call(accountId, 'robin.two@example.com');
      assert.equal(first.outcome.result, 'created', first.outcome.reason);
      // The store believes the new token is good for an hour; HubSpot expires it after 3 s: the next run meets a 401.
      await store.db.query(
        `UPDATE hubspot_connections SET access_expires_at = now() + interval '1 hour', access_issued_at = now() WHERE account_id = $1`,
        [accountId],
      );
      await sleep(3_300);
      const second = await call(accountId, 'robin.three@example.com');
      assert.equal(second.outcome.result, 'created', second.outcome.reason);
      assert.ok((emulator.oauth.grantCounts.refresh_token ?? 0) - before >= 2);
      assert.equal(contactsWith('robin.two@example.com').length, 1);
      assert.equal(contactsWith('robin.three@example.com').length, 1);
      // A refused token names no account: the 401 is recorded without one.
      const expired = emulator.requests().filter((r) => r.status === 401);
      assert.ok(expired.length >= 1, 'the run did not meet the expired token');
    });
  });

  test('the saved action config counts, not the caller’s copy: a forged "allow updating existing fields" renames nobody', async () => {
    await withWorker(async () => {
      await client.saveActionConfig(action(accountId, false));
      try {
        emulator
          .account(DEMO_ACCOUNT.accountId)
          .addPersonContact({ email: 'kept.name@example.com', firstname: 'Kept' });
        // The caller sends the same action with updating existing contacts allowed, and a new first name.
        const { outcome } = await call(accountId, 'kept.name@example.com', WS, undefined, action(accountId, true));
        assert.equal(outcome.result, 'note_only', outcome.reason);
        assert.equal(
          contactsWith('kept.name@example.com')[0]!.properties.firstname,
          'Kept',
          'the forged config renamed the contact',
        );
      } finally {
        await store.db.query('DELETE FROM action_configs WHERE workspace_id = $1', [WS]).catch(() => undefined);
      }
    });
  });

  test('a portal rule HubSpot enforces only in its 400 (required on create): named in the outcome, then a warning of the config check', async () => {
    const portal = emulator.account(DEMO_ACCOUNT.accountId);
    portal.rules = { requiredOnCreate: ['lastname'] };
    try {
      // Before any write met the rule, HubSpot's API shows nothing of it: no warning.
      assert.deepEqual((await client.validateActionConfig(action(accountId))).warnings, []);
      const { outcome } = await withWorker(() => call(accountId, 'robin.rule@example.com'));
      assert.equal(outcome.result, 'failed');
      assert.match(
        outcome.reason,
        /refused the contact create by a validation rule of the portal \(400 VALIDATION_ERROR\): rule REQUIRED_PROPERTY: missing lastname/,
      );
      assert.equal(contactsWith('robin.rule@example.com').length, 0);
      const { warnings } = await client.validateActionConfig(action(accountId));
      assert.equal(warnings.length, 1, warnings.join(' | '));
      assert.match(
        warnings[0]!,
        /HubSpot refused a contact create because "lastname" had no value \(rule REQUIRED_PROPERTY, last refused \d{4}-\d\d-\d\d\), and no mapping row writes it: creates will be refused/,
      );
      const mapped = {
        ...action(accountId),
        fieldMappings: [...action(accountId).fieldMappings, { hubspotProperty: 'lastname', astraField: 'last_name' }],
      };
      assert.deepEqual((await client.validateActionConfig(mapped)).warnings, []);
    } finally {
      portal.rules = {};
      await store.db.query('DELETE FROM learned_write_rules');
    }
  });

  test('another workspace cannot use the account', async () => {
    await withWorker(async () => {
      const { outcome } = await call(accountId, 'intruder@example.com', 'ws-intruder');
      assert.notEqual(outcome.result, 'created');
      assert.match(outcome.reason, /workspace/);
      assert.equal(contactsWith('intruder@example.com').length, 0);
    });
  });

  test('a revoked refresh token fails the run at once, naming the account; reconnecting restores it', async () => {
    await withWorker(async () => {
      const t = await store.tokens(accountId);
      await oauth.revoke(t!.refreshToken!);
      await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        accountId,
        new Date(Date.now() - 1000),
      ]);
      const { outcome, ms } = await call(accountId, 'robin.four@example.com');
      assert.equal(outcome.result, 'failed');
      assert.match(outcome.reason, /reconnect/i);
      assert.ok(outcome.reason.includes(accountId));
      assert.ok(ms < 20_000, `the run took ${ms} ms: it was retried`);
      assert.equal((await client.connection(accountId)).status, 'needs-reconnect');
      assert.equal(contactsWith('robin.four@example.com').length, 0);

      assert.equal(await connect(client), accountId, 'reconnecting the portal keeps the account id');
      await sleep(300);
      const again = await call(accountId, 'robin.five@example.com');
      assert.equal(again.outcome.result, 'created', again.outcome.reason);
    });
  });

  test('a disconnect while a conversation is open: its sync writes nothing', async () => {
    await withWorker(async () => {
      const other = await connect(new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-short' }));
      const { outcome } = await call(other, 'robin.six@example.com', 'ws-short', async () => {
        await new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-short' }).disconnect(other);
        await sleep(300);
      });
      assert.notEqual(outcome.result, 'created');
      assert.match(outcome.reason, /not connected/);
      assert.equal(contactsWith('robin.six@example.com').length, 0);
    });
  });

  test('no token in workflow history', async () => {
    const secrets = [API_TOKEN];
    const t = await store.tokens(accountId);
    secrets.push(t!.accessToken!, t!.refreshToken!);
    for (const c of conversations) {
      const history = JSON.stringify(await platform.handle(c).fetchHistory());
      for (const s of secrets) assert.ok(!history.includes(s), `a token is in the history of ${c.conversationId}`);
      assert.ok(!/na1-[A-Za-z0-9_-]{20}|"CO[A-Za-z0-9_-]{40}/.test(history));
    }
  });
});

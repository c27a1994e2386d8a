// The configuration API, through its typed client and plain HTTP: the OAuth install (state signed,
// single use, expiring), the workspace's accounts, mappable properties, action-config validation and
// saving, disconnect, workspace isolation, JSON errors that name the bad field, and no token in any
// answer or log line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { freePort } from '../src/worker/net';
import type { AccountStore } from '../src/account-store/store';
import { StoreDirectory } from '../src/account-store/store-directory';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import type { HubSpotOAuthClient, OAuthError } from '../src/account-store/oauth-client';
import { startConfigApi, type RunningConfigApi } from '../src/config-api/server';
import { ConfigApiClient, ConfigApiError } from '../src/config-api/client';
import type { ActionConfigInput } from '../src/action/config';
import {
  approveInstall,
  connectThroughPlatform,
  memoryStore,
  oauthClient,
  PLATFORM_ORIGIN,
  PLATFORM_RETURN,
  startOAuthEmulator,
} from './accounts-support';

const API_TOKEN = 'test-config-api-token-0123456789abcdef';

const action = (accountId: string, rows: Array<[string, string]>): ActionConfigInput => ({
  id: 'sync-contact',
  name: 'HubSpot: create or update contact',
  intent: 'Save the customer',
  offlineSync: true,
  hubspotAccountId: accountId,
  allowCreate: true,
  allowUpdateExisting: false,
  fieldMappings: rows.map(([hubspotProperty, astraField]) => ({ hubspotProperty, astraField })),
  customFields: [],
});

describe('configuration API', () => {
  let emulator: EmulatorServer;
  let store: AccountStore;
  let oauth: HubSpotOAuthClient;
  let api: RunningConfigApi;
  const logs: string[] = [];
  const answers: string[] = [];
  let a: ConfigApiClient;
  let b: ConfigApiClient;
  let accountId: string;

  /** Every answer body is kept, to scan for tokens at the end. */
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const text = await res.text();
    answers.push(text);
    return new Response(text, { status: res.status, headers: res.headers });
  };

  /** Runs "Add account" for a workspace as the platform does: install URL, consent, callback, completion. */
  const connect = (client: ConfigApiClient, portal = DEMO_ACCOUNT.accountId): Promise<string> =>
    connectThroughPlatform(client, portal, recordingFetch);

  before(async () => {
    emulator = await startOAuthEmulator();
    store = await memoryStore();
    const port = await freePort();
    oauth = oauthClient(emulator.url, `http://127.0.0.1:${port}/oauth/callback`);
    const directory = new StoreDirectory(store, { oauth });
    api = await startConfigApi({
      store,
      directory,
      oauth,
      apiToken: API_TOKEN,
      port,
      log: (l) => logs.push(l),
      stateTtlMs: 60_000,
      allowedReturnOrigins: [PLATFORM_ORIGIN],
    });
    a = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-a', fetch: recordingFetch });
    b = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-b', fetch: recordingFetch });
    accountId = await connect(a);
  });
  after(async () => {
    await api.close();
    await store.close();
    await emulator.close();
  });

  test('"Add account" stores the connection: portal, app, scopes, status', async () => {
    const list = await a.listConnections();
    assert.equal(list.length, 1);
    const c = list[0]!;
    assert.equal(c.accountId, accountId);
    assert.equal(c.kind, 'oauth');
    assert.equal(c.status, 'connected');
    assert.equal(c.portalId, emulator.oauth.portalId(DEMO_ACCOUNT.accountId));
    assert.equal(c.appId, 2000001);
    assert.ok(c.scopes.includes('crm.objects.contacts.write'));
    assert.deepEqual(await a.connection(accountId), c);
  });

  test('the install URL names the app, the registered callback, a signed state and a PKCE challenge', async () => {
    const install = new URL((await a.startConnection({ returnTo: PLATFORM_RETURN })).installUrl);
    assert.equal(install.searchParams.get('client_id'), 'demo-client-id');
    assert.equal(install.searchParams.get('redirect_uri'), `${api.url}/oauth/callback`);
    assert.match(install.searchParams.get('state')!, /^[\w-]+\.[\w-]+$/);
    assert.match(install.searchParams.get('code_challenge')!, /^[\w-]{43}$/);
    assert.equal(install.searchParams.get('code_challenge_method'), 'S256');
  });

  test('the install state is single use and expires; a forged signature does not use up the genuine one', async () => {
    const { installUrl } = await a.startConnection({ returnTo: PLATFORM_RETURN });
    const back = await approveInstall(installUrl);
    const forged = new URL(back);
    forged.searchParams.set('state', `${back.searchParams.get('state')!.split('.')[0]}.AAAA`);
    assert.equal((await fetch(forged, { redirect: 'manual' })).status, 400);
    await assert.rejects(
      a.completeConnection({ code: back.searchParams.get('code')!, state: forged.searchParams.get('state')! }),
      (e: ConfigApiError) => e.status === 400 && e.code === 'invalid_state',
    );

    const landed = new URL((await fetch(back, { redirect: 'manual' })).headers.get('location')!);
    const answer = { code: landed.searchParams.get('code')!, state: landed.searchParams.get('state')! };
    assert.equal((await a.completeConnection(answer)).connection.kind, 'oauth');
    await assert.rejects(
      a.completeConnection(answer),
      (e: ConfigApiError) => e.status === 400 && e.code === 'invalid_state' && e.field === 'body.state',
    );
    const again = await fetch(back, { redirect: 'manual' });
    assert.equal(again.status, 400);
    const refused = (await again.json()) as { error: string; field: string };
    assert.deepEqual([refused.error, refused.field], ['invalid_state', 'query.state']);

    const shortLived = await startConfigApi({
      store,
      directory: new StoreDirectory(store, { oauth }),
      oauth,
      apiToken: API_TOKEN,
      stateTtlMs: 1,
      allowedReturnOrigins: [PLATFORM_ORIGIN],
    });
    try {
      const res = await fetch(`${shortLived.url}/v1/workspaces/ws-a/connections/oauth`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ returnTo: PLATFORM_RETURN }),
      });
      const { installUrl: late } = (await res.json()) as { installUrl: string };
      await new Promise((r) => setTimeout(r, 20));
      const lateBack = await approveInstall(late);
      const cb = await fetch(`${shortLived.url}/oauth/callback${lateBack.search}`, { redirect: 'manual' });
      assert.equal(cb.status, 400);
    } finally {
      await shortLived.close();
    }
    // Connecting the same portal again in the same workspace is the same connection.
    assert.equal((await a.listConnections()).length, 1);
  });

  test("another workspace cannot complete a workspace's install, and the owner still can", async () => {
    const { installUrl } = await a.startConnection({ returnTo: PLATFORM_RETURN });
    const landed = new URL(
      (await fetch(await approveInstall(installUrl), { redirect: 'manual' })).headers.get('location')!,
    );
    const answer = { code: landed.searchParams.get('code')!, state: landed.searchParams.get('state')! };
    await assert.rejects(
      b.completeConnection(answer),
      (e: ConfigApiError) => e.status === 400 && e.code === 'invalid_state',
    );
    assert.deepEqual(await b.listConnections(), []);
    assert.equal((await a.completeConnection(answer)).connection.accountId, accountId);
  });

  test('the platform must name its own page to come back to', async () => {
    for (const returnTo of [undefined, '/']) {
      await assert.rejects(
        a.startConnection({ returnTo } as never),
        (e: ConfigApiError) => e.status === 400 && e.field === 'body.returnTo' && /platform's own page/.test(e.message),
      );
    }
  });

  test('a denied install comes back to returnTo with the error', async () => {
    const { installUrl } = await a.startConnection({ returnTo: PLATFORM_RETURN });
    const back = await approveInstall(installUrl, DEMO_ACCOUNT.accountId, 'deny');
    const res = await fetch(back, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `${PLATFORM_RETURN}?error=access_denied`);
  });

  test('mappable properties: editable text-like ones, standard and custom; the others with why', async () => {
    const p = await a.properties(accountId);
    const names = p.mappable.map((x) => x.name);
    for (const n of ['email', 'firstname', 'phone', 'favorite_product', 'conversation_summary', 'whatsapp_number'])
      assert.ok(names.includes(n), `${n} is not offered`);
    const why = Object.fromEntries(p.notOffered.map((x) => [x.name, x.reason]));
    assert.match(why.seats!, /number\/number property/);
    assert.match(why.crm_segment!, /read-only/);
    assert.match(why.lead_score_label!, /calculated/);
    assert.match(why.interests!, /enumeration\/checkbox/);
    assert.equal(p.mappable.find((x) => x.name === 'firstname')?.standard, true);
    const custom = p.mappable.find((x) => x.name === 'favorite_product')!;
    assert.deepEqual(
      [custom.standard, custom.label, custom.type, custom.fieldType],
      [false, 'Favorite product', 'string', 'text'],
    );
    assert.ok(custom.group);
  });

  test('validate warns from what HubSpot’s API exposes: format rules; required properties only once HubSpot refused a write without them', async () => {
    emulator.account(DEMO_ACCOUNT.accountId).rules = {
      requiredOnCreate: ['lastname'],
      conditionalRequired: [{ property: 'lifecyclestage', values: ['customer'], requires: ['company'] }],
      propertyRules: { phone: [{ ruleType: 'REGEX', ruleArguments: ['^\\+[0-9 ]+$'] }] },
    };
    try {
      const config = action(accountId, [
        ['email', 'email'],
        ['phone', 'phone'],
      ]);
      const before = await a.validateActionConfig(config);
      assert.equal(before.valid, true, 'rules are warnings, not problems');
      // The property validations API lists the format rule; nothing of the required properties.
      assert.deepEqual(
        before.warnings.map((w) => /"(\w+)"/.exec(w)?.[1]),
        ['phone'],
        before.warnings.join(' | '),
      );
      assert.match(before.warnings[0]!, /"phone" carries a format rule \(REGEX/);

      // A sync meets HubSpot's refusals (the adapter, through the store's directory): they are remembered.
      const account = await new HubSpotAccounts(new StoreDirectory(store, { oauth })).get(accountId);
      await assert.rejects(
        account.createContact({ email: 'needs.lastname@example.com' }),
        (e: { type?: string; message: string }) => e.type === 'HubSpotValidationError' && /lastname/.test(e.message),
      );
      await assert.rejects(
        account.createContact({ email: 'needs.company@example.com', lastname: 'X', lifecyclestage: 'customer' }),
        /company/,
      );
      const after = await a.validateActionConfig(config);
      assert.equal(after.valid, true);
      assert.equal(after.warnings.length, 3, after.warnings.join(' | '));
      const text = after.warnings.join('\n');
      assert.match(
        text,
        /HubSpot refused a contact create because "lastname" had no value \(rule REQUIRED_PROPERTY, last refused \d{4}-\d\d-\d\d\), and no mapping row writes it: creates will be refused/,
      );
      assert.match(text, /"company" had no value while "lifecyclestage" had the value a portal rule names/);
      // Mapping the properties ends the warnings about them; an action that never creates does not need lastname.
      const mapped = await a.validateActionConfig(
        action(accountId, [
          ['email', 'email'],
          ['lastname', 'last_name'],
          ['company', 'company'],
        ]),
      );
      assert.deepEqual(mapped.warnings, []);
      const noCreate = await a.validateActionConfig({ ...config, allowCreate: false, allowUpdateExisting: true });
      assert.ok(!noCreate.warnings.some((w) => w.includes('"lastname"')), noCreate.warnings.join(' | '));
    } finally {
      emulator.account(DEMO_ACCOUNT.accountId).rules = {};
      await store.db.query('DELETE FROM learned_write_rules');
    }
  });

  test('validate names every bad row; save refuses an invalid config and keeps a valid one', async () => {
    const bad = action(accountId, [
      ['email', 'email'],
      ['seats', 'seat_count'],
      ['no_such_prop', 'x'],
      ['firstname', 'first_name'],
    ]);
    const r = await a.validateActionConfig(bad);
    assert.equal(r.valid, false);
    assert.deepEqual(
      r.problems.map((p) => p.field),
      ['config.fieldMappings[1]', 'config.fieldMappings[2]'],
    );
    assert.match(r.problems[1]!.message, /no contact property "no_such_prop"/);
    const shape = await a.validateActionConfig({
      ...bad,
      fieldMappings: [{ hubspotProperty: 'firstname', astraField: 'x' }],
    });
    assert.equal(shape.problems[0]!.field, 'config.fieldMappings');
    await assert.rejects(
      a.saveActionConfig(bad),
      (e: ConfigApiError) => e.status === 422 && e.code === 'invalid_config' && e.problems?.length === 2,
    );

    const good = action(accountId, [
      ['email', 'email'],
      ['firstname', 'first_name'],
      ['conversation_summary', 'summary'],
    ]);
    assert.deepEqual(await a.validateActionConfig(good), { valid: true, problems: [], warnings: [] });
    await a.saveActionConfig(good);
    assert.equal(
      ((await a.actionConfig('sync-contact')).config as { hubspotAccountId: string }).hubspotAccountId,
      accountId,
    );
    const saved = await new StoreDirectory(store).savedActionConfig('ws-a', 'sync-contact');
    assert.equal((saved?.config as { id: string }).id, 'sync-contact');
  });

  test('workspace isolation: workspace B cannot see or use workspace A’s account', async () => {
    assert.deepEqual(await b.listConnections(), []);
    await assert.rejects(b.connection(accountId), (e: ConfigApiError) => e.status === 404 && e.field === 'accountId');
    await assert.rejects(b.properties(accountId), (e: ConfigApiError) => e.status === 404);
    await assert.rejects(b.disconnect(accountId), (e: ConfigApiError) => e.status === 404);
    await assert.rejects(b.actionConfig('sync-contact'), (e: ConfigApiError) => e.status === 404);
    const v = await b.validateActionConfig(action(accountId, [['email', 'email']]));
    assert.deepEqual(
      v.problems.map((p) => p.field),
      ['config.hubspotAccountId'],
    );
    assert.match(v.problems[0]!.message, /not connected in workspace ws-b/);
    await assert.rejects(
      b.saveActionConfig(action(accountId, [['email', 'email']])),
      (e: ConfigApiError) => e.status === 422,
    );
    // B connecting the same portal gets its own connection.
    const own = await connect(b);
    assert.notEqual(own, accountId);
    assert.deepEqual(
      (await b.listConnections()).map((c) => c.accountId),
      [own],
    );
    assert.equal((await a.listConnections()).length, 1);
  });

  test('authentication and input errors are JSON that names the field', async () => {
    const call = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${api.url}${path}`, init);
      return { status: res.status, body: (await res.json()) as { error: string; field?: string; message: string } };
    };
    const none = await call('/v1/workspaces/ws-a/connections');
    assert.deepEqual([none.status, none.body.error, none.body.field], [401, 'unauthorized', 'authorization']);
    const wrong = await call('/v1/workspaces/ws-a/connections', { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const auth = { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' };
    const badWs = await call('/v1/workspaces/bad%20ws!/connections', { headers: auth });
    assert.deepEqual([badWs.status, badWs.body.field], [400, 'path.workspaceId']);
    const badReturn = await call('/v1/workspaces/ws-a/connections/oauth', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ returnTo: 'https://evil.example/' }),
    });
    assert.match(badReturn.body.message, /origin https:\/\/evil\.example is not allowed/);
    assert.deepEqual([badReturn.status, badReturn.body.field], [400, 'body.returnTo']);
    const extra = await call('/v1/workspaces/ws-a/connections/oauth', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ surprise: 1 }),
    });
    assert.equal(extra.status, 400);
    assert.match(extra.body.message, /surprise/);
    const notJson = await call('/v1/workspaces/ws-a/action-configs/validate', {
      method: 'POST',
      headers: auth,
      body: '{"config": ',
    });
    assert.deepEqual([notJson.status, notJson.body.error], [400, 'bad_request']);
    const pat = await call('/v1/workspaces/ws-a/connections/private-app', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ token: 'pat-na1-0000', appId: 'x' }),
    });
    assert.deepEqual([pat.status, pat.body.field], [400, 'body.appId']);
    const unknown = await call('/v1/nothing', { headers: auth });
    assert.equal(unknown.status, 404);
  });

  test('a private-app token is kept encrypted and never returned', async () => {
    const { connection } = await a.addPrivateAppToken({ token: DEMO_ACCOUNT.token, appId: DEMO_ACCOUNT.appId });
    assert.equal(connection.kind, 'private-app');
    const p = await a.properties(connection.accountId);
    assert.ok(p.mappable.some((x) => x.name === 'favorite_product'));
    assert.ok(!answers.some((t) => t.includes(DEMO_ACCOUNT.token)));
    await a.disconnect(connection.accountId);
  });

  test('disconnect revokes the refresh token at HubSpot and removes the account', async () => {
    const own = await connect(a, '__new__');
    const tokens = await store.tokens(own);
    const r = await a.disconnect(own);
    assert.deepEqual(r, { accountId: own, status: 'disconnected', refreshTokenRevoked: true });
    await assert.rejects(oauth.refresh(tokens!.refreshToken!), (e: OAuthError) => e.refusedGrant && e.status === 400);
    assert.ok(!(await a.listConnections()).some((c) => c.accountId === own));
    await assert.rejects(a.connection(own), (e: ConfigApiError) => e.status === 404);
  });

  test('a connection whose refresh token HubSpot refuses (in its 2026-03 Error shape) answers needs_reconnect at once', async () => {
    const own = await connect(a, '__new__');
    const tokens = await store.tokens(own);
    await oauth.revoke(tokens!.refreshToken!);
    await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
      own,
      new Date(Date.now() - 1000),
    ]);
    const refreshes = emulator.oauth.grantCounts.refresh_token ?? 0;
    await assert.rejects(
      a.properties(own),
      (e: ConfigApiError) => e.status === 409 && e.code === 'needs_reconnect' && e.field === 'accountId',
    );
    assert.equal((await a.connection(own)).status, 'needs-reconnect');
    await assert.rejects(a.properties(own), (e: ConfigApiError) => e.status === 409 && e.code === 'needs_reconnect');
    assert.equal((emulator.oauth.grantCounts.refresh_token ?? 0) - refreshes, 1, 'the refused refresh was tried again');
    await a.disconnect(own);
  });

  test('no token in any answer or log line (scan)', async () => {
    const secrets: string[] = [API_TOKEN];
    const rows = await store.db.query<{ account_id: string }>(
      'SELECT account_id FROM hubspot_connections WHERE status <> $1',
      ['disconnected'],
    );
    for (const { account_id } of rows.rows) {
      const t = await store.tokens(account_id);
      if (t?.accessToken) secrets.push(t.accessToken);
      if (t?.refreshToken) secrets.push(t.refreshToken);
    }
    assert.ok(secrets.length >= 3);
    assert.ok(answers.length > 10 && logs.length > 10);
    const everything = [...answers, ...logs].join('\n');
    for (const s of secrets) assert.ok(!everything.includes(s), 'a token appears in an answer or a log line');
    // The callback's query (code, state) stays out of the logs too.
    assert.ok(!logs.some((l) => l.includes('code=')));
  });
});

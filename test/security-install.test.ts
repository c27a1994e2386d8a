// "Add account" and the setup page's sessions, played as a hostile tenant would (docs/ACCOUNTS.md):
// a consent link forwarded to another company, redirects that leave the service, forged states, a
// cross-site logout, password guessing at /login, and sessions that must end before their 8 hours.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { freePort } from '../src/worker/net';
import type { AccountStore } from '../src/account-store/store';
import { StoreDirectory } from '../src/account-store/store-directory';
import { startConfigApi, type RunningConfigApi } from '../src/config-api/server';
import { ConfigApiClient } from '../src/config-api/client';
import { approveInstall, memoryStore, oauthClient, PLATFORM_ORIGIN, startOAuthEmulator } from './accounts-support';

const API_TOKEN = 'security-install-api-token-0123456789';
const VICTIM_PORTAL = 'victim-portal';

describe('"Add account" in the hands of another company', () => {
  let emulator: EmulatorServer;
  let store: AccountStore;
  let api: RunningConfigApi;

  before(async () => {
    emulator = await startOAuthEmulator({
      accounts: [
        { ...DEMO_ACCOUNT, rateLimit: { perTenSeconds: 0, searchPerSecond: 0 } },
        {
          accountId: VICTIM_PORTAL,
          token: 'victim-token',
          appId: 77,
          rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
        },
      ],
    });
    store = await memoryStore();
    const port = await freePort();
    const oauth = oauthClient(emulator.url, `http://127.0.0.1:${port}/oauth/callback`);
    api = await startConfigApi({
      store,
      directory: new StoreDirectory(store, { oauth }),
      oauth,
      apiToken: API_TOKEN,
      port,
      allowedReturnOrigins: [PLATFORM_ORIGIN],
      loginAttempts: 3,
      loginWindowMs: 60_000,
    });
  });
  after(async () => {
    await api?.close();
    await store?.close();
    await emulator?.close();
  });

  /** A browser's cookie jar for this service: just enough for these requests. */
  class Browser {
    private readonly jar = new Map<string, string>();
    async fetch(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
      const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const url = path.startsWith('http') ? path : `${api.url}${path}`;
      const res = await fetch(url, {
        redirect: 'manual',
        ...init,
        headers: { ...(cookie ? { cookie } : {}), ...init.headers },
      });
      for (const set of res.headers.getSetCookie()) {
        const [pair] = set.split(';');
        const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
        if (/Max-Age=0/.test(set) || value === '') this.jar.delete(name);
        else this.jar.set(name, value);
      }
      return res;
    }
    cookie(name: string): string | undefined {
      return this.jar.get(name);
    }
    /** Logs into a workspace's setup page with a single-use link (what the operator is handed). */
    async logIn(workspaceId: string): Promise<void> {
      const res = await this.fetch(api.oneTimeLoginPath(workspaceId));
      assert.equal(res.status, 303);
      assert.ok(this.cookie('config_session'), 'no session cookie');
    }
    /** "Add account" as the page's script sends it. */
    async addAccount(workspaceId: string, returnTo = '/'): Promise<string> {
      const res = await this.fetch(`/v1/workspaces/${workspaceId}/connections/oauth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-config-page': '1' },
        body: JSON.stringify({ returnTo }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as { installUrl: string }).installUrl;
    }
  }

  const connections = (workspaceId: string) => store.listConnections(workspaceId);

  test('a consent link forwarded to another company connects nothing, with a named refusal', async () => {
    const attacker = new Browser();
    await attacker.logIn('ws-attacker');
    const installUrl = await attacker.addAccount('ws-attacker');

    // The other company's admin approves in their own browser, for their own portal.
    const victim = new Browser();
    const back = await approveInstall(installUrl, VICTIM_PORTAL);
    const res = await victim.fetch(back.toString());
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'install_not_yours');
    assert.match(body.message, /nothing was connected/);
    assert.deepEqual(
      await connections('ws-attacker'),
      [],
      "the victim's portal was stored under the attacker's workspace",
    );

    // Another workspace's session in the victim's browser does not complete it either.
    await victim.logIn('ws-victim');
    assert.equal((await victim.fetch(back.toString())).status, 403);
    // Nor can the attacker's platform credentials finish a page install with the code.
    const platform = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-attacker' });
    await assert.rejects(
      platform.completeConnection({ code: back.searchParams.get('code')!, state: back.searchParams.get('state')! }),
      /expired or was already used/,
    );
    assert.deepEqual(await connections('ws-attacker'), []);
    assert.deepEqual(await connections('ws-victim'), []);
  });

  test('the browser that started the install, still logged into its workspace, completes it', async () => {
    const operator = new Browser();
    await operator.logIn('ws-owner');
    const installUrl = await operator.addAccount('ws-owner', '/?from=setup');
    assert.ok(operator.cookie('config_install'), 'no install binding cookie');
    const back = await approveInstall(installUrl, DEMO_ACCOUNT.accountId);
    const res = await operator.fetch(back.toString());
    assert.equal(res.status, 303);
    const stored = await connections('ws-owner');
    assert.equal(stored.length, 1);
    assert.equal(res.headers.get('location'), `/?from=setup&connected=${stored[0]!.accountId}`);
    assert.equal(operator.cookie('config_install'), undefined, 'the binding cookie outlived its install');
  });

  test('a browser logged out (or into another workspace) after starting gets nothing connected', async () => {
    const operator = new Browser();
    await operator.logIn('ws-switch');
    const installUrl = await operator.addAccount('ws-switch');
    await operator.logIn('ws-elsewhere'); // same browser, now another workspace's session
    const res = await operator.fetch((await approveInstall(installUrl, DEMO_ACCOUNT.accountId)).toString());
    assert.equal(res.status, 403);
    assert.deepEqual(await connections('ws-switch'), []);
    assert.deepEqual(await connections('ws-elsewhere'), []);
  });

  test("PKCE: a code redeemed without the install's verifier is refused by HubSpot", async () => {
    const operator = new Browser();
    await operator.logIn('ws-pkce');
    const installUrl = await operator.addAccount('ws-pkce');
    const back = await approveInstall(installUrl, DEMO_ACCOUNT.accountId);
    // Someone who intercepts the code and holds the app's secret still lacks the verifier.
    await assert.rejects(
      oauthClient(emulator.url, `${api.url}/oauth/callback`).exchangeCode(back.searchParams.get('code')!),
      /code_verifier/,
    );
  });

  describe('redirects stay on this service or an allowed origin', () => {
    const attacks = [
      '/.//evil.example/x',
      '/%2e//evil.example/x',
      '/./\\evil.example/x',
      '//evil.example/x',
      '/\\evil.example',
      '\\\\evil.example',
      'https://evil.example/x',
      'javascript:alert(1)',
      '/\t/evil.example',
      'http://127.0.0.1.evil.example/',
    ];
    for (const returnTo of attacks) {
      test(`returnTo ${JSON.stringify(returnTo)} is refused`, async () => {
        const platform = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-redirect' });
        await assert.rejects(
          platform.startConnection({ returnTo }),
          (e: Error & { field?: string }) => e.field === 'body.returnTo',
        );
        const operator = new Browser();
        await operator.logIn('ws-redirect');
        const res = await operator.fetch('/v1/workspaces/ws-redirect/connections/oauth', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-config-page': '1' },
          body: JSON.stringify({ returnTo }),
        });
        assert.equal(res.status, 400, `accepted: ${await res.text()}`);
      });
    }

    test('a same-origin path, written with dot segments, comes back normalised', async () => {
      const operator = new Browser();
      await operator.logIn('ws-path');
      const installUrl = await operator.addAccount('ws-path', '/a/../settings?tab=hubspot');
      const res = await operator.fetch((await approveInstall(installUrl, DEMO_ACCOUNT.accountId, 'deny')).toString());
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/settings?tab=hubspot&error=access_denied');
    });
  });

  describe('sessions', () => {
    const login = (browser: Browser, headers: Record<string, string>, token = API_TOKEN) =>
      browser.fetch('/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ token, workspaceId: 'ws-session' }).toString(),
      });
    const sameSite = { 'sec-fetch-site': 'same-origin' };
    const crossSite = { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' };

    test('another site can neither log a browser in nor out', async () => {
      const operator = new Browser();
      assert.equal((await login(operator, crossSite)).status, 403);
      assert.equal(operator.cookie('config_session'), undefined);
      assert.equal((await login(new Browser(), { origin: 'https://evil.example' })).status, 403);
      assert.equal((await login(operator, sameSite)).status, 303);
      assert.equal((await operator.fetch('/logout', { method: 'POST', headers: crossSite })).status, 403);
      assert.equal((await operator.fetch('/')).status, 200, 'a cross-site post ended the session');
      assert.equal((await operator.fetch('/logout', { method: 'POST', headers: sameSite })).status, 303);
    });

    test('logging out ends the session on the server: the old cookie no longer works', async () => {
      const operator = new Browser();
      await operator.logIn('ws-session');
      const stolen = operator.cookie('config_session')!;
      assert.equal((await operator.fetch('/logout', { method: 'POST', headers: sameSite })).status, 303);
      const replay = await fetch(`${api.url}/v1/workspaces/ws-session/connections`, {
        headers: { cookie: `config_session=${stolen}` },
      });
      assert.equal(replay.status, 401);
    });

    test("the platform ends every session of a workspace at once, and only that workspace's", async () => {
      const one = new Browser();
      const two = new Browser();
      const other = new Browser();
      await one.logIn('ws-revoke');
      await two.logIn('ws-revoke');
      await other.logIn('ws-keep');
      const platform = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: 'ws-revoke' });
      assert.deepEqual(await platform.revokeSessions(), { workspaceId: 'ws-revoke', revoked: 2 });
      assert.equal((await one.fetch('/')).status, 303);
      assert.equal((await two.fetch('/v1/workspaces/ws-revoke/connections')).status, 401);
      assert.equal((await other.fetch('/')).status, 200);
      // A session cannot end other sessions itself.
      const res = await other.fetch('/v1/workspaces/ws-keep/sessions', {
        method: 'DELETE',
        headers: { 'x-config-page': '1' },
      });
      assert.equal(res.status, 403);
    });

    test('guessing the token at /login is cut off after a few failures (429, Retry-After)', async () => {
      const guesser = new Browser();
      for (let i = 0; i < 3; i++) assert.equal((await login(guesser, sameSite, `wrong-${i}`)).status, 401);
      const blocked = await login(guesser, sameSite, API_TOKEN);
      assert.equal(blocked.status, 429, 'the right token still got through after the failures');
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
      assert.equal(guesser.cookie('config_session'), undefined);
    });
  });
});

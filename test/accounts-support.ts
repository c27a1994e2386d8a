// What the account, OAuth and configuration API tests share: an emulator with OAuth, an account store
// on in-memory PGlite, and the OAuth install driven over plain HTTP (the browser test drives the pages).
import { randomBytes } from 'node:crypto';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import { EmulatorServer } from '../hubspot-emulator/server';
import { DEMO_OAUTH_APP } from '../hubspot-emulator/oauth';
import type { EmulatorAccountSeed } from '../hubspot-emulator/store';
import { AccountStore } from '../src/account-store/store';
import { StoreDirectory } from '../src/account-store/store-directory';
import { freePort } from '../src/worker/net';
import { completeInstall, HubSpotOAuthClient } from '../src/account-store/oauth-client';
import type { TokenKeys } from '../src/account-store/token-cipher';
import type { ConfigApiClient } from '../src/config-api/client';

export const OFF = { perTenSeconds: 0, searchPerSecond: 0 };

export function testKeys(ids: string[] = ['k1']): TokenKeys {
  const keys: Record<string, Buffer> = {};
  for (const id of ids) keys[id] = randomBytes(32);
  return { keys, activeKeyId: ids.at(-1)! };
}

export async function startOAuthEmulator(
  options: { accessTokenTtlSeconds?: number; accounts?: EmulatorAccountSeed[] } = {},
): Promise<EmulatorServer> {
  const server = new EmulatorServer({
    accounts: options.accounts ?? [{ ...DEMO_ACCOUNT, rateLimit: OFF }],
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
  });
  await server.listen();
  return server;
}

export function oauthClient(
  emulatorUrl: string,
  redirectUri = 'http://127.0.0.1:9/oauth/callback',
): HubSpotOAuthClient {
  return new HubSpotOAuthClient({
    clientId: DEMO_OAUTH_APP.clientId,
    clientSecret: DEMO_OAUTH_APP.clientSecret,
    redirectUri,
    scopes: ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.read'],
    authorizeUrl: `${emulatorUrl}/oauth/authorize`,
    apiBase: emulatorUrl,
  });
}

export function memoryStore(keys = testKeys()): Promise<AccountStore> {
  return AccountStore.open({ keys });
}

/**
 * What the setup page's tests start from: the emulator with OAuth, an in-memory account store, the port
 * the configuration API will listen on (its OAuth callback is there) and the store's directory, which
 * refreshes tokens through that OAuth client (with its default 5 s connection cache).
 */
export async function oauthStack(): Promise<{
  emulator: EmulatorServer;
  store: AccountStore;
  port: number;
  oauth: HubSpotOAuthClient;
  directory: StoreDirectory;
}> {
  const emulator = await startOAuthEmulator();
  const store = await memoryStore();
  const port = await freePort();
  const oauth = oauthClient(emulator.url, `http://127.0.0.1:${port}/oauth/callback`);
  return { emulator, store, port, oauth, directory: new StoreDirectory(store, { oauth }) };
}

/**
 * What a person does on the emulator's consent page: approve the install for `portal`. Returns the
 * URL HubSpot sends the browser back to (redirect_uri?code=…&state=…).
 */
export async function approveInstall(
  installUrl: string,
  portal = DEMO_ACCOUNT.accountId,
  decision: 'approve' | 'deny' = 'approve',
): Promise<URL> {
  const url = new URL(installUrl);
  const page = await fetch(url);
  if (page.status !== 200) throw new Error(`the consent page answered ${page.status}: ${await page.text()}`);
  const form = new URLSearchParams();
  for (const k of [
    'client_id',
    'redirect_uri',
    'scope',
    'optional_scope',
    'state',
    'code_challenge',
    'code_challenge_method',
  ])
    form.set(k, url.searchParams.get(k) ?? '');
  form.set('portal', portal);
  form.set('decision', decision);
  const res = await fetch(new URL('/oauth/authorize', url), { method: 'POST', body: form, redirect: 'manual' });
  if (res.status !== 302) throw new Error(`the consent form answered ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/** Connects the emulator's portal for a workspace straight through the store (no configuration API). */
export async function connectDirectly(
  store: AccountStore,
  oauth: HubSpotOAuthClient,
  workspaceId: string,
  portal = DEMO_ACCOUNT.accountId,
) {
  const back = await approveInstall(oauth.installUrl('s'), portal);
  return completeInstall(store, oauth, workspaceId, back.searchParams.get('code')!);
}

/** The platform's own page that an install it started comes back to (an allowed return origin). */
export const PLATFORM_ORIGIN = 'https://platform.example';
export const PLATFORM_RETURN = `${PLATFORM_ORIGIN}/settings/hubspot/connected`;

/**
 * "Add account" as the platform runs it: start with the bearer token, the person approves on HubSpot,
 * the callback hands code and state back to the platform's page, whose backend completes the install.
 */
export async function connectThroughPlatform(
  client: ConfigApiClient,
  portal = DEMO_ACCOUNT.accountId,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const { installUrl } = await client.startConnection({ returnTo: PLATFORM_RETURN });
  const back = await approveInstall(installUrl, portal);
  const res = await fetchImpl(back, { redirect: 'manual' });
  if (res.status !== 303) throw new Error(`the callback answered ${res.status}: ${await res.text()}`);
  const landed = new URL(res.headers.get('location')!);
  if (`${landed.origin}${landed.pathname}` !== PLATFORM_RETURN)
    throw new Error(`the callback sent the browser to ${landed.toString()}`);
  const { connection } = await client.completeConnection({
    code: landed.searchParams.get('code')!,
    state: landed.searchParams.get('state')!,
  });
  return connection.accountId;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The emulator's OAuth, as an app sees it: the consent page, the 2026-03 token API with RFC 6749
// error bodies, expiring access tokens, revocation, introspection, per-portal data and the record
// source of what the app creates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@hubspot/api-client';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import { DEMO_OAUTH_APP } from '../hubspot-emulator/oauth';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { HubSpotOAuthClient, OAuthError } from '../src/accounts/oauth-client';
import { approveInstall, oauthClient, sleep, startOAuthEmulator } from './accounts-support';

const form = (o: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() });

describe('emulator OAuth', () => {
  let emulator: EmulatorServer;
  before(async () => {
    emulator = await startOAuthEmulator({ accessTokenTtlSeconds: 2 });
  });
  after(() => emulator.close());

  test('install: consent page, code, token; a contact created with the token has record source INTEGRATION and the app id', async () => {
    const oauth = oauthClient(emulator.url);
    const page = await fetch(oauth.installUrl('xyz'));
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Connect app/);
    assert.match(html, /crm\.objects\.contacts\.write/);
    const back = await approveInstall(oauth.installUrl('xyz'));
    assert.equal(back.searchParams.get('state'), 'xyz');
    const grant = await oauth.exchangeCode(back.searchParams.get('code')!);
    assert.equal(grant.expiresIn, 2);
    const info = await oauth.introspect(grant.accessToken);
    assert.equal(info.appId, DEMO_OAUTH_APP.appId);
    assert.equal(info.hubId, emulator.oauth.portalId(DEMO_ACCOUNT.accountId));
    assert.deepEqual(info.scopes.sort(), ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.read']);

    const hubspot = new Client({ accessToken: grant.accessToken, basePath: emulator.url, numberOfApiCallRetries: 0 });
    const created = await hubspot.crm.contacts.basicApi.create({ properties: { email: 'oauth.created@example.com', firstname: 'Oauth' }, associations: [] });
    const stored = emulator.account(DEMO_ACCOUNT.accountId).contacts.get(created.id)!;
    assert.equal(stored.properties.hs_object_source, 'INTEGRATION');
    assert.equal(stored.properties.hs_object_source_id, String(DEMO_OAUTH_APP.appId));
  });

  test('a code is single use, and must come back with the same redirect_uri', async () => {
    const oauth = oauthClient(emulator.url);
    const code = (await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!;
    await oauth.exchangeCode(code);
    await assert.rejects(oauth.exchangeCode(code), (e: OAuthError) => e.error === 'invalid_grant' && e.status === 400);
    const code2 = (await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!;
    await assert.rejects(oauthClient(emulator.url, 'http://elsewhere.example/cb').exchangeCode(code2), (e: OAuthError) => e.error === 'invalid_grant');
  });

  test('token endpoint errors are RFC 6749 bodies with status and message', async () => {
    const bad = await fetch(`${emulator.url}/oauth/2026-03/token`, form({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: 'demo-client-id', client_secret: 'wrong' }));
    assert.equal(bad.status, 401);
    const body = (await bad.json()) as Record<string, string>;
    assert.equal(body.error, 'invalid_client');
    assert.ok(body.error_description && body.status && body.message, JSON.stringify(body));
    const grant = await fetch(`${emulator.url}/oauth/2026-03/token`, form({ grant_type: 'password', client_id: 'demo-client-id', client_secret: 'demo-client-secret' }));
    assert.equal(grant.status, 400);
    assert.equal(((await grant.json()) as { error: string }).error, 'unsupported_grant_type');
    const unknown = await fetch(`${emulator.url}/oauth/2026-03/token`, form({ grant_type: 'refresh_token', refresh_token: 'na1-forged.token', client_id: 'demo-client-id', client_secret: 'demo-client-secret' }));
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { error: string }).error, 'invalid_grant');
  });

  test('access tokens expire: 401 EXPIRED_AUTHENTICATION, and a refresh gives a working one', async () => {
    const oauth = oauthClient(emulator.url);
    const grant = await oauth.exchangeCode((await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!);
    await sleep(2_100);
    const res = await fetch(`${emulator.url}/crm/v3/properties/contacts`, { headers: { authorization: `Bearer ${grant.accessToken}` } });
    assert.equal(res.status, 401);
    const body = (await res.json()) as { category: string; message: string };
    assert.equal(body.category, 'EXPIRED_AUTHENTICATION');
    const fresh = await oauth.refresh(grant.refreshToken);
    assert.notEqual(fresh.accessToken, grant.accessToken);
    assert.equal(fresh.refreshToken, grant.refreshToken, 'HubSpot refresh tokens do not rotate');
    const ok = await fetch(`${emulator.url}/crm/v3/properties/contacts`, { headers: { authorization: `Bearer ${fresh.accessToken}` } });
    assert.equal(ok.status, 200);
  });

  test('a revoked refresh token is invalid_grant; introspection says inactive; its access tokens stop working', async () => {
    const oauth = oauthClient(emulator.url);
    const grant = await oauth.exchangeCode((await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!);
    await oauth.revoke(grant.refreshToken);
    await assert.rejects(oauth.refresh(grant.refreshToken), (e: OAuthError) => e.invalidGrant && e.status === 400);
    await assert.rejects(oauth.introspect(grant.refreshToken), (e: OAuthError) => e.invalidGrant);
    const res = await fetch(`${emulator.url}/crm/v3/properties/contacts`, { headers: { authorization: `Bearer ${grant.accessToken}` } });
    assert.equal(res.status, 401);
  });

  test('a token carries the scopes granted to it: a read-only install cannot write', async () => {
    const readOnly = new HubSpotOAuthClient({ ...oauthClient(emulator.url).settings, scopes: ['crm.objects.contacts.read'] });
    const grant = await readOnly.exchangeCode((await approveInstall(readOnly.installUrl('s'))).searchParams.get('code')!);
    assert.deepEqual((await readOnly.introspect(grant.accessToken)).scopes, ['crm.objects.contacts.read']);
    const res = await fetch(`${emulator.url}/crm/v3/objects/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${grant.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { email: 'nope@example.com' } }),
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { category: string }).category, 'MISSING_SCOPES');
  });

  test('a new test portal gets its own data; deny comes back with access_denied', async () => {
    const oauth = oauthClient(emulator.url);
    const back = await approveInstall(oauth.installUrl('s'), '__new__');
    const grant = await oauth.exchangeCode(back.searchParams.get('code')!);
    const info = await oauth.introspect(grant.accessToken);
    assert.notEqual(info.hubId, emulator.oauth.portalId(DEMO_ACCOUNT.accountId));
    const hubspot = new Client({ accessToken: grant.accessToken, basePath: emulator.url, numberOfApiCallRetries: 0 });
    await assert.rejects(hubspot.crm.contacts.basicApi.getById('maria.garcia@example.com', ['email'], undefined, undefined, false, 'email'), (e: { code?: number }) => e.code === 404);
    const denied = await approveInstall(oauth.installUrl('s2'), DEMO_ACCOUNT.accountId, 'deny');
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 's2');
    assert.equal(denied.searchParams.get('code'), null);
  });
});

// The emulator's OAuth, as an app sees it: the consent page, the 2026-03 token API answering in the
// shapes of HubSpot's 2026-03 OAuth spec (refusals in its standard Error; the older dialects as named
// options), expiring access tokens, revocation, introspection, per-portal data and the record source of
// what the app creates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@hubspot/api-client';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import { DEMO_OAUTH_APP } from '../hubspot-emulator/oauth';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { HubSpotOAuthClient, OAuthError } from '../src/account-store/oauth-client';
import {
  accessTokenInfoShape,
  accessTokenResponseShape,
  oauthErrorShape,
  refreshTokenInfoShape,
} from '../src/account-store/oauth-shapes';
import { approveInstall, oauthClient, sleep, startOAuthEmulator } from './accounts-support';

const form = (o: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(o).toString(),
});

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
    assert.deepEqual(info.scopes.sort(), [
      'crm.objects.contacts.read',
      'crm.objects.contacts.write',
      'crm.schemas.contacts.read',
    ]);

    const hubspot = new Client({ accessToken: grant.accessToken, basePath: emulator.url, numberOfApiCallRetries: 0 });
    const created = await hubspot.crm.contacts.basicApi.create({
      properties: { email: 'oauth.created@example.com', firstname: 'Oauth' },
      associations: [],
    });
    const stored = emulator.account(DEMO_ACCOUNT.accountId).contacts.get(created.id)!;
    assert.equal(stored.properties.hs_object_source, 'INTEGRATION');
    assert.equal(stored.properties.hs_object_source_id, String(DEMO_OAUTH_APP.appId));
  });

  test('a code is single use, and must come back with the same redirect_uri', async () => {
    const oauth = oauthClient(emulator.url);
    const code = (await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!;
    await oauth.exchangeCode(code);
    await assert.rejects(
      oauth.exchangeCode(code),
      (e: OAuthError) => e.refusedGrant && e.status === 400 && /authorization code/.test(e.message),
    );
    const code2 = (await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!;
    await assert.rejects(
      oauthClient(emulator.url, 'http://elsewhere.example/cb').exchangeCode(code2),
      (e: OAuthError) => e.refusedGrant && /redirect_uri/.test(e.message),
    );
  });

  test('token endpoint refusals are HubSpot’s standard Error (category, correlationId, message), not RFC 6749 bodies', async () => {
    const refused = async (o: Record<string, string>) => {
      const res = await fetch(`${emulator.url}/oauth/2026-03/token`, form(o));
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(oauthErrorShape.safeParse(body).success, true, JSON.stringify(body));
      assert.equal(body.error, undefined, 'an RFC 6749 error field');
      assert.equal(body.error_description, undefined);
      return { status: res.status, body };
    };
    const bad = await refused({
      grant_type: 'refresh_token',
      refresh_token: 'nope',
      client_id: 'demo-client-id',
      client_secret: 'wrong',
    });
    assert.deepEqual([bad.status, bad.body.category], [401, 'INVALID_AUTHENTICATION']);
    const grant = await refused({
      grant_type: 'password',
      client_id: 'demo-client-id',
      client_secret: 'demo-client-secret',
    });
    assert.deepEqual([grant.status, grant.body.category], [400, 'VALIDATION_ERROR']);
    const unknown = await refused({
      grant_type: 'refresh_token',
      refresh_token: 'na1-forged.token',
      client_id: 'demo-client-id',
      client_secret: 'demo-client-secret',
    });
    assert.deepEqual([unknown.status, unknown.body.category], [400, 'VALIDATION_ERROR']);
    assert.match(String(unknown.body.message), /refresh token/);
  });

  test('the older dialects are named options: v1’s status BAD_REFRESH_TOKEN, RFC 6749’s invalid_grant', async () => {
    const ask = () =>
      fetch(
        `${emulator.url}/oauth/2026-03/token`,
        form({
          grant_type: 'refresh_token',
          refresh_token: 'na1-forged.token',
          client_id: 'demo-client-id',
          client_secret: 'demo-client-secret',
        }),
      );
    try {
      emulator.oauth.errorShape = 'v1-status';
      const v1 = await ask();
      const v1Body = (await v1.json()) as Record<string, unknown>;
      assert.deepEqual([v1.status, v1Body.status, v1Body.category], [400, 'BAD_REFRESH_TOKEN', undefined]);
      emulator.oauth.errorShape = 'rfc6749';
      const rfc = await ask();
      const rfcBody = (await rfc.json()) as Record<string, unknown>;
      assert.deepEqual(
        [rfc.status, rfcBody.error, typeof rfcBody.error_description, rfcBody.category],
        [400, 'invalid_grant', 'string', undefined],
      );
    } finally {
      emulator.oauth.errorShape = 'spec';
    }
  });

  test('token answers carry token_use and a scopes array; introspections every field the 2026-03 spec requires', async () => {
    const oauth = oauthClient(emulator.url);
    const code = (await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!;
    const res = await fetch(
      `${emulator.url}/oauth/2026-03/token`,
      form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: oauth.settings.redirectUri,
        client_id: 'demo-client-id',
        client_secret: 'demo-client-secret',
      }),
    );
    const tokens = accessTokenResponseShape.parse(await res.json());
    assert.equal(tokens.token_use, 'access_token');
    assert.deepEqual([...tokens.scopes!].sort(), [
      'crm.objects.contacts.read',
      'crm.objects.contacts.write',
      'crm.schemas.contacts.read',
    ]);
    assert.equal(
      (tokens as Record<string, unknown>).scope,
      undefined,
      'a space-separated scope string the spec does not have',
    );
    const introspect = async (token: string) => {
      const r = await fetch(
        `${emulator.url}/oauth/2026-03/token/introspect`,
        form({ token, client_id: 'demo-client-id', client_secret: 'demo-client-secret' }),
      );
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const access = await introspect(tokens.access_token);
    assert.equal(accessTokenInfoShape.parse(access.body).active, true);
    assert.equal(refreshTokenInfoShape.parse((await introspect(tokens.refresh_token)).body).token_use, 'refresh_token');
    // An unknown token has no description in the spec: its Error, not a shape of our own.
    const unknown = await introspect('na1-forged.token');
    assert.equal(unknown.status, 400);
    assert.equal(oauthErrorShape.safeParse(unknown.body).success, true, JSON.stringify(unknown.body));
    assert.equal(unknown.body.active, undefined);
  });

  test('the token API answers HubSpot’s 429 and outages when told to; the client says so and refuses nothing', async () => {
    const oauth = oauthClient(emulator.url);
    const grant = await oauth.exchangeCode((await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!);
    emulator.oauth.failNext('503');
    await assert.rejects(oauth.refresh(grant.refreshToken), (e: OAuthError) => e.status === 503 && !e.refusedGrant);
    emulator.oauth.failNext('429');
    await assert.rejects(
      oauth.refresh(grant.refreshToken),
      (e: OAuthError) => e.status === 429 && !e.refusedGrant && /rate limited/.test(e.message),
    );
    assert.ok((await oauth.refresh(grant.refreshToken)).accessToken);
  });

  test('access tokens expire: 401 EXPIRED_AUTHENTICATION, and a refresh gives a working one', async () => {
    const oauth = oauthClient(emulator.url);
    const grant = await oauth.exchangeCode((await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!);
    await sleep(2_100);
    const res = await fetch(`${emulator.url}/crm/v3/properties/contacts`, {
      headers: { authorization: `Bearer ${grant.accessToken}` },
    });
    assert.equal(res.status, 401);
    const body = (await res.json()) as { category: string; message: string };
    assert.equal(body.category, 'EXPIRED_AUTHENTICATION');
    // Introspection still describes the expired token, as inactive, in the spec's shape.
    const described = await fetch(
      `${emulator.url}/oauth/2026-03/token/introspect`,
      form({ token: grant.accessToken, client_id: 'demo-client-id', client_secret: 'demo-client-secret' }),
    );
    const info = accessTokenInfoShape.parse(await described.json());
    assert.deepEqual([info.active, info.expires_in], [false, 0]);
    await assert.rejects(
      oauth.introspect(grant.accessToken),
      (e: OAuthError) => e.error === 'inactive_token' && !e.message.includes(grant.accessToken),
    );
    const fresh = await oauth.refresh(grant.refreshToken);
    assert.notEqual(fresh.accessToken, grant.accessToken);
    assert.equal(fresh.refreshToken, grant.refreshToken, 'HubSpot refresh tokens do not rotate');
    const ok = await fetch(`${emulator.url}/crm/v3/properties/contacts`, {
      headers: { authorization: `Bearer ${fresh.accessToken}` },
    });
    assert.equal(ok.status, 200);
  });

  test('a revoked refresh token is refused (400); introspection refuses it; its access tokens stop working', async () => {
    const oauth = oauthClient(emulator.url);
    const grant = await oauth.exchangeCode((await approveInstall(oauth.installUrl('s'))).searchParams.get('code')!);
    await oauth.revoke(grant.refreshToken);
    await assert.rejects(oauth.refresh(grant.refreshToken), (e: OAuthError) => e.refusedGrant && e.status === 400);
    await assert.rejects(oauth.introspect(grant.refreshToken), (e: OAuthError) => e.refusedGrant && e.status === 400);
    const res = await fetch(`${emulator.url}/crm/v3/properties/contacts`, {
      headers: { authorization: `Bearer ${grant.accessToken}` },
    });
    assert.equal(res.status, 401);
  });

  test('a token carries the scopes granted to it: a read-only install cannot write', async () => {
    const readOnly = new HubSpotOAuthClient({
      ...oauthClient(emulator.url).settings,
      scopes: ['crm.objects.contacts.read'],
    });
    const grant = await readOnly.exchangeCode(
      (await approveInstall(readOnly.installUrl('s'))).searchParams.get('code')!,
    );
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
    await assert.rejects(
      hubspot.crm.contacts.basicApi.getById(
        'maria.garcia@example.com',
        ['email'],
        undefined,
        undefined,
        false,
        'email',
      ),
      (e: { code?: number }) => e.code === 404,
    );
    const denied = await approveInstall(oauth.installUrl('s2'), DEMO_ACCOUNT.accountId, 'deny');
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 's2');
    assert.equal(denied.searchParams.get('code'), null);
  });
});

// The account store and its directory, on embedded PGlite: migrations, tokens encrypted at rest with
// key rotation, refresh ahead of expiry and after a 401, two workers refreshing at once, a revoked
// refresh token, disconnect, and accounts connected while workers run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { AccountStore } from '../src/account-store/store';
import { MIGRATIONS } from '../src/account-store/migrations';
import { CompositeDirectory, StoreDirectory } from '../src/account-store/store-directory';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { staticDirectory } from '../src/hubspot/static-directory';
import { connectDirectly, memoryStore, oauthClient, sleep, startOAuthEmulator, testKeys } from './accounts-support';

const refreshes = (emulator: EmulatorServer) => emulator.oauth.grantCounts.refresh_token ?? 0;

async function crmStatus(emulator: EmulatorServer, token: string): Promise<number> {
  const res = await fetch(`${emulator.url}/crm/v3/properties/contacts`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('account store', () => {
  let emulator: EmulatorServer;
  before(async () => {
    emulator = await startOAuthEmulator({ accessTokenTtlSeconds: 4 });
  });
  after(() => emulator.close());

  test('migrations are applied once, and a persisted store opens again with its data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'account-store-'));
    try {
      const keys = testKeys();
      const first = await AccountStore.open({ dataDir: dir, keys });
      const c = await first.saveStaticConnection({
        workspaceId: 'w1',
        kind: 'private-app',
        appId: 7,
        token: 'pat-na1-static-secret-0001',
      });
      // An embedded store is one process's: a second open of the same directory is refused, not corrupted.
      await assert.rejects(AccountStore.open({ dataDir: dir, keys }), { name: 'DataDirInUse' });
      await first.close();
      const second = await AccountStore.open({ dataDir: dir, keys });
      const versions = await second.db.query<{ version: number }>('SELECT version FROM schema_migrations');
      assert.deepEqual(
        versions.rows.map((r) => Number(r.version)),
        MIGRATIONS.map((m) => m.version),
      );
      assert.equal((await second.tokens(c.accountId))?.accessToken, 'pat-na1-static-secret-0001');
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('tokens are encrypted at rest, bound to their row, and keys rotate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'account-store-keys-'));
    try {
      const old = testKeys(['2026-01']);
      const store = await AccountStore.open({ dataDir: dir, keys: old });
      const oauth = oauthClient(emulator.url);
      const c = await connectDirectly(store, oauth, 'w-enc');
      const plain = await store.tokens(c.accountId);
      const raw = await store.db.query<Record<string, string>>(
        'SELECT * FROM hubspot_connections WHERE account_id = $1',
        [c.accountId],
      );
      const dump = JSON.stringify(raw.rows);
      assert.ok(
        !dump.includes(plain!.refreshToken!) && !dump.includes(plain!.accessToken!),
        'a token is stored in clear',
      );
      assert.equal(raw.rows[0]!.key_id, '2026-01');

      // A ciphertext moved to another connection does not decrypt there.
      const other = await store.saveStaticConnection({
        workspaceId: 'w-enc',
        kind: 'private-app',
        appId: 9,
        token: 'pat-na1-other-secret-0002',
      });
      await store.db.query('UPDATE hubspot_connections SET access_token_enc = $1 WHERE account_id = $2', [
        raw.rows[0]!.access_token_enc,
        other.accountId,
      ]);
      await assert.rejects(store.tokens(other.accountId), /does not decrypt/);
      await store.db.query('DELETE FROM hubspot_connections WHERE account_id = $1', [other.accountId]);
      await store.close();

      // Rotation: a new key encrypts, the old one still decrypts; re-encryption moves every row; then the old key can go.
      const both = { keys: { ...old.keys, '2026-06': testKeys(['x']).keys.x! }, activeKeyId: '2026-06' };
      const rotating = await AccountStore.open({ dataDir: dir, keys: both });
      assert.equal((await rotating.tokens(c.accountId))?.refreshToken, plain!.refreshToken);
      assert.equal(await rotating.reencryptTokens(), 1);
      const moved = await rotating.db.query<{ key_id: string }>(
        'SELECT key_id FROM hubspot_connections WHERE account_id = $1',
        [c.accountId],
      );
      assert.equal(moved.rows[0]!.key_id, '2026-06');
      await rotating.close();
      const newOnly = await AccountStore.open({
        dataDir: dir,
        keys: { keys: { '2026-06': both.keys['2026-06'] }, activeKeyId: '2026-06' },
      });
      assert.equal((await newOnly.tokens(c.accountId))?.refreshToken, plain!.refreshToken);
      await newOnly.close();
      const oldOnly = await AccountStore.open({ dataDir: dir, keys: old });
      await assert.rejects(oldOnly.tokens(c.accountId), /key "2026-06", which is not configured/);
      await oldOnly.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the access token is refreshed ahead of its expiry, once, and keeps working', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const c = await connectDirectly(store, oauth, 'w-ahead');
    const worker = new StoreDirectory(store, { oauth, cacheTtlMs: 60_000 });
    const first = await worker.accessToken(c.accountId);
    assert.equal(await worker.accessToken(c.accountId), first);
    assert.equal(worker.refreshes, 0);
    // 4 s tokens are refreshed a quarter of their life (1 s) before they expire.
    await sleep(3_200);
    const before = refreshes(emulator);
    const second = await worker.accessToken(c.accountId);
    assert.notEqual(second, first);
    assert.equal(worker.refreshes, 1);
    assert.equal(refreshes(emulator) - before, 1);
    assert.equal(await crmStatus(emulator, second), 200);
    await sleep(1_000);
    assert.equal(await crmStatus(emulator, first), 401, 'the old token has expired by now');
    assert.equal(await crmStatus(emulator, await worker.accessToken(c.accountId)), 200);
    await store.close();
  });

  test('a 401 EXPIRED_AUTHENTICATION invalidates the token: one refresh, and the call succeeds', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const c = await connectDirectly(store, oauth, 'w-401');
    // The store believes the token is good for an hour; HubSpot has expired it (clock skew, early expiry).
    await store.db.query(
      `UPDATE hubspot_connections SET access_expires_at = now() + interval '1 hour', access_issued_at = now() WHERE account_id = $1`,
      [c.accountId],
    );
    const worker = new StoreDirectory(store, { oauth, basePath: emulator.url });
    const other = new StoreDirectory(store, { oauth, basePath: emulator.url, cacheTtlMs: 0 });
    const stale = await worker.accessToken(c.accountId);
    await sleep(4_100);
    assert.equal(await crmStatus(emulator, stale), 401);
    const before = refreshes(emulator);
    const schema = await (await new HubSpotAccounts(worker).get(c.accountId)).contactPropertySchema();
    assert.ok(schema.some((p) => p.name === 'favorite_product'));
    assert.equal(refreshes(emulator) - before, 1);
    // The other worker moves to the new token without refreshing again.
    const fresh = await other.accessToken(c.accountId);
    assert.notEqual(fresh, stale);
    assert.equal(fresh, await worker.accessToken(c.accountId));
    assert.equal(refreshes(emulator) - before, 1);
    await store.close();
  });

  test('two workers refreshing at once: one refresh call, both get the same valid token', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const c = await connectDirectly(store, oauth, 'w-race');
    const a = new StoreDirectory(store, { oauth });
    const b = new StoreDirectory(store, { oauth });
    await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
      c.accountId,
      new Date(Date.now() - 1000),
    ]);
    const before = refreshes(emulator);
    const tokens = await Promise.all(
      [...Array(8)].flatMap(() => [a.accessToken(c.accountId), b.accessToken(c.accountId)]),
    );
    assert.equal(refreshes(emulator) - before, 1, 'more than one worker refreshed');
    assert.equal(new Set(tokens).size, 1);
    assert.equal(a.refreshes + b.refreshes, 1);
    assert.equal(await crmStatus(emulator, tokens[0]!), 200);
    const row = await store.tokens(c.accountId);
    assert.equal(row!.accessToken, tokens[0]);
    assert.equal(row!.leaseUntil, undefined, 'the refresh lease is released');
    await store.close();
  });

  test('a revoked refresh token: needs-reconnect at once, named, no more refresh calls; reconnecting restores it', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const c = await connectDirectly(store, oauth, 'w-revoked');
    const worker = new StoreDirectory(store, { oauth, cacheTtlMs: 0 });
    const t = await store.tokens(c.accountId);
    await oauth.revoke(t!.refreshToken!);
    await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
      c.accountId,
      new Date(Date.now() - 1000),
    ]);
    await assert.rejects(
      worker.accessToken(c.accountId),
      (e: Error) =>
        e.name === 'AccountNeedsReconnect' && e.message.includes(c.accountId) && !e.message.includes(t!.refreshToken!),
    );
    const before = refreshes(emulator);
    const started = Date.now();
    await assert.rejects(worker.accessToken(c.accountId), { name: 'AccountNeedsReconnect' });
    assert.ok(Date.now() - started < 500);
    assert.equal(refreshes(emulator), before, 'a needs-reconnect account must not call HubSpot again');
    assert.equal((await worker.connection(c.accountId))?.status, 'needs-reconnect');
    assert.match(
      (await store.connection(c.accountId))!.statusReason!,
      /refused the refresh token \(400 VALIDATION_ERROR\)/,
    );

    // The operator reconnects the same portal in the same workspace: the same account id works again.
    const again = await connectDirectly(store, oauth, 'w-revoked');
    assert.equal(again.accountId, c.accountId);
    assert.equal(again.status, 'connected');
    assert.equal(await crmStatus(emulator, await worker.accessToken(c.accountId)), 200);
    await store.close();
  });

  // HubSpot has refused dead refresh tokens in three dialects; each must end the connection at once.
  for (const [shape, code] of [
    ['spec', 'VALIDATION_ERROR'],
    ['v1-status', 'BAD_REFRESH_TOKEN'],
    ['rfc6749', 'invalid_grant'],
  ] as const) {
    test(`a revoked refresh token answered in the ${shape} dialect: needs-reconnect at the first refresh, no retry`, async () => {
      const store = await memoryStore();
      const oauth = oauthClient(emulator.url);
      const c = await connectDirectly(store, oauth, `w-dialect-${shape}`);
      const worker = new StoreDirectory(store, { oauth, cacheTtlMs: 0 });
      await oauth.revoke((await store.tokens(c.accountId))!.refreshToken!);
      await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        c.accountId,
        new Date(Date.now() - 1000),
      ]);
      emulator.oauth.errorShape = shape;
      try {
        const before = refreshes(emulator);
        await assert.rejects(worker.accessToken(c.accountId), { name: 'AccountNeedsReconnect' });
        assert.equal(refreshes(emulator) - before, 1, 'the refused refresh was tried again');
        assert.equal((await store.connection(c.accountId))?.status, 'needs-reconnect');
        assert.equal(
          (await store.connection(c.accountId))?.statusReason,
          `HubSpot refused the refresh token (400 ${code})`,
        );
        // The run that needed the token fails at once, named, not retried.
        const failure = await new HubSpotAccounts(worker).get(c.accountId).then(
          () => assert.fail('the account was served'),
          (e: unknown) => e as { type?: string; nonRetryable?: boolean; message: string },
        );
        assert.deepEqual([failure.type, failure.nonRetryable], ['HubSpotAccountNeedsReconnect', true]);
        assert.match(failure.message, /needs to be reconnected/);
      } finally {
        emulator.oauth.errorShape = 'spec';
        await store.close();
      }
    });
  }

  test('a 5xx or a 429 from the token API is not a dead connection: the refresh fails retryably and works next time', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const c = await connectDirectly(store, oauth, 'w-token-outage');
    const worker = new StoreDirectory(store, { oauth, cacheTtlMs: 0 });
    for (const kind of ['500', '503', '429'] as const) {
      await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        c.accountId,
        new Date(Date.now() - 1000),
      ]);
      emulator.oauth.failNext(kind);
      await assert.rejects(
        worker.accessToken(c.accountId),
        (e: Error) => e.name !== 'AccountNeedsReconnect' && e.message.includes(`(${kind} `),
      );
      assert.equal((await store.connection(c.accountId))?.status, 'connected', `a ${kind} marked the connection dead`);
      // The adapter turns it into a retryable failure of the run.
      await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        c.accountId,
        new Date(Date.now() - 1000),
      ]);
      emulator.oauth.failNext(kind);
      const account = await new HubSpotAccounts(worker).get(c.accountId);
      await assert.rejects(
        account.contactPropertySchema(),
        (e: { type?: string; nonRetryable?: boolean }) =>
          e.type === 'HubSpotCredentialsUnavailable' && e.nonRetryable === false,
      );
      assert.equal(await crmStatus(emulator, await worker.accessToken(c.accountId)), 200);
    }
    await store.close();
  });

  test('workers see a new connection without restart, and stop using a disconnected one', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const worker = new StoreDirectory(store, { oauth, cacheTtlMs: 200 });
    assert.deepEqual(await worker.accountIds(), []);
    const c = await connectDirectly(store, oauth, 'w-live');
    await sleep(250);
    assert.deepEqual(await worker.accountIds(), [c.accountId]);
    assert.equal((await worker.connection(c.accountId))?.workspaceId, 'w-live');
    assert.equal(await crmStatus(emulator, await worker.accessToken(c.accountId)), 200);

    assert.equal(
      await store.disconnect('another-workspace', c.accountId),
      undefined,
      'another workspace cannot disconnect it',
    );
    const gone = await store.disconnect('w-live', c.accountId);
    assert.ok(gone?.refreshToken);
    await sleep(250);
    assert.equal(await worker.connection(c.accountId), undefined);
    await assert.rejects(worker.accessToken(c.accountId), { name: 'AccountNotConnected' });
    assert.deepEqual(await worker.accountIds(), []);
    await store.close();
  });

  test('a composite directory: static accounts from the worker’s secrets first, then the store', async () => {
    const store = await memoryStore();
    const oauth = oauthClient(emulator.url);
    const c = await connectDirectly(store, oauth, 'w-comp');
    const stat = staticDirectory([
      { accountId: 'static-demo', token: DEMO_ACCOUNT.token, appId: DEMO_ACCOUNT.appId, basePath: emulator.url },
    ]);
    const both = new CompositeDirectory([stat, new StoreDirectory(store, { oauth })]);
    assert.deepEqual((await both.accountIds()).sort(), [c.accountId, 'static-demo'].sort());
    assert.equal(await both.accessToken('static-demo'), DEMO_ACCOUNT.token);
    assert.equal(await crmStatus(emulator, await both.accessToken(c.accountId)), 200);
    assert.equal((await both.connection(c.accountId))?.kind, 'oauth');
    assert.equal(await both.connection('nobody'), undefined);
    await assert.rejects(both.accessToken('nobody'), { name: 'AccountNotConnected' });
    await store.saveActionConfig('w-comp', 'a1', { id: 'a1' });
    assert.deepEqual(await both.savedActionConfig?.('w-comp', 'a1'), {
      workspaceId: 'w-comp',
      actionId: 'a1',
      config: { id: 'a1' },
    });
    assert.equal(await both.savedActionConfig?.('other', 'a1'), undefined);
    await store.close();
  });
});

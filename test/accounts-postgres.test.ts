// The account store's SQL on a real PostgreSQL server (Debian's package; scripts/ci-postgres.sh starts
// one): runs only when PG_TEST_URL or DATABASE_URL is set. Each run works in a schema of its own.
// Two stores on separate connection pools stand for two worker processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client as PgClient } from 'pg';
import type { EmulatorServer } from '../hubspot-emulator/server';
import { AccountStore } from '../src/account-store/store';
import { MIGRATIONS } from '../src/account-store/migrations';
import { StoreDirectory } from '../src/account-store/store-directory';
import { skipUnless } from './helpers/skips';
import { connectDirectly, oauthClient, startOAuthEmulator, testKeys } from './accounts-support';

const BASE_URL = process.env.PG_TEST_URL ?? process.env.DATABASE_URL;

describe(
  'account store on PostgreSQL',
  {
    skip: skipUnless(
      !!BASE_URL,
      'account store on PostgreSQL',
      'PG_TEST_URL (or DATABASE_URL) names no PostgreSQL database',
      'PG_TEST_URL="$(scripts/ci-postgres.sh)" npm test (a throwaway server from Debian\'s postgresql package; stop it with the command it prints)',
    ),
  },
  () => {
    const schema = `account_store_${randomBytes(4).toString('hex')}`;
    const keys = testKeys();
    let url: string;
    let emulator: EmulatorServer;
    let first: AccountStore;
    let second: AccountStore;

    before(async () => {
      const admin = new PgClient({ connectionString: BASE_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const u = new URL(BASE_URL!);
      u.searchParams.set('options', `-c search_path=${schema}`);
      url = u.toString();
      emulator = await startOAuthEmulator({ accessTokenTtlSeconds: 60 });
      // Two workers starting at once both try to migrate: the lock makes one do it.
      [first, second] = await Promise.all([AccountStore.open({ url, keys }), AccountStore.open({ url, keys })]);
    });
    after(async () => {
      await first?.close();
      await second?.close();
      await emulator?.close();
      const admin = new PgClient({ connectionString: BASE_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    test('migrations ran once, in this schema, on a real server', async () => {
      assert.equal(first.db.engine, 'postgres');
      const r = await first.db.query<{ version: number; schemaname: string }>(
        `SELECT m.version, t.schemaname FROM schema_migrations m, pg_tables t WHERE t.tablename = 'hubspot_connections' ORDER BY m.version`,
      );
      assert.deepEqual(
        r.rows.map((x) => [Number(x.version), x.schemaname]),
        MIGRATIONS.map((m) => [m.version, schema]),
      );
    });

    test('connect, encrypt, refresh once across two workers, revoke: the same SQL as PGlite', async () => {
      const oauth = oauthClient(emulator.url);
      const c = await connectDirectly(first, oauth, 'pg-ws');
      assert.equal((await second.listConnections('pg-ws'))[0]?.accountId, c.accountId);
      const raw = await first.db.query<Record<string, unknown>>(
        'SELECT * FROM hubspot_connections WHERE account_id = $1',
        [c.accountId],
      );
      const plain = await second.tokens(c.accountId);
      assert.ok(!JSON.stringify(raw.rows).includes(plain!.refreshToken!));

      await first.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        c.accountId,
        new Date(Date.now() - 1000),
      ]);
      const a = new StoreDirectory(first, { oauth });
      const b = new StoreDirectory(second, { oauth });
      const before = emulator.oauth.grantCounts.refresh_token ?? 0;
      const tokens = await Promise.all(
        [...Array(6)].flatMap(() => [a.accessToken(c.accountId), b.accessToken(c.accountId)]),
      );
      assert.equal((emulator.oauth.grantCounts.refresh_token ?? 0) - before, 1);
      assert.equal(new Set(tokens).size, 1);

      await oauth.revoke(plain!.refreshToken!);
      await first.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        c.accountId,
        new Date(Date.now() - 1000),
      ]);
      const fresh = new StoreDirectory(second, { oauth });
      await assert.rejects(fresh.accessToken(c.accountId), { name: 'AccountNeedsReconnect' });
      assert.equal((await first.connection(c.accountId))?.status, 'needs-reconnect');
    });

    test('write rules learned from HubSpot’s refusals: one row per property, rule and write, the newest kept', async () => {
      const refusal = {
        rule: 'REQUIRED_PROPERTY',
        missing: ['lastname', 'company'],
        required: ['lastname', 'company'],
        condition: [],
        write: 'create' as const,
      };
      await first.rememberRefusals('pg-learned', [refusal]);
      await second.rememberRefusals('pg-learned', [{ ...refusal, missing: ['lastname'] }]);
      const learned = await first.learnedWriteRules('pg-learned');
      assert.deepEqual(learned.map((l) => [l.property, l.rule, l.write]).sort(), [
        ['company', 'REQUIRED_PROPERTY', 'create'],
        ['lastname', 'REQUIRED_PROPERTY', 'create'],
      ]);
      assert.equal(learned[0]!.property, 'lastname', 'the newest first');
      assert.deepEqual(await first.learnedWriteRules('another-account'), []);
    });

    test('states are single use; action configs and disconnects are per workspace', async () => {
      await first.createOAuthState('st-1', {
        workspaceId: 'pg-ws',
        returnTo: '/',
        expiresAt: Date.now() + 60_000,
        mode: 'page',
        bindingHash: 'h',
        codeVerifier: 'v',
      });
      assert.deepEqual(await second.peekOAuthState('st-1'), {
        workspaceId: 'pg-ws',
        returnTo: '/',
        mode: 'page',
        bindingHash: 'h',
        codeVerifier: 'v',
      });
      const [x, y] = await Promise.all([first.consumeOAuthState('st-1'), second.consumeOAuthState('st-1')]);
      assert.equal([x, y].filter(Boolean).length, 1);
      assert.equal(await first.peekOAuthState('st-1'), undefined);
      // A page session ends everywhere when it is revoked.
      await first.createPageSession('sess-1', 'pg-ws', Date.now() + 60_000);
      assert.equal(await second.pageSession('sess-1'), 'pg-ws');
      assert.equal(await second.revokeWorkspaceSessions('pg-ws'), 1);
      assert.equal(await first.pageSession('sess-1'), undefined);
      await first.saveActionConfig('pg-ws', 'act', { id: 'act', v: 1 });
      await second.saveActionConfig('pg-ws', 'act', { id: 'act', v: 2 });
      assert.deepEqual((await first.actionConfig('pg-ws', 'act'))?.config, { id: 'act', v: 2 });
      assert.equal(await first.actionConfig('other', 'act'), undefined);
      const s = await first.saveStaticConnection({
        workspaceId: 'pg-ws',
        kind: 'service-key',
        appId: 5,
        token: 'service-key-secret-0001',
      });
      assert.equal(await second.disconnect('other', s.accountId), undefined);
      assert.ok(await second.disconnect('pg-ws', s.accountId));
      assert.equal((await first.connection(s.accountId))?.status, 'disconnected');
    });
  },
);

// The worker's environment configuration: sane defaults, and errors that name the bad variable.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, hubspotAccountsOptions, loadConfig, workerBuildOf } from '../src/environment/config';

const fails = (env: NodeJS.ProcessEnv, pattern: RegExp) =>
  assert.throws(
    () => loadConfig(env),
    (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
  );

describe('worker configuration', () => {
  test('nothing configured: development with embedded servers and documented defaults', () => {
    const { env, hubspotAccounts } = loadConfig({});
    assert.equal(env.WORKER_MODE, 'development');
    assert.equal(env.TEMPORAL_ADDRESS, undefined);
    assert.equal(env.TEMPORAL_TASK_QUEUE, 'hubspot-contact-sync');
    assert.equal(env.TEMPORAL_DEV_UI_PORT, 8233);
    assert.equal(hubspotAccounts, undefined);
  });

  test('production refuses embedded servers', () => {
    fails({ WORKER_MODE: 'production' }, /needs TEMPORAL_ADDRESS/);
    fails(
      { WORKER_MODE: 'production', TEMPORAL_ADDRESS: 'temporal:7233' },
      /needs HubSpot accounts: HUBSPOT_ACCOUNTS or HUBSPOT_ACCOUNTS_FILE \(static\), or DATABASE_URL/,
    );
  });

  test('each bad value is named', () => {
    fails({ WORKER_MODE: 'staging' }, /^Invalid configuration: WORKER_MODE: /);
    fails({ TEMPORAL_DEV_UI_PORT: '99999' }, /TEMPORAL_DEV_UI_PORT/);
    fails({ TEMPORAL_TLS: 'maybe' }, /TEMPORAL_TLS/);
    fails({ HUBSPOT_ACCOUNTS: '[{' }, /HUBSPOT_ACCOUNTS is not valid JSON/);
    fails(
      { HUBSPOT_ACCOUNTS: '[{"accountId":"acme","appId":1}]' },
      /HUBSPOT_ACCOUNTS: \[0\]: give exactly one of token, tokenEnv, tokenFile/,
    );
    fails({ HUBSPOT_ACCOUNTS: '[{"accountId":"acme","token":"t","appId":"x"}]' }, /HUBSPOT_ACCOUNTS: \[0\]\.appId/);
    fails(
      { HUBSPOT_ACCOUNTS: '[{"accountId":"a","token":"t","appId":1},{"accountId":"a","token":"u","appId":2}]' },
      /\[1\]: account "a" is listed twice/,
    );
    fails(
      { HUBSPOT_ACCOUNTS: '[{"accountId":"acme","tokenEnv":"ACME_TOKEN","appId":1}]' },
      /\(acme\): environment variable ACME_TOKEN is empty or unset/,
    );
    fails({ HUBSPOT_ACCOUNTS_FILE: '/nonexistent/accounts.json' }, /cannot be read: ENOENT/);
    fails({ WORKER_MAX_CACHED_WORKFLOWS: '0' }, /WORKER_MAX_CACHED_WORKFLOWS/);
    fails({ TEMPORAL_TLS_CERT_PATH: '/a.pem' }, /go together/);
  });

  test('HubSpot batching: on with a 25 ms window unless configured; a bad value is named', () => {
    assert.deepEqual(hubspotAccountsOptions(loadConfig({}).env), { batching: true, batchWindowMs: 25 });
    assert.deepEqual(
      hubspotAccountsOptions(loadConfig({ HUBSPOT_BATCHING: 'off', HUBSPOT_BATCH_WINDOW_MS: '100' }).env),
      { batching: false, batchWindowMs: 100 },
    );
    fails({ HUBSPOT_BATCHING: 'false' }, /HUBSPOT_BATCHING/);
    fails({ HUBSPOT_BATCH_WINDOW_MS: '-5' }, /HUBSPOT_BATCH_WINDOW_MS/);
    fails({ HUBSPOT_BATCH_WINDOW_MS: 'soon' }, /HUBSPOT_BATCH_WINDOW_MS/);
  });

  test('Worker Versioning: off unless the deployment and the build are both given; names Temporal refuses are refused at start', () => {
    assert.equal(workerBuildOf(loadConfig({}).env), undefined);
    assert.deepEqual(
      workerBuildOf(
        loadConfig({ TEMPORAL_DEPLOYMENT_NAME: 'hubspot-contact-sync', TEMPORAL_WORKER_BUILD_ID: '2026.12.1' }).env,
      ),
      {
        deploymentName: 'hubspot-contact-sync',
        buildId: '2026.12.1',
      },
    );
    fails({ TEMPORAL_WORKER_BUILD_ID: 'abc123' }, /TEMPORAL_WORKER_BUILD_ID needs TEMPORAL_DEPLOYMENT_NAME/);
    fails(
      { TEMPORAL_DEPLOYMENT_NAME: 'hubspot.sync', TEMPORAL_WORKER_BUILD_ID: 'abc123' },
      /TEMPORAL_DEPLOYMENT_NAME: may not contain '\.' or ':'/,
    );
    fails(
      { TEMPORAL_DEPLOYMENT_NAME: 'sync', TEMPORAL_WORKER_BUILD_ID: '__abc' },
      /TEMPORAL_WORKER_BUILD_ID: may not start with "__"/,
    );
    // The ops commands need the deployment only; the worker refuses to run without its build id.
    const opsOnly = loadConfig({ TEMPORAL_DEPLOYMENT_NAME: 'hubspot-contact-sync' }).env;
    assert.throws(
      () => workerBuildOf(opsOnly),
      (e: unknown) => e instanceof ConfigError && /needs TEMPORAL_WORKER_BUILD_ID/.test(e.message),
    );
  });

  test('tokens come from the environment, a variable or a secret file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-config-'));
    writeFileSync(join(dir, 'globex.token'), 'globex-secret\n');
    const accountsFile = join(dir, 'accounts.json');
    writeFileSync(
      accountsFile,
      JSON.stringify([
        { accountId: 'acme', tokenEnv: 'ACME_TOKEN', appId: 11, rateLimitPerTenSeconds: 100 },
        { accountId: 'globex', tokenFile: join(dir, 'globex.token'), appId: '22', basePath: 'http://127.0.0.1:8787' },
      ]),
    );
    const { hubspotAccounts } = loadConfig({ HUBSPOT_ACCOUNTS_FILE: accountsFile, ACME_TOKEN: 'acme-secret' });
    assert.deepEqual(hubspotAccounts, [
      { accountId: 'acme', token: 'acme-secret', appId: 11, rateLimitPerTenSeconds: 100 },
      { accountId: 'globex', token: 'globex-secret', appId: 22, basePath: 'http://127.0.0.1:8787' },
    ]);
  });
});

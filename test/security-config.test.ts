// Production mode refuses an unsafe setup (each refusal names the variable and its opt-out); secrets
// come from files; no configuration error shows a secret; the Temporal connection honours the TLS
// settings; the worker's log lines carry no task token.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  hubspotBaseUrlProblem,
  loadConfig,
  readSecret,
  temporalConnectionOptions,
} from '../src/environment/config';
import { keysFromEnv } from '../src/codec/encryption-codec';
import { dataConverterFromEnv } from '../src/codec/data-converter';
import { createWorkerLogger } from '../src/worker/worker';
import { accountsEnvSchema, productionProblems, startAccountServices } from '../src/worker/account-services';

const TOKEN = 'pat-na1-7f3c9a1e-5b2d-4c8e-9f01-a2b3c4d5e6f7';
const CODEC_KEYS = JSON.stringify({ k1: randomBytes(32).toString('base64') });
const dir = mkdtempSync(join(tmpdir(), 'security-config-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const production = (overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  WORKER_MODE: 'production',
  TEMPORAL_ADDRESS: 'temporal.internal:7233',
  TEMPORAL_TLS: 'true',
  CODEC_KEYS,
  HUBSPOT_ACCOUNTS: JSON.stringify([{ accountId: 'acme', token: TOKEN, appId: 1 }]),
  ...overrides,
});
const refused = (env: NodeJS.ProcessEnv, ...patterns: RegExp[]) =>
  assert.throws(
    () => loadConfig(env),
    (e: unknown) => e instanceof ConfigError && patterns.every((p) => p.test(e.message)),
  );

describe('production mode refuses an unsafe setup', () => {
  test('a safe production setup is accepted', () => {
    const { hubspotAccounts } = loadConfig(production());
    assert.equal(hubspotAccounts?.[0]?.token, TOKEN);
  });

  test('no TLS to Temporal: refused, naming the settings and the opt-out', () => {
    refused(
      production({ TEMPORAL_TLS: undefined }),
      /TEMPORAL_TLS_CERT_PATH/,
      /TEMPORAL_API_KEY/,
      /ALLOW_TEMPORAL_WITHOUT_TLS=true/,
    );
    refused(production({ TEMPORAL_TLS: 'false' }), /needs TLS to Temporal/);
    assert.ok(loadConfig(production({ TEMPORAL_TLS: undefined, ALLOW_TEMPORAL_WITHOUT_TLS: 'true' })));
    const cert = file('client.pem', 'cert');
    const key = file('client.key', 'key');
    assert.ok(
      loadConfig(production({ TEMPORAL_TLS: undefined, TEMPORAL_TLS_CERT_PATH: cert, TEMPORAL_TLS_KEY_PATH: key })),
    );
    assert.ok(
      loadConfig(production({ TEMPORAL_TLS: undefined, TEMPORAL_API_KEY_FILE: file('api-key', 'cloud-key\n') })),
    );
  });

  test('no payload encryption: refused, naming CODEC_KEYS_FILE and the opt-out', () => {
    refused(production({ CODEC_KEYS: undefined }), /CODEC_KEYS_FILE/, /ALLOW_UNENCRYPTED_PAYLOADS=true/);
    assert.ok(loadConfig(production({ CODEC_KEYS: undefined, CODEC_KEYS_FILE: file('codec-keys.json', CODEC_KEYS) })));
    assert.ok(loadConfig(production({ CODEC_KEYS: undefined, ALLOW_UNENCRYPTED_PAYLOADS: 'true' })));
  });

  test("a HubSpot base URL that is not https:// on HubSpot's host: refused", () => {
    const withBase = (basePath: string, extra: NodeJS.ProcessEnv = {}) =>
      production({
        HUBSPOT_ACCOUNTS: JSON.stringify([{ accountId: 'acme', token: TOKEN, appId: 1, basePath }]),
        ...extra,
      });
    for (const evil of [
      'http://api.hubapi.com.evil.example',
      'https://api.hubapi.com.evil.example',
      'http://api.hubapi.com',
      'https://evil.example/api.hubapi.com',
      'https://api.hubapi.com@evil.example',
      'https://user:pw@api.hubapi.com',
      'https://api.hubapi.com:8443',
      'https://api.hubapi.com/proxy?to=evil',
      'https://hubapi.com',
      'http://127.0.0.1:8787',
    ]) {
      assert.throws(
        () => loadConfig(withBase(evil)),
        (e: unknown) =>
          e instanceof ConfigError &&
          /\[0\] \(acme\): basePath/.test(e.message) &&
          /HUBSPOT_ALLOWED_BASE_URLS/.test(e.message) &&
          !e.message.includes(TOKEN),
        evil,
      );
    }
    assert.ok(loadConfig(withBase('https://api.hubapi.com')));
    assert.ok(loadConfig(withBase('https://api.hubapi.com/')));
    // The named opt-out accepts exactly the listed URL.
    assert.ok(
      loadConfig(
        withBase('https://hubspot-egress.internal', { HUBSPOT_ALLOWED_BASE_URLS: 'https://hubspot-egress.internal' }),
      ),
    );
    refused(
      withBase('https://hubspot-egress.internal.evil.example', {
        HUBSPOT_ALLOWED_BASE_URLS: 'https://hubspot-egress.internal',
      }),
      /basePath/,
    );
    // Development keeps pointing at the emulator.
    assert.ok(
      loadConfig({
        HUBSPOT_ACCOUNTS: JSON.stringify([
          { accountId: 'acme', token: TOKEN, appId: 1, basePath: 'http://127.0.0.1:8787' },
        ]),
      }),
    );
    assert.equal(hubspotBaseUrlProblem('https://api-eu1.hubapi.com'), undefined);
  });
});

describe('secrets come from files and never appear in an error', () => {
  test('readSecret: NAME or NAME_FILE, trimmed; errors name the variables', () => {
    const path = file('token', `${TOKEN}\n`);
    assert.equal(readSecret({ CONFIG_API_TOKEN_FILE: path }, 'CONFIG_API_TOKEN'), TOKEN);
    assert.equal(readSecret({ CONFIG_API_TOKEN: TOKEN }, 'CONFIG_API_TOKEN'), TOKEN);
    assert.equal(readSecret({}, 'CONFIG_API_TOKEN'), undefined);
    assert.throws(
      () => readSecret({ CONFIG_API_TOKEN: TOKEN, CONFIG_API_TOKEN_FILE: path }, 'CONFIG_API_TOKEN'),
      /Set CONFIG_API_TOKEN or CONFIG_API_TOKEN_FILE, not both/,
    );
    assert.throws(
      () => readSecret({ ACCOUNT_STORE_KEYS_FILE: join(dir, 'missing') }, 'ACCOUNT_STORE_KEYS'),
      /ACCOUNT_STORE_KEYS_FILE \(.*missing\) cannot be read: ENOENT/,
    );
    assert.throws(
      () => readSecret({ ACCOUNT_STORE_KEYS_FILE: file('empty', '\n') }, 'ACCOUNT_STORE_KEYS'),
      /ACCOUNT_STORE_KEYS_FILE .* is empty/,
    );
    assert.equal(loadConfig({ TEMPORAL_API_KEY_FILE: file('cloud', 'cloud-key\n') }).env.TEMPORAL_API_KEY, 'cloud-key');
  });

  test('no configuration error shows any part of a token or key (scanned)', () => {
    const key = randomBytes(32).toString('base64');
    const account = (extra: Record<string, unknown>) => ({ accountId: 'acme', token: TOKEN, appId: 1, ...extra });
    const bad: Array<[string, () => unknown]> = [
      [
        'JSON broken right after the token',
        () => loadConfig({ HUBSPOT_ACCOUNTS: `[{"accountId":"acme","token":"${TOKEN}" "appId":1}]` }),
      ],
      ['JSON cut inside the token', () => loadConfig({ HUBSPOT_ACCOUNTS: `[{"accountId":"acme","token":"${TOKEN}` })],
      ['token as the JSON itself', () => loadConfig({ HUBSPOT_ACCOUNTS: TOKEN })],
      [
        'token where a number goes',
        () => loadConfig({ HUBSPOT_ACCOUNTS: JSON.stringify([account({ appId: TOKEN })]) }),
      ],
      ['token as a URL', () => loadConfig({ HUBSPOT_ACCOUNTS: JSON.stringify([account({ basePath: TOKEN })]) })],
      ['token and tokenEnv', () => loadConfig({ HUBSPOT_ACCOUNTS: JSON.stringify([account({ tokenEnv: 'X' })]) })],
      [
        'token as the account id twice',
        () =>
          loadConfig({
            HUBSPOT_ACCOUNTS: JSON.stringify([account({ accountId: 'a', rateLimitPerTenSeconds: TOKEN })]),
          }),
      ],
      [
        'broken accounts file',
        () => loadConfig({ HUBSPOT_ACCOUNTS_FILE: file('accounts.json', `[{"token":"${TOKEN}",}]`) }),
      ],
      ['token as TEMPORAL_TLS', () => loadConfig({ TEMPORAL_TLS: TOKEN })],
      ['token as WORKER_MODE', () => loadConfig({ WORKER_MODE: TOKEN })],
      [
        'API key inline and as a file',
        () => loadConfig({ TEMPORAL_API_KEY: TOKEN, TEMPORAL_API_KEY_FILE: file('k', 'x') }),
      ],
      [
        'production with an evil base URL',
        () =>
          loadConfig(
            production({
              HUBSPOT_ACCOUNTS: JSON.stringify([account({ basePath: 'http://api.hubapi.com.evil.example' })]),
            }),
          ),
      ],
      ['codec keys: broken JSON', () => keysFromEnv({ CODEC_KEYS: `{"k1":"${key}" "k2":"${TOKEN}"}` })],
      ['codec keys: short key', () => keysFromEnv({ CODEC_KEYS: JSON.stringify({ k1: key.slice(0, -4) }) })],
      ['codec keys: not base64', () => keysFromEnv({ CODEC_KEYS: JSON.stringify({ k1: TOKEN }) })],
      [
        'codec keys file: broken JSON',
        () => dataConverterFromEnv({ CODEC_KEYS_FILE: file('keys.json', `{"k1":"${key}",`) }),
      ],
    ];
    const fragments = (secret: string) => Array.from({ length: secret.length - 7 }, (_, i) => secret.slice(i, i + 8));
    for (const [name, run] of bad) {
      let message: string | undefined;
      try {
        run();
      } catch (err) {
        message = `${(err as Error).message}\n${(err as Error).stack ?? ''}`;
      }
      assert.ok(message, `${name}: no error`);
      for (const secret of [TOKEN, key]) {
        const shown: string = message ?? '';
        const leaked: string | undefined = fragments(secret).find((f) => shown.includes(f));
        assert.equal(leaked, undefined, `${name}: the error shows "${leaked}": ${message}`);
      }
    }
  });
});

describe('production refuses account-service settings that leak secrets or trust the wrong host', () => {
  const accounts = (overrides: Record<string, string> = {}) =>
    accountsEnvSchema.parse({
      CONFIG_API_PUBLIC_URL: 'https://config.example.com',
      HUBSPOT_OAUTH_CLIENT_ID: 'client-id',
      HUBSPOT_OAUTH_CLIENT_SECRET: 'client-secret-0123456789',
      CONFIG_API_RETURN_ORIGINS: 'https://platform.example.com',
      ...overrides,
    });

  test('a safe setup passes', () => {
    assert.deepEqual(productionProblems(accounts()), []);
    assert.deepEqual(
      productionProblems(
        accounts({
          HUBSPOT_API_BASE: 'https://api-eu1.hubapi.com',
          HUBSPOT_OAUTH_AUTHORIZE_URL: 'https://app-eu1.hubspot.com/oauth/authorize',
        }),
      ),
      [],
    );
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['HubSpot API over http', { HUBSPOT_API_BASE: 'http://api.hubapi.com' }, /HUBSPOT_API_BASE is not https/],
    [
      'HubSpot API on another host',
      { HUBSPOT_API_BASE: 'https://api.hubapi.com.evil.example' },
      /HUBSPOT_API_BASE is not on HubSpot's API host/,
    ],
    [
      'HubSpot API on another port of this machine',
      { HUBSPOT_API_BASE: 'http://127.0.0.1:9999' },
      /HUBSPOT_API_BASE is not https/,
    ],
    [
      'install page elsewhere',
      { HUBSPOT_OAUTH_AUTHORIZE_URL: 'https://evil.example/oauth/authorize' },
      /HUBSPOT_OAUTH_AUTHORIZE_URL must be HubSpot's install page/,
    ],
    [
      'install page over http',
      { HUBSPOT_OAUTH_AUTHORIZE_URL: 'http://app.hubspot.com/oauth/authorize' },
      /HUBSPOT_OAUTH_AUTHORIZE_URL/,
    ],
    [
      'public URL over http',
      { CONFIG_API_PUBLIC_URL: 'http://config.example.com' },
      /CONFIG_API_PUBLIC_URL must be an https:\/\/ URL/,
    ],
    [
      'redirect URL over http',
      { HUBSPOT_OAUTH_REDIRECT_URI: 'http://config.example.com/oauth/callback' },
      /HUBSPOT_OAUTH_REDIRECT_URI must be an https:\/\/ URL/,
    ],
    [
      'return origin over http',
      { CONFIG_API_RETURN_ORIGINS: 'http://platform.example.com' },
      /CONFIG_API_RETURN_ORIGINS \(http:\/\/platform.example.com\) must be an https/,
    ],
  ];
  for (const [name, overrides, pattern] of cases) {
    test(`refused: ${name}`, () => {
      const problems = productionProblems(accounts(overrides));
      assert.ok(
        problems.some((p) => pattern.test(p)),
        problems.join(' | ') || 'no problem found',
      );
    });
  }

  test('the public URL is required; the named opt-outs let a listed URL through', () => {
    const { CONFIG_API_PUBLIC_URL: _unset, ...withoutPublic } = accounts();
    assert.ok(productionProblems(withoutPublic).some((p) => /CONFIG_API_PUBLIC_URL is required/.test(p)));
    assert.deepEqual(
      productionProblems(
        accounts({ HUBSPOT_API_BASE: 'https://egress.internal', HUBSPOT_ALLOWED_BASE_URLS: 'https://egress.internal' }),
      ),
      [],
    );
    assert.deepEqual(
      productionProblems(
        accounts({
          HUBSPOT_OAUTH_AUTHORIZE_URL: 'https://sso.example/hubspot',
          HUBSPOT_ALLOWED_AUTHORIZE_URLS: 'https://sso.example/hubspot',
        }),
      ),
      [],
    );
  });

  test('a production start stops on them, naming each variable, before anything is opened', async () => {
    await assert.rejects(
      startAccountServices({
        development: false,
        root: dir,
        env: {
          DATABASE_URL: 'postgres://127.0.0.1:1/none',
          CONFIG_API_TOKEN: 'x'.repeat(32),
          CONFIG_API_PUBLIC_URL: 'http://config.example.com',
          HUBSPOT_API_BASE: 'http://127.0.0.1:9',
        },
      }),
      (e: Error) =>
        /CONFIG_API_PUBLIC_URL must be an https/.test(e.message) && /HUBSPOT_API_BASE is not https/.test(e.message),
    );
  });

  test('a token or secret has the same minimum length inline and in a file', async () => {
    const start = (env: NodeJS.ProcessEnv) => startAccountServices({ development: true, root: dir, env });
    await assert.rejects(
      start({ CONFIG_API_TOKEN_FILE: file('short-token', 'x\n') }),
      /CONFIG_API_TOKEN_FILE \(.*\) holds too short: at least 24 characters/,
    );
    await assert.rejects(start({ CONFIG_API_TOKEN: 'short' }), /CONFIG_API_TOKEN is too short: at least 24 characters/);
    await assert.rejects(
      start({
        CONFIG_API_TOKEN: 'y'.repeat(24),
        HUBSPOT_OAUTH_CLIENT_ID: 'id',
        HUBSPOT_OAUTH_CLIENT_SECRET_FILE: file('short-secret', 'abc'),
      }),
      /HUBSPOT_OAUTH_CLIENT_SECRET_FILE .* holds too short: at least 16 characters/,
    );
  });
});

describe('connections and logs', () => {
  test('temporalConnectionOptions: mTLS, CA and server name from files; API key implies TLS; errors name the variable', () => {
    const cert = file('c.pem', 'CERT');
    const key = file('c.key', 'KEY');
    const ca = file('ca.pem', 'CA');
    const env = loadConfig({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_TLS_CERT_PATH: cert,
      TEMPORAL_TLS_KEY_PATH: key,
      TEMPORAL_TLS_CA_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal',
    }).env;
    const options = temporalConnectionOptions(env);
    assert.equal(options.address, 'temporal:7233');
    assert.ok(options.tls && options.tls !== true);
    assert.equal(Buffer.from(options.tls.clientCertPair!.crt).toString(), 'CERT');
    assert.equal(Buffer.from(options.tls.clientCertPair!.key).toString(), 'KEY');
    assert.equal(Buffer.from(options.tls.serverRootCACertificate!).toString(), 'CA');
    assert.equal(options.tls.serverNameOverride, 'temporal');
    assert.deepEqual(temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'k' }).env), {
      address: 'localhost:7233',
      tls: true,
      apiKey: 'k',
    });
    assert.deepEqual(temporalConnectionOptions(loadConfig({}).env, '127.0.0.1:1234'), { address: '127.0.0.1:1234' });
    assert.throws(
      () => temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_CA_PATH: join(dir, 'nope.pem') }).env),
      /TEMPORAL_TLS_CA_PATH .* cannot be read: ENOENT/,
    );
  });

  test('the worker logger drops task tokens and masks credentials', () => {
    const lines: string[] = [];
    const logger = createWorkerLogger('INFO', (line) => lines.push(line));
    const taskToken = Buffer.from(randomBytes(90)).toString('base64');
    logger.warn(`Got start event for an already running activity: ${taskToken}`, {
      taskToken,
      activityId: '7',
      workflowId: 'conv-1',
      error: new Error(`401 for Bearer ${TOKEN}`),
    });
    logger.info('call failed', { request: { headers: { authorization: `Bearer ${TOKEN}` } }, note: TOKEN });
    const out = lines.join('');
    assert.ok(!out.includes(taskToken.slice(0, 24)), out);
    assert.ok(!out.includes(TOKEN), out);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(first.activityId, '7');
    assert.equal(first.workflowId, 'conv-1');
    assert.equal(first.taskToken, undefined);
  });
});

// The main job's account services from the environment: the account store (PostgreSQL or embedded
// PGlite), its directory for the worker, the OAuth app and the configuration API with its page.
// Development (nothing configured) fills every gap with local defaults under .cache/ and the
// emulator's demo app; production requires each setting. See docs/ACCOUNTS.md.
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { DataDirInUse } from '../account-store/db';
import { createServer } from 'node:net';
import { z } from 'zod';
import { freePort } from './net';
import { describeZodError } from '../platform/contract';
import { HubSpotOAuthClient, DEFAULT_SCOPES } from '../account-store/oauth-client';
import { AccountStore } from '../account-store/store';
import { StoreDirectory } from '../account-store/store-directory';
import { tokenKeysFromEnv } from '../account-store/token-cipher';
import { startConfigApi, type RunningConfigApi } from '../config-api/server';
import { HUBSPOT_DEFAULT_BASE_URL, hubspotBaseUrlProblem } from '../environment/config';
import type { HubSpotPropertyDefinition } from '../action/mapping-validation';

const port = z.coerce.number().int().min(0).max(65535);
const list = z.string().transform((v) => v.split(/[\s,]+/).filter(Boolean));

/** Minimum lengths of secrets, the same whether given inline or in a file. */
export const MIN_SECRET_LENGTH = { CONFIG_API_TOKEN: 24, HUBSPOT_OAUTH_CLIENT_SECRET: 16 } as const;

export const accountsEnvSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
    .optional()
    .describe('PostgreSQL for the account store. Unset: embedded PGlite in ACCOUNT_STORE_DIR.'),
  DATABASE_URL_FILE: z.string().min(1).optional().describe('A file holding DATABASE_URL (a mounted secret).'),
  ACCOUNT_STORE_DIR: z
    .string()
    .min(1)
    .default('.cache/account-store')
    .describe('Embedded PGlite data directory (no DATABASE_URL).'),
  ACCOUNT_STORE_KEYS: z
    .string()
    .min(1)
    .optional()
    .describe(
      'JSON {"key-id": "<base64 32-byte key>"}: encrypts tokens at rest. The last key (or ACCOUNT_STORE_ACTIVE_KEY_ID) encrypts; all decrypt.',
    ),
  ACCOUNT_STORE_KEYS_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('A file holding ACCOUNT_STORE_KEYS. Development default: .cache/account-store-keys.json, generated.'),
  ACCOUNT_STORE_ACTIVE_KEY_ID: z.string().min(1).optional(),
  HUBSPOT_OAUTH_CLIENT_ID: z
    .string()
    .min(1)
    .optional()
    .describe('The public app’s client id. Development default: the emulator’s demo-client-id.'),
  HUBSPOT_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
  HUBSPOT_OAUTH_CLIENT_SECRET_FILE: z.string().min(1).optional(),
  HUBSPOT_OAUTH_REDIRECT_URI: z
    .url()
    .optional()
    .describe('Registered in the app’s settings; default <CONFIG_API_PUBLIC_URL>/oauth/callback.'),
  HUBSPOT_OAUTH_SCOPES: list.optional().describe(`Required scopes; default ${DEFAULT_SCOPES.join(' ')}.`),
  HUBSPOT_OAUTH_OPTIONAL_SCOPES: list.optional(),
  HUBSPOT_OAUTH_AUTHORIZE_URL: z
    .url()
    .optional()
    .describe('Default https://app.hubspot.com/oauth/authorize (the emulator’s in development).'),
  HUBSPOT_API_BASE: z
    .url()
    .optional()
    .describe(
      'HubSpot API base for stored connections and token calls; default https://api.hubapi.com (the emulator’s in development).',
    ),
  CONFIG_API_HOST: z.string().min(1).default('127.0.0.1'),
  CONFIG_API_PORT: port.default(8790),
  CONFIG_API_PUBLIC_URL: z
    .url()
    .optional()
    .describe('The URL browsers reach the configuration API at; default http://<host>:<port>.'),
  CONFIG_API_TOKEN: z
    .string()
    .min(1)
    .optional()
    .describe(
      `Bearer token of the platform backend, at least ${MIN_SECRET_LENGTH.CONFIG_API_TOKEN} characters (from CONFIG_API_TOKEN_FILE too): the page's session and install-state keys derive from it. Development default: generated into .cache/config-api-token.`,
    ),
  CONFIG_API_TOKEN_FILE: z.string().min(1).optional(),
  CONFIG_API_RETURN_ORIGINS: list
    .optional()
    .describe('Origins the OAuth callback may redirect to (the platform’s setup screens); https in production.'),
  HUBSPOT_ALLOWED_BASE_URLS: list
    .optional()
    .describe(
      "Production opt-out, named: HubSpot API base URLs accepted besides HubSpot's own hosts (e.g. an egress proxy), for HUBSPOT_API_BASE too.",
    ),
  HUBSPOT_ALLOWED_AUTHORIZE_URLS: list
    .optional()
    .describe(
      "Production opt-out, named: install URLs accepted for HUBSPOT_OAUTH_AUTHORIZE_URL besides HubSpot's own.",
    ),
});

/** HubSpot's own install (consent) pages, the only ones a production install sends operators to. */
export const HUBSPOT_AUTHORIZE_URLS = [
  'https://app.hubspot.com/oauth/authorize',
  'https://app-eu1.hubspot.com/oauth/authorize',
] as const;
export type AccountsEnv = z.infer<typeof accountsEnvSchema>;

/** The workspace the development setup page logs into (the login form's default). */
export const DEVELOPMENT_WORKSPACE = 'default';

/** Development always runs the account services; production when a database is configured. */
export function accountServicesWanted(env: NodeJS.ProcessEnv, development: boolean): boolean {
  return development || Boolean(env.DATABASE_URL || env.DATABASE_URL_FILE);
}

export class AccountsConfigError extends Error {
  override name = 'AccountsConfigError';
}

function secret(env: AccountsEnv, value: keyof AccountsEnv, file: keyof AccountsEnv): string | undefined {
  const v = env[value] as string | undefined;
  const f = env[file] as string | undefined;
  if (v && f) throw new AccountsConfigError(`Set ${value} or ${file}, not both`);
  let found = v;
  if (f) {
    try {
      found = readFileSync(f, 'utf8').trim();
    } catch (err) {
      throw new AccountsConfigError(
        `${file} (${f}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  const min = (MIN_SECRET_LENGTH as Record<string, number>)[value];
  if (found !== undefined && min !== undefined && found.length < min) {
    throw new AccountsConfigError(
      `${f ? `${file} (${f}) holds` : `${value} is`} too short: at least ${min} characters`,
    );
  }
  return found;
}

/**
 * Production: every setting that carries a secret or decides whom to trust. HubSpot's API and install
 * page on HubSpot's hosts over https (or listed in a named opt-out), the service's public and redirect
 * URLs and the return origins https. The problems, each naming its variable.
 */
export function productionProblems(env: AccountsEnv): string[] {
  const problems: string[] = [];
  const https = (name: string, value: string | undefined, required: boolean) => {
    if (value === undefined) {
      if (required)
        problems.push(`${name} is required in production (the https URL browsers reach the configuration API at)`);
      return;
    }
    if (!value.startsWith('https://'))
      problems.push(`${name} must be an https:// URL in production (it carries sessions, install states and codes)`);
  };
  https('CONFIG_API_PUBLIC_URL', env.CONFIG_API_PUBLIC_URL, true);
  https('HUBSPOT_OAUTH_REDIRECT_URI', env.HUBSPOT_OAUTH_REDIRECT_URI, false);
  for (const origin of env.CONFIG_API_RETURN_ORIGINS ?? [])
    https(`CONFIG_API_RETURN_ORIGINS (${origin})`, origin, false);
  const apiBase = env.HUBSPOT_API_BASE ?? HUBSPOT_DEFAULT_BASE_URL;
  const baseProblem = hubspotBaseUrlProblem(apiBase, env.HUBSPOT_ALLOWED_BASE_URLS ?? []);
  if (baseProblem)
    problems.push(
      `HUBSPOT_API_BASE ${baseProblem}: production sends tokens and the client secret to HubSpot only (HUBSPOT_ALLOWED_BASE_URLS lists exceptions)`,
    );
  const authorize = env.HUBSPOT_OAUTH_AUTHORIZE_URL;
  if (
    authorize &&
    !(HUBSPOT_AUTHORIZE_URLS as readonly string[]).includes(authorize) &&
    !(env.HUBSPOT_ALLOWED_AUTHORIZE_URLS ?? []).includes(authorize)
  ) {
    problems.push(
      `HUBSPOT_OAUTH_AUTHORIZE_URL must be HubSpot's install page (${HUBSPOT_AUTHORIZE_URLS.join(' or ')}) in production (HUBSPOT_ALLOWED_AUTHORIZE_URLS lists exceptions)`,
    );
  }
  return problems;
}

function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, host, () => srv.close(() => resolveFree(true)));
  });
}

/** The configuration API token: from the environment, else (development) a generated one kept in a file. */
function apiToken(
  env: AccountsEnv,
  development: boolean,
  cacheDir: string,
): { token: string; generatedFile?: string; file?: string } {
  const t = secret(env, 'CONFIG_API_TOKEN', 'CONFIG_API_TOKEN_FILE');
  if (t) return { token: t };
  if (!development)
    throw new AccountsConfigError('CONFIG_API_TOKEN or CONFIG_API_TOKEN_FILE is required outside development');
  const file = resolve(cacheDir, 'config-api-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), file };
  mkdirSync(dirname(file), { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, generatedFile: file, file };
}

export interface AccountServices {
  store: AccountStore;
  directory: StoreDirectory;
  oauth?: HubSpotOAuthClient;
  configApi: RunningConfigApi;
  close(): Promise<void>;
}

export interface AccountServicesOptions {
  env?: NodeJS.ProcessEnv;
  development: boolean;
  /** The repository root: relative paths resolve against it. */
  root: string;
  /** The embedded emulator's URL (development): the OAuth app and API base default to it. */
  emulatorUrl?: string;
  /** Reads an account's contact-property schema (the worker's HubSpot adapter); default the official client. */
  propertySchema?: (accountId: string) => Promise<HubSpotPropertyDefinition[]>;
  say?: (line: string) => void;
  /** Receipts older than this many days are deleted (RECEIPT_RETENTION_DAYS). Default 30. */
  receiptRetentionDays?: number;
  /** The Temporal client the receipts' retry route goes through, connected on first use. */
  operatorClient?: () => Promise<Client>;
}

/** How often old receipts are swept. */
const RECEIPT_SWEEP_EVERY_MS = 3600_000;

/** Deletes the receipts older than the retention now and then every hour; the returned function stops it. */
export function sweepReceipts(store: AccountStore, retentionDays: number, say: (line: string) => void): () => void {
  const sweep = () =>
    store.receipts.sweep(Date.now() - retentionDays * 86_400_000).then(
      (n) => {
        if (n > 0) say(`receipts: deleted ${n} older than ${retentionDays} days`);
      },
      (err: unknown) => say(`receipts: the retention sweep failed (${(err as Error).name}); next try in an hour`),
    );
  void sweep();
  const timer = setInterval(() => void sweep(), RECEIPT_SWEEP_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export async function startAccountServices(options: AccountServicesOptions): Promise<AccountServices> {
  const source = options.env ?? process.env;
  const parsed = accountsEnvSchema.safeParse(Object.fromEntries(Object.entries(source).filter(([, v]) => v !== '')));
  if (!parsed.success) throw new AccountsConfigError(`Invalid configuration: ${describeZodError(parsed.error)}`);
  const env = parsed.data;
  const say = options.say ?? (() => undefined);
  const cacheDir = resolve(options.root, '.cache');
  if (!options.development) {
    const problems = productionProblems(env);
    if (problems.length) throw new AccountsConfigError(`Invalid production configuration: ${problems.join('; ')}`);
  }
  // Secrets first: a bad one stops the start before anything is opened.
  const token = apiToken(env, options.development, cacheDir);
  const clientSecret = secret(env, 'HUBSPOT_OAUTH_CLIENT_SECRET', 'HUBSPOT_OAUTH_CLIENT_SECRET_FILE');

  const databaseUrl = secret(env, 'DATABASE_URL', 'DATABASE_URL_FILE');
  if (!databaseUrl && !options.development)
    throw new AccountsConfigError(
      'DATABASE_URL or DATABASE_URL_FILE is required outside development (the account store)',
    );
  let keys;
  try {
    keys = tokenKeysFromEnv(source, options.development ? resolve(cacheDir, 'account-store-keys.json') : undefined);
  } catch (err) {
    throw new AccountsConfigError((err as Error).message);
  }
  let dataDir = resolve(options.root, env.ACCOUNT_STORE_DIR);
  let store: AccountStore;
  try {
    store = await AccountStore.open({ url: databaseUrl, dataDir: databaseUrl ? undefined : dataDir, keys: keys.keys });
  } catch (err) {
    // Development, default directory held by another job on this machine: this one gets a store of its own.
    if (!(err instanceof DataDirInUse) || source.ACCOUNT_STORE_DIR) throw err;
    say(`${err.message}: using a temporary one (set ACCOUNT_STORE_DIR to choose)`);
    dataDir = mkdtempSync(join(tmpdir(), 'account-store-'));
    store = await AccountStore.open({ dataDir, keys: keys.keys });
  }
  say(
    `account store: ${databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${dataDir}`}; tokens encrypted with key "${store.activeKeyId}" from ${keys.source}`,
  );

  // Development without an explicit port: another job on this machine may hold the default one.
  let apiPort = env.CONFIG_API_PORT;
  if (options.development && !source.CONFIG_API_PORT && !(await portIsFree(env.CONFIG_API_HOST, apiPort))) {
    apiPort = await freePort();
    say(`configuration API: port ${env.CONFIG_API_PORT} is taken, using ${apiPort} (set CONFIG_API_PORT to choose)`);
  }
  const publicUrl = (
    env.CONFIG_API_PUBLIC_URL ??
    `http://${env.CONFIG_API_HOST === '0.0.0.0' ? '127.0.0.1' : env.CONFIG_API_HOST}:${apiPort}`
  ).replace(/\/+$/, '');
  const emulator = options.development && !env.HUBSPOT_OAUTH_CLIENT_ID ? options.emulatorUrl : undefined;
  let oauth: HubSpotOAuthClient | undefined;
  if (env.HUBSPOT_OAUTH_CLIENT_ID || emulator) {
    if (env.HUBSPOT_OAUTH_CLIENT_ID && !clientSecret)
      throw new AccountsConfigError('HUBSPOT_OAUTH_CLIENT_ID needs HUBSPOT_OAUTH_CLIENT_SECRET (or _FILE)');
    oauth = new HubSpotOAuthClient({
      clientId: env.HUBSPOT_OAUTH_CLIENT_ID ?? 'demo-client-id',
      clientSecret: clientSecret ?? 'demo-client-secret',
      redirectUri: env.HUBSPOT_OAUTH_REDIRECT_URI ?? `${publicUrl}/oauth/callback`,
      scopes: env.HUBSPOT_OAUTH_SCOPES ?? DEFAULT_SCOPES,
      optionalScopes: env.HUBSPOT_OAUTH_OPTIONAL_SCOPES,
      authorizeUrl: env.HUBSPOT_OAUTH_AUTHORIZE_URL ?? (emulator ? `${emulator}/oauth/authorize` : undefined),
      apiBase: env.HUBSPOT_API_BASE ?? emulator,
    });
  } else {
    say(
      'no HUBSPOT_OAUTH_CLIENT_ID: "Add account" (OAuth) is off; private-app tokens can still be added through the API',
    );
  }
  const directory = new StoreDirectory(store, { oauth, basePath: env.HUBSPOT_API_BASE ?? options.emulatorUrl });

  let configApi: RunningConfigApi;
  try {
    configApi = await startConfigApi({
      store,
      directory,
      oauth,
      apiToken: token.token,
      propertySchema: options.propertySchema,
      allowedReturnOrigins: env.CONFIG_API_RETURN_ORIGINS,
      publicUrl,
      secureCookies: publicUrl.startsWith('https:'),
      host: env.CONFIG_API_HOST,
      port: apiPort,
      ...(options.operatorClient ? { operatorClient: options.operatorClient } : {}),
    });
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  say(
    `configuration API: ${publicUrl}/v1/workspaces/<workspaceId>/… (bearer token ${token.generatedFile ? `generated into ${token.generatedFile}` : token.file ? `in ${token.file}` : 'from CONFIG_API_TOKEN'})`,
  );
  if (oauth) say(`OAuth redirect URL (register it in the HubSpot app): ${oauth.settings.redirectUri}`);
  const stopSweep = sweepReceipts(store, options.receiptRetentionDays ?? 30, say);
  return {
    store,
    directory,
    oauth,
    configApi,
    async close() {
      stopSweep();
      await configApi.close().catch(() => undefined);
      await store.close().catch(() => undefined);
    },
  };
}

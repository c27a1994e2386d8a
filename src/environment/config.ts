// The worker's configuration, read from the environment and validated at start. Each bad value gets
// an error that names the variable, and no error ever shows a secret's value. HubSpot tokens live here
// (environment or secret file) and nowhere else: never in workflow inputs or history.
// Every secret can come from a file (NAME_FILE, e.g. a Docker secret under /run/secrets): see readSecret.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE, describeZodError } from '../platform/contract';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(1).max(65535);

/** A worker deployment name or build id: Temporal refuses empty ones, ones starting with "__", and long ones (worker deployment version ids). */
const deploymentField = z
  .string()
  .min(1)
  .max(200)
  .refine((v) => !v.startsWith('__'), 'may not start with "__" (reserved by Temporal)');

export const hubspotAccountSchema = z
  .object({
    accountId: z.string().min(1).describe('The reference an action config names in hubspotAccountId.'),
    token: z.string().min(1).optional().describe('The private app access token. Prefer tokenEnv or tokenFile.'),
    tokenEnv: z.string().min(1).optional().describe('Name of an environment variable holding the token.'),
    tokenFile: z.string().min(1).optional().describe('Path of a file holding the token (a mounted secret).'),
    appId: z.coerce
      .number()
      .int()
      .positive()
      .describe(
        'The id of the app that owns the token (private app, or the service key): contacts it created carry it as record source, which is how "ours" is recognised.',
      ),
    kind: z
      .enum(['private-app', 'service-key'])
      .optional()
      .describe('The kind of static credential: a private-app token (default) or a service key.'),
    workspaceId: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe(
        'The platform workspace that owns this account: conversations of other workspaces may not use it. Unset: any conversation of this worker may.',
      ),
    ownershipMarker: z
      .object({ property: z.string().min(1).max(100), value: z.string().min(1).max(200) })
      .optional()
      .describe(
        'Fallback for "created by this system" where HubSpot’s record source cannot identify this system: a text contact property written on every contact this system creates, and the value it holds.',
      ),
    basePath: z
      .url()
      .optional()
      .describe('HubSpot API base URL; default https://api.hubapi.com. Point it at the emulator in development.'),
    rateLimitPerTenSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'The account’s API limit per 10 seconds (HubSpot: 100 or 190 by tier). The worker paces its calls under it.',
      ),
    searchRateLimitPerSecond: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('The search endpoints’ per-second limit (HubSpot: 5).'),
  })
  .refine(
    (a) => [a.token, a.tokenEnv, a.tokenFile].filter(Boolean).length === 1,
    'give exactly one of token, tokenEnv, tokenFile',
  );
export type HubSpotAccountConfig = z.infer<typeof hubspotAccountSchema>;

export const envSchema = z.object({
  WORKER_MODE: z
    .enum(['development', 'production'])
    .default('development')
    .describe(
      'production refuses to start embedded servers: TEMPORAL_ADDRESS is then required, and HubSpot accounts come from HUBSPOT_ACCOUNTS or the account store (DATABASE_URL).',
    ),
  TEMPORAL_ADDRESS: z
    .string()
    .min(1)
    .optional()
    .describe('host:port of the Temporal frontend. Unset in development: an embedded dev server starts.'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_API_KEY: z
    .string()
    .min(1)
    .optional()
    .describe('Temporal Cloud API key (implies TLS). Prefer TEMPORAL_API_KEY_FILE.'),
  TEMPORAL_API_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Path of a file holding the Temporal Cloud API key (a mounted secret).'),
  TEMPORAL_TLS: bool.default(false).describe('Connect to Temporal over TLS.'),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional().describe('mTLS client certificate (PEM).'),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional().describe('mTLS client key (PEM).'),
  TEMPORAL_TLS_CA_PATH: z
    .string()
    .min(1)
    .optional()
    .describe(
      "CA certificate (PEM) the Temporal frontend's certificate is checked against; unset: the system's trusted CAs.",
    ),
  TEMPORAL_TLS_SERVER_NAME: z
    .string()
    .min(1)
    .optional()
    .describe("The name the frontend's certificate is checked for, when it differs from the host of TEMPORAL_ADDRESS."),
  ALLOW_TEMPORAL_WITHOUT_TLS: bool
    .default(false)
    .describe(
      'Production opt-out: connect to Temporal without TLS (a frontend reached over a private, otherwise protected link only).',
    ),
  ALLOW_UNENCRYPTED_PAYLOADS: bool
    .default(false)
    .describe(
      'Production opt-out: run without payload encryption (CODEC_KEYS); personal data is then readable in Temporal history.',
    ),
  HUBSPOT_ALLOWED_BASE_URLS: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Production opt-out: comma-separated base URLs accepted besides https://api.hubapi.com (e.g. an egress proxy). Each must match an account's basePath exactly.",
    ),
  CODEC_ALLOW_PLAINTEXT: bool
    .default(false)
    .describe(
      'Migration switch: with CODEC_KEYS set, still decode unencrypted payloads (histories written before encryption was turned on).',
    ),
  CODEC_ALLOW_UNBOUND: bool
    .default(false)
    .describe('Migration switch: decode payloads encrypted by the first codec format (not bound to a workflow).'),
  TEMPORAL_DEV_PORT: port.default(7233).describe('Embedded dev server: gRPC port.'),
  TEMPORAL_DEV_UI_PORT: port.default(8233).describe('Embedded dev server: Web UI port.'),
  TEMPORAL_DEV_DB: z
    .string()
    .min(1)
    .default('.cache/dev-server.sqlite')
    .describe('Embedded dev server: its database file (conversations survive restarts).'),
  HUBSPOT_ACCOUNTS: z
    .string()
    .min(1)
    .optional()
    .describe(
      'JSON array of HubSpot accounts (see hubspotAccountSchema). Unset in development: the HubSpot emulator starts with its demo account.',
    ),
  HUBSPOT_ACCOUNTS_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Path of a JSON file holding the same array (a mounted secret).'),
  HUBSPOT_EMULATOR_PORT: port.default(8787).describe('Embedded HubSpot emulator port (development).'),
  HUBSPOT_BATCHING: z
    .enum(['on', 'off'])
    .default('on')
    .describe(
      'on: single-record HubSpot calls of an account go to its batch endpoints, up to 100 records a call (docs/HUBSPOT_API.md, "Batching"); off: each call alone.',
    ),
  HUBSPOT_BATCH_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(25)
    .describe(
      "How long offline HubSpot calls are collected into one batch, in ms (the agent's lane never waits for a window).",
    ),
  METRICS_BIND_ADDRESS: z
    .string()
    .regex(/^[^:]+:\d+$/, 'host:port')
    .optional()
    .describe(
      'Serve Prometheus metrics (Temporal worker metrics and action outcome counters) on host:port/metrics, e.g. 0.0.0.0:9464.',
    ),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'How many conversations the worker keeps in memory (the rest are replayed from history when needed). Unset: the SDK default, scaled to the heap size; each cached conversation takes about 1.8 MiB (docs/BENCHMARKS.md).',
    ),
  TEMPORAL_DEPLOYMENT_NAME: deploymentField
    .refine((v) => !/[.:]/.test(v), "may not contain '.' or ':' (Temporal's version separators)")
    .optional()
    .describe(
      'Worker Versioning: the worker deployment this worker belongs to (with TEMPORAL_WORKER_BUILD_ID). Unset: unversioned, every worker takes every conversation (docs/RELEASES.md).',
    ),
  TEMPORAL_WORKER_BUILD_ID: deploymentField
    .optional()
    .describe(
      "Worker Versioning: this build of the worker (e.g. the image tag or git commit). Conversations started while it is the deployment's current build stay pinned to it until they complete.",
    ),
  RECEIPT_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(30)
    .describe(
      'How long sync receipts are kept in the account store, in days; older ones are deleted by an hourly sweep (docs/ACCOUNTS.md, "Receipts").',
    ),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  DEMO: bool
    .default(true)
    .describe('Development on the embedded HubSpot emulator: play the demo conversations once the worker is up.'),
});
export type WorkerEnv = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * A secret from the environment: NAME itself, or the content of the file NAME_FILE names (trailing
 * whitespace and newline dropped), e.g. a Docker secret mounted under /run/secrets. Undefined when
 * neither is set. Errors name the variables and the file, never the content.
 */
export function readSecret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const inline = env[name] || undefined;
  const file = env[`${name}_FILE`] || undefined;
  if (inline && file) throw new ConfigError(`Set ${name} or ${name}_FILE, not both`);
  if (!file) return inline;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${name}_FILE (${file}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`,
    );
  }
  const value = text.trim();
  if (!value) throw new ConfigError(`${name}_FILE (${file}) is empty`);
  return value;
}

/** The hosts of HubSpot's API a production worker may send tokens to. */
export const HUBSPOT_API_HOSTS = ['api.hubapi.com', 'api-eu1.hubapi.com'] as const;
export const HUBSPOT_DEFAULT_BASE_URL = 'https://api.hubapi.com';

/**
 * Why a HubSpot base URL is not acceptable in production, or undefined when it is: https on one of
 * HubSpot's API hosts, default port, no credentials, no path; or listed in HUBSPOT_ALLOWED_BASE_URLS.
 */
export function hubspotBaseUrlProblem(url: string, allowed: readonly string[] = []): string | undefined {
  const trimmed = url.replace(/\/+$/, '');
  if (allowed.some((a) => a.replace(/\/+$/, '') === trimmed)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL';
  }
  if (parsed.protocol !== 'https:') return 'is not https://';
  if (!(HUBSPOT_API_HOSTS as readonly string[]).includes(parsed.hostname))
    return `is not on HubSpot's API host (${HUBSPOT_API_HOSTS.join(' or ')})`;
  if (
    parsed.port ||
    parsed.username ||
    parsed.password ||
    (parsed.pathname !== '/' && parsed.pathname !== '') ||
    parsed.search ||
    parsed.hash
  ) {
    return 'must be the bare origin (no port, credentials, path or query)';
  }
  return undefined;
}

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | true;
  apiKey?: string;
}

/**
 * The connection settings every Temporal connection of the project uses (worker, platform client, ops
 * CLI): TLS with the CA, client certificate (mTLS) and server name configured, or an API key. The
 * files are read here; errors name the variable.
 */
export function temporalConnectionOptions(
  env: WorkerEnv,
  address: string = env.TEMPORAL_ADDRESS ?? `localhost:${env.TEMPORAL_DEV_PORT}`,
): TemporalConnectionOptions {
  const read = (
    name: 'TEMPORAL_TLS_CERT_PATH' | 'TEMPORAL_TLS_KEY_PATH' | 'TEMPORAL_TLS_CA_PATH',
  ): Buffer | undefined => {
    const path = env[name];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${name} (${path}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`);
    }
  };
  const crt = read('TEMPORAL_TLS_CERT_PATH');
  const key = read('TEMPORAL_TLS_KEY_PATH');
  const ca = read('TEMPORAL_TLS_CA_PATH');
  const custom: TLSConfig = {
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME } : {}),
  };
  const useTls = env.TEMPORAL_TLS || Boolean(env.TEMPORAL_API_KEY) || Object.keys(custom).length > 0;
  return {
    address,
    ...(useTls ? { tls: Object.keys(custom).length > 0 ? custom : true } : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}

/** A build of the worker in a Temporal worker deployment (Worker Versioning), as the SDK names it. */
export interface WorkerBuild {
  deploymentName: string;
  buildId: string;
}

/**
 * The worker's build when Worker Versioning is on (TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID),
 * else undefined. A worker given the deployment without its build id is refused: it would poll as an
 * unversioned worker beside the deployment's builds.
 */
export function workerBuildOf(
  env: Pick<WorkerEnv, 'TEMPORAL_DEPLOYMENT_NAME' | 'TEMPORAL_WORKER_BUILD_ID'>,
): WorkerBuild | undefined {
  if (env.TEMPORAL_DEPLOYMENT_NAME && !env.TEMPORAL_WORKER_BUILD_ID) {
    throw new ConfigError(
      `TEMPORAL_DEPLOYMENT_NAME (${env.TEMPORAL_DEPLOYMENT_NAME}) needs TEMPORAL_WORKER_BUILD_ID: the worker polls as one build of the deployment (e.g. the image tag); unset both for an unversioned worker`,
    );
  }
  if (!env.TEMPORAL_DEPLOYMENT_NAME || !env.TEMPORAL_WORKER_BUILD_ID) return undefined;
  return { deploymentName: env.TEMPORAL_DEPLOYMENT_NAME, buildId: env.TEMPORAL_WORKER_BUILD_ID };
}

export interface WorkerConfig {
  env: WorkerEnv;
  /** undefined: start the embedded HubSpot emulator (development only). */
  hubspotAccounts?: Array<Omit<HubSpotAccountConfig, 'token' | 'tokenEnv' | 'tokenFile'> & { token: string }>;
}

/** Parses JSON that may hold secrets: the error gives the position only (the parser's message quotes the text). */
function readJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new ConfigError(`${where} is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
}

/** The HubSpot adapter's settings from the environment (HubSpotAccountsOptions). */
export function hubspotAccountsOptions(env: Pick<WorkerEnv, 'HUBSPOT_BATCHING' | 'HUBSPOT_BATCH_WINDOW_MS'>): {
  batching: boolean;
  batchWindowMs: number;
} {
  return { batching: env.HUBSPOT_BATCHING === 'on', batchWindowMs: env.HUBSPOT_BATCH_WINDOW_MS };
}

/** Reads and validates the configuration; throws ConfigError naming the bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const nonEmpty = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(nonEmpty);
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeZodError(parsed.error)}`);
  const env = parsed.data;
  const apiKey = readSecret(nonEmpty, 'TEMPORAL_API_KEY');
  if (apiKey) env.TEMPORAL_API_KEY = apiKey;

  if (env.HUBSPOT_ACCOUNTS && env.HUBSPOT_ACCOUNTS_FILE)
    throw new ConfigError('Set HUBSPOT_ACCOUNTS or HUBSPOT_ACCOUNTS_FILE, not both');
  if (Boolean(env.TEMPORAL_TLS_CERT_PATH) !== Boolean(env.TEMPORAL_TLS_KEY_PATH)) {
    throw new ConfigError('TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together');
  }
  // TEMPORAL_DEPLOYMENT_NAME alone is what the ops commands need; the worker needs both (workerBuildOf).
  if (env.TEMPORAL_WORKER_BUILD_ID && !env.TEMPORAL_DEPLOYMENT_NAME) {
    throw new ConfigError(
      'TEMPORAL_WORKER_BUILD_ID needs TEMPORAL_DEPLOYMENT_NAME (Worker Versioning: the deployment this build belongs to); unset both for an unversioned worker',
    );
  }
  const production = env.WORKER_MODE === 'production';
  if (production) {
    if (!env.TEMPORAL_ADDRESS)
      throw new ConfigError('WORKER_MODE=production needs TEMPORAL_ADDRESS: embedded servers are for development only');
    if (!env.HUBSPOT_ACCOUNTS && !env.HUBSPOT_ACCOUNTS_FILE && !source.DATABASE_URL && !source.DATABASE_URL_FILE) {
      throw new ConfigError(
        'WORKER_MODE=production needs HubSpot accounts: HUBSPOT_ACCOUNTS or HUBSPOT_ACCOUNTS_FILE (static), or DATABASE_URL(_FILE) (accounts connected at run time); the HubSpot emulator is for development only',
      );
    }
    const tls = env.TEMPORAL_TLS || env.TEMPORAL_TLS_CERT_PATH || env.TEMPORAL_TLS_CA_PATH || env.TEMPORAL_API_KEY;
    if (!tls && !env.ALLOW_TEMPORAL_WITHOUT_TLS) {
      throw new ConfigError(
        'WORKER_MODE=production needs TLS to Temporal: set TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH (mTLS), TEMPORAL_TLS=true, or TEMPORAL_API_KEY / TEMPORAL_API_KEY_FILE (Temporal Cloud); ALLOW_TEMPORAL_WITHOUT_TLS=true opts out',
      );
    }
    if (!nonEmpty.CODEC_KEYS && !nonEmpty.CODEC_KEYS_FILE && !env.ALLOW_UNENCRYPTED_PAYLOADS) {
      throw new ConfigError(
        'WORKER_MODE=production needs payload encryption: set CODEC_KEYS_FILE (or CODEC_KEYS); ALLOW_UNENCRYPTED_PAYLOADS=true opts out',
      );
    }
  }
  const allowedBaseUrls = (env.HUBSPOT_ALLOWED_BASE_URLS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);

  let rawAccounts: unknown;
  let where = 'HUBSPOT_ACCOUNTS';
  if (env.HUBSPOT_ACCOUNTS) rawAccounts = readJson(env.HUBSPOT_ACCOUNTS, where);
  else if (env.HUBSPOT_ACCOUNTS_FILE) {
    where = `HUBSPOT_ACCOUNTS_FILE (${env.HUBSPOT_ACCOUNTS_FILE})`;
    let text: string;
    try {
      text = readFileSync(env.HUBSPOT_ACCOUNTS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`${where} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`);
    }
    rawAccounts = readJson(text, where);
  }
  if (rawAccounts === undefined) return { env };

  const accounts = z.array(hubspotAccountSchema).min(1).safeParse(rawAccounts);
  if (!accounts.success) throw new ConfigError(`${where}: ${describeZodError(accounts.error)}`);
  const seen = new Set<string>();
  const hubspotAccounts = accounts.data.map((a, i) => {
    if (seen.has(a.accountId)) throw new ConfigError(`${where}[${i}]: account "${a.accountId}" is listed twice`);
    seen.add(a.accountId);
    let token = a.token;
    if (a.tokenEnv) {
      token = source[a.tokenEnv];
      if (!token)
        throw new ConfigError(`${where}[${i}] (${a.accountId}): environment variable ${a.tokenEnv} is empty or unset`);
    }
    if (a.tokenFile) {
      try {
        token = readFileSync(a.tokenFile, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(
          `${where}[${i}] (${a.accountId}): token file ${a.tokenFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'read error'}`,
        );
      }
    }
    if (production) {
      const problem = hubspotBaseUrlProblem(a.basePath ?? HUBSPOT_DEFAULT_BASE_URL, allowedBaseUrls);
      if (problem)
        throw new ConfigError(
          `${where}[${i}] (${a.accountId}): basePath ${problem}; WORKER_MODE=production sends tokens to HubSpot only (HUBSPOT_ALLOWED_BASE_URLS lists exceptions)`,
        );
    }
    const { token: _t, tokenEnv: _e, tokenFile: _f, ...rest } = a;
    return { ...rest, token: token! };
  });
  return { env, hubspotAccounts };
}

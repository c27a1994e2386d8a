// The worker's configuration, read from the environment and validated at start. Each bad value gets
// an error that names the variable. HubSpot tokens live here (environment or secret file) and nowhere
// else: never in workflow inputs or history.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE, describeZodError } from './contract';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(1).max(65535);

export const hubspotAccountSchema = z
  .object({
    accountId: z.string().min(1).describe('The reference an action config names in hubspotAccountId.'),
    token: z.string().min(1).optional().describe('The private app access token. Prefer tokenEnv or tokenFile.'),
    tokenEnv: z.string().min(1).optional().describe('Name of an environment variable holding the token.'),
    tokenFile: z.string().min(1).optional().describe('Path of a file holding the token (a mounted secret).'),
    appId: z.coerce.number().int().positive().describe('The id of the private app that owns the token: contacts it created carry it as record source, which is how "ours" is recognised.'),
    basePath: z.url().optional().describe('HubSpot API base URL; default https://api.hubapi.com. Point it at the emulator in development.'),
    rateLimitPerTenSeconds: z.number().int().positive().optional().describe('The account’s API limit per 10 seconds (HubSpot: 100 or 190 by tier). The worker paces its calls under it.'),
    searchRateLimitPerSecond: z.number().int().positive().optional().describe('The search endpoints’ per-second limit (HubSpot: 5).'),
  })
  .refine((a) => [a.token, a.tokenEnv, a.tokenFile].filter(Boolean).length === 1, 'give exactly one of token, tokenEnv, tokenFile');
export type HubSpotAccountConfig = z.infer<typeof hubspotAccountSchema>;

export const envSchema = z.object({
  WORKER_MODE: z
    .enum(['development', 'production'])
    .default('development')
    .describe('production refuses to start embedded servers: TEMPORAL_ADDRESS and HUBSPOT_ACCOUNTS are then required.'),
  TEMPORAL_ADDRESS: z.string().min(1).optional().describe('host:port of the Temporal frontend. Unset in development: an embedded dev server starts.'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_API_KEY: z.string().min(1).optional().describe('Temporal Cloud API key (implies TLS).'),
  TEMPORAL_TLS: bool.default(false).describe('Connect to Temporal over TLS.'),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional().describe('mTLS client certificate (PEM).'),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional().describe('mTLS client key (PEM).'),
  TEMPORAL_DEV_PORT: port.default(7233).describe('Embedded dev server: gRPC port.'),
  TEMPORAL_DEV_UI_PORT: port.default(8233).describe('Embedded dev server: Web UI port.'),
  TEMPORAL_DEV_DB: z.string().min(1).default('.cache/dev-server.sqlite').describe('Embedded dev server: its database file (conversations survive restarts).'),
  HUBSPOT_ACCOUNTS: z.string().min(1).optional().describe('JSON array of HubSpot accounts (see hubspotAccountSchema). Unset in development: the HubSpot emulator starts with its demo account.'),
  HUBSPOT_ACCOUNTS_FILE: z.string().min(1).optional().describe('Path of a JSON file holding the same array (a mounted secret).'),
  HUBSPOT_EMULATOR_PORT: port.default(8787).describe('Embedded HubSpot emulator port (development).'),
  METRICS_BIND_ADDRESS: z
    .string()
    .regex(/^[^:]+:\d+$/, 'host:port')
    .optional()
    .describe('Serve Prometheus metrics (Temporal worker metrics and action outcome counters) on host:port/metrics, e.g. 0.0.0.0:9464.'),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe('How many conversations the worker keeps in memory (the rest are replayed from history when needed). Unset: the SDK default, scaled to the heap size; each cached conversation takes about 1.8 MiB (docs/BENCHMARKS.md).'),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  DEMO: bool.default(true).describe('Development on the embedded HubSpot emulator: play the demo conversations once the worker is up.'),
});
export type WorkerEnv = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface WorkerConfig {
  env: WorkerEnv;
  /** undefined: start the embedded HubSpot emulator (development only). */
  hubspotAccounts?: Array<Omit<HubSpotAccountConfig, 'token' | 'tokenEnv' | 'tokenFile'> & { token: string }>;
}

function readJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads and validates the configuration; throws ConfigError naming the bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(source).filter(([, v]) => v !== '')));
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${describeZodError(parsed.error)}`);
  const env = parsed.data;

  if (env.HUBSPOT_ACCOUNTS && env.HUBSPOT_ACCOUNTS_FILE) throw new ConfigError('Set HUBSPOT_ACCOUNTS or HUBSPOT_ACCOUNTS_FILE, not both');
  if (env.WORKER_MODE === 'production') {
    if (!env.TEMPORAL_ADDRESS) throw new ConfigError('WORKER_MODE=production needs TEMPORAL_ADDRESS: embedded servers are for development only');
    if (!env.HUBSPOT_ACCOUNTS && !env.HUBSPOT_ACCOUNTS_FILE) {
      throw new ConfigError('WORKER_MODE=production needs HUBSPOT_ACCOUNTS or HUBSPOT_ACCOUNTS_FILE: the HubSpot emulator is for development only');
    }
  }
  if (Boolean(env.TEMPORAL_TLS_CERT_PATH) !== Boolean(env.TEMPORAL_TLS_KEY_PATH)) {
    throw new ConfigError('TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together');
  }

  let rawAccounts: unknown;
  let where = 'HUBSPOT_ACCOUNTS';
  if (env.HUBSPOT_ACCOUNTS) rawAccounts = readJson(env.HUBSPOT_ACCOUNTS, where);
  else if (env.HUBSPOT_ACCOUNTS_FILE) {
    where = `HUBSPOT_ACCOUNTS_FILE (${env.HUBSPOT_ACCOUNTS_FILE})`;
    let text: string;
    try {
      text = readFileSync(env.HUBSPOT_ACCOUNTS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`${where} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
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
      if (!token) throw new ConfigError(`${where}[${i}] (${a.accountId}): environment variable ${a.tokenEnv} is empty or unset`);
    }
    if (a.tokenFile) {
      try {
        token = readFileSync(a.tokenFile, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(`${where}[${i}] (${a.accountId}): token file ${a.tokenFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    const { token: _t, tokenEnv: _e, tokenFile: _f, ...rest } = a;
    return { ...rest, token: token! };
  });
  return { env, hubspotAccounts };
}

// The chaos run's production-like setting: Temporal server 1.32 (the version docker-compose.yml deploys)
// on a PostgreSQL of its own (Debian's package, started by scripts/ci-postgres.sh; schema applied with
// the server's schema tool), the workers' account store on the same PostgreSQL with the HubSpot accounts
// connected in it, payload encryption on, several worker processes in production mode. PostgreSQL can
// be killed (immediate shutdown) and started again.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client as PgClient } from 'pg';
import type { DataConverter } from '@temporalio/common';
import type { EmulatorAccountSeed } from '../../hubspot-emulator';
import { AccountStore } from '../../src/account-store/store';
import { parseTokenKeys } from '../../src/account-store/token-cipher';
import { dataConverterFromEnv } from '../../src/codec/data-converter';
import { conversationSearchAttributes } from '../../src/platform/search-attributes';
import { TemporalServer, temporalServerMissing } from '../../src/temporal-servers';
import { ensureTemporalServers } from '../../src/temporal-servers/install';
import { freePort } from '../../src/worker/net';

const SCRIPT = resolve(__dirname, '..', '..', 'scripts', 'ci-postgres.sh');

/** Why PostgreSQL cannot be started here (scripts/ci-postgres.sh), or undefined. As root the script installs Debian's package itself. */
export function postgresMissing(): string | undefined {
  const installed =
    existsSync('/usr/lib/postgresql') &&
    readdirSync('/usr/lib/postgresql').some((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')));
  if (installed || process.getuid?.() === 0) return undefined;
  return "PostgreSQL is not installed (Debian's postgresql package)";
}

/** A throwaway PostgreSQL cluster (scripts/ci-postgres.sh) that can be killed and started again. */
export class LocalPostgres {
  private constructor(
    readonly url: string,
    readonly dir: string,
  ) {}

  static start(): LocalPostgres {
    const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8' });
    const dir = /cluster in (\S+);/.exec(r.stderr ?? '')?.[1];
    if (r.status !== 0 || !dir)
      throw new Error(
        `PostgreSQL did not start (scripts/ci-postgres.sh): ${(r.stderr ?? '').trim().split('\n').slice(-5).join('\n')}`,
      );
    return new LocalPostgres(r.stdout.trim(), dir);
  }

  get connection(): { host: string; port: number; user: string; password: string } {
    const u = new URL(this.url);
    return {
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    };
  }

  /** The URL of another database on this cluster, created when missing. */
  async database(name: string): Promise<string> {
    const client = new PgClient({ connectionString: this.url });
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
    } finally {
      await client.end();
    }
    const u = new URL(this.url);
    u.pathname = `/${name}`;
    return u.toString();
  }

  private async run(action: '--kill' | '--start' | '--stop'): Promise<void> {
    // Not spawnSync: the run's emulator and callers live in this process and must keep going meanwhile.
    await promisify(execFile)('bash', [SCRIPT, action, this.dir], { encoding: 'utf8' }).catch(
      (err: { stderr?: string; message: string }) => {
        throw new Error(
          `scripts/ci-postgres.sh ${action} failed: ${(err.stderr || err.message).trim().split('\n').slice(-5).join('\n')}`,
        );
      },
    );
  }

  /** Immediate shutdown, as a crash would: open connections are cut, recovery runs at the next start. */
  kill(): Promise<void> {
    return this.run('--kill');
  }

  start(): Promise<void> {
    return this.run('--start');
  }

  /** Stops the cluster and removes its folder. */
  close(): Promise<void> {
    return this.run('--stop');
  }
}

export interface ProductionLike {
  temporal: TemporalServer;
  postgres: LocalPostgres;
  /** The environment of each worker process (production mode). */
  workerEnvs: NodeJS.ProcessEnv[];
  /** The platform client's data converter (the same keys as the workers). */
  dataConverter: DataConverter;
  /** The workspace the accounts are connected to: conversations must name it. */
  workspaceId: string;
  close(): Promise<void>;
}

/**
 * Starts PostgreSQL, Temporal server 1.32 on it, and connects the accounts in an account store on the
 * same PostgreSQL; answers the environment of `workers` worker processes.
 */
export async function startProductionLike(opts: {
  workers: number;
  accounts: EmulatorAccountSeed[];
  emulatorUrl: string;
  workspaceId?: string;
  log: (l: string) => void;
}): Promise<ProductionLike> {
  if (temporalServerMissing()) await ensureTemporalServers({ only: ['server'], log: opts.log });
  const missing = temporalServerMissing();
  if (missing) throw new Error(`the production-like run needs ${missing}`);
  const workspaceId = opts.workspaceId ?? 'chaos-workspace';
  const postgres = LocalPostgres.start();
  let temporal: TemporalServer | undefined;
  try {
    opts.log(`PostgreSQL on ${postgres.connection.host}:${postgres.connection.port} (cluster in ${postgres.dir})`);
    // The dynamic config production runs (temporal-dynamic-config.yaml): fairness between HubSpot accounts on.
    temporal = new TemporalServer({
      database: { kind: 'postgres', ...postgres.connection },
      searchAttributes: conversationSearchAttributes,
      dynamicConfig: { 'matching.enableFairness': true },
      log: opts.log,
    });
    await temporal.start();

    // The account store on the same PostgreSQL, the accounts connected in it (private-app tokens of the workspace).
    const databaseUrl = await postgres.database('account_store');
    const storeKeys = JSON.stringify({ 'chaos-store-1': randomBytes(32).toString('base64') });
    const store = await AccountStore.open({ url: databaseUrl, keys: parseTokenKeys(storeKeys, 'ACCOUNT_STORE_KEYS') });
    try {
      for (const a of opts.accounts)
        await store.saveStaticConnection({
          workspaceId,
          accountId: a.accountId,
          kind: 'private-app',
          appId: a.appId,
          token: a.token,
        });
    } finally {
      await store.close();
    }
    const codecKeys = JSON.stringify({ 'chaos-codec-1': randomBytes(32).toString('base64') });
    const workerEnvs: NodeJS.ProcessEnv[] = [];
    for (let i = 0; i < opts.workers; i++) {
      workerEnvs.push({
        WORKER_MODE: 'production',
        TEMPORAL_ADDRESS: temporal.address,
        // No HUBSPOT_ACCOUNTS: the workers read the accounts from the account store.
        DATABASE_URL: databaseUrl,
        ACCOUNT_STORE_KEYS: storeKeys,
        HUBSPOT_API_BASE: opts.emulatorUrl,
        CONFIG_API_TOKEN: randomBytes(24).toString('base64url'),
        CONFIG_API_PORT: String(await freePort()),
        // Production requires the https URL browsers would reach the configuration API at (nobody browses here).
        CONFIG_API_PUBLIC_URL: 'https://config.chaos.invalid',
        CODEC_KEYS: codecKeys,
        // A local server without TLS; the HubSpot emulator instead of HubSpot.
        ALLOW_TEMPORAL_WITHOUT_TLS: 'true',
        HUBSPOT_ALLOWED_BASE_URLS: opts.emulatorUrl,
      });
    }
    const dataConverter = dataConverterFromEnv({ CODEC_KEYS: codecKeys });
    if (!dataConverter) throw new Error('no data converter from CODEC_KEYS');
    const server = temporal;
    return {
      temporal: server,
      postgres,
      workerEnvs,
      dataConverter,
      workspaceId,
      async close() {
        await server.close().catch(() => undefined);
        await postgres.close();
      },
    };
  } catch (err) {
    await temporal?.close().catch(() => undefined);
    await postgres.close();
    throw err;
  }
}

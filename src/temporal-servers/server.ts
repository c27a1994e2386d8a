// Temporal server 1.32, the version production runs, as a child process for tests and benchmarks: on
// SQLite (a file, or in memory) or on PostgreSQL (schema applied with the server's own schema tool, as
// docker-compose.yml's temporal-schema job does), with the default namespace and the search attributes
// registered (docker-compose.yml's temporal-setup job), dynamic config settable (for example
// `matching.enableFairness`), optionally its Web UI. Everything binds to 127.0.0.1, on free ports chosen
// once, so that the server can be killed and started again on the same database and address.
//
//   const server = await startTemporalServer({ database: { kind: 'sqlite' }, dynamicConfig: { 'matching.enableFairness': true } });
//   ... Connection.connect({ address: server.address }) ...
//   await server.close();
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { isInstalled, serverPaths, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from './index';

export type TemporalServerDatabase =
  /** SQLite: in memory without `file` (gone when the process ends), else that file (created on first use). */
  | { kind: 'sqlite'; file?: string }
  /** PostgreSQL 12 or later: the two databases are created and their schemas applied or upgraded at start. */
  | {
      kind: 'postgres';
      host: string;
      port: number;
      user: string;
      password: string;
      database?: string;
      visibilityDatabase?: string;
    };

/** A custom search attribute: the SDK's `SearchAttributeType` names (KEYWORD, KEYWORD_LIST, TEXT, INT, DOUBLE, BOOL, DATETIME). */
export interface SearchAttributeSpec {
  name: string;
  type: string;
}

/** A dynamic config value: one value for everything, or a list of values with constraints (namespace, taskQueueName, taskType). */
export type DynamicConfigValue = unknown;
export type DynamicConfig = Record<
  string,
  DynamicConfigValue | Array<{ value: unknown; constraints?: Record<string, unknown> }>
>;

export interface TemporalServerOptions {
  database: TemporalServerDatabase;
  /** Registered at start when missing. Default `default`. */
  namespace?: string;
  /** Workflow retention of a namespace it registers. Default 24 h (the server's minimum is 1 h). */
  retentionHours?: number;
  /** Custom search attributes registered on the namespace. */
  searchAttributes?: ReadonlyArray<SearchAttributeSpec>;
  /** Dynamic config keys (docs: the server's common/dynamicconfig/constants.go), e.g. { 'matching.enableFairness': true }. */
  dynamicConfig?: DynamicConfig;
  /** The frontend's gRPC port. Default: a free one. */
  port?: number;
  /** Start the Web UI too (a free port unless given). */
  ui?: boolean | { port?: number; codecEndpoint?: string };
  /** Where its config, dynamic config and log go. Default: a new temporary folder, removed by close(). */
  dir?: string;
  /** The server's own log level (its log is kept in <dir>/temporal-server.log). Default `warn`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** History shards: fixed for the life of a database. Default 1 on SQLite, 4 on PostgreSQL (docker-compose.yml's). */
  historyShards?: number;
  /** How long start() waits for the server to answer. Default 90 s. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

const INDEXED_VALUE_TYPES: Record<string, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

/** Whether a port is free on 127.0.0.1. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const srv = createServer();
    srv.once('error', () => resolveFree(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveFree(true)));
  });
}

/**
 * A free port below 32768: the server records its services' membership ports in a smallint column
 * (PostgreSQL refuses the kernel's ephemeral ports, 32768 and up), so ports are drawn from 10000-32767.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_768);
    if (await portFree(port)) return port;
  }
}

/** Why Temporal server 1.32 cannot be started here, or undefined when it can. */
export function temporalServerMissing(): string | undefined {
  return isInstalled('server')
    ? undefined
    : `Temporal server ${TEMPORAL_SERVER_VERSION} is not installed in ${serverPaths().root} (npm run install-servers -- --only server builds it with Go)`;
}

/** Output of a child process, the last `max` characters, for error messages. */
class Tail {
  text = '';
  constructor(private readonly max = 4000) {}
  add(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
}

/** Runs the server's schema tool against PostgreSQL: creates the two databases when missing, then sets up or upgrades their schemas (what docker-compose.yml's temporal-schema job runs). */
export function applyPostgresSchema(
  db: Extract<TemporalServerDatabase, { kind: 'postgres' }>,
  log: (line: string) => void = () => undefined,
): void {
  const tool = serverPaths().server.sqlTool;
  const base = ['--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', db.user];
  const env = { ...process.env, SQL_PASSWORD: db.password };
  const sql = (database: string, args: string[], allowFailure = false) => {
    const r = spawnSync(tool, [...base, '--db', database, ...args], { env, encoding: 'utf8' });
    if (r.status !== 0 && !allowFailure) {
      throw new Error(
        `the schema tool failed on database ${database} (${args.join(' ')}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').slice(-5).join('\n')}`,
      );
    }
    return r.status === 0;
  };
  for (const [database, schema] of [
    [db.database ?? 'temporal', 'postgresql/v12/temporal'],
    [db.visibilityDatabase ?? 'temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    // Fails when the database exists already: that is fine.
    sql(database, ['create-database'], true);
    sql(database, ['setup-schema', '-v', '0.0']);
    sql(database, ['update-schema', '--schema-name', schema]);
    log(`schema of ${database} applied (${schema}, the schema tool of server ${TEMPORAL_SERVER_VERSION})`);
  }
}

/** Temporal server 1.32 as a child process. Build it with startTemporalServer(). */
export class TemporalServer {
  private child?: ChildProcess;
  private ui?: ChildProcess;
  private readonly tail = new Tail(64_000);
  private dynamicConfig: DynamicConfig;
  readonly namespace: string;
  readonly dir: string;
  private readonly ownsDir: boolean;
  private ports!: Record<
    | 'frontend'
    | 'frontendHttp'
    | 'frontendMembership'
    | 'history'
    | 'historyMembership'
    | 'matching'
    | 'matchingMembership'
    | 'worker'
    | 'workerMembership',
    number
  >;
  private uiPort?: number;
  private readonly log: (line: string) => void;
  /** Times the server was started (restarts included). */
  starts = 0;

  constructor(readonly options: TemporalServerOptions) {
    this.namespace = options.namespace ?? 'default';
    this.dynamicConfig = { ...(options.dynamicConfig ?? {}) };
    this.ownsDir = !options.dir;
    this.dir = options.dir ? resolve(options.dir) : mkdtempSync(join(tmpdir(), 'temporal-server-'));
    this.log = options.log ?? (() => undefined);
  }

  /** host:port of the frontend (gRPC). */
  get address(): string {
    return `127.0.0.1:${this.ports.frontend}`;
  }

  /** The Web UI's URL, when it was asked for. */
  get uiUrl(): string | undefined {
    return this.uiPort ? `http://127.0.0.1:${this.uiPort}` : undefined;
  }

  /** The server's log file. */
  get logFile(): string {
    return join(this.dir, 'temporal-server.log');
  }

  private async choosePorts(): Promise<void> {
    if (this.ports) return;
    const names = [
      'frontend',
      'frontendHttp',
      'frontendMembership',
      'history',
      'historyMembership',
      'matching',
      'matchingMembership',
      'worker',
      'workerMembership',
    ] as const;
    const chosen = new Set<number>();
    const ports = {} as TemporalServer['ports'];
    for (const name of names) {
      let p = name === 'frontend' && this.options.port ? this.options.port : await freePort();
      while (chosen.has(p)) p = await freePort();
      chosen.add(p);
      ports[name] = p;
    }
    this.ports = ports;
    const ui = this.options.ui;
    if (ui) this.uiPort = (typeof ui === 'object' && ui.port) || (await freePort());
  }

  private dynamicConfigFile(): string {
    return join(this.dir, 'dynamic-config.yaml');
  }

  /** Writes the dynamic config file, checked by the server's own validator: an unknown key or a value of the wrong shape is an error here, not a setting silently ignored. */
  private writeDynamicConfig(): void {
    // YAML is a superset of JSON: the file is written as JSON.
    const entries = Object.entries(this.dynamicConfig).map(([key, v]) => [
      key,
      Array.isArray(v) && v.every((x) => x && typeof x === 'object' && 'value' in x)
        ? v
        : [{ value: v, constraints: {} }],
    ]);
    const file = this.dynamicConfigFile();
    writeFileSync(file, `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`);
    if (entries.length === 0) return;
    const check = spawnSync(serverPaths().server.server, ['validate-dynamic-config', file], { encoding: 'utf8' });
    const problems = `${check.stdout ?? ''}`
      .split('\n')
      .filter((l) => /^\s+(error|warning):/.test(l))
      .map((l) => l.trim());
    if (check.status !== 0 || problems.length > 0)
      throw new Error(
        `dynamic config refused by Temporal server ${TEMPORAL_SERVER_VERSION}: ${problems.join('; ') || check.stderr || `exit ${check.status}`}`,
      );
  }

  /**
   * Changes dynamic config while the server runs. The server reads its dynamic config file every 5 s
   * (its shortest poll interval): this resolves once that time has passed.
   */
  async setDynamicConfig(values: DynamicConfig): Promise<void> {
    this.dynamicConfig = { ...this.dynamicConfig, ...values };
    this.writeDynamicConfig();
    if (this.child && this.child.exitCode === null) await sleep(6_000);
  }

  /** The server's configuration file (the module's config/development-*.yaml, with this project's ports, bind address and database). */
  private writeConfig(): string {
    const db = this.options.database;
    const shards = this.options.historyShards ?? (db.kind === 'sqlite' ? 1 : 4);
    const store = (visibility: boolean) => {
      if (db.kind === 'sqlite') {
        const file = db.file ? resolve(db.file) : undefined;
        if (file) mkdirSync(resolve(file, '..'), { recursive: true });
        return {
          sql: {
            pluginName: 'sqlite',
            databaseName: file ?? 'default',
            connectAddr: 'localhost',
            connectProtocol: 'tcp',
            connectAttributes: file
              ? { setup: 'true', journal_mode: 'wal', synchronous: '2', busy_timeout: '10000' }
              : { mode: 'memory', cache: 'private' },
            maxConns: 1,
            maxIdleConns: 1,
            maxConnLifetime: '1h',
          },
        };
      }
      return {
        sql: {
          pluginName: 'postgres12',
          databaseName: visibility ? (db.visibilityDatabase ?? 'temporal_visibility') : (db.database ?? 'temporal'),
          connectAddr: `${db.host}:${db.port}`,
          connectProtocol: 'tcp',
          user: db.user,
          password: db.password,
          maxConns: visibility ? 5 : 10,
          maxIdleConns: visibility ? 5 : 10,
          maxConnLifetime: '1h',
        },
      };
    };
    const p = this.ports;
    const rpc = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
      rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...(httpPort ? { httpPort } : {}) },
    });
    const config = {
      log: { stdout: true, level: this.options.logLevel ?? 'warn' },
      persistence: {
        defaultStore: 'default',
        visibilityStore: 'visibility',
        numHistoryShards: shards,
        datastores: { default: store(false), visibility: store(true) },
      },
      global: {
        membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
        // No pprof, no metrics listener: nothing beyond the services' own ports.
        pprof: { port: 0 },
      },
      services: {
        frontend: rpc(p.frontend, p.frontendMembership, p.frontendHttp),
        history: rpc(p.history, p.historyMembership),
        matching: rpc(p.matching, p.matchingMembership),
        worker: rpc(p.worker, p.workerMembership),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: {
          active: {
            enabled: true,
            initialFailoverVersion: 1,
            rpcName: 'frontend',
            rpcAddress: this.address,
            httpAddress: `127.0.0.1:${p.frontendHttp}`,
          },
        },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      dynamicConfigClient: { filepath: this.dynamicConfigFile(), pollInterval: '5s' },
    };
    const file = join(this.dir, 'temporal-server.yaml');
    writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    return file;
  }

  /** Starts the server (again, after kill() or stop(): same database, same ports) and waits until the namespace answers. */
  async start(): Promise<void> {
    const missing = temporalServerMissing();
    if (missing) throw new Error(missing);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    mkdirSync(this.dir, { recursive: true });
    await this.choosePorts();
    const db = this.options.database;
    if (db.kind === 'postgres' && this.starts === 0) applyPostgresSchema(db, this.log);
    this.writeDynamicConfig();
    const config = this.writeConfig();
    const { createWriteStream } = await import('node:fs');
    const logStream = createWriteStream(this.logFile, { flags: 'a' });
    this.tail.text = '';
    const child = spawn(serverPaths().server.server, ['--config-file', config, '--allow-no-auth', 'start'], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    for (const s of [child.stdout!, child.stderr!]) {
      s.on('data', (d: Buffer) => {
        this.tail.add(d);
        logStream.write(d);
      });
    }
    child.once('exit', () => logStream.end());
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    const until = Date.now() + (this.options.startTimeoutMs ?? 90_000);
    const exited = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;
    const failure = (what: string) =>
      new Error(
        `Temporal server ${TEMPORAL_SERVER_VERSION} ${what}${spawnError ? `: ${spawnError.message}` : ''}. Its last output (all of it in ${this.logFile}):\n${lastLines(this.tail.text)}`,
      );
    for (;;) {
      if (exited()) throw failure(`exited (${child.exitCode ?? child.signalCode ?? 'not started'}) before it answered`);
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw failure(
          `did not answer on ${this.address} within ${((this.options.startTimeoutMs ?? 90_000) / 1000).toFixed(0)} s`,
        );
      }
      if (await this.ready().catch(() => false)) break;
      await sleep(250);
    }
    if (this.options.ui) await this.startUi();
    this.log(
      `Temporal server ${TEMPORAL_SERVER_VERSION} on ${this.address} (namespace ${this.namespace}, ${db.kind === 'sqlite' ? (db.file ? `SQLite ${db.file}` : 'SQLite in memory') : `PostgreSQL ${db.host}:${db.port}`})${this.uiUrl ? `; Web UI ${this.uiUrl}` : ''}`,
    );
  }

  /** True once the frontend answers, the namespace exists with its search attributes, and a visibility query on it works. */
  private async ready(): Promise<boolean> {
    const connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
    try {
      const svc = connection.workflowService;
      await svc.getSystemInfo({});
      const described = await svc.describeNamespace({ namespace: this.namespace }).catch((err: { code?: number }) => {
        if (err.code === 5) return undefined; // NOT_FOUND
        throw err;
      });
      if (!described) {
        await svc
          .registerNamespace({
            namespace: this.namespace,
            workflowExecutionRetentionPeriod: msToTs((this.options.retentionHours ?? 24) * 3_600_000),
          })
          .catch((err: { code?: number }) => {
            if (err.code !== 6) throw err; // ALREADY_EXISTS
          });
        return false;
      }
      const wanted = this.options.searchAttributes ?? [];
      if (wanted.length > 0) {
        const existing = await connection.operatorService.listSearchAttributes({ namespace: this.namespace });
        const missing = wanted.filter((sa) => !(sa.name in (existing.customAttributes ?? {})));
        if (missing.length > 0) {
          await connection.operatorService
            .addSearchAttributes({
              namespace: this.namespace,
              searchAttributes: Object.fromEntries(
                missing.map((sa) => {
                  const type = INDEXED_VALUE_TYPES[sa.type.toUpperCase()];
                  if (!type) throw new Error(`search attribute ${sa.name}: unknown type ${sa.type}`);
                  return [sa.name, type];
                }),
              ),
            })
            .catch((err: { code?: number }) => {
              if (err.code !== 6) throw err;
            });
          return false;
        }
      }
      // The namespace is in the frontend's cache (refreshed every 2 s) and visibility answers, with the search attributes.
      const query = wanted.length > 0 ? `${wanted[0]!.name} = 'readiness-check'` : '';
      await svc.listWorkflowExecutions({ namespace: this.namespace, pageSize: 1, query });
      return true;
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  private async startUi(): Promise<void> {
    if (this.ui && this.ui.exitCode === null) return;
    const ui = typeof this.options.ui === 'object' ? this.options.ui : {};
    const configDir = join(this.dir, 'ui-config');
    mkdirSync(configDir, { recursive: true });
    const uiConfig = {
      temporalGrpcAddress: this.address,
      host: '127.0.0.1',
      port: this.uiPort,
      enableUi: true,
      defaultNamespace: this.namespace,
      disableNewsFetch: true,
      cors: { cookieInsecure: true, allowOrigins: [this.uiUrl] },
      ...(ui.codecEndpoint ? { codec: { endpoint: ui.codecEndpoint } } : {}),
    };
    writeFileSync(join(configDir, 'development.yaml'), `${JSON.stringify(uiConfig, null, 2)}\n`);
    const tail = new Tail();
    const child = spawn(
      serverPaths().server.ui,
      ['--root', this.dir, '--config', 'ui-config', '--env', 'development', 'start'],
      { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.ui = child;
    child.stdout!.on('data', (d: Buffer) => tail.add(d));
    child.stderr!.on('data', (d: Buffer) => tail.add(d));
    for (let i = 0; i < 120; i++) {
      if (child.exitCode !== null)
        throw new Error(`Temporal Web UI ${TEMPORAL_UI_VERSION} exited (${child.exitCode}): ${lastLines(tail.text)}`);
      const ok = await fetch(`${this.uiUrl}/`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(250);
    }
    throw new Error(
      `Temporal Web UI ${TEMPORAL_UI_VERSION} did not answer on ${this.uiUrl} within 30 s: ${lastLines(tail.text)}`,
    );
  }

  /** SIGKILL, as a crash would (the Web UI keeps running). */
  async kill(): Promise<void> {
    await stopChild(this.child, 'SIGKILL');
  }

  /** SIGTERM, then SIGKILL after 20 s. */
  async stop(): Promise<void> {
    await stopChild(this.child, 'SIGTERM');
  }

  /** Kills the server (SIGKILL), waits `downMs`, starts it again. */
  async restart(downMs = 1_000): Promise<void> {
    await this.kill();
    await sleep(downMs);
    await this.start();
  }

  /** Stops the server and its Web UI, and removes its folder when it made one (unless `keepDir`: a failed start keeps its log). */
  async close(keepDir = false): Promise<void> {
    await stopChild(this.ui, 'SIGTERM');
    await this.stop();
    if (this.ownsDir && !keepDir && existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What a log says went wrong: its last error and fatal lines and plain-text lines (the server's exit
 * message), a JSON line shortened to its level, message and error (no stack trace).
 */
function lastLines(text: string, n = 5): string {
  const lines = text
    .trim()
    .split('\n')
    .flatMap((line) => {
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string; error?: string };
        return j.level === 'error' || j.level === 'fatal'
          ? [`${j.level}: ${j.msg ?? ''}${j.error ? `: ${j.error}` : ''}`]
          : [];
      } catch {
        return line.trim() && !line.startsWith('{') ? [line.slice(0, 500)] : [];
      }
    });
  return [...new Set(lines)].slice(-n).join('\n') || '(no output)';
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const force = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  if (force) clearTimeout(force);
}

/** Starts Temporal server 1.32 (see TemporalServerOptions) and waits until its namespace answers. */
export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const server = new TemporalServer(options);
  try {
    await server.start();
  } catch (err) {
    // The folder stays when the error points to the server's log in it.
    await server.close(existsSync(server.logFile)).catch(() => undefined);
    throw err;
  }
  return server;
}

// The rig of the worker benchmarks (throughput, action latency, calls per row, rate limit, memory): one
// Temporal server (temporal.ts: server 1.32 with fairness on, or with --dev-server the Temporal CLI dev
// server; real time, in-memory database), the HubSpot emulator in this process, and in
// this process too two workers: the real one (createConversationWorker: conversationWorkflow + the
// HubSpot activities, task queue bench-real) and a no-op one (noop-workflow.ts: the same workflow type
// name, signals, resettable timer and runAction update, one no-op activity; task queue bench-noop, its
// own bundle). Both are driven by the platform client (src/platform/client.ts). Also here: the HubSpot
// calls the emulator counted, its added latency, and the worker runtime's warnings.
import { NoopWorker } from './noop-worker';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker as ThreadWorker } from 'node:worker_threads';
import { Client } from '@temporalio/client';
import {
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../../hubspot-emulator';
import { HubSpotAccounts } from '../../src/hubspot/accounts';
import { ConversationClient, type ConversationRef } from '../../src/platform/client';
import { createConversationWorker, workflowsPath, type ConversationWorker } from '../../src/worker/worker';
import { withNewThreads } from './heap';
import { num } from './options';
import { pool } from './pool';
import { kb, progress } from './report';
import { bundle, startBenchServer, type BenchServer } from './temporal';
import { timeByWorkflow, type TimeByWorkflow } from './timing';

export type Kind = 'real' | 'noop';
export type Rules = { allowCreate: boolean; allowUpdateExisting: boolean };

/** The limit of the `limited` account, on the emulator and in the worker's configuration (`--limit-per-ten-seconds`, bench:rate-limit). */
export const RATE_LIMIT = { perTenSeconds: Math.floor(num('limit-per-ten-seconds', 100, 100, 1)), searchPerSecond: 5 };
/** One account per scenario: throughput, latency, calls per row, rate limit, memory. */
export const ACCOUNTS = ['tp', 'lat', 'calls', 'limited', 'mem'] as const;
export type AccountId = (typeof ACCOUNTS)[number];
export const SEEDS: EmulatorAccountSeed[] = ACCOUNTS.map((accountId, i) => ({
  accountId,
  token: `${accountId}-token`,
  appId: 7_000_001 + i,
  rateLimit: accountId === 'limited' ? RATE_LIMIT : { perTenSeconds: 0, searchPerSecond: 0 },
}));

/** The real worker is a ConversationWorker (its workflows and the agent's lane); the no-op one an SDK worker. */
export type BenchWorker = NoopWorker | ConversationWorker;

export interface Rig {
  server: BenchServer;
  emulator: HubSpotEmulator;
  hubspot: HubSpotAccounts;
  platform: Record<Kind, ConversationClient>;
  workers: Record<Kind, BenchWorker>;
  bundles: Record<Kind, WorkflowBundleWithSourceMap>;
  running: Promise<unknown>[];
  serverPid?: number;
  /** HubSpot wall time and call count per workflow id, timed around HubSpotAccount.request (every HubSpot call goes through it). */
  hubspotTime: TimeByWorkflow;
}

export const QUEUE: Record<Kind, string> = { real: 'bench-real', noop: 'bench-noop' };

// ---- the worker runtime --------------------------------------------------------------------------

let slowWorkflowTasks = 0;
/** Core's "Workflow task duration exceeded" warnings (forwarded core logs) so far. */
export const slowWorkflowTaskCount = (): number => slowWorkflowTasks;

/** The SDK runtime: warnings and errors on stderr; core's slow workflow task warnings only counted. */
export function installRuntime(): void {
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (/Workflow task duration exceeded/.test(entry.message)) {
        if (++slowWorkflowTasks % 100 === 1) progress(`(worker: "${entry.message}" ×${slowWorkflowTasks} so far)`);
        return;
      }
      process.stderr.write(`  [worker ${entry.level}] ${entry.message}\n`);
    }),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} } },
  });
}

// ---- workers -------------------------------------------------------------------------------------

/** The workflow threads each worker started (for heap snapshots). */
const threads = new WeakMap<BenchWorker, ThreadWorker[]>();
export const threadsOf = (worker: BenchWorker): ThreadWorker[] => threads.get(worker) ?? [];

async function makeWorker(rig: Pick<Rig, 'server' | 'hubspot' | 'bundles'>, kind: Kind): Promise<BenchWorker> {
  const { value: worker, threads: started } = await withNewThreads(() => createWorker(rig, kind));
  threads.set(worker, started);
  return worker;
}

function createWorker(rig: Pick<Rig, 'server' | 'hubspot' | 'bundles'>, kind: Kind): Promise<BenchWorker> {
  if (kind === 'real') {
    return createConversationWorker({
      connection: rig.server.nativeConnection,
      namespace: rig.server.namespace,
      taskQueue: QUEUE.real,
      hubspot: rig.hubspot,
      workflowBundle: rig.bundles.real,
    });
  }
  return NoopWorker.create({
    connection: rig.server.nativeConnection,
    namespace: rig.server.namespace,
    taskQueue: QUEUE.noop,
    workflowBundle: rig.bundles.noop,
    activities: { noop: async () => undefined },
  });
}

// ---- the rig -------------------------------------------------------------------------------------

export async function startRig(eagerActivities: boolean): Promise<Rig> {
  const t0 = Date.now();
  const server = await startBenchServer({ eagerActivities, log: progress });
  const serverPid = server.pid;
  progress(`${server.label} on ${server.address} (pid ${serverPid ?? '?'}) in ${Date.now() - t0} ms`);
  const emulator = await startHubSpotEmulator({ port: 0, accounts: SEEDS, seed: 7 });
  progress(`HubSpot emulator (in process) on ${emulator.url}; accounts ${ACCOUNTS.join(', ')}`);
  const hubspot = new HubSpotAccounts(
    SEEDS.map((s) => ({
      accountId: s.accountId,
      token: s.token,
      appId: s.appId,
      basePath: emulator.url,
      ...(s.accountId === 'limited'
        ? { rateLimitPerTenSeconds: RATE_LIMIT.perTenSeconds, searchRateLimitPerSecond: RATE_LIMIT.searchPerSecond }
        : {}),
    })),
  );
  // Time every HubSpot call per workflow (the activity's workflow id), by wrapping each account's one
  // request path (every typed method goes through it; the pacing wait is included, as for a caller).
  const hubspotTime: TimeByWorkflow = new Map();
  for (const id of await hubspot.accountIds()) timeByWorkflow(await hubspot.get(id), 'request', hubspotTime);
  const tb = Date.now();
  const [real, noop] = await Promise.all([bundle(workflowsPath), bundle(require.resolve('./noop-workflow'))]);
  progress(`workflow bundles: real ${kb(real.code.length)}, no-op ${kb(noop.code.length)} (${Date.now() - tb} ms)`);
  const bundles = { real, noop };
  const workers = {
    real: await makeWorker({ server, hubspot, bundles }, 'real'),
    noop: await makeWorker({ server, hubspot, bundles }, 'noop'),
  };
  const running = [workers.real.run(), workers.noop.run()];
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const platform = {
    real: new ConversationClient({ client, taskQueue: QUEUE.real }),
    noop: new ConversationClient({ client, taskQueue: QUEUE.noop }),
  };
  return { server, emulator, hubspot, platform, workers, bundles, running, serverPid, hubspotTime };
}

/**
 * The environment of a worker process (src/worker/main.ts) serving the real worker's task queue on the
 * rig's server, with the rig's accounts and limits (the emulator's URL), production mode without TLS
 * and payload encryption (a local server, the emulator).
 */
export function workerProcessEnv(rig: Rig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WORKER_MODE: 'production',
    TEMPORAL_ADDRESS: rig.server.address,
    TEMPORAL_NAMESPACE: rig.server.namespace,
    TEMPORAL_TASK_QUEUE: QUEUE.real,
    HUBSPOT_ACCOUNTS: JSON.stringify(
      SEEDS.map((s) => ({
        accountId: s.accountId,
        token: s.token,
        appId: s.appId,
        basePath: rig.emulator.url,
        ...(s.accountId === 'limited'
          ? { rateLimitPerTenSeconds: RATE_LIMIT.perTenSeconds, searchRateLimitPerSecond: RATE_LIMIT.searchPerSecond }
          : {}),
      })),
    ),
    ALLOW_TEMPORAL_WITHOUT_TLS: 'true',
    ALLOW_UNENCRYPTED_PAYLOADS: 'true',
    HUBSPOT_ALLOWED_BASE_URLS: rig.emulator.url,
    LOG_LEVEL: 'ERROR',
  };
  for (const k of [
    'CODEC_KEYS',
    'CODEC_KEYS_FILE',
    'METRICS_BIND_ADDRESS',
    'HUBSPOT_ACCOUNTS_FILE',
    'DATABASE_URL',
    'DATABASE_URL_FILE',
    'TEMPORAL_API_KEY',
    'TEMPORAL_API_KEY_FILE',
  ])
    delete env[k];
  return env;
}

export async function stopRig(rig: Rig): Promise<void> {
  for (const w of Object.values(rig.workers)) if (w.getState() === 'RUNNING') w.shutdown();
  await Promise.race([Promise.allSettled(rig.running), sleep(60_000)]);
  await rig.server.teardown().catch(() => undefined);
  await rig.emulator.close();
}

/** Replaces both workers with fresh ones (empty workflow caches). */
export async function restartWorkers(rig: Rig): Promise<void> {
  for (const w of Object.values(rig.workers)) w.shutdown();
  await Promise.allSettled(rig.running);
  rig.workers = { real: await makeWorker(rig, 'real'), noop: await makeWorker(rig, 'noop') };
  rig.running = [rig.workers.real.run(), rig.workers.noop.run()];
}

export const terminateAll = (rig: Rig, kind: Kind, refs: ConversationRef[]): Promise<void> =>
  pool(refs, 32, async (ref) => {
    await rig.platform[kind]
      .handle(ref)
      .terminate('benchmark measurement done')
      .catch(() => undefined);
  });

// ---- HubSpot, as the emulator sees it ------------------------------------------------------------

/** The emulator's request counts by operation, for an account. */
export function callCounts(rig: Rig, accountId: AccountId): Record<string, number> {
  return rig.emulator.requestCounts(accountId);
}
export function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0)) d[k] = v - (before[k] ?? 0);
  return d;
}
export const total = (counts: Record<string, number>, except: string[] = []): number =>
  Object.entries(counts).reduce((n, [k, v]) => (except.includes(k) ? n : n + v), 0);

/** HubSpot's added latency on an account: `latencyMs` + 0..`jitterMs` per call (0: none). */
export function setLatency(rig: Rig, accountId: AccountId, latencyMs: number, jitterMs: number): void {
  rig.emulator.setFaults(accountId, latencyMs > 0 ? { latencyMs, latencyJitterMs: jitterMs } : null, 11);
}

// Throughput, latency, HubSpot cost and memory of the real worker, side by side with the Temporal floor.
//
//   npx tsx bench/throughput.ts [--conversations N] [--latency-ms L] [--quick]
//        [--jitter-ms J] [--actions M] [--action-concurrency C] [--row-samples K]
//        [--rate-seconds S] [--open N] [--timer-ms T] [--batch B] [--no-wait] [--only 1,2,3,4,5]
//        [--eager-activities] [--heap-sample K]
//
// One Temporal CLI dev server (real time, in-memory database), the HubSpot emulator in this process,
// and in this process too two workers: the real one (createConversationWorker: conversationWorkflow +
// the HubSpot activities, task queue bench-real) and a no-op one (bench/noop-workflow.ts: the same
// workflow type name, signals, resettable timer and runAction update, one no-op activity; task queue
// bench-noop, its own bundle). Both are driven by the platform client (src/platform/client.ts).
//
//   1. conversations synced per second, end to end (first signal to the last result()), real vs no-op,
//      with the emulator at 0 ms and at L ms added latency (ABBA order: no-op, real, real, no-op);
//   2. in-conversation action latency (runAction, update-with-start): sequential, C in flight, and cold
//      (the update starts the workflow); p50/p99 total, and the part that is not HubSpot time;
//   3. HubSpot calls per conversation for every row of docs/CONTACT_SYNC.md's table;
//   4. an account rate limit (100 per 10 s, 5 searches/s; the worker paces at 90%): share used, 429s;
//   5. worker process memory with N open conversations (default 10,000), real vs no-op, and (5b) the
//      live heap per cached workflow, from heap snapshots of the workflow threads (K=300 open each).
//
// --quick runs small sizes of everything (a smoke run of a few minutes). Progress goes to stderr,
// tables to stdout. Before measuring it waits while `bench/chaos.ts` or the test suite (test/all.ts)
// runs (--no-wait skips that), and it says under each table how much CPU other processes used.
// --eager-activities turns on the dev server's eager activity execution (off by default, as here).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Worker as ThreadWorker } from 'node:worker_threads';
import { Context } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, makeTelemetryFilterString, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { ActionConfigInput } from '../src/action/config';
import { benchAction, pool } from './common';
import { ConversationClient, type Conversation } from '../src/platform/client';
import { conversationWorkflowId, type ActionRun, type ConversationResult } from '../src/platform/contract';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../hubspot-emulator';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { conversationSearchAttributes } from '../src/platform/search-attributes';
import { devServer } from '../src/temporal-servers';
import { createConversationWorker, workflowsPath, type ConversationWorker } from '../src/worker/worker';

// ---- options -------------------------------------------------------------------------------------

const QUICK = process.argv.includes('--quick');
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
function num(name: string, full: number, quick: number, min = 0): number {
  const raw = flag(name);
  if (raw === undefined) return QUICK ? quick : full;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} ${raw} is not a number >= ${min}`);
  return n;
}

const N = Math.floor(num('conversations', 300, 40, 3));
const LATENCY = num('latency-ms', 150, 150, 1);
const JITTER = num('jitter-ms', 50, 50, 0);
const M = Math.floor(num('actions', 200, 20, 2));
const ACTION_CONCURRENCY = Math.floor(num('action-concurrency', 10, 5, 1));
const ROW_SAMPLES = Math.floor(num('row-samples', 3, 1, 1));
const RATE_SECONDS = num('rate-seconds', 30, 15, 10);
const OPEN = Math.floor(num('open', 10_000, 300, 1));
const TIMER_MS = Math.floor(num('timer-ms', 1_000, 1_000, 100));
const BATCH = Math.floor(num('batch', 50, 20, 1));
const OPEN_IN_FLIGHT = 64;
const HEAP_SAMPLE = Math.floor(num('heap-sample', 300, 50, 1));
const ONLY = new Set((flag('only') ?? '1,2,3,4,5').split(',').map((s) => Number(s.trim())));
const RATE_LIMIT = { perTenSeconds: 100, searchPerSecond: 5 };
/** Off by default (the dev server's default): every activity task then goes through matching. */
const EAGER_ACTIVITIES = process.argv.includes('--eager-activities');
const MEAN_LATENCY = LATENCY + JITTER / 2;

// ---- small helpers -------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (line: string) => process.stderr.write(`  ${line}\n`);
const out = (line = '') => process.stdout.write(`${line}\n`);
const tag = Date.now().toString(36);
let convSeq = 0;
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20, 1)} MiB`;
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KiB`;

function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

function table(head: string[], rows: string[][], leftColumns = 1): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}


const gc: () => void = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
})();

// The SDK runs workflows in worker threads (one per Worker, each its own V8 isolate). Record them, so
// that a memory measurement can force a full GC in them too (a heap snapshot collects garbage first).
const workflowThreads = new Set<ThreadWorker>();
{
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const NodeWorker = wt.Worker;
  wt.Worker = class extends NodeWorker {
    constructor(...args: ConstructorParameters<typeof NodeWorker>) {
      super(...args);
      workflowThreads.add(this);
      this.once('exit', () => workflowThreads.delete(this));
    }
  } as typeof NodeWorker;
}

/** The workflow threads each SDK Worker started (recorded around Worker.create). */
/** The real worker is a ConversationWorker (its workflows and the agent's lane); the no-op one an SDK worker. */
type BenchWorker = Worker | ConversationWorker;
const threadsOf = new WeakMap<BenchWorker, ThreadWorker[]>();

/**
 * Live V8 heap of workflow threads: a heap snapshot (which collects garbage first) streamed and read
 * for the sum of its nodes' self sizes. Costly (seconds per 100 MB of heap) and it leaves the process
 * RSS inflated, so it is only taken where no RSS measurement follows.
 */
async function liveHeap(threads: ThreadWorker[]): Promise<{ bytes: number; ms: number }> {
  const t = performance.now();
  let bytes = 0;
  for (const thread of threads) {
    const stream = await thread.getHeapSnapshot();
    let head = '';
    let inNodes = false;
    let fieldCount = 0;
    let selfIndex = 0;
    let field = 0;
    let cur = 0;
    let inNumber = false;
    let done = false;
    const scan = (buf: Buffer, from: number) => {
      for (let i = from; i < buf.length; i++) {
        const c = buf[i]!;
        if (c >= 48 && c <= 57) {
          cur = cur * 10 + (c - 48);
          inNumber = true;
        } else if (c === 44 || c === 93) {
          if (inNumber) {
            if (field === selfIndex) bytes += cur;
            field = (field + 1) % fieldCount;
            cur = 0;
            inNumber = false;
          }
          if (c === 93) {
            done = true;
            return;
          }
        }
      }
    };
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (!inNodes) {
        // The header (meta) is small; a chunk can be hundreds of MB, so only its start becomes a string.
        const before = head.length;
        head += buf.subarray(0, Math.min(buf.length, 1 << 20)).toString('latin1');
        const at = head.indexOf('"nodes":[');
        if (at < 0) continue;
        const fields = JSON.parse(/"node_fields":(\[[^\]]*\])/.exec(head)![1]!) as string[];
        fieldCount = fields.length;
        selfIndex = fields.indexOf('self_size');
        inNodes = true;
        scan(buf, at + '"nodes":['.length - before);
      } else scan(buf, 0);
      if (done) break;
    }
    stream.destroy();
  }
  return { bytes, ms: performance.now() - t };
}

/** Core's "Workflow task duration exceeded" warnings (forwarded core logs), counted per scenario. */
let slowWorkflowTasks = 0;

/** CPU seconds (user+system) of a process, from /proc. */
function procCpu(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}
function procRss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
function devServerPid(): number | undefined {
  try {
    const lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
    const line = lines.find((l) => /start-dev/.test(l));
    return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Measures the CPU of this process (worker + emulator + driver) and of the dev server over a span. */
function cpuMeter(serverPid: number | undefined) {
  const c0 = process.cpuUsage();
  const s0 = procCpu(serverPid);
  const t0 = performance.now();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const s1 = procCpu(serverPid);
    return { self: (c.user + c.system) / 1e6 / secs, server: s0 !== undefined && s1 !== undefined ? (s1 - s0) / secs : NaN };
  };
}

/** Busy CPU seconds of the whole machine, from /proc/stat. */
function machineBusy(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const totalJiffies = f.reduce((a, b) => a + b, 0);
    return (totalJiffies - (f[3] ?? 0) - (f[4] ?? 0)) / 100;
  } catch {
    return undefined;
  }
}

/** CPU used by other processes (not this one, not the dev server) over a span, in cores. */
function foreignMeter(serverPid: number | undefined) {
  const b0 = machineBusy();
  const c0 = process.cpuUsage();
  const s0 = procCpu(serverPid) ?? 0;
  const t0 = performance.now();
  return () => {
    const b1 = machineBusy();
    if (b0 === undefined || b1 === undefined) return NaN;
    const c = process.cpuUsage(c0);
    const mine = (c.user + c.system) / 1e6 + ((procCpu(serverPid) ?? 0) - s0);
    return Math.max(0, (b1 - b0 - mine) / ((performance.now() - t0) / 1000));
  };
}

/** Other heavy work on this 2-core machine: another engineer's chaos run or test suite. */
const OTHER_HEAVY = ['[b]ench/chaos.ts', '[t]est/all.ts'];
function otherHeavyRunning(): string[] {
  const found: string[] = [];
  for (const pattern of OTHER_HEAVY) {
    try {
      if (execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim()) found.push(pattern.replace(/[[\]]/g, ''));
    } catch {
      // pgrep exits 1 when nothing matches
    }
  }
  return found;
}

function waitForOtherBenchmarks(): Promise<void> {
  if (process.argv.includes('--no-wait')) return Promise.resolve();
  return (async () => {
    const start = Date.now();
    let said = 0;
    for (let others = otherHeavyRunning(); others.length; others = otherHeavyRunning()) {
      if (Date.now() - said > 30_000) {
        progress(`waiting: ${others.join(', ')} running (${Math.round((Date.now() - start) / 1000)} s so far)`);
        said = Date.now();
      }
      await sleep(5_000);
    }
  })();
}

// ---- the rig: dev server, emulator, workers, platform clients ----------------------------------

type Kind = 'real' | 'noop';
type Rules = { allowCreate: boolean; allowUpdateExisting: boolean };

const ACCOUNTS = ['tp', 'lat', 'calls', 'limited', 'mem'] as const;
type AccountId = (typeof ACCOUNTS)[number];
const SEEDS: EmulatorAccountSeed[] = ACCOUNTS.map((accountId, i) => ({
  accountId,
  token: `${accountId}-token`,
  appId: 7_000_001 + i,
  rateLimit: accountId === 'limited' ? RATE_LIMIT : { perTenSeconds: 0, searchPerSecond: 0 },
}));

const action = (id: string, accountId: AccountId, rules: Rules, offlineSync: boolean): ActionConfigInput => benchAction(id, accountId, rules, offlineSync);

interface Rig {
  env: TestWorkflowEnvironment;
  emulator: HubSpotEmulator;
  hubspot: HubSpotAccounts;
  platform: Record<Kind, ConversationClient>;
  workers: Record<Kind, BenchWorker>;
  bundles: Record<Kind, WorkflowBundleWithSourceMap>;
  running: Promise<unknown>[];
  serverPid?: number;
  /** HubSpot wall time and call count per workflow id, timed around HubSpotAccount.call. */
  hubspotTime: Map<string, { ms: number; calls: number }>;
}

const QUEUE: Record<Kind, string> = { real: 'bench-real', noop: 'bench-noop' };

async function makeWorker(rig: Pick<Rig, 'env' | 'hubspot' | 'bundles'>, kind: Kind): Promise<BenchWorker> {
  const before = new Set(workflowThreads);
  const worker = await createWorker(rig, kind);
  threadsOf.set(worker, [...workflowThreads].filter((t) => !before.has(t)));
  return worker;
}

function createWorker(rig: Pick<Rig, 'env' | 'hubspot' | 'bundles'>, kind: Kind): Promise<BenchWorker> {
  if (kind === 'real') {
    return createConversationWorker({
      connection: rig.env.nativeConnection,
      namespace: rig.env.namespace,
      taskQueue: QUEUE.real,
      hubspot: rig.hubspot,
      workflowBundle: rig.bundles.real,
    });
  }
  return Worker.create({
    connection: rig.env.nativeConnection,
    namespace: rig.env.namespace ?? 'default',
    taskQueue: QUEUE.noop,
    workflowBundle: rig.bundles.noop,
    activities: { noop: async () => undefined },
  });
}

async function startRig(): Promise<Rig> {
  const choice = devServer();
  progress(`starting ${choice.source}`);
  const t0 = Date.now();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: choice.executable,
      searchAttributes: conversationSearchAttributes,
      log: { format: 'pretty', level: 'error' },
      ...(EAGER_ACTIVITIES ? { extraArgs: ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'] } : {}),
    },
  });
  const serverPid = devServerPid();
  progress(`dev server on ${env.address} (pid ${serverPid ?? '?'}, in-memory database, eager activity execution ${EAGER_ACTIVITIES ? 'on' : 'off (default)'}) in ${Date.now() - t0} ms`);
  const emulator = await startHubSpotEmulator({ port: 0, accounts: SEEDS, seed: 7 });
  progress(`HubSpot emulator (in process) on ${emulator.url}; accounts ${ACCOUNTS.join(', ')}`);
  const hubspot = new HubSpotAccounts(
    SEEDS.map((s) => ({
      accountId: s.accountId,
      token: s.token,
      appId: s.appId,
      basePath: emulator.url,
      ...(s.accountId === 'limited' ? { rateLimitPerTenSeconds: RATE_LIMIT.perTenSeconds, searchRateLimitPerSecond: RATE_LIMIT.searchPerSecond } : {}),
    })),
  );
  // Time every HubSpot call per workflow (the activity's workflow id), by wrapping each account's one
  // request path (every typed method goes through it; the pacing wait is included, as for a caller).
  const hubspotTime = new Map<string, { ms: number; calls: number }>();
  for (const id of hubspot.ids()) {
    const account = (await hubspot.get(id)) as unknown as { request: (...args: unknown[]) => Promise<unknown> };
    if (typeof account.request !== 'function') throw new Error('HubSpotAccount has no request() to time: update bench/throughput.ts');
    const request = account.request.bind(account);
    account.request = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await request(...args);
      } finally {
        let wf: string | undefined;
        try {
          wf = Context.current().info.workflowExecution?.workflowId;
        } catch {
          wf = undefined;
        }
        if (wf) {
          const e = hubspotTime.get(wf) ?? { ms: 0, calls: 0 };
          e.ms += performance.now() - t;
          e.calls++;
          hubspotTime.set(wf, e);
        }
      }
    };
  }
  const tb = Date.now();
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never;
  const [real, noop] = await Promise.all([
    bundleWorkflowCode({ workflowsPath, logger: quiet }),
    bundleWorkflowCode({ workflowsPath: require.resolve('./noop-workflow'), logger: quiet }),
  ]);
  progress(`workflow bundles: real ${kb(real.code.length)}, no-op ${kb(noop.code.length)} (${Date.now() - tb} ms)`);
  const bundles = { real, noop };
  const workers = { real: await makeWorker({ env, hubspot, bundles }, 'real'), noop: await makeWorker({ env, hubspot, bundles }, 'noop') };
  const running = [workers.real.run(), workers.noop.run()];
  const client = new Client({ connection: env.connection, namespace: env.namespace });
  const platform = { real: new ConversationClient({ client, taskQueue: QUEUE.real }), noop: new ConversationClient({ client, taskQueue: QUEUE.noop }) };
  return { env, emulator, hubspot, platform, workers, bundles, running, serverPid, hubspotTime };
}

async function stopRig(rig: Rig): Promise<void> {
  for (const w of Object.values(rig.workers)) if (w.getState() === 'RUNNING') w.shutdown();
  await Promise.race([Promise.allSettled(rig.running), sleep(60_000)]);
  await rig.env.teardown().catch(() => undefined);
  await rig.emulator.close();
}

/** Replaces both workers with fresh ones (empty workflow caches). */
async function restartWorkers(rig: Rig): Promise<void> {
  for (const w of Object.values(rig.workers)) w.shutdown();
  await Promise.allSettled(rig.running);
  rig.workers = { real: await makeWorker(rig, 'real'), noop: await makeWorker(rig, 'noop') };
  rig.running = [rig.workers.real.run(), rig.workers.noop.run()];
}

function callCounts(rig: Rig, accountId: AccountId): Record<string, number> {
  return rig.emulator.requestCounts(accountId);
}
function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0)) d[k] = v - (before[k] ?? 0);
  return d;
}
const total = (counts: Record<string, number>, except: string[] = []) =>
  Object.entries(counts).reduce((n, [k, v]) => (except.includes(k) ? n : n + v), 0);

function setLatency(rig: Rig, accountId: AccountId, latencyMs: number): void {
  rig.emulator.setFaults(accountId, latencyMs > 0 ? { latencyMs, latencyJitterMs: JITTER } : null, 11);
}

const terminateAll = (rig: Rig, kind: Kind, ids: string[]) =>
  pool(ids, 32, async (id) => {
    await rig.platform[kind].handle(id).terminate('benchmark measurement done').catch(() => undefined);
  });

// ---- conversation rows ---------------------------------------------------------------------------

/** The three rows scenario 1, 2 and 4 mix: a new contact created, an existing one updated, note only. */
type SyncRow = 'created' | 'updated' | 'note_only';
const SYNC_ROWS: SyncRow[] = ['created', 'updated', 'note_only'];

interface Planned {
  row: SyncRow;
  email: string;
  conversation: Conversation;
  summary: string;
}

function plan(rig: Rig, kind: Kind, prefix: string, accountId: AccountId, n: number, opts: { offline: boolean; timerMs: number }): Planned[] {
  const run = `${prefix}-${kind}-${tag}-${++convSeq}`;
  return Array.from({ length: n }, (_, i) => {
    const row = SYNC_ROWS[i % SYNC_ROWS.length]!;
    const email = `${run}.${i}@bench.example`;
    if (kind === 'real' && row !== 'created') rig.emulator.addContact(accountId, { email, firstname: 'Original', phone: '+1 555 0100' });
    const rules = { allowCreate: true, allowUpdateExisting: row !== 'note_only' };
    return {
      row,
      email,
      summary: `Conversation ${i}: asked about pricing; wants a demo next week.`,
      conversation: {
        conversationId: `${run}-${i}`,
        channel: 'chat',
        actions: [action(opts.offline ? 'offline' : 'live', accountId, rules, opts.offline)],
        // A short retention: the workflow completes right after its sync, so result() is the sync's end.
        options: { inactivityTimeoutMs: opts.timerMs, retentionMs: 1 },
      },
    };
  });
}

// ---- 1. conversations synced per second -----------------------------------------------------------

interface ThroughputRun {
  kind: Kind;
  latencyMs: number;
  n: number;
  seconds: number;
  perSecond: number;
  signalSeconds: number;
  /** result() time minus the last signal minus the inactivity timer, per conversation. */
  afterTimer: number[];
  wrong: number;
  firstWrong?: string;
  calls: number;
  cpuSelf: number;
  cpuServer: number;
}

async function throughputRun(rig: Rig, kind: Kind, n: number, latencyMs: number): Promise<ThroughputRun> {
  const planned = plan(rig, kind, 'tp', 'tp', n, { offline: true, timerMs: TIMER_MS });
  const platform = rig.platform[kind];
  const counts0 = callCounts(rig, 'tp');
  const cpu = cpuMeter(rig.serverPid);
  const signalledAt: number[] = [];
  const endedAt: number[] = [];
  const results: Promise<void>[] = [];
  let wrong = 0;
  let firstWrong: string | undefined;
  let signalled = 0;
  const t0 = performance.now();
  let signalEnd = t0;
  const label = `${kind} @${latencyMs} ms`;
  const ticker = setInterval(
    () => progress(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${signalled}/${n} signalled, ${endedAt.filter(Boolean).length} ended`),
    2_000,
  );
  try {
    for (let b = 0; b < planned.length; b += BATCH) {
      await Promise.all(
        planned.slice(b, b + BATCH).map(async (p, j) => {
          const i = b + j;
          await platform.recordMessage(p.conversation, { from: 'customer', fields: { email: p.email, first_name: `First${i}` } });
          await platform.updateFields(p.conversation, { summary: p.summary });
          signalledAt[i] = performance.now();
          signalled++;
          results.push(
            platform.result(p.conversation.conversationId).then((r: ConversationResult) => {
              endedAt[i] = performance.now();
              if (kind === 'real') {
                const got = r.outcomes.offline?.at(-1);
                if (got?.result !== p.row) {
                  wrong++;
                  firstWrong ??= `${p.conversation.conversationId}: ${got?.result} (${got?.reason}), expected ${p.row}`;
                }
              }
            }),
          );
        }),
      );
    }
    signalEnd = performance.now();
    await Promise.all(results);
  } finally {
    clearInterval(ticker);
  }
  const t1 = Math.max(...endedAt);
  const c = cpu();
  const seconds = (t1 - t0) / 1000;
  const r: ThroughputRun = {
    kind,
    latencyMs,
    n,
    seconds,
    perSecond: n / seconds,
    signalSeconds: (signalEnd - t0) / 1000,
    afterTimer: planned.map((_, i) => endedAt[i]! - signalledAt[i]! - TIMER_MS),
    wrong,
    firstWrong,
    calls: total(delta(callCounts(rig, 'tp'), counts0)),
    cpuSelf: c.self,
    cpuServer: c.server,
  };
  progress(
    `${label}: ${n} conversations in ${seconds.toFixed(2)} s = ${r.perSecond.toFixed(1)}/s (signals sent in ${r.signalSeconds.toFixed(2)} s; ` +
      `after-timer p50 ${fmt(percentile(r.afterTimer, 50))} ms; CPU bench ${fmt(c.self * 100)}%, server ${fmt(c.server * 100)}%)` +
      (wrong ? `; ${wrong} WRONG outcomes, e.g. ${firstWrong}` : ''),
  );
  return r;
}

async function scenarioThroughput(rig: Rig): Promise<string> {
  out(`\n## 1. Conversations synced per second (N=${N}, text, one offline action, inactivity ${TIMER_MS} ms, signals in batches of ${BATCH})`);
  const runs: ThroughputRun[] = [];
  for (const latencyMs of [0, LATENCY]) {
    setLatency(rig, 'tp', latencyMs);
    progress(`scenario 1 at ${latencyMs} ms HubSpot latency${latencyMs ? ` (+0..${JITTER} ms jitter)` : ''}: no-op, real, real, no-op`);
    for (const kind of ['noop', 'real', 'real', 'noop'] as const) runs.push(await throughputRun(rig, kind, N, latencyMs));
    await sleep(1_000);
  }
  setLatency(rig, 'tp', 0);
  const rows: string[][] = [];
  for (const latencyMs of [0, LATENCY]) {
    const pick = (k: Kind) => runs.filter((r) => r.kind === k && r.latencyMs === latencyMs);
    const noop = pick('noop');
    const real = pick('real');
    const rate = (rs: ThroughputRun[]) => mean(rs.map((r) => r.perSecond));
    const range = (rs: ThroughputRun[]) => `${fmt(Math.min(...rs.map((r) => r.perSecond)), 1)}–${fmt(Math.max(...rs.map((r) => r.perSecond)), 1)}`;
    for (const [name, rs] of [['no-op (Temporal floor)', noop], ['real worker', real]] as const) {
      const after = rs.flatMap((r) => r.afterTimer);
      rows.push([
        name,
        latencyMs ? `${latencyMs}+0..${JITTER} ms` : '0 ms',
        String(rs.reduce((a, r) => a + r.n, 0)),
        fmt(rate(rs), 1),
        range(rs),
        name.startsWith('real') ? `${fmt(rate(real) / rate(noop), 2)}×` : '',
        fmt(mean(rs.map((r) => r.seconds)), 2),
        fmt(percentile(after, 50)),
        fmt(percentile(after, 99)),
        fmt(mean(rs.map((r) => r.calls / r.n)), 2),
        `${fmt(mean(rs.map((r) => r.cpuSelf)) * 100)}%`,
        `${fmt(mean(rs.map((r) => r.cpuServer)) * 100)}%`,
        String(rs.reduce((a, r) => a + r.wrong, 0)),
      ]);
    }
  }
  const t = table(
    ['workflow', 'HubSpot latency', 'conv.', 'synced/s', 'range', 'real/no-op', 's per run', 'after-timer p50 ms', 'p99 ms', 'HubSpot calls/conv', 'bench CPU', 'server CPU', 'wrong'],
    rows,
    2,
  );
  out(t);
  out(
    `synced/s: N / (first signal → last result()), mean of 2 runs (ABBA order); "after-timer": result() time − last signal − the ${TIMER_MS} ms inactivity timer, ` +
      `per conversation. CPU: share of one core (bench = this process: worker, emulator, client), 2 cores in all.`,
  );
  return t;
}

// ---- 2. in-conversation action latency -----------------------------------------------------------

type LatencyMode = 'sequential' | 'concurrent' | 'cold';
interface LatencySample {
  total: number;
  hubspotMs: number;
  calls: number;
}

async function latencyRun(rig: Rig, kind: Kind, mode: LatencyMode, m: number, latencyMs: number): Promise<{ samples: LatencySample[]; wrong: number; firstWrong?: string }> {
  const planned = plan(rig, kind, `lat-${mode}`, 'lat', m, { offline: false, timerMs: 3_600_000 });
  const platform = rig.platform[kind];
  const label = `${kind} ${mode} @${latencyMs} ms`;
  if (mode !== 'cold') {
    // The conversations exist (a message first); runAction then finds them (update-with-start, USE_EXISTING).
    await pool(planned, 32, async (p) => {
      await platform.recordMessage(p.conversation, { from: 'customer', fields: { email: p.email } });
      await platform.handle(p.conversation.conversationId).query('state');
    });
  }
  const samples: LatencySample[] = [];
  let wrong = 0;
  let firstWrong: string | undefined;
  const t0 = performance.now();
  const ticker = setInterval(() => progress(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${samples.length}/${m} actions`), 5_000);
  try {
    await pool(planned, mode === 'concurrent' ? ACTION_CONCURRENCY : 1, async (p, i) => {
      const wf = conversationWorkflowId(p.conversation.conversationId);
      rig.hubspotTime.delete(wf);
      const t = performance.now();
      const run: ActionRun = await platform.runAction(p.conversation, { actionId: 'live', fields: { email: p.email, first_name: `First${i}` }, summary: p.summary });
      const dt = performance.now() - t;
      const hs = rig.hubspotTime.get(wf) ?? { ms: 0, calls: 0 };
      rig.hubspotTime.delete(wf);
      samples.push({ total: dt, hubspotMs: hs.ms, calls: hs.calls });
      if (kind === 'real' && run.result !== p.row) {
        wrong++;
        firstWrong ??= `${p.conversation.conversationId}: ${run.result} (${run.reason}), expected ${p.row}`;
      }
    });
  } finally {
    clearInterval(ticker);
  }
  const totals = samples.map((s) => s.total);
  progress(`${label}: ${m} actions, p50 ${fmt(percentile(totals, 50), 1)} ms, p99 ${fmt(percentile(totals, 99), 1)} ms${wrong ? `; ${wrong} WRONG, e.g. ${firstWrong}` : ''}`);
  await terminateAll(rig, kind, planned.map((p) => p.conversation.conversationId));
  return { samples, wrong, firstWrong };
}

async function scenarioLatency(rig: Rig): Promise<string> {
  out(`\n## 2. In-conversation action latency (runAction = update-with-start; M=${M} per mode, cold M/2; ${ACTION_CONCURRENCY} in flight for "concurrent")`);
  const modes: Array<{ mode: LatencyMode; m: number }> = [
    { mode: 'sequential', m: M },
    { mode: 'concurrent', m: M },
    { mode: 'cold', m: Math.max(2, Math.floor(M / 2)) },
  ];
  const rows: string[][] = [];
  for (const { mode, m } of modes) {
    progress(`scenario 2, ${mode}: no-op, real @0 ms, real @${LATENCY} ms`);
    const noop = await latencyRun(rig, 'noop', mode, m, 0);
    setLatency(rig, 'lat', 0);
    const real0 = await latencyRun(rig, 'real', mode, m, 0);
    setLatency(rig, 'lat', LATENCY);
    const realL = await latencyRun(rig, 'real', mode, m, LATENCY);
    setLatency(rig, 'lat', 0);
    const noopP50 = percentile(noop.samples.map((s) => s.total), 50);
    const line = (name: string, latency: string, r: { samples: LatencySample[]; wrong: number }, latencyMs: number | undefined) => {
      const totals = r.samples.map((s) => s.total);
      const byCount = latencyMs === undefined ? [] : r.samples.map((s) => s.total - s.calls * (latencyMs ? MEAN_LATENCY : 0));
      const byTime = latencyMs === undefined ? [] : r.samples.map((s) => s.total - s.hubspotMs);
      rows.push([
        mode,
        name,
        latency,
        String(r.samples.length),
        fmt(percentile(totals, 50), 1),
        fmt(percentile(totals, 99), 1),
        latencyMs === undefined ? '' : fmt(mean(r.samples.map((s) => s.calls)), 2),
        latencyMs === undefined ? '' : fmt(mean(r.samples.map((s) => s.hubspotMs)), 1),
        latencyMs === undefined ? '' : fmt(percentile(byCount, 50), 1),
        latencyMs === undefined ? '' : fmt(percentile(byCount, 99), 1),
        latencyMs === undefined ? '' : fmt(percentile(byTime, 50), 1),
        latencyMs === undefined ? '' : fmt(percentile(byTime, 99), 1),
        `${fmt(percentile(totals, 50) / noopP50, 2)}×`,
        String(r.wrong),
      ]);
    };
    line('no-op (1 no-op activity)', '–', noop, undefined);
    line('real', '0 ms', real0, 0);
    line('real', `${LATENCY}+0..${JITTER} ms`, realL, LATENCY);
  }
  const t = table(
    ['mode', 'workflow', 'HubSpot latency', 'n', 'total p50 ms', 'p99 ms', 'calls/action', 'HubSpot ms/action', 'non-HubSpot p50 (A)', 'p99 (A)', 'non-HubSpot p50 (B)', 'p99 (B)', 'p50 / no-op p50', 'wrong'],
    rows,
    3,
  );
  out(t);
  out(
    `non-HubSpot (A) = total − calls × ${MEAN_LATENCY} ms (the emulator's mean added latency; at 0 ms: the total itself); ` +
      `(B) = total − HubSpot wall time measured around each HubSpotAccount.call of that workflow (pacing, client serialisation, HTTP and emulator included). ` +
      `sequential/concurrent: the conversation exists (a message first); cold: the update starts the workflow. Rows mixed: created / updated / note only.`,
  );
  return t;
}

// ---- 3. HubSpot calls per row of the SPEC table -----------------------------------------------------

interface TableRow {
  name: string;
  existing: boolean;
  rules: Rules;
  email: boolean;
  summary: boolean;
  docFirst: number;
  docLater: number | undefined;
  expect: string;
}
const SPEC_ROWS: TableRow[] = [
  { name: 'email missing or invalid', existing: false, rules: { allowCreate: true, allowUpdateExisting: true }, email: false, summary: true, docFirst: 0, docLater: 0, expect: 'skipped' },
  { name: 'not found, allowCreate OFF', existing: false, rules: { allowCreate: false, allowUpdateExisting: true }, email: true, summary: true, docFirst: 1, docLater: 1, expect: 'skipped' },
  { name: 'not found, allowCreate ON, no summary', existing: false, rules: { allowCreate: true, allowUpdateExisting: false }, email: true, summary: false, docFirst: 2, docLater: undefined, expect: 'created' },
  { name: 'not found, allowCreate ON, summary', existing: false, rules: { allowCreate: true, allowUpdateExisting: false }, email: true, summary: true, docFirst: 3, docLater: undefined, expect: 'created' },
  { name: 'found, update allowed, no summary', existing: true, rules: { allowCreate: true, allowUpdateExisting: true }, email: true, summary: false, docFirst: 2, docLater: 2, expect: 'updated' },
  { name: 'found, update allowed, summary', existing: true, rules: { allowCreate: true, allowUpdateExisting: true }, email: true, summary: true, docFirst: 4, docLater: 3, expect: 'updated' },
  { name: 'found, update not allowed, summary', existing: true, rules: { allowCreate: true, allowUpdateExisting: false }, email: true, summary: true, docFirst: 3, docLater: 2, expect: 'note_only' },
  { name: 'found, update not allowed, no summary', existing: true, rules: { allowCreate: true, allowUpdateExisting: false }, email: true, summary: false, docFirst: 1, docLater: 1, expect: 'skipped' },
];

const SHORT: Record<string, string> = {
  'contacts.get': 'lookup',
  'contacts.create': 'create',
  'contacts.update': 'update',
  'notes.search': 'note search',
  'notes.create': 'note create',
  'notes.update': 'note update',
  'properties.list': 'properties',
};
const describeCounts = (d: Record<string, number>, k: number) =>
  Object.entries(d)
    .filter(([op]) => op !== 'properties.list')
    .map(([op, v]) => `${SHORT[op] ?? op}${v / k === 1 ? '' : ` ×${fmt(v / k, 2)}`}`)
    .join(', ') || '–';

async function scenarioCalls(rig: Rig): Promise<string> {
  out(`\n## 3. HubSpot calls per conversation, per row of docs/CONTACT_SYNC.md ("HubSpot calls per case"); ${ROW_SAMPLES} conversation(s) per row and column`);
  const platform = rig.platform.real;
  await (await rig.hubspot.get('calls')).contactPropertySchema(); // the schema cache is warm: properties.list is counted apart
  const schemaCalls0 = callCounts(rig, 'calls')['properties.list'] ?? 0;
  const rows: string[][] = [];
  let mismatches = 0;
  for (const row of SPEC_ROWS) {
    const make = (offline: boolean) =>
      Array.from({ length: ROW_SAMPLES }, (_, i) => {
        const run = `calls-${tag}-${++convSeq}`;
        const email = `${run}.${i}@bench.example`;
        if (row.existing) rig.emulator.addContact('calls', { email, firstname: 'Original', phone: '+1 555 0100' });
        const fields: Record<string, string> = row.email ? { email, first_name: `New${i}` } : { first_name: `New${i}` };
        const conversation: Conversation = {
          conversationId: run,
          channel: 'chat',
          actions: [action(offline ? 'offline' : 'live', 'calls', row.rules, offline)],
          options: { inactivityTimeoutMs: offline ? TIMER_MS : 3_600_000, retentionMs: 1 },
        };
        return { conversation, fields, summary: row.summary ? `Summary ${i}: wants a demo.` : undefined };
      });
    // Offline sync: a whole synced conversation (first run of the action).
    const offline = make(true);
    let c0 = callCounts(rig, 'calls');
    const offlineResults = await Promise.all(
      offline.map(async (o) => {
        await platform.recordMessage(o.conversation, { from: 'customer', fields: o.fields });
        if (o.summary) await platform.updateFields(o.conversation, { summary: o.summary });
        const r = await platform.result(o.conversation.conversationId);
        return r.outcomes.offline?.at(-1)?.result;
      }),
    );
    const dOffline = delta(callCounts(rig, 'calls'), c0);
    // In conversation: the same action run twice; the second run knows the note id from the first.
    const live = make(false);
    await Promise.all(live.map((o) => platform.recordMessage(o.conversation, { from: 'customer', fields: o.fields })));
    c0 = callCounts(rig, 'calls');
    const first = await Promise.all(live.map((o) => platform.runAction(o.conversation, { actionId: 'live', fields: o.fields, summary: o.summary })));
    const c1 = callCounts(rig, 'calls');
    const second = await Promise.all(
      live.map((o) => platform.runAction(o.conversation, { actionId: 'live', fields: { ...o.fields, first_name: `${o.fields.first_name}-2` }, summary: o.summary && `${o.summary} (later)` })),
    );
    const dFirst = delta(c1, c0);
    const dSecond = delta(callCounts(rig, 'calls'), c1);
    await terminateAll(rig, 'real', live.map((o) => o.conversation.conversationId));
    const per = (d: Record<string, number>) => total(d, ['properties.list']) / ROW_SAMPLES;
    const outcomes = [...new Set([...offlineResults, ...first.map((r) => r.result)])].join('/');
    const ok =
      per(dOffline) === row.docFirst &&
      per(dFirst) === row.docFirst &&
      (row.docLater === undefined || per(dSecond) === row.docLater) &&
      offlineResults.every((r) => r === row.expect) &&
      first.every((r) => r.result === row.expect);
    if (!ok) mismatches++;
    progress(`${row.name}: offline ${per(dOffline)}, in-conversation ${per(dFirst)} then ${per(dSecond)} (doc ${row.docFirst}/${row.docLater ?? '—'}); outcome ${outcomes}`);
    rows.push([
      row.name,
      String(row.docFirst),
      fmt(per(dOffline), 2),
      fmt(per(dFirst), 2),
      describeCounts(dFirst, ROW_SAMPLES),
      row.docLater === undefined ? '—' : String(row.docLater),
      fmt(per(dSecond), 2),
      describeCounts(dSecond, ROW_SAMPLES),
      outcomes,
      ok ? 'yes' : 'NO',
    ]);
  }
  const schemaCalls = (callCounts(rig, 'calls')['properties.list'] ?? 0) - schemaCalls0;
  const t = table(
    ['case', 'doc: first run', 'offline sync', 'in-conv. 1st', 'calls (1st)', 'doc: later', 'in-conv. 2nd', 'calls (2nd, note id known)', 'outcome', 'matches'],
    rows,
    1,
  );
  out(t);
  out(
    `Measured as emulator requestCounts deltas on a dedicated account, per conversation; "offline sync" = a synced text conversation (the offline action's first run). ` +
      `properties.list (schema cache, warmed before) during the rows: ${schemaCalls}. Rows that do not match the doc: ${mismatches}. ` +
      `"doc: later —": the doc says later runs find the contact; the measured 2nd run is then "found, ours".`,
  );
  return t;
}

// ---- 4. an account rate limit ---------------------------------------------------------------------

async function scenarioRateLimit(rig: Rig): Promise<string> {
  // Calls per conversation of the mixed rows: created 3, updated 4, note only 3.
  const callsPerConversation = 10 / 3;
  const pacedPerSecond = Math.floor(RATE_LIMIT.perTenSeconds * 0.9) / 10;
  const n = Math.ceil(((RATE_SECONDS + 20) * pacedPerSecond) / callsPerConversation / 3) * 3;
  out(
    `\n## 4. Account rate limit: emulator ${RATE_LIMIT.perTenSeconds} calls/10 s and ${RATE_LIMIT.searchPerSecond} searches/s, worker configured the same (paces at 90%); ` +
      `${n} conversations at once (a backlog for ~${RATE_SECONDS + 20} s), HubSpot latency ${LATENCY}+0..${JITTER} ms; measured over the first ${RATE_SECONDS} s of calls`,
  );
  setLatency(rig, 'limited', LATENCY);
  const platform = rig.platform.real;
  const planned = plan(rig, 'real', 'rate', 'limited', n, { offline: true, timerMs: TIMER_MS });
  const faults0 = rig.emulator.faultCounts('limited')['rate-limit'] ?? 0;
  const since = Date.now();
  const t0 = performance.now();
  let ended = 0;
  const outcomes: Record<string, number> = {};
  const ticker = setInterval(() => {
    const log = rig.emulator.requests('limited').filter((r) => r.at >= since);
    const last10 = log.filter((r) => r.at > Date.now() - 10_000 && r.status !== 429).length;
    progress(
      `rate limit: ${((performance.now() - t0) / 1000).toFixed(0)} s, ${ended}/${n} conversations ended, ${log.length} HubSpot calls, ${last10} accepted in the last 10 s, ` +
        `${(rig.emulator.faultCounts('limited')['rate-limit'] ?? 0) - faults0} refused (429)`,
    );
  }, 5_000);
  try {
    await pool(planned, BATCH, async (p, i) => {
      await platform.recordMessage(p.conversation, { from: 'customer', fields: { email: p.email, first_name: `First${i}` } });
      await platform.updateFields(p.conversation, { summary: p.summary });
    });
    await Promise.all(
      planned.map(async (p) => {
        const r = await platform.result(p.conversation.conversationId);
        const got = r.outcomes.offline?.at(-1)?.result ?? 'none';
        outcomes[got === p.row ? got : `${got} (expected ${p.row})`] = (outcomes[got === p.row ? got : `${got} (expected ${p.row})`] ?? 0) + 1;
        ended++;
      }),
    );
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - t0) / 1000;
  setLatency(rig, 'limited', 0);
  const log = rig.emulator.requests('limited').filter((r) => r.at >= since);
  const accepted = log.filter((r) => r.status !== 429).map((r) => r.at);
  const refused = (rig.emulator.faultCounts('limited')['rate-limit'] ?? 0) - faults0;
  const first = Math.min(...accepted);
  const lastAt = Math.max(...accepted);
  const windowMs = Math.min(RATE_SECONDS * 1000, lastAt - first);
  const inWindow = accepted.filter((a) => a < first + windowMs).length;
  // Every rolling 10 s window that starts within the measured span and ends inside it (100 ms steps):
  // the pacer sends in waves (a full window, then what frees up), so a single window would be arbitrary.
  const sortedAccepted = [...accepted].sort((a, b) => a - b);
  const countIn = (from: number, to: number) => sortedAccepted.filter((a) => a >= from && a < to).length;
  const rolling: number[] = [];
  for (let t = first; t + 10_000 <= first + windowMs; t += 100) rolling.push(countIn(t, t + 10_000));
  const per10 = rolling.length ? mean(rolling) : (inWindow / windowMs) * 10_000;
  // Busiest rolling 10 s and 1 s (searches) over the whole run, by the emulator's log times.
  const busiest = (times: number[], span: number) => {
    const s = [...times].sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < s.length; i++) {
      while (s[i]! - s[j]! >= span) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  };
  const searches = log.filter((r) => r.status !== 429 && r.operation.endsWith('.search')).map((r) => r.at);
  const t = table(
    ['limit /10 s', 'worker paces at', 'window s', 'calls in window', 'calls per 10 s', 'share of limit', 'rolling 10 s min–max', 'busiest 10 s (run)', 'searches/s max (limit)', '429 received', 'conversations', 'outcomes', 'conv/s', 'total s'],
    [
      [
        String(RATE_LIMIT.perTenSeconds),
        `${Math.floor(RATE_LIMIT.perTenSeconds * 0.9)}/10 s, ${Math.floor(RATE_LIMIT.searchPerSecond * 0.9)}/s search`,
        fmt(windowMs / 1000, 1),
        String(inWindow),
        fmt(per10, 1),
        `${fmt((per10 / RATE_LIMIT.perTenSeconds) * 100, 1)}%`,
        rolling.length ? `${Math.min(...rolling)}–${Math.max(...rolling)}` : '–',
        String(busiest(accepted, 10_000)),
        `${busiest(searches, 1_000)} (${RATE_LIMIT.searchPerSecond})`,
        String(refused),
        String(n),
        Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(', '),
        fmt(n / seconds, 2),
        fmt(seconds, 1),
      ],
    ],
    2,
  );
  out(t);
  const perSecond: number[] = [];
  for (const a of sortedAccepted) perSecond[Math.floor((a - first) / 1000)] = (perSecond[Math.floor((a - first) / 1000)] ?? 0) + 1;
  out(`accepted calls per second from the first call: ${Array.from(perSecond, (v) => v ?? 0).join(' ')}`);
  out(
    `calls = HubSpot requests the emulator accepted (429s excluded), timed by the emulator's request log (stamped when the answer is sent, i.e. after the added latency); ` +
      `calls per 10 s = mean over every rolling 10 s window (100 ms steps) inside the first ${fmt(windowMs / 1000, 1)} s after the first call. ` +
      `Total HubSpot calls ${log.length} for ${n} conversations (${fmt(log.length / n, 2)} per conversation).`,
  );
  return t;
}

// ---- 5. memory with many open conversations ---------------------------------------------------------

interface MemPoint {
  rss: number;
  heapUsed: number;
  external: number;
  serverRss?: number;
}
async function memNow(rig: Rig): Promise<MemPoint> {
  gc();
  await sleep(500);
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, serverRss: procRss(rig.serverPid) };
}

/** Workflow tasks waiting on a kind's (normal) task queue, as the server reports it (approximate). */
async function workflowBacklog(rig: Rig, kind: Kind): Promise<number> {
  try {
    const r = await rig.env.connection.workflowService.describeTaskQueue({
      namespace: rig.env.namespace ?? 'default',
      taskQueue: { name: QUEUE[kind], kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      reportStats: true,
    });
    return Number(r.stats?.approximateBacklogCount ?? 0);
  } catch {
    return -1;
  }
}

async function openConversations(rig: Rig, kind: Kind, n: number): Promise<{ seconds: number; cached: number; settleSeconds: number; settled: boolean }> {
  const platform = rig.platform[kind];
  const run = `open-${kind}-${tag}-${++convSeq}`;
  let started = 0;
  const t0 = performance.now();
  const ticker = setInterval(() => {
    const s = rig.workers[kind].getStatus();
    progress(
      `${kind}: ${((performance.now() - t0) / 1000).toFixed(0)} s, ${started}/${n} open conversations started (${fmt(started / ((performance.now() - t0) / 1000))}/s), ` +
        `cached workflows ${s.numCachedWorkflows}, RSS ${mb(process.memoryUsage().rss)}`,
    );
  }, 5_000);
  const items = Array.from({ length: n }, (_, i) => i);
  try {
    await pool(items, OPEN_IN_FLIGHT, async (i) => {
      const conversation: Conversation = {
        conversationId: `${run}-${i}`,
        channel: 'whatsapp',
        actions: [action('offline', 'mem', { allowCreate: true, allowUpdateExisting: true }, true)],
        options: { inactivityTimeoutMs: 3_600_000 },
      };
      await platform.recordMessage(conversation, { from: 'customer', fields: { email: `${run}.${i}@bench.example`, first_name: `First${i}` } });
      started++;
    });
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - t0) / 1000;
  // Wait until the worker has processed every first workflow task: no backlog on the task queue and
  // no activation in flight, 3 s in a row.
  const ts = performance.now();
  let idle = 0;
  let lastSay = ts;
  while (idle < 3 && performance.now() - ts < 900_000) {
    await sleep(1_000);
    const s = rig.workers[kind].getStatus();
    const backlog = await workflowBacklog(rig, kind);
    idle = s.numInFlightWorkflowActivations === 0 && backlog === 0 ? idle + 1 : 0;
    if (performance.now() - lastSay > 5_000) {
      lastSay = performance.now();
      progress(`${kind}: settling, ${((performance.now() - ts) / 1000).toFixed(0)} s: backlog ${backlog}, in flight ${s.numInFlightWorkflowActivations}, cached ${s.numCachedWorkflows}, RSS ${mb(process.memoryUsage().rss)}`);
    }
  }
  if (idle < 3) progress(`${kind}: NOT settled after 900 s`);
  return { seconds, cached: rig.workers[kind].getStatus().numCachedWorkflows, settleSeconds: (performance.now() - ts) / 1000, settled: idle >= 3 };
}

/** Fresh workers (empty caches), warmed (first activations, JIT) with short conversations that end by
 * themselves (no actions: nothing to sync) and so leave the cache again. */
async function freshWarmWorkers(rig: Rig): Promise<void> {
  await restartWorkers(rig);
  for (const kind of ['real', 'noop'] as const) {
    await pool(Array.from({ length: 50 }, (_, i) => i), 16, async (i) => {
      const conversation: Conversation = { conversationId: `warm-${kind}-${tag}-${++convSeq}-${i}`, channel: 'chat', actions: [], options: { inactivityTimeoutMs: 200, retentionMs: 1 } };
      await rig.platform[kind].recordMessage(conversation, { from: 'customer' });
      await rig.platform[kind].result(conversation.conversationId);
    });
  }
  await sleep(2_000);
}

async function scenarioMemory(rig: Rig): Promise<string> {
  const maxCached = (rig.workers.real as unknown as { options?: { maxCachedWorkflows?: number } }).options?.maxCachedWorkflows;
  out(
    `\n## 5. Worker process memory with ${fmt(OPEN)} open conversations (text, one message each, inactivity 1 h), real then no-op, on fresh workers; ` +
      `maxCachedWorkflows ${maxCached ?? '?'} per worker (the SDK default for a ${fmt(v8.getHeapStatistics().heap_size_limit / 2 ** 20)} MiB heap limit)`,
  );
  progress('scenario 5: restarting both workers (empty caches)');
  await freshWarmWorkers(rig);
  const before = await memNow(rig);
  progress(`baseline: RSS ${mb(before.rss)}, heap ${mb(before.heapUsed)}, dev server RSS ${before.serverRss ? mb(before.serverRss) : '?'}`);
  let slow0 = slowWorkflowTasks;
  const real = { ...(await openConversations(rig, 'real', OPEN)), slow: 0 };
  real.slow = slowWorkflowTasks - slow0;
  const afterReal = await memNow(rig);
  progress(`after ${OPEN} real: RSS ${mb(afterReal.rss)}, heap ${mb(afterReal.heapUsed)}, cached ${real.cached}`);
  slow0 = slowWorkflowTasks;
  const noop = { ...(await openConversations(rig, 'noop', OPEN)), slow: 0 };
  noop.slow = slowWorkflowTasks - slow0;
  const afterNoop = await memNow(rig);
  progress(`after ${OPEN} no-op: RSS ${mb(afterNoop.rss)}, heap ${mb(afterNoop.heapUsed)}, cached ${noop.cached}`);
  const line = (name: string, r: typeof real, a: MemPoint, b: MemPoint): string[] => [
    name,
    fmt(OPEN),
    fmt(r.seconds, 1),
    fmt(OPEN / r.seconds, 0),
    `${fmt(r.seconds + r.settleSeconds, 1)}${r.settled ? '' : ' (NOT settled)'}`,
    String(r.slow),
    `${r.cached} / ${maxCached ?? '?'}`,
    mb(b.rss),
    mb(a.rss),
    mb(a.rss - b.rss),
    mb(b.heapUsed),
    mb(a.heapUsed),
    mb(a.heapUsed - b.heapUsed),
    kb((a.rss - b.rss) / OPEN),
    kb((a.rss - b.rss) / Math.max(1, Math.min(OPEN, r.cached))),
    a.serverRss !== undefined && b.serverRss !== undefined ? mb(a.serverRss - b.serverRss) : '?',
  ];
  const t = table(
    ['workflow', 'open', 'start s', 'starts/s', 'all first tasks done s', 'WFTs > 5 s', 'cached / max', 'RSS before', 'RSS after', 'Δ RSS', 'heap before', 'heap after', 'Δ heap', 'Δ RSS per open', 'Δ RSS per cached', 'Δ dev server RSS'],
    [line('real', real, afterReal, before), line('no-op', noop, afterNoop, afterReal)],
    1,
  );
  out(t);
  out(
    `The worker runs in this process with the emulator and the client: RSS is the whole process, after a GC of the main isolate (the workflow ` +
      `threads cannot be made to collect without a heap snapshot, which inflates RSS, so their garbage is in it). "heap" is the main isolate only; workflows run in the SDK's ` +
      `workflow threads (one per worker, their own V8 isolates), whose heap is in RSS but not in "heap". "all first tasks done": from the first start until the worker has run every ` +
      `conversation's first workflow task (task queue backlog 0, nothing in flight). "WFTs > 5 s": core's "Workflow task duration exceeded 5 seconds" warnings. ` +
      `Cache: open conversations beyond maxCachedWorkflows are evicted and replayed from history when their next task comes, so memory is bounded by the cache, not by open conversations. ` +
      `The no-op row is measured on top of the real one (its own worker and cache). Real ${real.settleSeconds.toFixed(0)} s / no-op ${noop.settleSeconds.toFixed(0)} s to settle after the last start.`,
  );

  // 5b. Live heap per cached workflow, from heap snapshots of each worker's workflow thread (fresh workers).
  const k = Math.min(HEAP_SAMPLE, OPEN, maxCached ?? HEAP_SAMPLE);
  progress(`scenario 5b: live heap of the workflow threads, fresh workers, ${k} open conversations each (heap snapshots)`);
  await freshWarmWorkers(rig);
  const rows: string[][] = [];
  const heapBefore: Record<Kind, { bytes: number; ms: number }> = {
    real: await liveHeap(threadsOf.get(rig.workers.real) ?? []),
    noop: await liveHeap(threadsOf.get(rig.workers.noop) ?? []),
  };
  for (const kind of ['real', 'noop'] as const) {
    const opened = await openConversations(rig, kind, k);
    const after = await liveHeap(threadsOf.get(rig.workers[kind]) ?? []);
    const b = heapBefore[kind];
    progress(`${kind}: workflow thread live heap ${mb(b.bytes)} → ${mb(after.bytes)} with ${opened.cached} cached (snapshots ${fmt(b.ms)} + ${fmt(after.ms)} ms)`);
    rows.push([kind === 'real' ? 'real' : 'no-op', String(opened.cached), mb(b.bytes), mb(after.bytes), mb(after.bytes - b.bytes), kb((after.bytes - b.bytes) / Math.max(1, opened.cached))]);
  }
  const t2 = table(['workflow', 'cached workflows', 'thread heap, empty cache', 'with them', 'Δ', 'live heap per cached workflow'], rows, 1);
  out('');
  out(t2);
  out(
    `5b: the V8 heap of each worker's workflow thread after a full GC (sum of self sizes in a heap snapshot), on fresh warmed workers, ` +
      `before and after ${k} open conversations of that kind; per cached workflow = Δ / cached. Native memory (core's Rust side, buffers) is not in it.`,
  );
  return `${t}\n\n${t2}`;
}

// ---- main --------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    const head = readFileSync(__filename, 'utf8').split('\n');
    process.stdout.write(`${head.slice(0, head.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
    return;
  }
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
  await waitForOtherBenchmarks();
  const started = performance.now();
  out(
    `Throughput bench${QUICK ? ' (--quick)' : ''}: node ${process.version}, ${loadavg().map((l) => l.toFixed(2)).join(' ')} load, ` +
      `N=${N}, latency ${LATENCY}+0..${JITTER} ms, M=${M}, open ${OPEN}, worker log level WARN, no payload codec, ` +
      `eager activity execution ${EAGER_ACTIVITIES ? 'on' : 'off (dev server default)'}`,
  );
  const rig = await startRig();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping`);
      void stopRig(rig).finally(() => process.exit(130));
    });
  }
  const tables: string[] = [];
  try {
    // Warm-up: both workers, both bundles, the emulator, the schema cache of every account.
    progress('warm-up');
    for (const id of ACCOUNTS) await (await rig.hubspot.get(id)).contactPropertySchema();
    await throughputRun(rig, 'noop', 20, 0);
    await throughputRun(rig, 'real', 20, 0);
    const scenarios: Array<[number, (r: Rig) => Promise<string>]> = [
      [3, scenarioCalls],
      [1, scenarioThroughput],
      [2, scenarioLatency],
      [4, scenarioRateLimit],
      [5, scenarioMemory],
    ];
    for (const [n, run] of scenarios) {
      if (!ONLY.has(n)) continue;
      const foreign = foreignMeter(rig.serverPid);
      const slow0 = slowWorkflowTasks;
      const seen = new Set<string>();
      const watch = setInterval(() => otherHeavyRunning().forEach((o) => seen.add(o)), 5_000);
      const t = performance.now();
      try {
        tables.push(await run(rig));
      } finally {
        clearInterval(watch);
      }
      out(
        `(scenario ${n}: ${((performance.now() - t) / 1000).toFixed(0)} s; other processes used ${fmt(foreign() * 100)}% of one core meanwhile; ` +
          `worker warnings "workflow task duration exceeded 5 s": ${slowWorkflowTasks - slow0}` +
          `${seen.size ? `; ALSO RUNNING: ${[...seen].join(', ')}: numbers disturbed` : ''})`,
      );
    }
  } finally {
    progress('stopping workers and the dev server');
    await stopRig(rig);
  }
  out(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

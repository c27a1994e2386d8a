// Chaos run: many conversations through the real worker on a Temporal dev server (with a database
// file), against a HubSpot emulator as unkind as HubSpot (search lag on), which injects faults of every
// kind (429, 5xx, timeouts, lost responses, writes held past the worker's per-call timeout), while the
// worker is killed with SIGKILL, the dev server is restarted, people merge contacts, customers correct
// their email, and the platform repeats callEnded and sends summaries after the end. Every conversation
// goes through the dormant lifecycle (a short retention, so that it completes). Then every conversation
// is checked against the emulator's store; docs/BENCHMARKS.md ("Chaos run") defines each counter.
//
//   npx tsx bench/chaos.ts [--conversations 500] [--accounts 3] [--fault-rate 0.06] [--slow-write-rate 0.01]
//                          [--slow-write-ms 20000] [--kills 3] [--no-server-restart] [--concurrency 40]
//                          [--retention-ms 30000] [--seed 1]
//
// --fault-rate is per kind (429, 5xx, timeout, lost response), drawn one after another: 0.06 makes
// about 22% of HubSpot calls fail. Exit code 0 only when nothing was lost, duplicated or wrong.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client as HubSpotClient } from '@hubspot/api-client';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ActionConfigInput } from '../src/action/config';
import { escapeHtml, noteReference } from '../src/action/note';
import { ConversationClient, type Conversation } from '../src/platform/client';
import { conversationWorkflowId, type ActionRun, type ConversationResult, type ConversationState } from '../src/platform/contract';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../hubspot-emulator';
import type { StoredNote, StoredObject } from '../hubspot-emulator/store';
import { prng } from '../hubspot-emulator/store';
import { serverPaths } from '../src/temporal-servers';
import { freePort } from '../src/worker/net';
import { benchAction } from './common';
import { conversationSearchAttributes } from '../src/platform/search-attributes';

const ROOT = resolve(__dirname, '..');

/** The worker's per-call HubSpot timeout (HubSpotAccountsOptions.requestTimeoutMs, default in src/worker/main.ts). */
export const WORKER_REQUEST_TIMEOUT_MS = 15_000;
/** How long after its retention ends a conversation may take to complete (a worker restart included). */
const COMPLETION_GRACE_MS = 120_000;
/** The operations that get one queued slow write each per account at the start, whatever the random draw. */
const SLOW_WRITE_OPERATIONS = ['contacts.create', 'contacts.update', 'notes.create', 'notes.update'];

export interface ChaosOptions {
  conversations: number;
  accounts: number;
  faultRate: number;
  /** Share of HubSpot calls held for slowWriteMs (applied only if the worker is still connected then). */
  slowWriteRate: number;
  slowWriteMs: number;
  kills: number;
  serverRestart: boolean;
  concurrency: number;
  /** The conversations' retention after the end (conversation option retentionMs). */
  retentionMs: number;
  seed: number;
  /** How long to wait for a sync (or a follow-up) before it counts as lost. Default 5 minutes. */
  syncDeadlineMs?: number;
  log: (line: string) => void;
}

export interface ChaosTally {
  conversations: number;
  byRow: Record<string, number>;
  behaviours: Record<string, number>;
  synced: number;
  lost: string[];
  duplicateContacts: number;
  duplicateNotes: number;
  wrongContactNotes: string[];
  wrongProperties: string[];
  wrongOutcomes: string[];
  duplicateSyncs: string[];
  notCompleted: string[];
  /** Problems itemised for the duplicate counters (which conversation, which email or note). */
  duplicates: string[];
  /** The conversations that took longest from the first signal to the end of their (follow-up) sync. */
  slowest: string[];
  offlineOutcomes: Record<string, number>;
  inConversationOutcomes: Record<string, number>;
  hubspotCalls: number;
  faults: Record<string, number>;
  slowWrites: { held: number; dropped: number; applied: number };
  searchLag: string;
  workerKills: number;
  workerStarts: number;
  serverRestarts: number;
  seconds: number;
}

/** The rows of the SPEC's section 3 table, as the chaos run exercises them. */
type Row = 'new-create' | 'new-no-create' | 'ours-create' | 'theirs-update' | 'theirs-no-update' | 'ours-no-rights' | 'no-email';
const ROWS: Row[] = ['new-create', 'new-no-create', 'ours-create', 'theirs-update', 'theirs-no-update', 'ours-no-rights', 'no-email'];
const EXISTING_ROWS: Row[] = ['ours-create', 'theirs-update', 'theirs-no-update', 'ours-no-rights'];

/** One in-conversation run as the platform asked for it: the email it carried and the summary. */
interface LiveAsk {
  email: string;
  summary?: string;
  run?: ActionRun;
  refused?: string;
}

interface Plan {
  i: number;
  row: Row;
  conversation: Conversation;
  accountId: string;
  email: string;
  summary?: string;
  live: boolean;
  voice: boolean;
  /** Contact id of the existing contact, for the rows that have one. */
  existingId?: string;
  /** The customer first typed a wrong email, then corrected it between two in-conversation runs. */
  correction?: { typoEmail: string; draft: string };
  /** Voice: callEnded twice back to back, and once more after the sync. */
  duplicateEnd: boolean;
  /** Text: the same values again after the sync. */
  repeatAfterEnd: boolean;
  /** A summary sent after the end: one follow-up sync into the same note. */
  late?: string;
  /** A person merges the conversation's contact with a duplicate record. */
  merge?: { when: 'before-end' | 'after-sync'; duplicateId: string; from?: string; into?: string; skipped?: string };
  // ---- what happened ----
  liveAsks: LiveAsk[];
  firstRunId?: string;
  /** Offline runs recorded when the conversation had first ended (text may end early and sync twice). */
  runsAtFirstEnd?: number;
  repeatsSent: number;
  lateSent: boolean;
  postEndSkipped?: string;
  waitLost?: string;
  /** The latest state seen while driving it (its retainedUntil says when it should complete). */
  seen?: ConversationState;
  state?: ConversationState;
  result?: ConversationResult;
  completed: boolean;
  notCompletedReason?: string;
  /** Wall-clock marks (ms since the run started): first signal, end sent, end seen, follow-up seen, completed. */
  times: { start?: number; end?: number; synced?: number; followUp?: number; completed?: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries a platform call through a restarting server or a dropped connection. */
async function persist<T>(what: string, fn: () => Promise<T>, log: (l: string) => void, deadlineMs = 180_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'ConversationInputError' || name === 'ActionRefusedError' || Date.now() > until) throw err;
      if (attempt === 3) log(`  (still retrying ${what}: ${(err as Error).message.split('\n')[0]})`);
      await sleep(Math.min(5_000, 250 * attempt));
    }
  }
}

function action(id: string, accountId: string, row: Row, offlineSync: boolean): ActionConfigInput {
  const allowCreate = row === 'new-create' || row === 'ours-create' || row === 'no-email';
  return benchAction(id, accountId, { allowCreate, allowUpdateExisting: row === 'theirs-update' }, offlineSync);
}

/** Live contacts holding an email, as primary or secondary (HubSpot's matching: case-insensitive). */
function contactsWithEmail(emulator: HubSpotEmulator, accountId: string, email: string): StoredObject[] {
  const e = email.toLowerCase();
  return emulator.contacts(accountId).filter(
    (c) =>
      c.properties.email?.toLowerCase() === e ||
      (c.properties.hs_additional_emails ?? '')
        .split(';')
        .map((x) => x.trim().toLowerCase())
        .includes(e),
  );
}

class DevServer {
  private child?: ChildProcess;
  constructor(readonly port: number, private readonly db: string, private readonly log: (l: string) => void) {}
  async start(): Promise<void> {
    const bin = serverPaths().cli.binary;
    const args = ['server', 'start-dev', '--port', String(this.port), '--headless', '--db-filename', this.db, '--log-level', 'error', '--ip', '127.0.0.1'];
    for (const sa of conversationSearchAttributes) args.push('--search-attribute', `${sa.name}=${sa.type === 'KEYWORD_LIST' ? 'KeywordList' : 'Keyword'}`);
    this.child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    this.child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    for (let i = 0; i < 120; i++) {
      const ok = await Connection.connect({ address: `127.0.0.1:${this.port}`, connectTimeout: 1000 })
        .then(async (c) => {
          await c.workflowService.getSystemInfo({});
          await c.close();
          return true;
        })
        .catch(() => false);
      if (ok) return;
      if (this.child.exitCode !== null) throw new Error(`the dev server exited (${this.child.exitCode}): ${err}`);
      await sleep(500);
    }
    throw new Error(`the dev server did not answer in 60 s: ${err}`);
  }
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}

class WorkerSupervisor {
  private child?: ChildProcess;
  private stopped = false;
  starts = 0;
  kills = 0;
  constructor(private readonly env: NodeJS.ProcessEnv, private readonly log: (l: string) => void) {}
  start(): void {
    this.starts++;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let tail = '';
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-3000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      if (this.stopped || signal === 'SIGKILL') return;
      this.log(`  worker exited by itself (${code ?? signal}); restarting. Its last output:\n${tail}`);
      setTimeout(() => this.start(), 1000);
    });
  }
  async killAndRestart(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
      this.kills++;
    }
    this.start();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const force = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(force);
  }
}

/** The plan: every row of the table, text and voice, offline and in-conversation, every behaviour, on every account. */
function makePlans(opts: ChaosOptions, accounts: EmulatorAccountSeed[], runTag: string): Plan[] {
  const random = prng(opts.seed);
  const plans: Plan[] = [];
  for (let i = 0; i < opts.conversations; i++) {
    const row = ROWS[i % ROWS.length]!;
    const accountId = accounts[Math.floor(i / ROWS.length) % accounts.length]!.accountId;
    // Every third round of the rows, the rows that may create correct the email between two
    // in-conversation runs; those are voice calls, so that the call (not a 3-second wait) decides the end.
    const correcting = (row === 'new-create' || row === 'ours-create') && Math.floor(i / ROWS.length) % 3 === 0;
    const voice = correcting || random() < 0.4;
    const live = correcting || (row !== 'no-email' && random() < 0.3);
    const email = `chaos.${opts.seed}.${i}@example.com`;
    const summary = i % 5 === 4 ? undefined : `Conversation ${i} <b>summary</b> & next steps`;
    const late = summary && random() < 0.5 ? `Late note on conversation ${i}: <i>call back</i> & confirm` : undefined;
    const mergeDraw = random();
    const mergeWhenDraw = random();
    const merge =
      !correcting && (EXISTING_ROWS.includes(row) ? mergeDraw < 0.3 : row === 'new-create' && mergeDraw < 0.3)
        ? { when: (row === 'new-create' || mergeWhenDraw < 0.5 ? 'after-sync' : 'before-end') as 'after-sync' | 'before-end', duplicateId: '' }
        : undefined;
    const repeatDraw = random();
    const actions = [action('offline', accountId, row, true), ...(live ? [action('live', accountId, row, false)] : [])];
    plans.push({
      i,
      row,
      accountId,
      email,
      summary,
      live,
      voice,
      ...(correcting ? { correction: { typoEmail: `chaos.${opts.seed}.${i}@exmaple.com`, draft: `Draft ${i}, written before the email was corrected` } } : {}),
      duplicateEnd: voice && repeatDraw < 0.5,
      repeatAfterEnd: !voice && repeatDraw < 0.5,
      ...(late ? { late } : {}),
      ...(merge ? { merge } : {}),
      liveAsks: [],
      repeatsSent: 0,
      lateSent: false,
      completed: false,
      times: {},
      conversation: {
        conversationId: `chaos-${opts.seed}-${runTag}-${i}`,
        channel: voice ? 'voice' : random() < 0.5 ? 'chat' : 'whatsapp',
        actions,
        options: { inactivityTimeoutMs: 3_000, actionTimeoutMs: 120_000, retentionMs: opts.retentionMs },
      },
    });
  }
  return plans;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosTally> {
  const { log } = opts;
  const started = Date.now();
  const syncDeadlineMs = opts.syncDeadlineMs ?? 300_000;
  const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
  const accounts: EmulatorAccountSeed[] = Array.from({ length: opts.accounts }, (_, i) => ({
    accountId: `chaos-${i + 1}`,
    token: `chaos-token-${i + 1}`,
    appId: 5000 + i,
    rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  }));
  let emulator: HubSpotEmulator | undefined;
  let server: DevServer | undefined;
  let worker: WorkerSupervisor | undefined;
  let connection: Connection | undefined;
  try {
    // The emulator's default search lag (2-5 s per write) stays on: nothing exact may depend on search.
    emulator = await startHubSpotEmulator({ port: 0, accounts, seed: opts.seed });
    const em = emulator;
    const port = await freePort();
    server = new DevServer(port, join(dir, 'temporal.sqlite'), log);
    log(`dev server on 127.0.0.1:${port} (database ${join(dir, 'temporal.sqlite')}); HubSpot emulator on ${em.url}`);
    await server.start();

    const plans = makePlans(opts, accounts, started.toString(36));
    // Existing contacts: "theirs" added as a person would; "ours" created through the API with the account's app.
    for (const p of plans) {
      const seed = accounts.find((a) => a.accountId === p.accountId)!;
      if (p.row === 'theirs-update' || p.row === 'theirs-no-update') {
        p.existingId = em.addContact(p.accountId, { email: p.email, firstname: 'Original', phone: '+1 555 0100' });
      } else if (p.row === 'ours-create' || p.row === 'ours-no-rights') {
        const hubspot = new HubSpotClient({ accessToken: seed.token, basePath: em.url, numberOfApiCallRetries: 0 });
        p.existingId = (await hubspot.crm.contacts.basicApi.create({ properties: { email: p.email, firstname: 'Original', phone: '+1 555 0100' }, associations: [] })).id;
      }
      // The duplicate record a person will merge with the conversation's contact.
      if (p.merge) p.merge.duplicateId = em.addContact(p.accountId, { email: `duplicate.${opts.seed}.${p.i}@example.com`, firstname: 'Duplicate' });
    }
    const perKind = opts.faultRate;
    for (const a of accounts) {
      em.setFaults(
        a.accountId,
        { serverErrorRate: perKind, rateLimitRate: perKind, timeoutRate: perKind, lostResponseRate: perKind, timeoutMs: 1_500, slowWriteRate: opts.slowWriteRate, slowWriteMs: opts.slowWriteMs },
        opts.seed,
      );
      if (opts.slowWriteMs > 0) for (const op of SLOW_WRITE_OPERATIONS) em.failNext(a.accountId, op, 'slow-write', 1, { holdMs: opts.slowWriteMs });
    }
    const lag = em.searchLag(accounts[0]!.accountId);
    const searchLag = `${lag.minMs}-${lag.maxMs} ms`;
    log(`search-index lag ${searchLag}; slow writes held ${opts.slowWriteMs} ms (the worker's per-call timeout: ${WORKER_REQUEST_TIMEOUT_MS} ms)`);
    const callsBefore = accounts.reduce((n, a) => n + Object.values(em.requestCounts(a.accountId)).reduce((x, y) => x + y, 0), 0);

    const workerEnv: NodeJS.ProcessEnv = {
      ...process.env,
      WORKER_MODE: 'production',
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      HUBSPOT_ACCOUNTS: JSON.stringify(accounts.map((a) => ({ accountId: a.accountId, token: a.token, appId: a.appId, basePath: em.url }))),
      // A local dev server and the emulator: production's TLS, encryption and HubSpot-host rules are waived.
      ALLOW_TEMPORAL_WITHOUT_TLS: 'true',
      ALLOW_UNENCRYPTED_PAYLOADS: 'true',
      HUBSPOT_ALLOWED_BASE_URLS: em.url,
      LOG_LEVEL: 'ERROR',
    };
    for (const k of ['CODEC_KEYS', 'CODEC_KEYS_FILE', 'METRICS_BIND_ADDRESS', 'HUBSPOT_ACCOUNTS_FILE', 'DATABASE_URL', 'DATABASE_URL_FILE', 'TEMPORAL_API_KEY', 'TEMPORAL_API_KEY_FILE']) delete workerEnv[k];
    worker = new WorkerSupervisor(workerEnv, log);
    worker.start();

    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    const platform = new ConversationClient({ client: new Client({ connection }) });

    /**
     * The failure of a workflow task that keeps failing (3 attempts or more), or undefined. Its history
     * is saved next to the run's temporary directory, for the replay tests.
     */
    const saved = new Set<string>();
    const stuck = async (id: string): Promise<string | undefined> => {
      const handle = platform.handle(id);
      const described = await handle.describe().catch(() => undefined);
      if ((described?.raw.pendingWorkflowTask?.attempt ?? 0) < 3) return undefined;
      const history = await handle.fetchHistory().catch(() => undefined);
      const failure = [...(history?.events ?? [])].reverse().find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message ?? 'unknown failure';
      if (history && !saved.has(id)) {
        saved.add(id);
        const file = join(tmpdir(), `${conversationWorkflowId(id)}.history.bin`);
        writeFileSync(file, temporal.api.history.v1.History.encode(history).finish());
        log(`  ${id}: its workflow task fails on every attempt (${failure.slice(0, 160)}); history saved to ${file}`);
      }
      return `its workflow task fails on every attempt: ${failure.slice(0, 160)}`;
    };

    /** Polls the conversation's state until `done` holds; undefined after the deadline, or when it is stuck. */
    const waitFor = async (p: Plan, what: string, done: (s: ConversationState) => boolean): Promise<ConversationState | undefined> => {
      const until = Date.now() + syncDeadlineMs;
      let nextStuckCheck = Date.now() + 10_000;
      while (Date.now() < until) {
        const s = await persist('state', () => platform.getState(p.conversation.conversationId), log, 20_000).catch(() => undefined);
        if (s && done(s)) return (p.seen = s);
        if (Date.now() > nextStuckCheck) {
          nextStuckCheck = Date.now() + 10_000;
          const why = await stuck(p.conversation.conversationId);
          if (why) {
            p.waitLost = `${what} never came: ${why}`;
            return undefined;
          }
        }
        await sleep(400 + (p.i % 7) * 50);
      }
      p.waitLost = `${what} not seen within ${syncDeadlineMs / 1000} s`;
      return undefined;
    };
    const offlineRuns = (s: ConversationState) => (s.outcomes.offline ?? []).filter((r) => r.trigger === 'offline').length;
    const settled = (s: ConversationState) => s.status === 'ended' && s.syncStatus !== 'running' && s.syncStatus !== 'pending';

    const merge = (p: Plan) => {
      const m = p.merge!;
      const contact = contactsWithEmail(em, p.accountId, p.email)[0];
      if (!contact) {
        m.skipped = 'no contact held the email yet';
        return;
      }
      m.from = contact.id;
      // The conversation's contact stays the primary: its email, properties and record source win.
      m.into = em.mergeContacts(p.accountId, contact.id, m.duplicateId);
    };

    // Drive the conversations with a pool of concurrent "platform" callers.
    let next = 0;
    let done = 0;
    const completions: Promise<void>[] = [];
    const drive = async (p: Plan) => {
      const id = p.conversation.conversationId;
      const mark = () => Date.now() - started;
      p.times.start = mark();
      // As the platform contract asks, every call carries the conversation's current values.
      const firstEmail = p.correction ? p.correction.typoEmail : p.email;
      const first: Record<string, string> = p.row === 'no-email' ? { first_name: `F${p.i}` } : { email: firstEmail, first_name: `F${p.i}`, phone: '' };
      let c: Conversation = { ...p.conversation, fields: first };
      const signalled = await persist('message', () => platform.recordMessage(c, { from: 'customer', fields: first }), log);
      p.firstRunId = signalled.runId;
      const runLive = async (fields: Record<string, string>, summary: string | undefined) => {
        const ask: LiveAsk = { email: fields.email ?? first.email ?? '', summary };
        p.liveAsks.push(ask);
        try {
          ask.run = await persist('runAction', () => platform.runAction(c, { actionId: 'live', fields, summary }), log);
        } catch (err) {
          if ((err as Error).name !== 'ActionRefusedError') throw err;
          ask.refused = (err as Error).message;
        }
      };
      if (p.live) {
        if (p.correction) {
          await runLive(first, p.correction.draft);
          c = { ...c, fields: { ...first, email: p.email } };
          await runLive({ email: p.email }, p.summary);
        } else await runLive(first, p.summary);
      }
      const final = { first_name: `F${p.i}-final`, ...(p.correction ? { email: p.email } : {}) };
      c = { ...c, fields: { ...c.fields, ...final }, ...(p.summary ? { summary: p.summary } : {}) };
      await persist('message', () => platform.recordMessage(c, { from: 'agent', fields: final }), log);
      if (p.merge?.when === 'before-end') merge(p);
      p.times.end = mark();
      if (p.voice) {
        await persist('endCall', () => platform.endCall(c, { summary: p.summary }), log);
        if (p.duplicateEnd) await persist('endCall', () => platform.endCall(c, { summary: p.summary }), log);
      } else if (p.summary) await persist('fieldsUpdated', () => platform.updateFields(c, { summary: p.summary }), log);

      // The end: the offline sync has run and the conversation is dormant.
      const ended = await waitFor(p, 'the offline sync', (s) => settled(s) && offlineRuns(s) >= 1);
      if (ended) {
        p.times.synced = mark();
        p.runsAtFirstEnd = offlineRuns(ended);
        const left = Date.parse(ended.retainedUntil ?? '') - Date.now();
        if (!(left > Math.min(3_000, opts.retentionMs / 4))) {
          // A signal after the retention would open a new conversation (with its own note): not this test.
          p.postEndSkipped = `only ${Math.round(left)} ms of retention left when the end was seen`;
          log(`  ${id}: post-end steps skipped, ${p.postEndSkipped} (seen ${((Date.now() - started) / 1000).toFixed(1)} s into the run)`);
        } else {
          if (p.duplicateEnd) {
            await persist('endCall', () => platform.endCall(c, { summary: p.summary }), log);
            p.repeatsSent++;
          }
          if (p.repeatAfterEnd) {
            await persist('fieldsUpdated', () => platform.updateFields(c, { fields: c.fields, ...(p.summary ? { summary: p.summary } : {}) }), log);
            p.repeatsSent++;
          }
          if (p.merge?.when === 'after-sync') merge(p);
          if (p.late) {
            c = { ...c, summary: p.late };
            await persist('fieldsUpdated', () => platform.updateFields(c, { summary: p.late }), log);
            p.lateSent = true;
            const want = p.runsAtFirstEnd + 1;
            if (await waitFor(p, 'the follow-up sync of the late summary', (s) => settled(s) && offlineRuns(s) >= want)) p.times.followUp = mark();
          }
        }
      }
      done++;
      // Dormant until the retention ends, then completed: waited for outside the pool. A workflow that
      // cannot complete (a workflow task failing on every attempt) must not hang the run: its status is
      // polled from the end of its retention, with a deadline.
      completions.push(
        (async () => {
          const due = Date.parse(p.seen?.retainedUntil ?? '') || Date.now();
          await sleep(Math.max(0, due - Date.now()) + 500);
          const until = Date.now() + COMPLETION_GRACE_MS;
          for (;;) {
            const status = await platform
              .handle(id)
              .describe()
              .then((d) => d.status.name)
              .catch(() => undefined);
            if (status === 'COMPLETED') {
              p.result = await persist('result', () => platform.result(id), log).catch(() => undefined);
              p.completed = p.result !== undefined;
              p.times.completed = mark();
              break;
            }
            const why = status === 'RUNNING' ? await stuck(id) : undefined;
            if ((status !== undefined && status !== 'RUNNING') || why || Date.now() > until) {
              p.notCompletedReason = `status ${status ?? 'unknown'} ${Math.round((Date.now() - due) / 1000)} s after its retention ended${why ? `; ${why}` : ''}`;
              break;
            }
            await sleep(2_000);
          }
          if (!p.result) p.state = await persist('state', () => platform.getState(id), log, 30_000).catch(() => undefined);
          const described = await persist('describe', () => platform.handle(id).describe(), log).catch(() => undefined);
          const firstRunId = described?.raw.workflowExecutionInfo?.firstRunId;
          if (firstRunId) p.firstRunId = firstRunId;
        })(),
      );
    };
    const pool = Array.from({ length: opts.concurrency }, async () => {
      while (next < plans.length) await drive(plans[next++]!);
    });

    const tally: ChaosTally = {
      conversations: plans.length,
      byRow: {},
      behaviours: {},
      synced: 0,
      lost: [],
      duplicateContacts: 0,
      duplicateNotes: 0,
      wrongContactNotes: [],
      wrongProperties: [],
      wrongOutcomes: [],
      duplicateSyncs: [],
      notCompleted: [],
      duplicates: [],
      slowest: [],
      offlineOutcomes: {},
      inConversationOutcomes: {},
      hubspotCalls: 0,
      faults: {},
      slowWrites: { held: 0, dropped: 0, applied: 0 },
      searchLag,
      workerKills: 0,
      workerStarts: 0,
      serverRestarts: 0,
      seconds: 0,
    };
    // Chaos: kill the worker `kills` times and restart the dev server once, spread over the run.
    const chaos = (async () => {
      const events: Array<'kill' | 'restart'> = [];
      for (let k = 0; k < opts.kills; k++) events.push('kill');
      if (opts.serverRestart) events.splice(Math.ceil(events.length / 2), 0, 'restart');
      for (const [n, event] of events.entries()) {
        // Spread over the run: each event when its share of the conversations has ended, with
        // conversations still in flight.
        const at = Math.floor(((n + 1) / (events.length + 1)) * plans.length * 0.9);
        while (done < at) await sleep(200);
        if (done >= plans.length) break;
        if (event === 'kill') {
          log(`  SIGKILL the worker (${next} conversations started, ${done} ended)`);
          await worker!.killAndRestart();
        } else {
          log(`  restarting the dev server (${next} started, ${done} ended)`);
          await server!.kill();
          await sleep(1_000);
          await server!.start();
          tally.serverRestarts++;
          log('  dev server back');
        }
        await sleep(3_000);
      }
    })();
    const progress = setInterval(() => {
      const faults = accounts.reduce((n, a) => n + Object.values(em.faultCounts(a.accountId)).reduce((x, y) => x + y, 0), 0);
      const completed = plans.filter((p) => p.completed).length;
      log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${next}/${plans.length} started, ${done} synced and dormant, ${completed} completed; ${faults} HubSpot faults injected; worker kills ${worker!.kills}`);
    }, 5_000);
    try {
      await Promise.all([...pool, chaos]);
      await Promise.all(completions);
    } finally {
      clearInterval(progress);
    }

    // ---- the check, from the emulator's store ----
    for (const a of accounts) {
      const counts = em.requestCounts(a.accountId);
      tally.hubspotCalls += Object.values(counts).reduce((x, y) => x + y, 0);
      for (const [k, v] of Object.entries(em.faultCounts(a.accountId))) tally.faults[k] = (tally.faults[k] ?? 0) + v;
      for (const f of em.faultLog(a.accountId)) {
        if (f.kind !== 'slow-write') continue;
        tally.slowWrites.held++;
        tally.slowWrites[f.outcome]++;
      }
    }
    tally.hubspotCalls -= callsBefore;
    const count = (k: string, n = 1) => (tally.behaviours[k] = (tally.behaviours[k] ?? 0) + n);
    const notesByAccount = new Map<string, StoredNote[]>(accounts.map((a) => [a.accountId, em.notes(a.accountId)]));
    for (const p of plans) checkConversation(em, p, tally, notesByAccount.get(p.accountId)!, count);
    // HubSpot (and the emulator) refuse a second contact with an email, so a stray create shows as a
    // contact of this worker's app that holds none of the run's emails.
    const known = new Set(plans.flatMap((p) => [p.email, ...(p.correction ? [p.correction.typoEmail] : [])]));
    for (const a of accounts) {
      for (const c of em.contacts(a.accountId)) {
        if (c.properties.hs_object_source !== 'INTEGRATION' || c.properties.hs_object_source_id !== String(a.appId)) continue;
        const emails = [c.properties.email ?? '', ...(c.properties.hs_additional_emails ?? '').split(';')].map((e) => e.trim().toLowerCase()).filter(Boolean);
        if (!emails.some((e) => known.has(e))) {
          tally.duplicateContacts++;
          tally.duplicates.push(`account ${a.accountId}: contact ${c.id} was created by the worker but holds none of the run's emails`);
        }
      }
    }
    const slowestPlans: Plan[] = [];
    const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}`);
    tally.slowest = [...plans]
      .sort((a, b) => (b.times.followUp ?? b.times.synced ?? Infinity) - (b.times.start ?? 0) - ((a.times.followUp ?? a.times.synced ?? Infinity) - (a.times.start ?? 0)))
      .slice(0, 3)
      .map((p) => {
        const runs = (p.result ?? p.state)?.outcomes.offline?.length ?? 0;
        slowestPlans.push(p);
        return `${p.conversation.conversationId} (${p.row}, ${p.conversation.channel}${p.live ? ', in-conversation' : ''}): started ${s(p.times.start)} s, end sent ${s(p.times.end)} s, synced ${s(p.times.synced)} s, follow-up ${s(p.times.followUp)} s, completed ${s(p.times.completed)} s; ${runs} offline run(s)`;
      });
    // Where the slowest conversation's time went: its activities' attempts and failures, from its history.
    const slowestPlan = slowestPlans[0];
    if (slowestPlan) {
      const history = await platform
        .handle(slowestPlan.conversation.conversationId)
        .fetchHistory()
        .catch(() => undefined);
      const t0 = Number(history?.events?.[0]?.eventTime?.seconds ?? 0) * 1000;
      const scheduled = new Map<string, string>();
      for (const e of history?.events ?? []) {
        const at = `${((Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6) - t0) / 1000).toFixed(1)} s`;
        if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
        const st = e.activityTaskStartedEventAttributes;
        if (st && (st.attempt ?? 1) > 1) tally.slowest.push(`    ${at}: ${scheduled.get(String(st.scheduledEventId)) ?? '?'} attempt ${st.attempt} started; last failure: ${(st.lastFailure?.message ?? '').slice(0, 160)}`);
        if (e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes) tally.slowest.push(`    ${at}: workflow task ${e.workflowTaskTimedOutEventAttributes ? 'timed out' : 'failed'}`);
        const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
        if (!a) continue;
        const name = scheduled.get(String(a.scheduledEventId)) ?? '?';
        const failure = e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
        tally.slowest.push(`    ${at}: ${name} ${failure ? `ended: ${(failure.message ?? '').slice(0, 160)}` : 'completed'}`);
      }
    }
    tally.workerKills = worker.kills;
    tally.workerStarts = worker.starts;
    tally.seconds = (Date.now() - started) / 1000;
    return tally;
  } finally {
    await connection?.close().catch(() => undefined);
    await worker?.stop();
    await server?.kill();
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const GOOD: ReadonlyArray<string> = ['created', 'updated', 'note_only'];

/** Checks one conversation against the emulator's store and adds what it finds to the tally. */
function checkConversation(em: HubSpotEmulator, p: Plan, tally: ChaosTally, notes: StoredNote[], count: (k: string, n?: number) => void): void {
  const id = p.conversation.conversationId;
  const tag = `${id} (${p.row}${p.voice ? ', voice' : ''})`;
  let isLost = false;
  const lost = (what: string) => {
    isLost = true;
    tally.lost.push(`${tag}: ${what}`);
  };
  const wrongProperty = (what: string) => tally.wrongProperties.push(`${tag}: ${what}`);
  const wrongContact = (what: string) => tally.wrongContactNotes.push(`${tag}: ${what}`);
  const acc = p.accountId;
  const now = (contactId: string) => em.contactIdNow(acc, contactId);

  tally.byRow[p.row] = (tally.byRow[p.row] ?? 0) + 1;
  if (p.correction) count('email corrections');
  if (p.merge?.into) count(`contact merges (${p.merge.when})`);
  if (p.merge?.skipped) count('merges skipped (no contact yet)');
  if (p.voice && p.duplicateEnd) count('callEnded twice back to back');
  if (p.repeatsSent) count(p.voice ? 'callEnded again after the sync' : 'identical values again after the sync');
  if (p.lateSent) count('late summaries (follow-up)');
  if (p.postEndSkipped) count('post-end steps skipped (retention nearly over)');
  for (const ask of p.liveAsks) {
    const r = ask.run?.result ?? 'refused';
    tally.inConversationOutcomes[r] = (tally.inConversationOutcomes[r] ?? 0) + 1;
  }

  const final = p.result ?? p.state ?? p.seen;
  if (!p.completed) tally.notCompleted.push(`${tag}: did not complete after its retention (${p.notCompletedReason ?? 'no result'})`);
  const runs = (final?.outcomes.offline ?? []).filter((r) => r.trigger === 'offline');
  for (const r of runs) tally.offlineOutcomes[r.result] = (tally.offlineOutcomes[r.result] ?? 0) + 1;
  const last = runs.at(-1);

  // ---- lost: a sync (or follow-up) the platform asked for that never reached HubSpot ----
  if (p.waitLost) lost(p.waitLost);
  if (!last) {
    if (!p.waitLost) lost('no offline outcome');
    return;
  }
  if (last.result === 'failed') lost(`the offline sync failed: ${last.reason}`);
  const wantRuns = (p.runsAtFirstEnd ?? 1) + (p.lateSent ? 1 : 0);
  if (runs.length < wantRuns && !p.waitLost) lost(`${runs.length} offline run(s), expected ${wantRuns} (the follow-up never ran)`);
  // ---- syncs of values already synced: a duplicate callEnded or identical values must cost nothing ----
  if (runs.length > wantRuns) tally.duplicateSyncs.push(`${tag}: ${runs.length} offline runs, expected ${wantRuns} (${p.repeatsSent} repeat(s) after the end, ${p.duplicateEnd ? 'callEnded twice back to back' : 'no duplicate callEnded'})`);
  if (p.voice && p.runsAtFirstEnd !== undefined && p.runsAtFirstEnd !== 1) tally.duplicateSyncs.push(`${tag}: ${p.runsAtFirstEnd} offline runs at the end of the call, expected 1`);

  // ---- outcomes as the table says ----
  const lastLive = [...p.liveAsks].reverse().find((a) => a.run)?.run;
  const contactBefore = lastLive?.result === 'created' || lastLive?.result === 'updated';
  const expectedAt = (position: number): string[] => {
    switch (p.row) {
      case 'new-create':
        // A text conversation may end (3-second wait) while a slow in-conversation run is still creating
        // the contact: both runs then meet over the create, and both report created (docs/CONTACT_SYNC.md).
        return position === 0 && (!contactBefore || !p.voice) ? ['created', 'updated'] : ['updated'];
      case 'ours-create':
      case 'theirs-update':
        return ['updated'];
      case 'theirs-no-update':
      case 'ours-no-rights':
        return [p.summary ? 'note_only' : 'skipped'];
      default:
        return ['skipped'];
    }
  };
  let outcomesRight = true;
  runs.forEach((r, n) => {
    if (r.result === 'failed' && n === runs.length - 1) return; // counted as lost
    if (!expectedAt(n).includes(r.result)) {
      outcomesRight = false;
      tally.wrongOutcomes.push(`${tag}: offline run ${n + 1}/${runs.length}: ${r.result}, expected ${expectedAt(n).join(' or ')} (${r.reason})`);
    }
  });

  // ---- contacts: one per email, the operator's rules on every property ----
  const expectContact = p.row !== 'new-no-create' && p.row !== 'no-email';
  const emails = [p.email, ...(p.correction ? [p.correction.typoEmail] : [])];
  for (const e of emails) {
    const n = contactsWithEmail(em, acc, e).length;
    if (n > 1) {
      tally.duplicateContacts += n - 1;
      tally.duplicates.push(`${tag}: ${n} contacts hold ${e === p.email ? 'the email' : 'the mistyped email'}`);
    }
  }
  const contact = contactsWithEmail(em, acc, p.email)[0];
  if (!expectContact) {
    if (contact) wrongProperty('a contact was created where the rules forbid it');
  } else if (!contact) {
    if (!isLost) lost('no contact holds the email');
  } else {
    if (p.existingId && now(p.existingId) !== contact.id) wrongProperty(`the email is on contact ${contact.id}, not on the existing contact (now ${now(p.existingId) ?? 'gone'})`);
    const updates = p.row === 'new-create' || p.row === 'ours-create' || p.row === 'theirs-update';
    const firstname = updates ? `F${p.i}-final` : 'Original';
    if (contact.properties.firstname !== firstname) {
      if (updates && runs.at(-1)?.result === 'failed') {
        // already counted as lost
      } else wrongProperty(`firstname "${contact.properties.firstname}", expected "${firstname}"`);
    }
    if (contact.properties.email?.toLowerCase() !== p.email) wrongProperty('the primary email changed');
    if (p.existingId && contact.properties.phone !== '+1 555 0100') wrongProperty('the phone was blanked out or changed');
  }
  if (p.correction && p.liveAsks[0]?.run?.result === 'created') {
    const first = contactsWithEmail(em, acc, p.correction.typoEmail)[0];
    if (!first) wrongProperty('the contact of the mistyped email vanished');
    else if (first.properties.firstname !== `F${p.i}`) wrongProperty(`the contact of the mistyped email was changed after the correction (firstname "${first.properties.firstname}")`);
  }

  // ---- notes: one per (conversation, action, contact), on the right contact, with the latest summary ----
  const workflowId = conversationWorkflowId(id);
  const contactOfEmail = (e: string) => contactsWithEmail(em, acc, e)[0]?.id;
  const checkNotes = (actionId: string, targets: Array<{ contactId?: string; required: boolean; contains?: string; lacks?: string; earlier?: boolean }>) => {
    const ref = noteReference(`${workflowId}:${p.firstRunId}:${actionId}`);
    const mine = notes.filter((n) => (n.properties.hs_note_body ?? '').includes(ref));
    const byContact = new Map<string, StoredNote[]>();
    for (const n of mine) {
      const on = [...new Set(n.associations.contacts.map((c) => now(c) ?? `${c} (gone)`))];
      if (on.length === 0) wrongContact(`note ${n.id} of action ${actionId} is on no contact`);
      for (const c of on) byContact.set(c, [...(byContact.get(c) ?? []), n]);
    }
    const allowed = new Set(targets.map((t) => t.contactId).filter((c): c is string => Boolean(c)));
    for (const [c, list] of byContact) {
      if (list.length > 1) {
        tally.duplicateNotes += list.length - 1;
        tally.duplicates.push(`${tag}: ${list.length} ${actionId} notes on contact ${c}`);
      }
      if (!allowed.has(c)) wrongContact(`a note of action ${actionId} is on contact ${c}, which no run of it landed on`);
    }
    for (const t of targets) {
      if (!t.contactId) continue;
      const list = byContact.get(t.contactId) ?? [];
      if (list.length === 0) {
        if (t.required && !isLost) lost(`no ${actionId} note on contact ${t.contactId}`);
        continue;
      }
      const body = list.at(-1)!.properties.hs_note_body ?? '';
      if (t.lacks && body.includes(escapeHtml(t.lacks))) wrongContact(`the ${actionId} note of the earlier contact ${t.contactId} was rewritten with content written after the email correction`);
      else if (t.contains && !body.includes(escapeHtml(t.contains))) {
        if (t.earlier) wrongContact(`the ${actionId} note of the earlier contact ${t.contactId} was changed`);
        else if (!isLost) lost(`the ${actionId} note on contact ${t.contactId} lacks the latest summary`);
      }
    }
  };
  // Offline: the note of the contact holding the email, with the latest summary (the late one if sent).
  const latest = p.lateSent ? p.late : p.summary;
  checkNotes('offline', [{ contactId: expectContact ? contactOfEmail(p.email) : undefined, required: Boolean(latest) && last.result !== 'failed' && last.result !== 'skipped', contains: latest }]);
  if (p.live) {
    // In conversation: each run's note on the contact holding the email that run carried; after a
    // correction, the earlier contact's note keeps the draft and never gets the later summary.
    const targets = p.liveAsks.map((ask, n) => {
      const r = ask.run?.result;
      const later = p.liveAsks.slice(n + 1).find((a) => a.email.toLowerCase() !== ask.email.toLowerCase() && a.run && a.summary);
      return {
        contactId: r === 'failed' || GOOD.includes(r ?? '') ? contactOfEmail(ask.email) : undefined,
        required: Boolean(ask.summary) && GOOD.includes(r ?? ''),
        contains: ask.summary,
        lacks: later?.summary,
        earlier: Boolean(later),
      };
    });
    // Two runs on the same contact share its note: the later summary is the one it must hold.
    const lastOn = new Map<string, (typeof targets)[number]>();
    for (const t of targets) if (t.contactId) lastOn.set(t.contactId, t);
    checkNotes('live', [...lastOn.values()]);
  }
  if (!isLost && outcomesRight) tally.synced++;
}

export function printTally(t: ChaosTally, log: (l: string) => void): void {
  const faultTotal = Object.values(t.faults).reduce((x, y) => x + y, 0);
  log('');
  log(`conversations             ${t.conversations} (${Object.entries(t.byRow).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  log(`behaviours                ${Object.entries(t.behaviours).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  log(`synced                    ${t.synced}`);
  log(`lost                      ${t.lost.length}`);
  log(`duplicate contacts        ${t.duplicateContacts}`);
  log(`duplicate notes           ${t.duplicateNotes}`);
  log(`notes on the wrong contact ${t.wrongContactNotes.length}`);
  log(`wrong properties          ${t.wrongProperties.length}`);
  log(`wrong outcomes            ${t.wrongOutcomes.length}`);
  log(`syncs of unchanged values ${t.duplicateSyncs.length}`);
  log(`not completed             ${t.notCompleted.length}`);
  log(`offline outcomes          ${JSON.stringify(t.offlineOutcomes)}`);
  log(`in-conversation           ${JSON.stringify(t.inConversationOutcomes)}`);
  log(`HubSpot calls             ${t.hubspotCalls}; faults ${faultTotal} (${((100 * faultTotal) / Math.max(1, t.hubspotCalls)).toFixed(1)}%): ${JSON.stringify(t.faults)}`);
  log(`slow writes               ${t.slowWrites.held} held past the per-call timeout: ${t.slowWrites.dropped} dropped (request aborted), ${t.slowWrites.applied} applied late`);
  log(`search-index lag          ${t.searchLag}`);
  log(`worker SIGKILLs           ${t.workerKills} (starts ${t.workerStarts}); dev server restarts ${t.serverRestarts}`);
  log(`wall time                 ${t.seconds.toFixed(1)} s`);
  log('slowest conversations (seconds since the run started):');
  for (const l of t.slowest) log(`  ${l}`);
  for (const l of [...t.lost, ...t.duplicates, ...t.wrongContactNotes, ...t.wrongProperties, ...t.wrongOutcomes, ...t.duplicateSyncs, ...t.notCompleted].slice(0, 30)) log(`  ${l}`);
}

/** True when the run found nothing lost, duplicated or wrong. */
export function clean(t: ChaosTally): boolean {
  return (
    t.lost.length === 0 &&
    t.duplicateContacts === 0 &&
    t.duplicateNotes === 0 &&
    t.wrongContactNotes.length === 0 &&
    t.wrongProperties.length === 0 &&
    t.wrongOutcomes.length === 0 &&
    t.duplicateSyncs.length === 0 &&
    t.notCompleted.length === 0 &&
    t.slowWrites.applied === 0 &&
    t.synced === t.conversations
  );
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}

if (require.main === module) {
  const log = (l: string) => process.stdout.write(`${l}\n`);
  const opts: ChaosOptions = {
    conversations: flag('conversations', 500),
    accounts: flag('accounts', 3),
    faultRate: flag('fault-rate', 0.06),
    slowWriteRate: flag('slow-write-rate', 0.01),
    slowWriteMs: flag('slow-write-ms', WORKER_REQUEST_TIMEOUT_MS + 5_000),
    kills: flag('kills', 3),
    serverRestart: !process.argv.includes('--no-server-restart'),
    concurrency: flag('concurrency', 40),
    retentionMs: flag('retention-ms', 30_000),
    seed: flag('seed', 1),
    log,
  };
  log(
    `chaos run: ${opts.conversations} conversations on ${opts.accounts} accounts, ${opts.faultRate * 100}% faults per kind, ${opts.slowWriteRate * 100}% slow writes (${opts.slowWriteMs} ms), ` +
      `${opts.kills} worker SIGKILLs, ${opts.serverRestart ? 'one' : 'no'} dev server restart, retention ${opts.retentionMs} ms, seed ${opts.seed}`,
  );
  runChaos(opts)
    .then((t) => {
      printTally(t, log);
      process.exit(clean(t) ? 0 : 1);
    })
    .catch((err) => {
      process.stderr.write(`chaos run failed: ${(err as Error).stack}\n`);
      process.exit(2);
    });
}

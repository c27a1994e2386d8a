// Chaos run: many conversations through the real worker on a Temporal dev server (with a database
// file), while the HubSpot emulator injects faults of every kind, the worker is killed with SIGKILL
// and the dev server is restarted. Then every conversation is checked against the emulator's store:
// synced, no duplicate contact, no duplicate note, every property as the operator's rules say.
//
//   npx tsx bench/chaos.ts [--conversations 500] [--accounts 3] [--fault-rate 0.06] [--kills 3]
//                          [--no-server-restart] [--concurrency 40] [--seed 1]
//
// --fault-rate is per kind (429, 5xx, timeout, lost response), drawn one after another: 0.06 makes
// about 22% of HubSpot calls fail. Exit code 0 only when nothing was lost, duplicated or wrong.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client as HubSpotClient } from '@hubspot/api-client';
import { Client, Connection } from '@temporalio/client';
import type { ActionConfigInput } from '../src/action/config';
import { noteReference } from '../src/action/note';
import { ConversationClient, type Conversation } from '../src/client';
import { conversationWorkflowId, type ActionRun, type ConversationResult } from '../src/contract';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../src/hubspot-emulator';
import { prng } from '../src/hubspot-emulator/store';
import { serverPaths } from '../src/temporal-servers';
import { freePort } from '../src/net';
import { benchAction } from './common';
import { conversationSearchAttributes } from '../src/search-attributes';

const ROOT = resolve(__dirname, '..');

export interface ChaosOptions {
  conversations: number;
  accounts: number;
  faultRate: number;
  kills: number;
  serverRestart: boolean;
  concurrency: number;
  seed: number;
  log: (line: string) => void;
}

export interface ChaosTally {
  conversations: number;
  byRow: Record<string, number>;
  synced: number;
  lost: string[];
  duplicateContacts: number;
  duplicateNotes: number;
  wrong: string[];
  offlineOutcomes: Record<string, number>;
  inConversationOutcomes: Record<string, number>;
  hubspotCalls: number;
  faults: Record<string, number>;
  workerKills: number;
  workerStarts: number;
  serverRestarts: number;
  seconds: number;
}

/** The rows of the SPEC's section 3 table, as the chaos run exercises them. */
type Row = 'new-create' | 'new-no-create' | 'ours-create' | 'theirs-update' | 'theirs-no-update' | 'ours-no-rights' | 'no-email';
const ROWS: Row[] = ['new-create', 'new-no-create', 'ours-create', 'theirs-update', 'theirs-no-update', 'ours-no-rights', 'no-email'];

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
  liveRun?: ActionRun;
  result?: ConversationResult;
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
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    await Promise.race([exited, sleep(20_000).then(() => c.kill('SIGKILL'))]);
  }
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosTally> {
  const { log } = opts;
  const started = Date.now();
  const random = prng(opts.seed);
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
    emulator = await startHubSpotEmulator({ port: 0, accounts, seed: opts.seed });
    const port = await freePort();
    server = new DevServer(port, join(dir, 'temporal.sqlite'), log);
    log(`dev server on 127.0.0.1:${port} (database ${join(dir, 'temporal.sqlite')}); HubSpot emulator on ${emulator.url}`);
    await server.start();

    // The plan: every row of the table, text and voice, offline and in-conversation, on every account.
    const plans: Plan[] = [];
    for (let i = 0; i < opts.conversations; i++) {
      const row = ROWS[i % ROWS.length]!;
      const accountId = accounts[Math.floor(i / ROWS.length) % accounts.length]!.accountId;
      const voice = random() < 0.4;
      const live = row !== 'no-email' && random() < 0.3;
      const email = `chaos.${opts.seed}.${i}@example.com`;
      const summary = i % 5 === 4 ? undefined : `Conversation ${i} <b>summary</b> & next steps`;
      const actions = [action('offline', accountId, row, true), ...(live ? [action('live', accountId, row, false)] : [])];
      plans.push({
        i,
        row,
        accountId,
        email,
        summary,
        live,
        voice,
        conversation: {
          conversationId: `chaos-${opts.seed}-${started.toString(36)}-${i}`,
          channel: voice ? 'voice' : random() < 0.5 ? 'chat' : 'whatsapp',
          actions,
          options: { inactivityTimeoutMs: 3_000, actionTimeoutMs: 120_000 },
        },
      });
    }
    // Existing contacts: "theirs" added as a person would; "ours" created through the API with the account's app.
    for (const p of plans) {
      if (p.row === 'theirs-update' || p.row === 'theirs-no-update') {
        p.existingId = emulator.addContact(p.accountId, { email: p.email, firstname: 'Original', phone: '+1 555 0100' });
      } else if (p.row === 'ours-create' || p.row === 'ours-no-rights') {
        const seed = accounts.find((a) => a.accountId === p.accountId)!;
        const hubspot = new HubSpotClient({ accessToken: seed.token, basePath: emulator.url, numberOfApiCallRetries: 0 });
        p.existingId = (await hubspot.crm.contacts.basicApi.create({ properties: { email: p.email, firstname: 'Original', phone: '+1 555 0100' }, associations: [] })).id;
      }
    }
    const perKind = opts.faultRate;
    for (const a of accounts) {
      emulator.setFaults(a.accountId, { serverErrorRate: perKind, rateLimitRate: perKind, timeoutRate: perKind, lostResponseRate: perKind, timeoutMs: 1_500 }, opts.seed);
    }
    const callsBefore = accounts.reduce((n, a) => n + Object.values(emulator!.requestCounts(a.accountId)).reduce((x, y) => x + y, 0), 0);

    const workerEnv: NodeJS.ProcessEnv = {
      ...process.env,
      WORKER_MODE: 'production',
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      HUBSPOT_ACCOUNTS: JSON.stringify(accounts.map((a) => ({ accountId: a.accountId, token: a.token, appId: a.appId, basePath: emulator!.url }))),
      LOG_LEVEL: 'ERROR',
    };
    for (const k of ['CODEC_KEYS', 'METRICS_BIND_ADDRESS', 'HUBSPOT_ACCOUNTS_FILE']) delete workerEnv[k];
    worker = new WorkerSupervisor(workerEnv, log);
    worker.start();

    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    const platform = new ConversationClient({ client: new Client({ connection }) });

    // Drive the conversations with a pool of concurrent "platform" callers.
    let next = 0;
    let done = 0;
    const drive = async (p: Plan) => {
      // As the platform contract asks, every call carries the conversation's current values, so that a
      // call arriving after the end (a worker kill or a slow action can let the short inactivity wait
      // pass) opens a new session that knows them.
      const first: Record<string, string> = p.row === 'no-email' ? { first_name: `F${p.i}` } : { email: p.email, first_name: `F${p.i}`, phone: '' };
      let c: Conversation = { ...p.conversation, fields: first };
      await persist('message', () => platform.recordMessage(c, { from: 'customer', fields: first }), log);
      if (p.live) {
        p.liveRun = await persist('runAction', () => platform.runAction(c, { actionId: 'live', fields: first, summary: p.summary }), log);
      }
      c = { ...c, fields: { ...first, first_name: `F${p.i}-final` }, ...(p.live && p.summary ? { summary: p.summary } : {}) };
      await persist('message', () => platform.recordMessage(c, { from: 'agent', fields: { first_name: `F${p.i}-final` } }), log);
      if (p.summary) c = { ...c, summary: p.summary };
      if (p.voice) await persist('endCall', () => platform.endCall(c, { summary: p.summary }), log);
      else if (p.summary) await persist('fieldsUpdated', () => platform.updateFields(c, { summary: p.summary }), log);
      p.result = await persist('result', () => platform.result(c.conversationId), log, 900_000);
      done++;
    };
    const pool = Array.from({ length: opts.concurrency }, async () => {
      while (next < plans.length) await drive(plans[next++]!);
    });

    const tally: ChaosTally = {
      conversations: plans.length,
      byRow: {},
      synced: 0,
      lost: [],
      duplicateContacts: 0,
      duplicateNotes: 0,
      wrong: [],
      offlineOutcomes: {},
      inConversationOutcomes: {},
      hubspotCalls: 0,
      faults: {},
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
      const faults = accounts.reduce((n, a) => n + Object.values(emulator!.faultCounts(a.accountId)).reduce((x, y) => x + y, 0), 0);
      log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${next}/${plans.length} started, ${done} ended; ${faults} HubSpot faults injected; worker kills ${worker!.kills}`);
    }, 5_000);
    try {
      await Promise.all([...pool, chaos]);
    } finally {
      clearInterval(progress);
    }

    // The check, from the emulator's store.
    for (const a of accounts) {
      const counts = emulator.requestCounts(a.accountId);
      tally.hubspotCalls += Object.values(counts).reduce((x, y) => x + y, 0);
      for (const [k, v] of Object.entries(emulator.faultCounts(a.accountId))) tally.faults[k] = (tally.faults[k] ?? 0) + v;
    }
    tally.hubspotCalls -= callsBefore;
    for (const p of plans) {
      tally.byRow[p.row] = (tally.byRow[p.row] ?? 0) + 1;
      const offline = p.result?.outcomes.offline?.at(-1);
      if (!offline) {
        tally.lost.push(`${p.conversation.conversationId}: no offline outcome`);
        continue;
      }
      tally.offlineOutcomes[offline.result] = (tally.offlineOutcomes[offline.result] ?? 0) + 1;
      if (p.liveRun) tally.inConversationOutcomes[p.liveRun.result] = (tally.inConversationOutcomes[p.liveRun.result] ?? 0) + 1;
      const wrong = (what: string) => tally.wrong.push(`${p.conversation.conversationId} (${p.row}): ${what}`);
      const contacts = emulator.contacts(p.accountId).filter((c) => c.properties.email === p.email);
      if (contacts.length > 1) tally.duplicateContacts += contacts.length - 1;
      const expectContact = p.row !== 'new-no-create' && p.row !== 'no-email';
      const expected: Record<Row, string[]> = {
        'new-create': p.liveRun?.result === 'created' ? ['updated'] : ['created', 'updated'],
        'new-no-create': ['skipped'],
        'ours-create': ['updated'],
        'theirs-update': ['updated'],
        'theirs-no-update': [p.summary ? 'note_only' : 'skipped'],
        'ours-no-rights': [p.summary ? 'note_only' : 'skipped'],
        'no-email': ['skipped'],
      };
      if (!expected[p.row].includes(offline.result)) {
        if (offline.result === 'failed') tally.lost.push(`${p.conversation.conversationId} (${p.row}): offline sync failed: ${offline.reason}`);
        else wrong(`outcome ${offline.result}, expected ${expected[p.row].join(' or ')} (${offline.reason})`);
        continue;
      }
      tally.synced++;
      if (!expectContact) {
        if (contacts.length) wrong('a contact was created');
        continue;
      }
      const contact = contacts[0];
      if (!contact) {
        wrong('no contact');
        continue;
      }
      if (p.existingId && contact.id !== p.existingId) wrong('not the existing contact');
      const updates = p.row === 'new-create' || p.row === 'ours-create' || p.row === 'theirs-update';
      const firstname = updates ? `F${p.i}-final` : 'Original';
      if (contact.properties.firstname !== firstname) wrong(`firstname "${contact.properties.firstname}", expected "${firstname}"`);
      if (p.existingId && contact.properties.phone !== '+1 555 0100') wrong('the phone was blanked out');
      const workflowId = conversationWorkflowId(p.conversation.conversationId);
      for (const actionId of p.live ? ['offline', 'live'] : ['offline']) {
        const ref = noteReference(`${workflowId}:${actionId}`);
        const notes = emulator.notes(p.accountId).filter((n) => (n.properties.hs_note_body ?? '').includes(ref));
        if (notes.length > 1) tally.duplicateNotes += notes.length - 1;
        if (notes.some((n) => !n.associations.contacts.includes(contact.id))) wrong(`the ${actionId} note is not on the contact`);
        const expectNote = actionId === 'offline' ? Boolean(p.summary) : Boolean(p.summary) && p.liveRun?.result !== 'failed' && p.liveRun?.result !== 'skipped';
        if (expectNote && notes.length === 0) wrong(`no ${actionId} note`);
        if (!p.summary && notes.length) wrong(`a ${actionId} note without a summary`);
        if (expectNote && notes[0] && !notes[0].properties.hs_note_body!.includes(`Conversation ${p.i} &lt;b&gt;summary&lt;/b&gt; &amp; next steps`)) wrong(`the ${actionId} note lacks the summary`);
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

export function printTally(t: ChaosTally, log: (l: string) => void): void {
  const faultTotal = Object.values(t.faults).reduce((x, y) => x + y, 0);
  log('');
  log(`conversations           ${t.conversations} (${Object.entries(t.byRow).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  log(`synced as expected      ${t.synced}`);
  log(`lost                    ${t.lost.length}`);
  log(`duplicate contacts      ${t.duplicateContacts}`);
  log(`duplicate notes         ${t.duplicateNotes}`);
  log(`wrong state             ${t.wrong.length}`);
  log(`offline outcomes        ${JSON.stringify(t.offlineOutcomes)}`);
  log(`in-conversation         ${JSON.stringify(t.inConversationOutcomes)}`);
  log(`HubSpot calls           ${t.hubspotCalls}; faults ${faultTotal} (${((100 * faultTotal) / Math.max(1, t.hubspotCalls)).toFixed(1)}%): ${JSON.stringify(t.faults)}`);
  log(`worker SIGKILLs         ${t.workerKills} (starts ${t.workerStarts}); dev server restarts ${t.serverRestarts}`);
  log(`wall time               ${t.seconds.toFixed(1)} s`);
  for (const l of [...t.lost, ...t.wrong].slice(0, 20)) log(`  ${l}`);
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
    kills: flag('kills', 3),
    serverRestart: !process.argv.includes('--no-server-restart'),
    concurrency: flag('concurrency', 40),
    seed: flag('seed', 1),
    log,
  };
  log(`chaos run: ${opts.conversations} conversations on ${opts.accounts} accounts, ${opts.faultRate * 100}% faults per kind, ${opts.kills} worker SIGKILLs, ${opts.serverRestart ? 'one' : 'no'} dev server restart`);
  runChaos(opts)
    .then((t) => {
      printTally(t, log);
      process.exit(t.lost.length || t.duplicateContacts || t.duplicateNotes || t.wrong.length ? 1 : 0);
    })
    .catch((err) => {
      process.stderr.write(`chaos run failed: ${(err as Error).stack}\n`);
      process.exit(2);
    });
}

// The chaos run itself: the emulator with faults and slow writes, the dev server and the worker as
// child processes, the conversations driven through the platform client by concurrent callers, and the
// worker kills and the server restart spread over the run; then the verdict (verdict.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client as HubSpotClient } from '@hubspot/api-client';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../../hubspot-emulator';
import { ConversationClient, type Conversation, type ConversationRef } from '../../src/platform/client';
import { conversationWorkflowId, type ConversationState } from '../../src/platform/contract';
import { freePort } from '../../src/worker/net';
import { pool } from '../rig/pool';
import {
  contactsWithEmail,
  makePlans,
  WORKER_REQUEST_TIMEOUT_MS,
  type ChaosOptions,
  type LiveAsk,
  type Plan,
} from './plan';
import { DevServer, persist, WorkerSupervisor } from './processes';
import { startProductionLike, type ProductionLike } from './production';
import { openDatabase } from '../../src/account-store/db';
import {
  checkReceipts,
  checkStore,
  emptyTally,
  failureMessage,
  slowest,
  type ChaosTally,
  type ReceiptTally,
} from './verdict';

/** How long after its retention ends a conversation may take to complete (a worker restart included). */
const COMPLETION_GRACE_MS = 120_000;
/**
 * The operations that get queued slow writes on every account at the start, whatever the random draw:
 * HubSpot holds them past the worker's per-call timeout and applies them anyway (the emulator's default).
 * Single-record calls and the batch endpoints the worker's batcher uses alike; engagements are single-record.
 */
const SLOW_WRITE_OPERATIONS = [
  'contacts.create',
  'contacts.update',
  'notes.create',
  'notes.update',
  'contacts.batchCreate',
  'contacts.batchUpdate',
  'notes.batchCreate',
  'notes.batchUpdate',
  'calls.create',
  'calls.update',
  'communications.create',
  'communications.update',
];
const QUEUED_SLOW_WRITES = 2;

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
  let server: Pick<DevServer, 'start' | 'kill'> | undefined;
  let production: ProductionLike | undefined;
  const workers: WorkerSupervisor[] = [];
  let connection: Connection | undefined;
  try {
    // The emulator's default search lag (2-5 s per write) stays on: nothing exact may depend on search.
    emulator = await startHubSpotEmulator({ port: 0, accounts, seed: opts.seed });
    const em = emulator;
    let address: string;
    if (opts.productionLike) {
      // Temporal server 1.32 on PostgreSQL, the accounts in the account store on it, encryption on.
      production = await startProductionLike({ workers: opts.workers ?? 1, accounts, emulatorUrl: em.url, log });
      server = production.temporal;
      address = production.temporal.address;
      log(`HubSpot emulator on ${em.url}`);
    } else {
      const port = await freePort();
      server = new DevServer(port, join(dir, 'temporal.sqlite'), log);
      address = `127.0.0.1:${port}`;
      log(`dev server on ${address} (database ${join(dir, 'temporal.sqlite')}); HubSpot emulator on ${em.url}`);
      await server.start();
    }

    const plans = makePlans(opts, accounts, started.toString(36));
    // The accounts of the production-like run are connected to a workspace: its conversations name it.
    if (production) for (const p of plans) p.conversation = { ...p.conversation, workspaceId: production.workspaceId };
    // Existing contacts: "theirs" added as a person would; "ours" created through the API with the account's app.
    for (const p of plans) {
      const seed = accounts.find((a) => a.accountId === p.accountId)!;
      if (p.row === 'theirs-update' || p.row === 'theirs-no-update') {
        p.existingId = em.addContact(p.accountId, { email: p.email, firstname: 'Original', phone: '+1 555 0100' });
      } else if (p.row === 'ours-create' || p.row === 'ours-no-rights') {
        const hubspot = new HubSpotClient({ accessToken: seed.token, basePath: em.url, numberOfApiCallRetries: 0 });
        p.existingId = (
          await hubspot.crm.contacts.basicApi.create({
            properties: { email: p.email, firstname: 'Original', phone: '+1 555 0100' },
            associations: [],
          })
        ).id;
      }
      // The duplicate record a person will merge with the conversation's contact.
      if (p.merge)
        p.merge.duplicateId = em.addContact(p.accountId, {
          email: `duplicate.${opts.seed}.${p.i}@example.com`,
          firstname: 'Duplicate',
        });
    }
    const perKind = opts.faultRate;
    for (const a of accounts) {
      em.setFaults(
        a.accountId,
        {
          serverErrorRate: perKind,
          rateLimitRate: perKind,
          timeoutRate: perKind,
          lostResponseRate: perKind,
          timeoutMs: 1_500,
          slowWriteRate: opts.slowWriteRate,
          slowWriteMs: opts.slowWriteMs,
        },
        opts.seed,
      );
      if (opts.slowWriteMs > 0)
        for (const op of SLOW_WRITE_OPERATIONS)
          em.failNext(a.accountId, op, 'slow-write', QUEUED_SLOW_WRITES, { holdMs: opts.slowWriteMs });
    }
    const lag = em.searchLag(accounts[0]!.accountId);
    const searchLag = `${lag.minMs}-${lag.maxMs} ms`;
    log(
      `search-index lag ${searchLag}; slow writes held ${opts.slowWriteMs} ms (the worker's per-call timeout: ${WORKER_REQUEST_TIMEOUT_MS} ms), then applied`,
    );
    const callsBefore = accounts.reduce(
      (n, a) => n + Object.values(em.requestCounts(a.accountId)).reduce((x, y) => x + y, 0),
      0,
    );

    const workerEnv: NodeJS.ProcessEnv = {
      ...process.env,
      WORKER_MODE: 'production',
      TEMPORAL_ADDRESS: address,
      HUBSPOT_ACCOUNTS: JSON.stringify(
        accounts.map((a) => ({ accountId: a.accountId, token: a.token, appId: a.appId, basePath: em.url })),
      ),
      // A local dev server and the emulator: production's TLS, encryption and HubSpot-host rules are waived.
      ALLOW_TEMPORAL_WITHOUT_TLS: 'true',
      ALLOW_UNENCRYPTED_PAYLOADS: 'true',
      HUBSPOT_ALLOWED_BASE_URLS: em.url,
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
      delete workerEnv[k];
    for (let i = 0; i < (opts.workers ?? 1); i++) {
      const env = { ...workerEnv };
      if (production) {
        // Production's rules, but for TLS: encryption on, the accounts from the account store.
        delete env.HUBSPOT_ACCOUNTS;
        delete env.ALLOW_UNENCRYPTED_PAYLOADS;
        Object.assign(env, production.workerEnvs[i]);
      }
      workers.push(new WorkerSupervisor(env, log));
    }
    for (const w of workers) w.start();
    const workerKills = () => workers.reduce((n, w) => n + w.kills, 0);

    connection = await Connection.connect({ address });
    const platform = new ConversationClient({
      client: new Client({ connection, dataConverter: production?.dataConverter }),
    });

    /**
     * The failure of a workflow task that keeps failing (3 attempts or more), or undefined. Its history
     * is saved next to the run's temporary directory, for the replay tests.
     */
    const saved = new Set<string>();
    const stuck = async (ref: ConversationRef): Promise<string | undefined> => {
      const id = ref.conversationId;
      const handle = platform.handle(ref);
      const described = await handle.describe().catch(() => undefined);
      if ((described?.raw.pendingWorkflowTask?.attempt ?? 0) < 3) return undefined;
      const history = await handle.fetchHistory().catch(() => undefined);
      const failure =
        [...(history?.events ?? [])].reverse().find((e) => e.workflowTaskFailedEventAttributes)
          ?.workflowTaskFailedEventAttributes?.failure?.message ?? 'unknown failure';
      if (history && !saved.has(id)) {
        saved.add(id);
        const file = join(tmpdir(), `${conversationWorkflowId(ref.workspaceId, id).replace(/\//g, '_')}.history.bin`);
        writeFileSync(file, temporal.api.history.v1.History.encode(history).finish());
        log(`  ${id}: its workflow task fails on every attempt (${failure.slice(0, 160)}); history saved to ${file}`);
      }
      return `its workflow task fails on every attempt: ${failure.slice(0, 160)}`;
    };

    /**
     * What a conversation still waits on, for the verdict's line: its pending activities (attempt, the last
     * failure, when the next attempt is due) and its sync status, so that a lost sync says why.
     */
    const waitingOn = async (ref: ConversationRef): Promise<string> => {
      const handle = platform.handle(ref);
      const described = await handle.describe().catch(() => undefined);
      if (!described) return ' (its workflow could not be described)';
      const state = await platform.getState(ref).catch(() => undefined);
      const parts = [`workflow ${described.status.name}`, `sync ${state?.syncStatus ?? 'unknown'}`];
      for (const a of described.raw.pendingActivities ?? []) {
        const next = a.nextAttemptScheduleTime?.seconds;
        const due = next ? Number(next) * 1000 - Date.now() : undefined;
        const failure = await failureMessage(a.lastFailure, handle.workflowId, production?.dataConverter);
        parts.push(
          `${a.activityType?.name ?? '?'} ${temporal.api.enums.v1.PendingActivityState[a.state ?? 0]} attempt ${a.attempt ?? 1}` +
            (due !== undefined && due > 0 ? `, next in ${Math.round(due / 1000)} s` : '') +
            (failure ? `, last failure: ${failure.slice(0, 160)}` : ''),
        );
      }
      return ` (${parts.join('; ')})`;
    };

    /** Polls the conversation's state until `done` holds; undefined after the deadline, or when it is stuck. */
    const waitFor = async (
      p: Plan,
      what: string,
      done: (s: ConversationState) => boolean,
    ): Promise<ConversationState | undefined> => {
      const until = Date.now() + syncDeadlineMs;
      let nextStuckCheck = Date.now() + 10_000;
      while (Date.now() < until) {
        const s = await persist('state', () => platform.getState(p.conversation), log, 20_000).catch(() => undefined);
        if (s && done(s)) return (p.seen = s);
        if (Date.now() > nextStuckCheck) {
          nextStuckCheck = Date.now() + 10_000;
          const why = await stuck(p.conversation);
          if (why) {
            p.waitLost = `${what} never came: ${why}`;
            return undefined;
          }
        }
        await sleep(400 + (p.i % 7) * 50);
      }
      p.waitLost = `${what} not seen within ${syncDeadlineMs / 1000} s${await waitingOn(p.conversation)}`;
      return undefined;
    };
    const offlineRuns = (s: ConversationState) =>
      (s.outcomes.offline ?? []).filter((r) => r.trigger === 'offline').length;
    const settled = (s: ConversationState) =>
      s.status === 'ended' && s.syncStatus !== 'running' && s.syncStatus !== 'pending';

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
      const first: Record<string, string> =
        p.row === 'no-email' ? { first_name: `F${p.i}` } : { email: firstEmail, first_name: `F${p.i}`, phone: '' };
      let c: Conversation = { ...p.conversation, fields: first };
      const signalled = await persist(
        'message',
        () => platform.recordMessage(c, { from: 'customer', fields: first }),
        log,
      );
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
      // The call's details come with every callEnded, as the platform knows them (the same each time).
      const callEnded = { summary: p.summary, ...(p.call ? { call: p.call } : {}) };
      if (p.voice) {
        await persist('endCall', () => platform.endCall(c, callEnded), log);
        if (p.duplicateEnd) await persist('endCall', () => platform.endCall(c, callEnded), log);
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
          log(
            `  ${id}: post-end steps skipped, ${p.postEndSkipped} (seen ${((Date.now() - started) / 1000).toFixed(1)} s into the run)`,
          );
        } else {
          if (p.duplicateEnd) {
            await persist('endCall', () => platform.endCall(c, callEnded), log);
            p.repeatsSent++;
          }
          if (p.repeatAfterEnd) {
            await persist(
              'fieldsUpdated',
              () => platform.updateFields(c, { fields: c.fields, ...(p.summary ? { summary: p.summary } : {}) }),
              log,
            );
            p.repeatsSent++;
          }
          if (p.merge?.when === 'after-sync') merge(p);
          // The repeats and the merge took time: the late summary goes only while the margin is still there
          // (sent later, it would open a new conversation, which is right but not what this step tests).
          const margin = Math.min(3_000, opts.retentionMs / 4);
          const before = p.late
            ? await persist('describe', () => platform.handle(p.conversation).describe(), log).catch(() => undefined)
            : undefined;
          const now = p.late
            ? await persist('state', () => platform.getState(p.conversation), log, 20_000).catch(() => undefined)
            : undefined;
          const leftNow = Date.parse(now?.retainedUntil ?? '') - Date.now();
          if (p.late && !(leftNow > margin)) {
            p.postEndSkipped = `only ${Math.round(leftNow)} ms of retention left before the late summary`;
            log(`  ${id}: late summary skipped, ${p.postEndSkipped}`);
          } else if (p.late) {
            c = { ...c, summary: p.late };
            const signalled = await persist('fieldsUpdated', () => platform.updateFields(c, { summary: p.late }), log);
            if (before && signalled.runId !== before.runId) {
              // The conversation had completed when the summary arrived: it opened a new one.
              p.lateOpenedNew = `the late summary reached a new conversation (run ${signalled.runId}), not the dormant run ${before.runId}`;
              log(`  ${id}: ${p.lateOpenedNew}`);
            }
            p.lateSent = true;
            const want = p.runsAtFirstEnd + 1;
            if (await waitFor(p, 'the follow-up sync of the late summary', (s) => settled(s) && offlineRuns(s) >= want))
              p.times.followUp = mark();
          }
        }
      }
      done++;
      // Dormant until the retention ends, then completed: waited for outside the pool. A workflow that
      // cannot complete (a workflow task failing on every attempt) must not hang the run: its status is
      // polled from the end of its retention, with a deadline.
      completions.push(
        (async () => {
          let due = Date.parse(p.seen?.retainedUntil ?? '') || Date.now();
          await sleep(Math.max(0, due - Date.now()) + 500);
          let until = Date.now() + COMPLETION_GRACE_MS;
          for (;;) {
            const status = await platform
              .handle(p.conversation)
              .describe()
              .then((d) => d.status.name)
              .catch(() => undefined);
            if (status === 'COMPLETED') {
              p.result = await persist('result', () => platform.result(p.conversation), log).catch(() => undefined);
              p.completed = p.result !== undefined;
              p.times.completed = mark();
              break;
            }
            if (status === 'RUNNING') {
              // A convergence check due later keeps the conversation past its retention: its state says until when.
              const later = Date.parse(
                (await platform.getState(p.conversation).catch(() => undefined))?.retainedUntil ?? '',
              );
              if (later > due) {
                due = later;
                until = Math.max(until, later + COMPLETION_GRACE_MS);
              }
            }
            const why = status === 'RUNNING' ? await stuck(p.conversation) : undefined;
            if ((status !== undefined && status !== 'RUNNING') || why || Date.now() > until) {
              p.notCompletedReason = `status ${status ?? 'unknown'} ${Math.round((Date.now() - due) / 1000)} s after its retention ended${why ? `; ${why}` : ''}`;
              break;
            }
            await sleep(2_000);
          }
          if (!p.result)
            p.state = await persist('state', () => platform.getState(p.conversation), log, 30_000).catch(
              () => undefined,
            );
          const described = await persist('describe', () => platform.handle(p.conversation).describe(), log).catch(
            () => undefined,
          );
          const firstRunId = described?.raw.workflowExecutionInfo?.firstRunId;
          if (firstRunId) p.firstRunId = firstRunId;
        })(),
      );
    };
    const driving = pool(plans, opts.concurrency, async (p) => {
      next++;
      await drive(p);
    });

    const tally: ChaosTally = emptyTally(plans.length, searchLag);
    // Chaos: kill a worker `kills` times (each worker in turn), restart the Temporal server once and
    // PostgreSQL once (production-like), spread over the run.
    const chaos = (async () => {
      const events: Array<'kill' | 'restart' | 'database'> = [];
      for (let k = 0; k < opts.kills; k++) events.push('kill');
      const middle = Math.ceil(events.length / 2);
      if (production && opts.databaseRestart) events.splice(middle, 0, 'database');
      if (opts.serverRestart) events.splice(middle, 0, 'restart');
      let killed = 0;
      for (const [n, event] of events.entries()) {
        // Spread over the run: each event when its share of the conversations has ended, with
        // conversations still in flight.
        const at = Math.floor(((n + 1) / (events.length + 1)) * plans.length * 0.9);
        while (done < at) await sleep(200);
        if (done >= plans.length) break;
        if (event === 'kill') {
          const n = killed++ % workers.length;
          log(
            `  SIGKILL ${workers.length > 1 ? `worker ${n + 1} of ${workers.length}` : 'the worker'} (${next} conversations started, ${done} ended)`,
          );
          await workers[n]!.killAndRestart();
        } else if (event === 'restart') {
          const what = production ? 'the Temporal server' : 'the dev server';
          log(`  restarting ${what} (SIGKILL; ${next} started, ${done} ended)`);
          await server!.kill();
          await sleep(1_000);
          await server!.start();
          tally.serverRestarts++;
          log(`  ${what} back`);
        } else {
          log(`  restarting PostgreSQL (immediate shutdown, 2 s down; ${next} started, ${done} ended)`);
          await production!.postgres.kill();
          await sleep(2_000);
          await production!.postgres.start();
          tally.databaseRestarts++;
          log('  PostgreSQL back');
        }
        await sleep(3_000);
      }
    })();
    const progress = setInterval(() => {
      const faults = accounts.reduce(
        (n, a) => n + Object.values(em.faultCounts(a.accountId)).reduce((x, y) => x + y, 0),
        0,
      );
      const completed = plans.filter((p) => p.completed).length;
      log(
        `  ${((Date.now() - started) / 1000).toFixed(0)} s: ${next}/${plans.length} started, ${done} synced and dormant, ${completed} completed; ${faults} HubSpot faults injected; worker kills ${workerKills()}`,
      );
    }, 5_000);
    try {
      await Promise.all([driving, chaos]);
      await Promise.all(completions);
    } finally {
      clearInterval(progress);
    }

    checkStore(em, accounts, plans, tally, callsBefore);
    if (production) tally.receipts = await countReceipts(production, plans);
    tally.slowest = await slowest(plans, platform, production?.dataConverter);
    tally.workerKills = workerKills();
    tally.workerStarts = workers.reduce((n, w) => n + w.starts, 0);
    tally.seconds = (Date.now() - started) / 1000;
    return tally;
  } finally {
    await connection?.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop()));
    if (production) await production.close();
    else await server?.kill();
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The receipts the workers kept in the account store, counted per conversation and checked against its runs. */
async function countReceipts(production: ProductionLike, plans: Plan[]): Promise<ReceiptTally> {
  const db = await openDatabase({ url: production.workerEnvs[0]!.DATABASE_URL!, poolSize: 1 });
  try {
    const { rows } = await db.query<{ conversation_id: string; runs: number; unfinished: number; repairs: number }>(
      `SELECT conversation_id,
              count(*) FILTER (WHERE trigger <> 'convergence-repair')::int AS runs,
              count(*) FILTER (WHERE NOT finished)::int AS unfinished,
              count(*) FILTER (WHERE trigger = 'convergence-repair')::int AS repairs
         FROM sync_receipts WHERE workspace_id = $1 GROUP BY conversation_id`,
      [production.workspaceId],
    );
    return checkReceipts(
      plans,
      rows.map((r) => ({
        conversationId: r.conversation_id,
        runs: Number(r.runs),
        unfinished: Number(r.unfinished),
        repairs: Number(r.repairs),
      })),
    );
  } finally {
    await db.close();
  }
}

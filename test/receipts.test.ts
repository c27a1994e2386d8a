// Sync receipts (docs/ACCOUNTS.md, "Receipts"), with the real worker, the emulator over HTTP, the
// account store (PGlite) and the configuration API: one receipt per run with its trigger, outcome and
// links into HubSpot; exactly one under activity retries (5xx, lost responses); every route scoped to
// its workspace; filters and pages; a failed sync retried through the API, answered with the new run's
// receipt; an offline run's receipt written once the receipts database answers again; and no property
// value, email, phone or summary in any stored receipt.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { EmulatorAccountSeed } from '../hubspot-emulator/store';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ApplicationFailure } from '@temporalio/common';
import { createActivities, type ContactSyncActivityInput } from '../activities';
import { FailureType } from '../src/action/failures';
import type { ContactSyncResult } from '../src/action/run';
import { FakeAccount, FakeHubSpot } from './helpers/fake-hubspot';
import type { Receipt, ReceiptRecorder, ReceiptWrite } from '../src/action/receipt';
import type { AccountStore } from '../src/account-store/store';
import { StoreDirectory } from '../src/account-store/store-directory';
import { startConfigApi, type RunningConfigApi } from '../src/config-api/server';
import type { ActionRun } from '../src/platform/contract';
import {
  ACME,
  GLOBEX,
  action,
  conversation,
  convergenceDone,
  heldWritesEnded,
  startHarness,
  WORKSPACE,
  type Harness,
} from './helpers/conversation-harness';
import { timeSkippingEnv } from './helpers/temporal-env';
import { memoryStore } from './accounts-support';
import { loadConfig } from '../src/environment/config';
import { sweepReceipts } from '../src/worker/account-services';
import { ConfigApiClient } from '../src/config-api/client';

const API_TOKEN = 'receipts-test-config-api-token-0123456789';
const PORTAL = 7_654_321;
const OTHER_WS = 'ws-other';

let env: TestWorkflowEnvironment;
let h: Harness;
let store: AccountStore;
let api: RunningConfigApi;

/**
 * The receipts database going away for a while (a failover). PGlite cannot be stopped, so the fault is
 * injected in front of the real store, as the emulator injects HubSpot's: armed for a conversation, every
 * receipt write is refused ("connection refused") from that conversation's first finished receipt (its
 * run's HubSpot work is done) until `forMs` later. Reads (the API's) still go to the store.
 */
class ReceiptsOutage implements ReceiptRecorder {
  private armed?: { conversationId: string; forMs: number };
  private until = 0;
  /** When the outage began (wall clock), and how many writes it refused. */
  began?: number;
  refused = 0;
  constructor(private readonly store: ReceiptRecorder) {}

  after(conversationId: string, forMs: number): void {
    this.armed = { conversationId, forMs };
    this.began = undefined;
    this.refused = 0;
  }

  private refuse(): void {
    if (Date.now() >= this.until) return;
    this.refused++;
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }

  started(write: ReceiptWrite): Promise<void> {
    this.refuse();
    return this.store.started(write);
  }

  finished(write: ReceiptWrite): Promise<void> {
    // The run's result, not an attempt's failure: an attempt that failed first (a call past the harness's
    // 1 s timeout on a loaded machine) writes its failure before the run's HubSpot work is done.
    if (this.armed?.conversationId === write.conversationId && write.outcome !== 'failed') {
      this.began = Date.now();
      this.until = this.began + this.armed.forMs;
      this.armed = undefined;
    }
    this.refuse();
    return this.store.finished(write);
  }
}
let outage: ReceiptsOutage;
/**
 * The account of the outage test alone: the requests it counts are its run's, not those of another
 * test's conversation still syncing or checking in the background.
 */
const OUTAGE_ACCOUNT: EmulatorAccountSeed = {
  accountId: 'receipts-outage',
  token: 'receipts-outage-token',
  appId: 6161,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
};

/** Everything personal the test's conversations carry: none of it may appear in a receipt. */
const personal = new Set<string>();
let seq = 0;
function customer(summary = true) {
  const n = ++seq;
  const fields = {
    email: `receipt.customer${n}@privacy.example`,
    first_name: `Firstname${n}zq`,
    phone: `+4420795${String(n).padStart(5, '0')}`,
  };
  const text = `Summary ${n}: the customer wants a callback about order qx${n}`;
  for (const v of [...Object.values(fields), text]) personal.add(v);
  return { fields, ...(summary ? { summary: text } : {}) };
}

async function call(path: string, init: RequestInit & { token?: string | null } = {}) {
  const { token = API_TOKEN, ...rest } = init;
  const res = await fetch(`${api.url}${path}`, {
    ...rest,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(rest.headers ?? {}) },
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

const list = async (ws: string, query = '') => {
  const r = await call(`/v1/workspaces/${ws}/receipts${query ? `?${query}` : ''}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as unknown as { receipts: Receipt[]; nextCursor?: string };
};

const receiptsOf = async (ws: string, conversationId: string) =>
  (await list(ws, `conversationId=${encodeURIComponent(conversationId)}`)).receipts;

async function outcomes(ref: { workspaceId: string; conversationId: string }, actionId: string, count: number) {
  for (const until = Date.now() + 60_000; Date.now() < until;) {
    const runs = (await h.platform.getState(ref))?.outcomes[actionId] ?? [];
    if (runs.length >= count) return runs;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`conversation ${ref.conversationId}: fewer than ${count} outcomes of ${actionId}`);
}

before(async () => {
  env = await timeSkippingEnv();
  store = await memoryStore();
  outage = new ReceiptsOutage(store.receipts);
  h = await startHarness(env, [ACME, GLOBEX, OUTAGE_ACCOUNT], {
    receipts: outage,
    settings: () => ({ portalId: PORTAL }),
    // A short per-call timeout: a write HubSpot holds past it is abandoned, retried, and lands late.
    accounts: { requestTimeoutMs: 1_000 },
  });
  api = await startConfigApi({
    store,
    directory: new StoreDirectory(store),
    apiToken: API_TOKEN,
    operatorClient: async () => env.client,
  });
});
after(async () => {
  await api?.close();
  await h?.close();
  await store?.close();
  await env?.teardown();
});

const live = action({ id: 'live', offlineSync: false });
const offline = action({ id: 'offline' });

describe('one receipt per run', () => {
  test('in conversation, offline and follow-up runs each leave one receipt: trigger, outcome, links, names only', async () => {
    await h.run(async () => {
      const chat = conversation('chat', [live]);
      const c = customer();
      const run = await h.platform.runAction(chat, { actionId: 'live', fields: c.fields, summary: c.summary });
      assert.equal(run.result, 'created');
      const [receipt, ...more] = await receiptsOf(WORKSPACE, chat.conversationId);
      assert.equal(more.length, 0, 'one run, one receipt');
      assert.ok(receipt);
      assert.equal(receipt.trigger, 'in-conversation');
      assert.equal(receipt.outcome, 'created');
      assert.equal(receipt.actionId, 'live');
      assert.equal(receipt.workspaceId, WORKSPACE);
      assert.equal(receipt.reason, run.reason);
      assert.deepEqual(receipt.hubspot, {
        accountId: ACME.accountId,
        portalId: PORTAL,
        contactId: run.contactId,
        contactUrl: `https://app.hubspot.com/contacts/${PORTAL}/record/0-1/${run.contactId}`,
        record: {
          object: 'note',
          id: run.noteId,
          url: `https://app.hubspot.com/contacts/${PORTAL}/record/0-1/${run.contactId}`,
        },
      });
      assert.deepEqual([...receipt.propertiesWritten].sort(), [...run.propertiesWritten].sort());
      assert.ok(receipt.propertiesWritten.includes('email'), 'names the properties written');
      assert.deepEqual(receipt.propertiesLeft, []);
      // Lookup, create, note create (a contact this run created has no notes to look through).
      assert.ok(receipt.hubspotCalls >= 3, `hubspotCalls ${receipt.hubspotCalls}`);
      assert.equal(receipt.attempts, 1);
      assert.ok(Date.parse(receipt.finishedAt) >= Date.parse(receipt.startedAt) || receipt.durationMs === 0);
      // The contact really is the one in HubSpot.
      assert.ok(h.emulator.contacts(ACME.accountId).some((c) => c.id === run.contactId));

      // A voice call: its offline sync when it ends, then new values after the end: a follow-up.
      const voice = conversation('voice', [offline]);
      const v = customer();
      await h.platform.recordMessage(voice, { from: 'customer', fields: v.fields });
      await h.platform.endCall(voice, { summary: v.summary });
      const [first] = await outcomes(voice, 'offline', 1);
      assert.equal(first!.result, 'created');
      const later = customer();
      await h.platform.updateFields(voice, { fields: { first_name: later.fields.first_name }, summary: later.summary });
      const runs = await outcomes(voice, 'offline', 2);
      assert.equal(runs[1]!.result, 'updated');
      const receipts = await receiptsOf(WORKSPACE, voice.conversationId);
      assert.deepEqual(
        receipts.map((r) => [r.trigger, r.outcome]),
        [
          ['follow-up', 'updated'],
          ['offline', 'created'],
        ],
        'newest first',
      );
      assert.equal(receipts[0]!.hubspot.record?.id, first!.noteId, 'the follow-up updated the same note');
    });
  });

  test('a run under way already has its receipt ("Not finished"), so a worker lost mid-run leaves one too', async () => {
    await h.run(async () => {
      const chat = conversation('chat', [live]);
      const c = customer();
      // HubSpot holds the create for 700 ms (within the call's timeout): the run is under way meanwhile.
      h.emulator.failNext(ACME.accountId, 'contacts.create', 'slow-write', 1, { holdMs: 700 });
      const running = h.platform.runAction(chat, { actionId: 'live', fields: c.fields, summary: c.summary });
      let during: Receipt | undefined;
      for (let i = 0; i < 60 && !during; i++) {
        during = (await receiptsOf(WORKSPACE, chat.conversationId))[0];
        if (!during) await new Promise((r) => setTimeout(r, 20));
      }
      const run = await running;
      assert.ok(during, 'no receipt while the run was under way');
      assert.equal(during.outcome, 'failed');
      assert.equal(during.finished, false, 'the receipt says the run has not reported');
      assert.match(during.reason, /^Not finished/);
      const [finished, ...more] = await receiptsOf(WORKSPACE, chat.conversationId);
      assert.equal(more.length, 0);
      assert.equal(finished!.id, during.id, 'the same receipt, finished');
      assert.equal(finished!.outcome, run.result);
      assert.equal(finished!.outcome, 'created');
      assert.equal(finished!.finished, true);
    });
  });

  for (const [op, kind] of [
    ['contacts.create', '503'],
    ['contacts.create', 'lost-response'],
    ['notes.create', 'lost-response'],
  ] as const) {
    test(`a run retried after ${kind} on ${op} leaves exactly one receipt, of the attempt that succeeded`, async () => {
      await h.run(async () => {
        const chat = conversation('chat', [live]);
        const c = customer();
        const before = h.emulator.requests(ACME.accountId).filter((r) => r.fault).length;
        h.emulator.failNext(ACME.accountId, op, kind, 1);
        const run = await h.platform.runAction(chat, { actionId: 'live', fields: c.fields, summary: c.summary });
        assert.equal(run.result, 'created', run.reason);
        assert.equal(h.emulator.requests(ACME.accountId).filter((r) => r.fault).length - before, 1, 'fault injected');
        const receipts = await receiptsOf(WORKSPACE, chat.conversationId);
        assert.equal(receipts.length, 1, `receipts: ${JSON.stringify(receipts.map((r) => r.reason))}`);
        const [receipt] = receipts;
        assert.equal(receipt!.outcome, 'created');
        assert.equal(receipt!.attempts, 2, 'the second attempt replaced the first one’s failure');
        assert.equal(receipt!.hubspot.contactId, run.contactId);
        assert.equal(receipt!.hubspot.record?.id, run.noteId);
        // Both attempts' calls count: the first made at least the lookup and the faulted call.
        assert.ok(receipt!.hubspotCalls >= 5, `hubspotCalls ${receipt!.hubspotCalls}`);
        const rows = await store.db.query(`SELECT count(*)::int AS n FROM sync_receipts WHERE conversation_id = $1`, [
          chat.conversationId,
        ]);
        assert.equal(Number(rows.rows[0]!.n), 1);
      });
    });
  }
});

describe('the receipts database down', () => {
  test('an offline run done while the database is down for longer than the 5 s write retry: the receipt is written once it answers, finished, with no HubSpot call again', async () => {
    await h.run(async () => {
      const voice = conversation('voice', [action({ id: 'offline', hubspotAccountId: OUTAGE_ACCOUNT.accountId })]);
      const c = customer();
      const since = Date.now();
      // Down from the moment the run's HubSpot work is done until 8 s later: past the attempt's 5 s retry.
      outage.after(voice.conversationId, 8_000);
      await h.platform.recordMessage(voice, { from: 'customer', fields: c.fields });
      await h.platform.endCall(voice, { summary: c.summary });
      const [run] = await outcomes(voice, 'offline', 1);
      const outcomeAt = Date.now();
      assert.equal(run!.result, 'created', run!.reason);
      assert.ok(outage.began, 'the database went down');
      assert.ok(outage.refused > 1, `${outage.refused} receipt writes refused`);
      assert.ok(Date.now() >= outage.began + 8_000, 'the outcome came once the database answered again');

      // Up to the outcome: the conversation's convergence check comes after it.
      const requests = h.emulator.requests(OUTAGE_ACCOUNT.accountId).filter((r) => r.at >= since && r.at <= outcomeAt);
      // The run's last call (its note) can be recorded in the very millisecond the outage begins; a retry
      // comes seconds later.
      const during = requests.filter((r) => r.at <= outage.began!);
      const after = requests.filter((r) => r.at > outage.began!);
      const timeline = requests.map((r) => `${r.operation} ${r.status} ${r.at - outage.began!} ms`).join(', ');
      const notes = h.emulator.notes(OUTAGE_ACCOUNT.accountId).length;
      assert.deepEqual(
        after.map((r) => r.operation),
        [],
        `the retried attempt only wrote the receipt: no HubSpot call (requests since the start, ms from the outage: ${timeline}; notes in the account: ${notes})`,
      );
      assert.equal(notes, 1, 'one note');
      assert.ok(h.emulator.contacts(OUTAGE_ACCOUNT.accountId).some((x) => x.id === run!.contactId));

      const receipts = await receiptsOf(WORKSPACE, voice.conversationId);
      assert.equal(receipts.length, 1, `receipts: ${JSON.stringify(receipts.map((r) => r.reason))}`);
      const [receipt] = receipts;
      assert.equal(receipt!.finished, true, 'no longer "Not finished"');
      assert.equal(receipt!.trigger, 'offline');
      assert.equal(receipt!.outcome, 'created');
      assert.equal(receipt!.reason, run!.reason);
      assert.equal(receipt!.hubspot.contactId, run!.contactId);
      assert.equal(receipt!.hubspot.record?.id, run!.noteId);
      assert.ok(receipt!.attempts >= 2, `attempts ${receipt!.attempts}`);
      // The first attempt's calls (the account's property schema read included: this account's first run
      // reads it), none since.
      assert.equal(receipt!.hubspotCalls, during.length, JSON.stringify(during.map((r) => r.operation)));
      const rows = await store.db.query(`SELECT count(*)::int AS n FROM sync_receipts WHERE conversation_id = $1`, [
        voice.conversationId,
      ]);
      assert.equal(Number(rows.rows[0]!.n), 1);
      // The outcome reached the conversation once.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal((await h.platform.getState(voice))?.outcomes.offline?.length, 1);
    });
  });

  test("when the server drops a failed attempt's last heartbeat, the next attempt on the same worker still only writes the receipt", async () => {
    // The run activity over the fake HubSpot port, in Temporal's MockActivityEnvironment: the attempt
    // that did the run meets a database that does not answer; its retry comes with no heartbeat details.
    const account = new FakeAccount(ACME.accountId);
    let down = true;
    const stored: ReceiptWrite[] = [];
    const recorder: ReceiptRecorder = {
      started: async () => {},
      finished: async (write) => {
        if (down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        stored.push(write);
      },
    };
    const activities = createActivities({ hubspot: new FakeHubSpot(account), receipts: recorder });
    const input: ContactSyncActivityInput = {
      config: offline,
      fields: { email: 'jane@example.com', first_name: 'Jane' },
      summary: 'Jane asked for a demo.',
      conversationKey: 'acme/c-1001/offline',
      knownNoteIds: [],
      mayHaveWritten: false,
      timestamp: '2026-12-08T10:00:00.000Z',
      lane: 'offline',
      workspaceId: WORKSPACE,
      receipt: { trigger: 'offline', conversationId: 'c-1001' },
    };
    const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const run = (attempt: number) =>
      new MockActivityEnvironment(
        { attempt, startToCloseTimeoutMs: 60_000, scheduleToCloseTimeoutMs: 0, heartbeatDetails: undefined },
        { logger: quiet },
      ).run(activities.runContactSync, input) as Promise<ContactSyncResult>;
    const failure = await run(1).then(
      () => assert.fail('the first attempt fails while its receipt cannot be written'),
      (err: ApplicationFailure) => err,
    );
    assert.equal(failure.type, FailureType.ReceiptStoreUnavailable);
    assert.equal(failure.nonRetryable, false);
    const calls = account.calls.length;
    assert.ok(calls > 0);
    down = false;
    const result = await run(2);
    assert.equal(result.result, 'created');
    assert.deepEqual(account.calls.slice(calls), [], 'no HubSpot call on the retry');
    assert.deepEqual(
      stored.map((w) => [w.outcome, w.finished, w.attempts, w.contactId]),
      [['created', true, 2, result.contactId]],
    );
  });
});

describe('convergence repairs', () => {
  test('a repair leaves a receipt of its own (trigger convergence-repair); the run keeps its one receipt', async () => {
    await h.run(async () => {
      const chat = conversation('chat', [live]);
      const c = customer();
      const since = Date.now();
      // HubSpot holds the note create past the call's timeout: the retried attempt writes the note, and the
      // held create lands afterwards as a duplicate, which the convergence check archives.
      h.emulator.failNext(ACME.accountId, 'notes.create', 'slow-write', 1, { holdMs: 2_000 });
      const run = await h.platform.runAction(chat, { actionId: 'live', fields: c.fields, summary: c.summary });
      assert.equal(run.result, 'created', run.reason);
      await heldWritesEnded(h, ACME.accountId, since);
      const converged = await convergenceDone(h, chat);
      assert.ok(converged.duplicateNotesArchived >= 1, JSON.stringify(converged));
      const receipts = await receiptsOf(WORKSPACE, chat.conversationId);
      assert.deepEqual(receipts.map((r) => r.trigger).sort(), ['convergence-repair', 'in-conversation']);
      const repair = receipts.find((r) => r.trigger === 'convergence-repair')!;
      assert.equal(repair.outcome, 'updated');
      assert.equal(repair.actionId, 'live');
      assert.match(repair.reason, /archived 1 duplicate/);
      assert.equal(repair.hubspot.contactId, run.contactId);
      assert.equal(repair.hubspot.record?.object, 'note');
      assert.ok(repair.hubspotCalls >= 2, `hubspotCalls ${repair.hubspotCalls}`);
    });
  });
});

describe('retrying a failed sync through the API', () => {
  test('a failed sync retried is answered with the new run’s receipt; a second retry is refused', async () => {
    await h.run(async () => {
      const voice = conversation('voice', [offline]);
      const c = customer();
      // The portal requires a last name on create (a 400 VALIDATION_ERROR): the sync fails.
      h.emulator.setValidationRules(ACME.accountId, { requiredOnCreate: ['lastname'] });
      try {
        await h.platform.recordMessage(voice, { from: 'customer', fields: c.fields });
        await h.platform.endCall(voice, { summary: c.summary });
        const [failedRun] = await outcomes(voice, 'offline', 1);
        assert.equal(failedRun!.result, 'failed');
      } finally {
        h.emulator.setValidationRules(ACME.accountId, null);
      }
      const [failed] = await receiptsOf(WORKSPACE, voice.conversationId);
      assert.equal(failed!.outcome, 'failed');
      assert.equal(failed!.trigger, 'offline');
      assert.match(failed!.reason, /acme-eu/, 'the reason names the account');

      const retried = await call(`/v1/workspaces/${WORKSPACE}/receipts/${failed!.id}/retry`, { method: 'POST' });
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      const fresh = (retried.body as { receipt: Receipt }).receipt;
      assert.notEqual(fresh.id, failed!.id);
      assert.equal(fresh.trigger, 'operator-retry');
      assert.equal(fresh.outcome, 'created');
      assert.equal(fresh.conversationId, voice.conversationId);
      const runs = await outcomes(voice, 'offline', 2);
      assert.equal(fresh.hubspot.contactId, (runs.at(-1) as ActionRun).contactId);
      assert.deepEqual(
        (await receiptsOf(WORKSPACE, voice.conversationId)).map((r) => r.id),
        [fresh.id, failed!.id],
      );

      // The failed run has been made good since; a successful run is not retried.
      const again = await call(`/v1/workspaces/${WORKSPACE}/receipts/${failed!.id}/retry`, { method: 'POST' });
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'already_succeeded');
      assert.equal(again.body.receiptId, fresh.id);
      const ok = await call(`/v1/workspaces/${WORKSPACE}/receipts/${fresh.id}/retry`, { method: 'POST' });
      assert.equal(ok.status, 409);
      assert.equal(ok.body.error, 'not_failed');
    });
  });

  test('a conversation Temporal no longer keeps is answered 410, naming it', async () => {
    const gone = `gone-${process.pid}`;
    await store.receipts.finished({
      id: `rcpt_gone${process.pid}`,
      workspaceId: WORKSPACE,
      actionId: 'offline',
      conversationId: gone,
      trigger: 'offline',
      outcome: 'failed',
      reason: 'HubSpot account acme-eu was unavailable (503)',
      accountId: ACME.accountId,
      propertiesWritten: [],
      propertiesLeft: [],
      hubspotCalls: 1,
      attempts: 1,
      startedAtMs: Date.now() - 60_000,
      finishedAtMs: Date.now() - 59_000,
      finished: true,
    });
    const r = await call(`/v1/workspaces/${WORKSPACE}/receipts/rcpt_gone${process.pid}/retry`, { method: 'POST' });
    assert.equal(r.status, 410);
    assert.equal(r.body.error, 'conversation_not_retained');
    assert.match(String(r.body.message), new RegExp(gone));
  });
});

describe('workspace scoping', () => {
  test('another workspace’s receipt is not found by any route, and never listed', async () => {
    const mine = await h.run(async () => {
      const chat = conversation('chat', [live], { workspaceId: OTHER_WS });
      const c = customer();
      await h.platform.runAction(chat, { actionId: 'live', fields: c.fields, summary: c.summary });
      const [receipt] = await receiptsOf(OTHER_WS, chat.conversationId);
      assert.ok(receipt);
      return receipt;
    });
    assert.equal(mine.workspaceId, OTHER_WS);
    const get = await call(`/v1/workspaces/${WORKSPACE}/receipts/${mine.id}`);
    assert.equal(get.status, 404);
    assert.equal(get.body.error, 'not_found');
    assert.doesNotMatch(String(get.body.message), new RegExp(OTHER_WS), 'never says where it exists');
    const retry = await call(`/v1/workspaces/${WORKSPACE}/receipts/${mine.id}/retry`, { method: 'POST' });
    assert.equal(retry.status, 404);
    assert.ok(!(await list(WORKSPACE, 'limit=200')).receipts.some((r) => r.id === mine.id));
    assert.equal((await receiptsOf(WORKSPACE, mine.conversationId)).length, 0);
    assert.equal((await call(`/v1/workspaces/${OTHER_WS}/receipts/${mine.id}`)).status, 200);
    // The same routes without credentials, or with a wrong token.
    for (const path of [`/v1/workspaces/${OTHER_WS}/receipts`, `/v1/workspaces/${OTHER_WS}/receipts/${mine.id}`]) {
      assert.equal((await call(path, { token: null })).status, 401);
      assert.equal((await call(path, { token: 'not-the-token-0123456789abcdef' })).status, 401);
    }
    assert.equal(
      (await call(`/v1/workspaces/${OTHER_WS}/receipts/${mine.id}/retry`, { method: 'POST', token: null })).status,
      401,
    );
    assert.equal((await call(`/v1/workspaces/${WORKSPACE}/receipts/rcpt_unknown`)).status, 404);
  });
});

describe('filters and pages', () => {
  const WS = 'ws-pages';
  const T0 = Date.parse('2026-11-01T10:00:00Z');
  before(async () => {
    for (let i = 0; i < 7; i++) {
      await store.receipts.finished({
        id: `rcpt_page${i}`,
        workspaceId: WS,
        actionId: i % 2 ? 'odd' : 'even',
        conversationId: `conv-${i % 3}`,
        trigger: 'offline',
        outcome: i === 3 ? 'failed' : 'updated',
        reason: 'r',
        accountId: ACME.accountId,
        propertiesWritten: ['firstname'],
        propertiesLeft: [],
        hubspotCalls: 2,
        attempts: 1,
        startedAtMs: T0 + i * 60_000,
        finishedAtMs: T0 + i * 60_000 + 500,
        finished: true,
      });
    }
  });

  test('newest first, in pages that cover every receipt once', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list(WS, `limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.receipts.length <= 3);
      seen.push(...page.receipts.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen,
      [6, 5, 4, 3, 2, 1, 0].map((i) => `rcpt_page${i}`),
    );
    assert.equal((await list(WS)).receipts.length, 7, 'default limit 50');
    assert.equal((await list(WS)).receipts[0]!.durationMs, 500);
  });

  test('by action, outcome, conversation and time', async () => {
    const ids = async (q: string) => (await list(WS, q)).receipts.map((r) => r.id.replace('rcpt_page', ''));
    assert.deepEqual(await ids('actionId=odd'), ['5', '3', '1']);
    assert.deepEqual(await ids('outcome=failed'), ['3']);
    assert.deepEqual(await ids('conversationId=conv-0'), ['6', '3', '0']);
    const at = (i: number) => encodeURIComponent(new Date(T0 + i * 60_000).toISOString());
    assert.deepEqual(await ids(`since=${at(2)}&until=${at(5)}`), ['4', '3', '2']);
    assert.deepEqual(await ids(`actionId=even&since=${at(2)}&limit=1`), ['6']);
  });

  test('a bad filter is a 400 that names it', async () => {
    for (const [query, field] of [
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['outcome=green', 'query.outcome'],
      ['since=yesterday', 'query.since'],
      ['until=2026-13-01', 'query.until'],
      [
        `since=${encodeURIComponent('2026-11-02T00:00:00Z')}&until=${encodeURIComponent('2026-11-01T00:00:00Z')}`,
        'query.until',
      ],
      ['cursor=bm90LWEtY3Vyc29y', 'query.cursor'],
      ['colour=red', 'query'],
    ]) {
      const r = await call(`/v1/workspaces/${WS}/receipts?${query}`);
      assert.equal(r.status, 400, query);
      assert.equal(r.body.field, field, `${query}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await call(`/v1/workspaces/${WS}/receipts/${encodeURIComponent('no such id!')}`)).status, 400);
  });
});

describe('retention', () => {
  test('RECEIPT_RETENTION_DAYS (default 30) is validated; the sweep deletes the older receipts only', async () => {
    assert.equal(loadConfig({}).env.RECEIPT_RETENTION_DAYS, 30);
    assert.equal(loadConfig({ RECEIPT_RETENTION_DAYS: '7' }).env.RECEIPT_RETENTION_DAYS, 7);
    assert.throws(() => loadConfig({ RECEIPT_RETENTION_DAYS: '0' }), /RECEIPT_RETENTION_DAYS/);
    const WS = 'ws-retention';
    const day = 86_400_000;
    for (const [id, ageDays] of [
      ['old', 8],
      ['new', 6],
    ] as const)
      await store.receipts.finished({
        id: `rcpt_${id}`,
        workspaceId: WS,
        actionId: 'a',
        conversationId: 'c',
        trigger: 'offline',
        outcome: 'updated',
        reason: 'r',
        accountId: ACME.accountId,
        propertiesWritten: [],
        propertiesLeft: [],
        hubspotCalls: 1,
        attempts: 1,
        startedAtMs: Date.now() - ageDays * day,
        finishedAtMs: Date.now() - ageDays * day,
        finished: true,
      });
    const lines: string[] = [];
    const stop = sweepReceipts(store, 7, (l) => lines.push(l));
    try {
      for (let i = 0; i < 50 && !lines.length; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      stop();
    }
    const typed = new ConfigApiClient({ baseUrl: api.url, token: API_TOKEN, workspaceId: WS });
    assert.deepEqual(
      (await typed.listReceipts()).receipts.map((r) => r.id),
      ['rcpt_new'],
    );
    assert.ok(
      lines.some((l) => /deleted \d+ older than 7 days/.test(l)),
      lines.join('\n'),
    );
  });
});

describe('no personal data in receipts', () => {
  test('no property value, email, phone or summary of the test conversations in any stored receipt', async () => {
    const { rows } = await store.db.query(`SELECT * FROM sync_receipts`);
    assert.ok(rows.length >= 8, `${rows.length} receipts scanned`);
    assert.ok(personal.size >= 20, `${personal.size} personal values`);
    const stored = JSON.stringify(rows).toLowerCase();
    const found = [...personal].filter((v) => stored.includes(v.toLowerCase()));
    assert.deepEqual(found, []);
    assert.doesNotMatch(stored, /@privacy\.example/);
  });
});

// HubSpot applying a write after the worker gave up on it (the emulator's default slow write: held past
// the 15 s per-call timeout, then applied whether or not the caller is still connected). The sync still
// ends exact: once HubSpot's longest plausible request lifetime has passed, the dormant workflow checks
// with exact reads and repairs what a late write of ours spoiled (docs/CONTACT_SYNC.md, "Convergence").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { timeSkippingEnv } from './helpers/temporal-env';
import {
  ACME,
  action,
  conversation,
  convergenceDone,
  heldWritesEnded,
  keepHistory,
  startHarness,
  type Harness,
} from './helpers/conversation-harness';
import { CONVERGENCE_DELAY_MS, duplicateNotes, judgeValue } from '../src/action/convergence';
import { valueHash } from '../src/action/hash';
import { conversationWorkflowId, DEFAULT_OPTIONS } from '../src/platform/contract';

let h: Harness;
let seq = 0;

before(async () => {
  // The worker's default per-call timeout (15 s): the holds below outlast it.
  h = await startHarness(await timeSkippingEnv(), [ACME]);
});
after(async () => h?.close());

const HOLD_MS = 16_000;
const live = action({ id: 'live', offlineSync: false });

const notesOf = (contactId: string) =>
  h.emulator.notes(ACME.accountId).filter((n) => n.associations.contacts.includes(contactId));
const contactOf = (email: string) => h.emulator.contacts(ACME.accountId).find((c) => c.properties.email === email);

describe('a write HubSpot applies after the worker gave up on it', () => {
  test('in conversation: a note create held 16 s, then applied: one note with the summary, and the agent has its outcome at once', async () => {
    const email = `late-note-${++seq}@example.com`;
    const conv = conversation('chat', [live]);
    await h.run(async () => {
      const since = Date.now();
      h.emulator.failNext(ACME.accountId, 'notes.create', 'slow-write', 1, { holdMs: HOLD_MS });
      const outcome = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email, first_name: 'Ada' },
        summary: 'Wants a call back',
      });
      assert.equal(outcome.result, 'created', outcome.reason);
      assert.ok(Date.now() - since < DEFAULT_OPTIONS.actionTimeoutMs + 1_000, 'the agent waited past its bound');
      // The agent has its answer first: the check is only due.
      assert.equal((await h.platform.getState(conv))?.convergence?.pending, 1);
      await heldWritesEnded(h, ACME.accountId, since);
      const contact = contactOf(email)!;
      assert.equal(notesOf(contact.id).length, 2, 'the held create did not land: nothing to converge');
      const c = await convergenceDone(h, conv);
      assert.equal(c.duplicateNotesArchived, 1);
      const notes = notesOf(contact.id);
      assert.deepEqual(
        notes.map((n) => n.id),
        [outcome.noteId],
        'not the note the agent was told about',
      );
      assert.match(notes[0]!.properties.hs_note_body ?? '', /Wants a call back/);
      // And it stays so: nothing else lands, and no further check writes anything.
      const writes = writeCount();
      await h.env.sleep('10m');
      assert.equal(notesOf(contact.id).length, 1);
      assert.equal(writeCount(), writes, 'a check wrote although nothing was wrong');
      await keepHistory(h, conv, 'convergence-duplicate-note');
    });
  });

  test('a contact update held 16 s, then a newer run: the contact ends with the newer first name', async () => {
    const email = `late-update-${++seq}@example.com`;
    const conv = conversation('chat', [live]);
    await h.run(async () => {
      const first = await h.platform.runAction(conv, { actionId: 'live', fields: { email, first_name: 'Old' } });
      assert.equal(first.result, 'created', first.reason);
      const since = Date.now();
      h.emulator.failNext(ACME.accountId, 'contacts.update', 'slow-write', 1, { holdMs: HOLD_MS });
      const second = await h.platform.runAction(conv, { actionId: 'live', fields: { first_name: 'Older' } });
      const third = await h.platform.runAction(conv, { actionId: 'live', fields: { first_name: 'Newest' } });
      assert.equal(second.result, 'updated', second.reason);
      assert.equal(third.result, 'updated', third.reason);
      await heldWritesEnded(h, ACME.accountId, since);
      assert.equal(
        contactOf(email)?.properties.firstname,
        'Older',
        'the held update did not land after the newer one: nothing to converge',
      );
      const c = await convergenceDone(h, conv);
      assert.equal(c.valuesRewritten, 1);
      assert.equal(contactOf(email)?.properties.firstname, 'Newest');
      await h.env.sleep('10m');
      assert.equal(contactOf(email)?.properties.firstname, 'Newest');
      await keepHistory(h, conv, 'convergence-value-written-again');
    });
  });

  test("a person's edit between our write and the check is kept, even where our late write landed first", async () => {
    const email = `person-edit-${++seq}@example.com`;
    const conv = conversation('chat', [live]);
    await h.run(async () => {
      await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email, first_name: 'Old', phone: '+1 555 0100' },
      });
      const since = Date.now();
      h.emulator.failNext(ACME.accountId, 'contacts.update', 'slow-write', 1, { holdMs: HOLD_MS });
      await h.platform.runAction(conv, { actionId: 'live', fields: { first_name: 'Older', phone: '+1 555 0101' } });
      await h.platform.runAction(conv, { actionId: 'live', fields: { first_name: 'Newest', phone: '+1 555 0102' } });
      await heldWritesEnded(h, ACME.accountId, since);
      const contact = contactOf(email)!;
      assert.equal(contact.properties.firstname, 'Older');
      // A person corrects the first name in HubSpot after our late write; the phone keeps our late value.
      h.emulator.editContact(ACME.accountId, contact.id, { firstname: 'Grace' });
      const c = await convergenceDone(h, conv);
      assert.equal(contactOf(email)?.properties.firstname, 'Grace', "the person's edit was overwritten");
      assert.equal(
        contactOf(email)?.properties.phone,
        '+1 555 0102',
        'the value our own late write overwrote was not written again',
      );
      assert.equal(c.valuesRewritten, 1);
      assert.equal(c.valuesLeftAlone, 1);
    });
  });
});

describe('the check and the life of the conversation', () => {
  // A short per-call timeout (1 s), so that a 2-second hold is already past it.
  let fast: Harness;
  before(async () => {
    fast = await startHarness(await timeSkippingEnv(), [{ ...ACME, accountId: 'acme-fast' }], {
      accounts: { requestTimeoutMs: 1_000 },
    });
  });
  after(async () => fast?.close());
  const account = 'acme-fast';
  const fastNotes = (contactId: string) =>
    fast.emulator.notes(account).filter((n) => n.associations.contacts.includes(contactId));

  test('an offline sync whose note create landed late: the conversation completes once the check has repaired it, not at its shorter retention and not later', async () => {
    const email = `late-offline-${++seq}@example.com`;
    const conv = conversation('whatsapp', [action({ hubspotAccountId: account })], {
      options: { retentionMs: 30_000 },
    });
    await fast.run(async () => {
      await fast.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email, first_name: 'Lin' },
        summary: 'Asked for the price list',
      });
      const since = Date.now();
      fast.emulator.failNext(account, 'notes.create', 'slow-write', 1, { holdMs: 2_000 });
      await fast.env.sleep('11m'); // the conversation ends; its offline sync runs
      let run;
      for (let i = 0; i < 100 && !run; i++) {
        const s = await fast.platform.getState(conv);
        if (s?.status === 'ended' && s.syncStatus !== 'running') run = s.outcomes['hubspot-upsert']?.[0];
        else await sleep(200);
      }
      assert.equal(run?.result, 'created', run?.reason);
      await heldWritesEnded(fast, account, since);
      const contact = fast.emulator.contacts(account).find((c) => c.properties.email === email)!;
      assert.equal(fastNotes(contact.id).length, 2, 'the held create did not land: nothing to converge');
      const result = await fast.platform.result(conv); // time skips to its completion
      assert.equal(result.convergence?.checks, 1);
      assert.equal(result.convergence?.duplicateNotesArchived, 1);
      assert.equal(result.convergence?.pending, 0);
      assert.deepEqual(
        fastNotes(contact.id).map((n) => n.id),
        [run!.noteId],
      );
      const closed = (await fast.platform.handle(conv).describe()).closeTime!.getTime();
      const alive = closed - Date.parse(run!.at);
      assert.ok(
        alive >= CONVERGENCE_DELAY_MS && alive < CONVERGENCE_DELAY_MS + 30_000,
        `completed ${alive} ms after the sync began`,
      );
      await keepHistory(fast, conv, 'convergence-offline-past-retention');
    });
  });

  test('a person merges the contact between our late write and the newer sync: the check still knows the newer value', async () => {
    const email = `late-merge-${++seq}@example.com`;
    const existing = fast.emulator.addContact(account, { email, firstname: 'Original' });
    const duplicate = fast.emulator.addContact(account, { email: `dup-${email}`, firstname: 'Duplicate' });
    const live = action({ id: 'live', offlineSync: false, hubspotAccountId: account, allowCreate: false });
    const offline = action({ id: 'offline', hubspotAccountId: account, allowCreate: false });
    const conv = conversation('voice', [live, offline]);
    await fast.run(async () => {
      const since = Date.now();
      fast.emulator.failNext(account, 'contacts.update', 'slow-write', 1, { holdMs: 4_000 });
      const run = await fast.platform.runAction(conv, { actionId: 'live', fields: { email, first_name: 'Draft' } });
      assert.equal(run.result, 'updated', run.reason);
      // Before the held write lands: a person merges the contact, and the call ends with the final name.
      const merged = fast.emulator.mergeContacts(account, existing, duplicate);
      await fast.platform.endCall(conv, { fields: { email, first_name: 'Final' } });
      for (let i = 0; i < 100; i++) {
        const s = await fast.platform.getState(conv);
        if (s?.status === 'ended' && s.syncStatus !== 'running') break;
        await sleep(100);
      }
      await heldWritesEnded(fast, account, since);
      const contact = () => fast.emulator.contacts(account).find((c) => c.id === merged)!;
      assert.equal(
        contact().properties.firstname,
        'Draft',
        'the held write did not land after the newer one: nothing to converge',
      );
      const c = await convergenceDone(fast, conv);
      assert.equal(c.valuesRewritten, 1);
      assert.equal(contact().properties.firstname, 'Final');
    });
  });

  test('a check that is due survives continue-as-new: the next run carries it and makes it', async () => {
    const email = `late-can-${++seq}@example.com`;
    const conv = conversation('chat', [action({ id: 'live', offlineSync: false, hubspotAccountId: account })], {
      options: { historyEventsBeforeContinueAsNew: 20 },
    });
    await fast.run(async () => {
      const since = Date.now();
      fast.emulator.failNext(account, 'notes.create', 'slow-write', 1, { holdMs: 2_000 });
      const outcome = await fast.platform.runAction(conv, {
        actionId: 'live',
        fields: { email },
        summary: 'Before continue-as-new',
      });
      assert.equal(outcome.result, 'created', outcome.reason);
      await heldWritesEnded(fast, account, since);
      const contact = fast.emulator.contacts(account).find((c) => c.properties.email === email)!;
      assert.equal(fastNotes(contact.id).length, 2);
      let state;
      for (let i = 0; i < 100; i++) {
        state = await fast.platform.getState(conv);
        if ((state?.runsBefore ?? 0) >= 1) break;
        await sleep(200);
      }
      assert.ok((state?.runsBefore ?? 0) >= 1, 'the conversation did not continue as new');
      assert.equal(state?.convergence?.pending, 1, 'the due check was not carried');
      const c = await convergenceDone(fast, conv);
      assert.equal(c.duplicateNotesArchived, 1);
      assert.deepEqual(
        fastNotes(contact.id).map((n) => n.id),
        [outcome.noteId],
      );
      // The first run carried the due check; the second made it (its history has the check's activity).
      const workflowId = fast.platform.handle(conv).workflowId;
      const firstRunId =
        (await fast.platform.handle(conv).describe()).raw.workflowExecutionInfo?.firstRunId ?? undefined;
      const first = await fast.env.client.workflow.getHandle(workflowId, firstRunId).fetchHistory();
      const secondRunId =
        first.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      const second = await fast.env.client.workflow.getHandle(workflowId, secondRunId).fetchHistory();
      assert.ok(
        second.events?.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'convergeContacts'),
        'the run after continue-as-new did not make the check',
      );
      await keepHistory(fast, conv, 'convergence-continue-as-new-1', firstRunId);
      await keepHistory(fast, conv, 'convergence-continue-as-new-2', secondRunId);
    });
  });
});

/** HubSpot write calls so far (contacts and notes, single and batch). */
function writeCount(): number {
  const counts = h.emulator.requestCounts(ACME.accountId);
  return Object.entries(counts)
    .filter(([op]) => /\.(create|update|delete|batchCreate|batchUpdate|batchUpsert|merge)$/.test(op))
    .reduce((n, [, v]) => n + v, 0);
}

describe('what a check decides (src/action/convergence.ts)', () => {
  const app = (value: string) => ({ value, sourceType: 'INTEGRATION', sourceId: '4242' });
  const person = (value: string) => ({ value, sourceType: 'CRM_UI', sourceId: 'userId:7', updatedByUserId: 7 });
  const other = (value: string) => ({ value, sourceType: 'INTEGRATION', sourceId: '999' });
  const ours = (v: { sourceType: string; sourceId?: string }) =>
    v.sourceType === 'INTEGRATION' && v.sourceId === '4242';
  const h = valueHash;

  test('values: as written; our late write written again; a person, another app or another run of ours left alone', () => {
    assert.deepEqual(judgeValue('New', [app('New'), app('Old')], h('New'), [], ours), { verdict: 'as-written' });
    assert.deepEqual(judgeValue('Old', [app('Old'), app('New'), app('Old')], h('New'), [h('Old')], ours), {
      verdict: 'write-again',
      value: 'New',
    });
    assert.equal(judgeValue('Grace', [person('Grace'), app('New')], h('New'), [h('Old')], ours).verdict, 'leave');
    assert.equal(
      judgeValue('Old', [app('Old'), person('Grace'), app('New')], h('New'), [h('Old')], ours).why,
      'changed-since-by-someone-else',
    );
    assert.equal(
      judgeValue('Sync', [other('Sync'), app('New')], h('New'), [h('Sync')], ours).why,
      'changed-since-by-someone-else',
    );
    assert.equal(
      judgeValue('Third', [app('Third'), app('New')], h('New'), [h('Old')], ours).why,
      'changed-by-another-write-of-this-system',
    );
    assert.equal(judgeValue('Normalised', [app('Normalised')], h('New'), [], ours).why, 'our-write-not-in-history');
  });

  test('notes: the known one kept, the others carrying our reference archived; the newest when the known one is gone', () => {
    const notes = [
      { id: '101', body: 'a syncrefX' },
      { id: '205', body: 'b syncrefX' },
      { id: '150', body: 'someone else' },
    ];
    assert.deepEqual(duplicateNotes(notes, 'syncrefX', '101'), { keep: '101', archive: ['205'] });
    assert.deepEqual(duplicateNotes(notes, 'syncrefX', '999'), { keep: '205', archive: ['101'] });
    assert.deepEqual(duplicateNotes(notes, 'syncrefY', '101'), { archive: [] });
  });
});

// The conversation lifecycle against HubSpot as it really behaves (search lag on, the emulator's
// default): the offline sync runs once after the end, the conversation stays dormant for its retention,
// duplicates and identical values cost no HubSpot call, follow-ups land in the same note, notes follow
// the contact of each run (corrected emails, merges, deletions), and no accepted input ends it badly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timeSkippingEnv } from './helpers/temporal-env';
import { ACME, action, conversation, keepHistory, startHarness, type Harness } from './helpers/conversation-harness';
import { retryAction } from '../src/ops/operator';
import { TRUNCATION_MARKER } from '../src/action/limits';

let h: Harness;

before(async () => {
  h = await startHarness(await timeSkippingEnv(), [ACME]);
});
after(async () => h?.close());

const calls = () => Object.values(h.emulator.requestCounts(ACME.accountId)).reduce((a, b) => a + b, 0);
const contactsWith = (email: string) =>
  h.emulator.contacts(ACME.accountId).filter((c) => c.properties.email?.toLowerCase() === email.toLowerCase());
const notesOf = (contactId: string) =>
  h.emulator.notes(ACME.accountId).filter((n) => n.associations.contacts.includes(contactId));
const noteBody = (noteId: string | undefined) =>
  h.emulator.notes(ACME.accountId).find((n) => n.id === noteId)?.properties.hs_note_body ?? '';

let seq = 0;
const email = (what: string) => `${what}.${process.pid}.${++seq}@example.com`;

describe('runs once after the end, then dormant', () => {
  test('voice: callEnded twice back to back, and again later, syncs once; the repeats cost no HubSpot call', async () => {
    const conv = conversation('voice', [action()]);
    const address = email('twice');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address, first_name: 'Vo' } });
      await Promise.all([
        h.platform.endCall(conv, { summary: 'Call summary.' }),
        h.platform.endCall(conv, { summary: 'Call summary.' }),
      ]);
      await h.env.sleep('1m');
      const synced = await h.platform.getState(conv);
      assert.equal(synced?.status, 'ended');
      assert.equal(synced?.outcomes['hubspot-upsert']?.length, 1, 'the repeated callEnded ran the sync again');
      assert.ok(synced?.retainedUntil, 'the state says until when the conversation is kept');
      const before = calls();
      await h.platform.endCall(conv, { summary: 'Call summary.' });
      await h.platform.updateFields(conv, { fields: { first_name: 'Vo' } });
      await h.env.sleep('1h');
      assert.equal(calls(), before, 'a duplicate callEnded or identical values cost HubSpot calls');
      const result = await h.platform.result(conv); // the retention passes (time skips)
      assert.equal(result.outcomes['hubspot-upsert']?.length, 1);
      assert.equal(notesOf(contactsWith(address)[0]!.id).length, 1);
      // The dormant wait keeps one timer however often it wakes for nothing: a timer per wake made the
      // commands depend on whether a repeat was applied with the sync's result or after it (live and
      // replay then disagreed by a timer id, and the workflow task failed on every attempt).
      const events = (await h.platform.handle(conv).fetchHistory()).events ?? [];
      const lastRun = events.map((e) => Boolean(e.activityTaskCompletedEventAttributes)).lastIndexOf(true);
      const timers = events.slice(lastRun).filter((e) => e.timerStartedEventAttributes).length;
      assert.equal(timers, 1, `the dormant wait started ${timers} timers for one retention`);
      await keepHistory(h, conv, 'voice-repeated-call-ended');
    });
  });

  test('voice: a summary sent after the sync updates the same note at once; the conversation never waits for another call end', async () => {
    const conv = conversation('voice', [action()]);
    const address = email('late.voice');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
      await h.platform.endCall(conv, { summary: 'First summary.' });
      await h.env.sleep('1m');
      const first = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']![0]!;
      await h.platform.updateFields(conv, { summary: 'Corrected summary.' });
      await h.env.sleep('1m');
      const state = await h.platform.getState(conv);
      const runs = state!.outcomes['hubspot-upsert']!;
      assert.equal(runs.length, 2, 'the late summary was not synced at once');
      assert.equal(runs[1]!.noteId, first.noteId, 'the follow-up wrote another note');
      assert.match(noteBody(first.noteId), /Corrected summary\./);
      assert.equal(state?.status, 'ended');
      assert.equal(notesOf(contactsWith(address)[0]!.id).length, 1);
    });
  });

  test('text: a late summary is synced after its own inactivity wait, into the same note', async () => {
    const conv = conversation('whatsapp', [action()]);
    const address = email('late.text');
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: address },
        summary: 'Before the end.',
      });
      await h.env.sleep('11m');
      const first = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']![0]!;
      assert.equal(first.result, 'created');
      await h.platform.updateFields(conv, { summary: 'After the end.' });
      await h.env.sleep('9m');
      assert.equal(
        (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!.length,
        1,
        'the follow-up did not wait for its inactivity wait',
      );
      await h.env.sleep('2m');
      const runs = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!;
      assert.equal(runs.length, 2);
      assert.equal(runs[1]!.noteId, first.noteId);
      assert.match(noteBody(first.noteId), /After the end\./);
      await keepHistory(h, conv, 'text-follow-up');
    });
  });

  test('after the retention the conversation completes; the same conversation id later is a new conversation with its own note', async () => {
    const conv = conversation('chat', [action()], { options: { retentionMs: 3600_000 } });
    const address = email('reused');
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: address },
        summary: 'First conversation.',
      });
      const first = await h.platform.result(conv);
      const firstNote = first.outcomes['hubspot-upsert']![0]!.noteId;
      assert.equal((await h.platform.handle(conv).describe()).status.name, 'COMPLETED');

      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: address },
        summary: 'Second conversation.',
      });
      const second = await h.platform.result(conv);
      const secondNote = second.outcomes['hubspot-upsert']![0]!.noteId;
      assert.ok(secondNote && secondNote !== firstNote, 'the reused id updated the earlier conversation’s note');
      assert.match(noteBody(firstNote), /First conversation\./);
      assert.match(noteBody(secondNote), /Second conversation\./);
      assert.equal(contactsWith(address).length, 1);
      assert.equal(notesOf(contactsWith(address)[0]!.id).length, 2);
    });
  });
});

describe('the note follows the contact of each run', () => {
  const live = action({ id: 'live', offlineSync: false });

  test('a corrected email: the corrected contact gets the note; the first contact’s note is left as it was', async () => {
    const conv = conversation('chat', [live]);
    const typo = email('typo').replace('@example.com', '@exmaple.com');
    const right = email('right');
    await h.run(async () => {
      const first = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email: typo, first_name: 'Tess' },
        summary: 'About the typo.',
      });
      const second = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email: right },
        summary: 'After the correction.',
      });
      assert.equal(first.result, 'created');
      assert.equal(second.result, 'created');
      assert.notEqual(second.contactId, first.contactId);
      assert.notEqual(second.noteId, first.noteId);
      assert.deepEqual(
        notesOf(second.contactId!).map((n) => n.id),
        [second.noteId],
        'the corrected contact has no note of its own',
      );
      assert.match(noteBody(second.noteId), /After the correction\./);
      assert.match(noteBody(first.noteId), /About the typo\./, 'the first contact’s note was rewritten');
    });
  });

  test('a contact merged in HubSpot: the next run updates the note now on the merged record, no second note', async () => {
    const conv = conversation('chat', [live]);
    const address = email('merged');
    await h.run(async () => {
      const first = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email: address },
        summary: 'Before the merge.',
      });
      const other = h.emulator.addContact(ACME.accountId, { email: email('primary'), firstname: 'Primary' });
      const merged = h.emulator.mergeContacts(ACME.accountId, other, first.contactId!);
      const second = await h.platform.runAction(conv, { actionId: 'live', summary: 'After the merge.' });
      assert.equal(second.contactId, merged);
      assert.equal(second.noteId, first.noteId, 'a second note was written');
      assert.deepEqual(
        notesOf(merged).map((n) => n.id),
        [first.noteId],
      );
      assert.match(noteBody(first.noteId), /After the merge\./);
    });
  });

  test('a note deleted in HubSpot is written again, once', async () => {
    const conv = conversation('chat', [live]);
    const address = email('deleted');
    await h.run(async () => {
      const first = await h.platform.runAction(conv, { actionId: 'live', fields: { email: address }, summary: 'One.' });
      assert.ok(h.emulator.deleteNote(ACME.accountId, first.noteId!));
      const second = await h.platform.runAction(conv, { actionId: 'live', summary: 'Two.' });
      assert.notEqual(second.noteId, first.noteId);
      assert.deepEqual(
        notesOf(first.contactId!).map((n) => n.id),
        [second.noteId],
      );
    });
  });
});

describe('operator retry on a dormant conversation', () => {
  test('a failed offline sync is retried by an operator; a message that arrives meanwhile is kept and synced', async () => {
    const conv = conversation('chat', [action()], { options: { offlineRetryWindowMs: 60_000 } });
    const address = email('retry');
    await h.run(async () => {
      h.emulator.setFaults(ACME.accountId, { operations: ['contacts.get'], serverErrorRate: 1 });
      try {
        await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address }, summary: 'Summary one.' });
        await h.env.sleep('15m');
        const failed = await h.platform.getState(conv);
        assert.equal(failed?.outcomes['hubspot-upsert']?.[0]?.result, 'failed');
        assert.equal(failed?.syncStatus, 'failed');
      } finally {
        h.emulator.setFaults(ACME.accountId, null);
      }
      // The lookup answers slowly, so the message arrives while the retry runs.
      h.emulator.setFaults(ACME.accountId, { operations: ['contacts.get'], latencyMs: 800 });
      try {
        const retry = retryAction(h.env.client, conv, 'hubspot-upsert');
        await new Promise((r) => setTimeout(r, 300));
        await h.platform.recordMessage(conv, { from: 'customer', summary: 'Summary two.' });
        const run = await retry;
        assert.equal(run.result, 'created', run.reason);
        assert.equal(run.trigger, 'operator-retry');
      } finally {
        h.emulator.setFaults(ACME.accountId, null);
      }
      const state = await h.platform.getState(conv);
      assert.equal(state?.messageCount, 2, 'the message sent during the retry was dropped');
      await h.env.sleep('11m');
      const runs = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!;
      assert.equal(runs.at(-1)!.noteId, runs.at(-2)!.noteId);
      assert.match(noteBody(runs.at(-1)!.noteId), /Summary two\./);
      assert.equal(notesOf(contactsWith(address)[0]!.id).length, 1);
    });
  });
});

describe('operator retry after the conversation completed, and failed syncs', () => {
  test('a retry of a completed conversation updates the note it wrote and runs nothing else', async () => {
    const first = action({ id: 'first' });
    const second = action({ id: 'second' });
    const conv = conversation('voice', [first, second], { options: { retentionMs: 3600_000 } });
    const address = email('completed');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
      await h.platform.endCall(conv, { summary: 'Before completion.' });
      const done = await h.platform.result(conv); // the retention passes (time skips)
      assert.equal((await h.platform.handle(conv).describe()).status.name, 'COMPLETED');
      const firstNote = done.outcomes['first']![0]!.noteId;
      const secondRuns = done.outcomes['second']!.length;
      const notesBefore = notesOf(contactsWith(address)[0]!.id).length;

      const run = await retryAction(h.env.client, conv, 'first');
      assert.equal(run.trigger, 'operator-retry');
      assert.equal(run.noteId, firstNote, 'the retry wrote another note');
      assert.equal(notesOf(contactsWith(address)[0]!.id).length, notesBefore);
      await h.env.sleep('1h');
      const state = await h.platform.getState(conv);
      assert.equal(state?.outcomes['second']?.length, secondRuns, 'the other action ran again');
    });
  });

  test('voice: a sync that failed runs again on the next signal with values, even identical ones; a success does not', async () => {
    const conv = conversation('voice', [action()], { options: { offlineRetryWindowMs: 60_000 } });
    const address = email('failed.again');
    await h.run(async () => {
      h.emulator.setFaults(ACME.accountId, { operations: ['contacts.get'], serverErrorRate: 1 });
      try {
        await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
        await h.platform.endCall(conv, { summary: 'Call.' });
        await h.env.sleep('5m');
        assert.equal((await h.platform.getState(conv))!.outcomes['hubspot-upsert']!.at(-1)!.result, 'failed');
      } finally {
        h.emulator.setFaults(ACME.accountId, null);
      }
      await h.platform.endCall(conv, { summary: 'Call.' }); // the platform's retry of the same end
      await h.env.sleep('1m');
      const runs = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!;
      assert.equal(runs.at(-1)!.result, 'created', 'the failed sync was not run again');
      const before = calls();
      await h.platform.endCall(conv, { summary: 'Call.' });
      await h.env.sleep('1m');
      assert.equal(calls(), before, 'a synced conversation ran again on identical values');
    });
  });
});

describe('late values are never taken for synced', () => {
  test('an operator retry session: a value that reaches it with its start is synced by the other actions too, not taken for what they had synced', async () => {
    const a = action({ id: 'a' });
    const b = action({ id: 'b' });
    const conv = conversation('voice', [a, b], { options: { retentionMs: 3600_000 } });
    const address = email('retry.late');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
      await h.platform.endCall(conv, { summary: 'Before completion.' });
      await h.platform.result(conv); // the retention passes (time skips): completed
    });
    // An operator retries action a while no worker runs; the platform's late summary reaches the retry
    // session before its first workflow task: the task applies both at once.
    const handle = h.platform.handle(conv);
    const completedRun = (await handle.describe()).runId;
    const retrying = retryAction(h.env.client, conv, 'a');
    for (let i = 0; i < 100 && (await handle.describe()).runId === completedRun; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.notEqual((await handle.describe()).runId, completedRun, 'the retry session did not start');
    await h.platform.updateFields(conv, { summary: 'After completion.' });
    await h.run(async () => {
      const run = await retrying;
      assert.equal(run.trigger, 'operator-retry');
      await h.env.sleep('1m');
      const state = (await h.platform.getState(conv))!;
      const last = state.outcomes['b']!.at(-1)!;
      assert.match(noteBody(last.noteId), /After completion\./, 'action b never synced the late summary');
      assert.match(noteBody(state.outcomes['a']!.at(-1)!.noteId), /After completion\./);
      assert.equal(notesOf(contactsWith(address)[0]!.id).length, 2, 'one note per action');
    });
  });

  test('a value that arrives while an operator retry still runs at the end of the retention is synced before the conversation completes', async () => {
    const conv = conversation('voice', [action()], { options: { retentionMs: 3_000 } });
    const address = email('late.end');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
      await h.platform.endCall(conv, { summary: 'First summary.' });
      let ended = 0;
      for (let i = 0; i < 200 && !ended; i++) {
        const s = await h.platform.getState(conv);
        if (s?.status === 'ended' && s.syncStatus !== 'running') ended = Date.now();
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(ended, 'the sync never ended');
      // The retry's lookup takes 8 s: the 3-second retention ends while it runs, and the late summary
      // comes after that, before the retry is done.
      h.emulator.setFaults(ACME.accountId, { operations: ['contacts.get', 'contacts.batchRead'], latencyMs: 8_000 });
      try {
        const retrying = retryAction(h.env.client, conv, 'hubspot-upsert');
        await new Promise((r) => setTimeout(r, Math.max(0, ended + 5_000 - Date.now())));
        await h.platform.updateFields(conv, { summary: 'Late summary.' });
        const run = await retrying;
        assert.equal(run.trigger, 'operator-retry');
      } finally {
        h.emulator.setFaults(ACME.accountId, null);
      }
      const result = await h.platform.result(conv);
      const runs = result.outcomes['hubspot-upsert']!;
      assert.deepEqual(
        runs.map((r) => r.trigger),
        ['offline', 'operator-retry', 'offline'],
        'the late summary caused no follow-up',
      );
      assert.match(noteBody(runs.at(-1)!.noteId), /Late summary\./);
      assert.equal(result.finalSummary, 'Late summary.');
    });
  });
});

describe('size budget', () => {
  test('a 1,000,000-character summary and two 65,536-character fields: accepted, cut with a marker, carried through continue-as-new, synced', async () => {
    const config = action({
      fieldMappings: [
        { hubspotProperty: 'email', astraField: 'email' },
        { hubspotProperty: 'firstname', astraField: 'first_name' },
        { hubspotProperty: 'lastname', astraField: 'last_name' },
        { hubspotProperty: 'message', astraField: 'summary' },
      ],
    });
    const conv = conversation('chat', [config], { options: { historyEventsBeforeContinueAsNew: 20 } });
    const address = email('huge');
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: address, first_name: 'f'.repeat(65_536), last_name: 'l'.repeat(65_536) },
        summary: 's'.repeat(1_000_000),
      });
      for (let i = 0; i < 12; i++) await h.platform.recordMessage(conv, { from: i % 2 ? 'agent' : 'customer' });
      await h.env.sleep('11m');
      const state = await h.platform.getState(conv);
      assert.ok((state?.runsBefore ?? 0) >= 1, 'the conversation did not continue as new');
      const run = state!.outcomes['hubspot-upsert']![0]!;
      assert.equal(run.result, 'created', run.reason);
      const contact = contactsWith(address)[0]!;
      assert.equal(contact.properties.firstname?.length, 65_536);
      assert.ok((contact.properties.message?.length ?? 0) <= 65_536);
      assert.ok(contact.properties.message?.endsWith(TRUNCATION_MARKER), 'the mapped summary carries no marker');
      const body = noteBody(run.noteId);
      assert.ok(body.length <= 65_536, `note body of ${body.length} characters`);
      assert.ok(body.includes('[summary truncated]'), 'the note carries no marker');
      const handle = h.platform.handle(conv);
      assert.equal((await handle.describe()).status.name, 'RUNNING', 'the conversation was ended by its own input');
    });
  });
});

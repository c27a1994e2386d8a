// Continue-as-new, follow-up syncs and the dormant retention, on the dev server (a real Temporal server
// with real history lengths), with short timeouts so the real clock can be used.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { localEnv } from './helpers/temporal-env';
import { ACME, action, conversation, startHarness, type Harness } from './helpers/conversation-harness';
import type { ConversationRef } from '../src/platform/client';
import type { ConversationState } from '../src/platform/contract';

let h: Harness;

before(async () => {
  h = await startHarness((await localEnv()).env);
});
after(async () => {
  await h?.close();
});

const contactsWith = (accountId: string, email: string) =>
  h.emulator.contacts(accountId).filter((c) => c.properties.email?.toLowerCase() === email.toLowerCase());
const notesOf = (accountId: string, contactId: string) =>
  h.emulator.notes(accountId).filter((n) => n.associations.contacts.includes(contactId));

/** Polls the conversation's state (real clock) until it satisfies the predicate. */
async function waitFor(
  conversation: ConversationRef,
  ok: (s: ConversationState) => boolean,
  timeoutMs = 20_000,
): Promise<ConversationState> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = await h.platform.getState(conversation);
    if (state && ok(state)) return state;
    assert.ok(
      Date.now() < until,
      `the conversation never reached the expected state: ${JSON.stringify({ status: state?.status, outcomes: state?.outcomes })}`,
    );
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('long and resumed conversations', () => {
  test('continue-as-new keeps one note; a late message during retention updates the same note', async () => {
    const live = action({ id: 'live', offlineSync: false });
    const offline = action({ id: 'offline', offlineSync: true });
    const conv = conversation('chat', [live, offline], {
      options: { historyEventsBeforeContinueAsNew: 40, inactivityTimeoutMs: 3000, retentionMs: 8000 },
    });
    await h.run(async () => {
      const first = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email: 'long@example.com' },
        summary: 'v1',
      });
      const firstRun = (await h.platform.handle(conv).describe()).runId;
      for (let i = 0; i < 30; i++)
        await h.platform.recordMessage(conv, { from: i % 2 ? 'agent' : 'customer', messageId: `m${i}` });
      // The signals are accepted before the workflow handles them: the new run may take a moment.
      const state = await waitFor(conv, (s) => (s.runsBefore ?? 0) >= 1 && s.messageCount === 30);
      assert.ok((state.runsBefore ?? 0) >= 1, 'the conversation continued as new');
      assert.equal(state.messageCount, 30, 'the message count survived continue-as-new');
      assert.notEqual((await h.platform.handle(conv).describe()).runId, firstRun);
      const second = await h.platform.runAction(conv, { actionId: 'live', summary: 'v2' });
      assert.equal(second.noteId, first.noteId, 'the note id was carried over');

      await h.platform.updateFields(conv, { summary: 'final summary' });
      const ended = await waitFor(conv, (s) => s.status === 'ended' && (s.outcomes['offline']?.length ?? 0) === 1);
      const offlineNote = ended.outcomes['offline']![0]!.noteId;
      assert.ok(offlineNote);
      assert.ok(ended.retainedUntil, 'the ended conversation says until when it is kept');

      // After the end, during retention, a late message continues the conversation: after its own
      // inactivity wait, one follow-up sync updates the same note.
      await h.platform.recordMessage(conv, { from: 'customer', summary: 'late addition' });
      const late = await h.platform.result(conv);
      assert.equal(late.outcomes['offline']?.length, 2, 'one follow-up sync');
      assert.equal(late.outcomes['offline']?.[1]?.noteId, offlineNote);
      const contact = contactsWith(ACME.accountId, 'long@example.com')[0]!;
      const notes = notesOf(ACME.accountId, contact.id);
      assert.equal(notes.length, 2, 'one note for the live action and one for the offline action');
      assert.match(notes.find((n) => n.id === offlineNote)!.properties.hs_note_body ?? '', /late addition/);
      assert.match(notes.find((n) => n.id === first.noteId)!.properties.hs_note_body ?? '', /v2/);
    });
  });
});

describe('values that arrive while the conversation is ending', () => {
  for (const channel of ['chat', 'voice'] as const) {
    test(`${channel}: a message during the offline sync is not lost: a follow-up sync writes it to the same contact and note`, async () => {
      const email = `ending.${channel}@example.com`;
      const conv = conversation(channel, [action({ id: 'offline', offlineSync: true })], {
        options: { inactivityTimeoutMs: 1000, retentionMs: 6000 },
      });
      // The lookup answers slowly, so the offline sync is still running when the late values arrive.
      h.emulator.setFaults(ACME.accountId, { operations: ['contacts.get'], latencyMs: 1500 });
      try {
        const result = await h.run(async () => {
          await h.platform.recordMessage(conv, { from: 'customer', fields: { email, first_name: 'Early' } });
          await h.platform.updateFields(conv, { summary: 'first summary' });
          if (channel === 'voice') await h.platform.endCall(conv);
          for (let i = 0; (await h.platform.getState(conv))?.status !== 'ending'; i++) {
            assert.ok(i < 200, 'the conversation never started ending');
            await new Promise((r) => setTimeout(r, 25));
          }
          await h.platform.recordMessage(conv, { from: 'agent', fields: { first_name: 'Late' } });
          await h.platform.updateFields(conv, { summary: 'final summary' });
          return h.platform.result(conv);
        });
        const runs = result.outcomes.offline ?? [];
        assert.equal(runs.length, 2, `offline runs: ${JSON.stringify(runs.map((r) => r.result))}`);
        assert.equal(runs[0]!.result, 'created');
        assert.equal(runs[1]!.result, 'updated');
        assert.equal(result.runsBefore, 0, 'the follow-up ran in the same run of the workflow');
        assert.equal(result.status, 'ended');
        const contacts = contactsWith(ACME.accountId, email);
        assert.equal(contacts.length, 1);
        assert.equal(contacts[0]!.properties.firstname, 'Late', 'the late message was lost');
        const notes = notesOf(ACME.accountId, contacts[0]!.id);
        assert.equal(notes.length, 1, 'the new session wrote a second note');
        assert.match(notes[0]!.properties.hs_note_body ?? '', /final summary/);
      } finally {
        h.emulator.setFaults(ACME.accountId, null);
      }
    });
  }
});

describe('the in-conversation time budget', () => {
  test('HubSpot at 1.2 s a call and a 3 s budget: the agent has a failed outcome within the budget plus the margin', async () => {
    const live = action({ id: 'live', offlineSync: false });
    const conv = conversation('chat', [live], { options: { actionTimeoutMs: 3_000 } });
    // Every call takes 1.2 s: schema, lookup and create alone need 3.6 s, more than the whole budget.
    h.emulator.setFaults(ACME.accountId, { latencyMs: 1_200 });
    try {
      const outcome = await h.run(async () => {
        const started = Date.now();
        const run = await h.platform.runAction(conv, {
          actionId: 'live',
          fields: { email: `budget.${process.pid}@example.com` },
          summary: 'Budget.',
        });
        return { run, elapsed: Date.now() - started };
      });
      assert.equal(outcome.run.result, 'failed', outcome.run.reason);
      assert.match(outcome.run.reason, /time budget/);
      // The documented margin (docs/PLATFORM_CONTRACT.md): the budget plus one second.
      assert.ok(outcome.elapsed < 3_000 + 1_000, `the agent waited ${outcome.elapsed} ms`);
    } finally {
      h.emulator.setFaults(ACME.accountId, null);
    }
  });
});

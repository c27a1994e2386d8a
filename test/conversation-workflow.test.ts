// The conversation workflow on the time-skipping server, with the real worker and the HubSpot emulator.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timeSkippingEnv } from './helpers/temporal-env';
import {
  ACME,
  GLOBEX,
  action,
  conversation,
  keepHistory,
  startHarness,
  type Harness,
} from './helpers/conversation-harness';
import { ActionRefusedError, ConversationInputError } from '../src/platform/client';
import { messageSignal, runActionUpdate } from '../src/platform/contract';

let h: Harness;

before(async () => {
  h = await startHarness(await timeSkippingEnv());
});
after(async () => {
  await h?.close();
});

const contactsWith = (accountId: string, email: string) =>
  h.emulator.contacts(accountId).filter((c) => c.properties.email?.toLowerCase() === email.toLowerCase());
const notesOf = (accountId: string, contactId: string) =>
  h.emulator.notes(accountId).filter((n) => n.associations.contacts.includes(contactId));

describe('text channel: the 10-minute inactivity rule', () => {
  test('9 minutes 59 seconds of silence: no sync; at 10 minutes: exactly one', async () => {
    const conv = conversation('chat', [action()]);
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: 'ten.minutes@example.com', first_name: 'Ten' },
      });
      await h.platform.updateFields(conv, { summary: 'Customer asked about pricing.' });
      await h.env.sleep(9 * 60_000 + 59_000);
      assert.equal(
        contactsWith(ACME.accountId, 'ten.minutes@example.com').length,
        0,
        'synced before the 10 minutes were up',
      );
      const before = await h.platform.getState(conv);
      assert.equal(before?.status, 'active');
      assert.equal(before?.syncStatus, 'pending');
      assert.ok(before?.offlineSyncDueAt, 'the state says when the sync is due');

      await h.env.sleep('2s');
      const result = await h.platform.result(conv);
      assert.equal(result.status, 'ended');
      assert.equal(result.endReason, 'inactivity');
      const contacts = contactsWith(ACME.accountId, 'ten.minutes@example.com');
      assert.equal(contacts.length, 1);
      assert.equal(contacts[0]!.properties.firstname, 'Ten');
      const notes = notesOf(ACME.accountId, contacts[0]!.id);
      assert.equal(notes.length, 1);
      assert.match(notes[0]!.properties.hs_note_body ?? '', /Customer asked about pricing\./);
      const runs = result.outcomes['hubspot-upsert'];
      assert.equal(runs?.length, 1);
      assert.equal(runs[0]!.result, 'created');
      assert.equal(runs[0]!.trigger, 'offline');
      assert.equal(result.syncStatus, 'synced');
      await keepHistory(h, conv, 'text-inactivity');
    });
  });

  test('a message at minute 9 restarts the wait', async () => {
    const conv = conversation('whatsapp', [action()]);
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: 'restart@example.com' } });
      await h.env.sleep('9m');
      await h.platform.recordMessage(conv, { from: 'agent', fields: { first_name: 'Late' } });
      await h.env.sleep(9.5 * 60_000); // 18.5 minutes after the start, 9.5 after the last message
      assert.equal(
        contactsWith(ACME.accountId, 'restart@example.com').length,
        0,
        'the second message did not restart the wait',
      );
      const state = await h.platform.getState(conv);
      assert.equal(state?.messageCount, 2);
      assert.equal(state?.status, 'active');
      await h.env.sleep('31s');
      const result = await h.platform.result(conv);
      assert.equal(result.endReason, 'inactivity');
      const contacts = contactsWith(ACME.accountId, 'restart@example.com');
      assert.equal(contacts.length, 1);
      assert.equal(contacts[0]!.properties.firstname, 'Late', 'the sync used the final values');
      await keepHistory(h, conv, 'text-restart');
    });
  });
});

describe('voice channel', () => {
  test('the sync runs right after the call ends, never before', async () => {
    const conv = conversation('voice', [action()]);
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: 'caller@example.com', phone: '+33 1 23 45 67 89' },
      });
      await h.env.sleep('1h');
      assert.equal(
        contactsWith(ACME.accountId, 'caller@example.com').length,
        0,
        'a voice conversation synced before the call ended',
      );
      assert.equal((await h.platform.getState(conv))?.offlineSyncDueAt, null);
      const serverBefore = await h.env.currentTimeMs();
      await h.platform.endCall(conv, { summary: 'Called to book a demo.' });
      const result = await h.platform.result(conv);
      assert.equal(result.endReason, 'call-ended');
      const startedAfter = Date.parse(result.outcomes['hubspot-upsert']![0]!.at) - serverBefore;
      assert.ok(
        startedAfter >= 0 && startedAfter < 1000,
        `the sync started ${startedAfter} ms of workflow time after the call ended`,
      );
      const contacts = contactsWith(ACME.accountId, 'caller@example.com');
      assert.equal(contacts.length, 1);
      assert.equal(contacts[0]!.properties.phone, '+33 1 23 45 67 89');
      assert.equal(notesOf(ACME.accountId, contacts[0]!.id).length, 1);
      await keepHistory(h, conv, 'voice-call-ended');
    });
  });

  test('the safety timeout ends a call whose end signal never comes', async () => {
    const conv = conversation('voice', [action()], { options: { callSafetyTimeoutMs: 2 * 3600_000 } });
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: 'lost.call@example.com' } });
      await h.env.sleep(119 * 60_000);
      assert.equal(contactsWith(ACME.accountId, 'lost.call@example.com').length, 0);
      const result = await h.platform.result(conv);
      assert.equal(result.endReason, 'call-safety-timeout');
      assert.equal(contactsWith(ACME.accountId, 'lost.call@example.com').length, 1);
    });
  });
});

describe('in-conversation actions', () => {
  test('returns the outcome to the caller, and the offline action of the same conversation still runs once at the end', async () => {
    const live = action({ id: 'live-upsert', offlineSync: false });
    const offline = action({ id: 'offline-upsert', offlineSync: true });
    const conv = conversation('chat', [live, offline]);
    await h.run(async () => {
      // The workflow does not exist yet: runAction starts it (update-with-start).
      const outcome = await h.platform.runAction(conv, {
        actionId: 'live-upsert',
        fields: { email: 'live@example.com', first_name: 'Live' },
        summary: 'First part of the chat.',
      });
      assert.equal(outcome.result, 'created');
      assert.ok(outcome.contactId);
      assert.ok(outcome.noteId);
      assert.deepEqual([...outcome.propertiesWritten].sort(), ['email', 'firstname']);
      assert.equal(contactsWith(ACME.accountId, 'live@example.com').length, 1);

      // A second trigger runs again, serialised behind the first; the note is updated, not duplicated.
      const again = await h.platform.runAction(conv, {
        actionId: 'live-upsert',
        fields: { first_name: 'Livia' },
        summary: 'Second part.',
      });
      assert.equal(again.result, 'updated');
      assert.equal(again.noteId, outcome.noteId);

      await h.platform.recordMessage(conv, { from: 'customer', summary: 'The whole chat.' });
      const result = await h.platform.result(conv);
      assert.equal(result.outcomes['offline-upsert']?.length, 1, 'the offline action ran exactly once');
      assert.equal(result.outcomes['offline-upsert']![0]!.result, 'updated');
      const contacts = contactsWith(ACME.accountId, 'live@example.com');
      assert.equal(contacts.length, 1);
      assert.equal(contacts[0]!.properties.firstname, 'Livia');
      // One note per (conversation, action): the live action's and the offline action's.
      assert.equal(notesOf(ACME.accountId, contacts[0]!.id).length, 2);
      await keepHistory(h, conv, 'in-conversation-and-offline');
    });
  });

  test('two actions on two HubSpot accounts in one conversation', async () => {
    const conv = conversation('chat', [
      action({ id: 'acme' }),
      action({ id: 'globex', hubspotAccountId: GLOBEX.accountId }),
    ]);
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: 'both@example.com', first_name: 'Both' },
        summary: 'Two CRMs.',
      });
      const result = await h.platform.result(conv);
      assert.equal(result.outcomes['acme']?.[0]?.result, 'created');
      assert.equal(result.outcomes['globex']?.[0]?.result, 'created');
      for (const account of [ACME.accountId, GLOBEX.accountId]) {
        const contacts = contactsWith(account, 'both@example.com');
        assert.equal(contacts.length, 1, `one contact in ${account}`);
        assert.equal(notesOf(account, contacts[0]!.id).length, 1, `one note in ${account}`);
      }
      await keepHistory(h, conv, 'two-accounts');
    });
  });
});

describe('bad input', () => {
  test('invalid signals are recorded as rejected, invalid updates are refused, and the workflow keeps working', async () => {
    const live = action({ id: 'live', offlineSync: false });
    const conv = conversation('chat', [live, action({ id: 'offline' })]);
    await h.run(async () => {
      // The client refuses before anything reaches Temporal.
      await assert.rejects(
        h.platform.recordMessage(conv, { from: 'robot' as never }),
        (e: unknown) => e instanceof ConversationInputError && /from/.test(e.message),
      );
      await assert.rejects(
        h.platform.recordMessage({ ...conv, conversationId: 'has spaces' }, { from: 'customer' }),
        (e: unknown) => e instanceof ConversationInputError && /conversationId/.test(e.message),
      );

      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: 'sturdy@example.com' } });
      // A caller that bypasses the client: the workflow records the rejection and goes on.
      const handle = h.platform.handle(conv);
      await handle.signal(messageSignal, {
        workspaceId: conv.workspaceId,
        from: 'nobody',
        fields: 'not an object',
      } as never);
      await handle.signal('callEnded', { workspaceId: conv.workspaceId });
      const state = await h.platform.getState(conv);
      assert.equal(state?.rejections.length, 2);
      assert.match(state!.rejections[0]!.message, /message signal refused: from: /);
      assert.match(state!.rejections[1]!.message, /not voice/);

      await assert.rejects(
        h.platform.runAction(conv, { actionId: 'nope' }),
        (e: unknown) => e instanceof ActionRefusedError && /no action "nope"/.test(e.message),
      );
      await assert.rejects(
        h.platform.runAction(conv, { actionId: 'offline' }),
        (e: unknown) => e instanceof ActionRefusedError && /offline sync/.test(e.message),
      );
      await assert.rejects(
        handle.executeUpdate(runActionUpdate, { args: [{ workspaceId: conv.workspaceId, actionId: 42 } as never] }),
        (e: Error) => /runAction refused: actionId/.test(String((e.cause as Error | undefined)?.message)),
      );

      // Invalid email: skipped with the reason, no HubSpot call, no failure.
      const before = h.emulator.requests(ACME.accountId).length;
      const skipped = await h.platform.runAction(conv, { actionId: 'live', fields: { email: 'not-an-email' } });
      assert.equal(skipped.result, 'skipped');
      assert.match(skipped.reason, /email/i);
      assert.equal(h.emulator.requests(ACME.accountId).length, before, 'a HubSpot call was made for an invalid email');

      const ok = await h.platform.runAction(conv, { actionId: 'live', fields: { email: 'sturdy@example.com' } });
      assert.equal(ok.result, 'created');
      const result = await h.platform.result(conv);
      assert.equal(result.status, 'ended');
      await keepHistory(h, conv, 'bad-input');
    });
  });

  test('a failed action is recorded, visible in the state, and never fails the workflow', async () => {
    const conv = conversation('chat', [action({ hubspotAccountId: 'unknown-account' })]);
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: 'nowhere@example.com' } });
      const result = await h.platform.result(conv);
      assert.equal(result.status, 'ended');
      assert.equal(result.syncStatus, 'failed');
      const run = result.outcomes['hubspot-upsert']![0]!;
      assert.equal(run.result, 'failed');
      assert.match(run.reason, /unknown-account/);
      assert.equal(result.finalFields.email, 'nowhere@example.com', 'an operator has what is needed to retry');
    });
  });
});

// Engagements (docs/CONTACT_SYNC.md, "Engagements"): an action with logAs `engagement` logs a voice
// conversation as one HubSpot Call and a WhatsApp conversation as one Communication, each updated in
// place by follow-up syncs and never duplicated, through the real worker against the emulator; web chat
// stays a note. The note (and the engagement body) says which action wrote it, when, and links back to
// the conversation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timeSkippingEnv } from './helpers/temporal-env';
import {
  ACME,
  action,
  conversation,
  convergenceDone,
  heldWritesEnded,
  startHarness,
  type Harness,
} from './helpers/conversation-harness';
import { actionConfigSchema } from '../src/action/config';
import { describeZodError } from '../src/platform/contract';
import { retryAction } from '../src/ops/operator';

let h: Harness;
let seq = 0;
const email = (what: string) => `${what}.${process.pid}.${++seq}@example.com`;
const URL_OF = (id: string) => `https://app.example-platform.com/conversations/${id}`;

before(async () => {
  h = await startHarness(await timeSkippingEnv(), [ACME]);
});
after(async () => h?.close());

const engagement = (overrides: Parameters<typeof action>[0] = {}) => action({ logAs: 'engagement', ...overrides });
const contactOf = (address: string) => h.emulator.contacts(ACME.accountId).find((c) => c.properties.email === address);
const callsOf = (contactId: string) =>
  h.emulator.engagements(ACME.accountId, 'calls').filter((c) => c.associations.contacts.includes(contactId));
const communicationsOf = (contactId: string) =>
  h.emulator.engagements(ACME.accountId, 'communications').filter((c) => c.associations.contacts.includes(contactId));
const notesOf = (contactId: string) =>
  h.emulator.notes(ACME.accountId).filter((n) => n.associations.contacts.includes(contactId));

/** Waits (real time) until the conversation has ended and no run is under way. */
async function settled(conv: ReturnType<typeof conversation>): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const s = await h.platform.getState(conv);
    if (s?.status === 'ended' && s.syncStatus !== 'running') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the conversation did not settle');
}

describe('a voice conversation becomes one HubSpot Call', () => {
  test('the Call carries the summary, direction, duration, status and recording; a late summary updates the same Call', async () => {
    const conv = conversation('voice', [engagement()], { conversationUrl: URL_OF('call-1') });
    const address = email('call');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address, first_name: 'Vo' } });
      await h.platform.endCall(conv, {
        summary: 'Asked about <pricing> & terms.',
        call: {
          direction: 'inbound',
          durationMs: 184_000,
          recordingUrl: 'https://recordings.example-platform.com/r/1.mp3',
        },
      });
      await h.env.sleep('1m');
      await settled(conv);
      const first = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']![0]!;
      assert.equal(first.result, 'created', first.reason);
      assert.equal(first.loggedAs, 'call');
      assert.match(first.reason, /summary logged as a HubSpot call/);
      const contact = contactOf(address)!;
      const calls = callsOf(contact.id);
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.id, first.noteId, 'the outcome names another record than the Call');
      const p = calls[0]!.properties;
      assert.equal(p.hs_call_direction, 'INBOUND');
      assert.equal(p.hs_call_duration, '184000');
      assert.equal(p.hs_call_status, 'COMPLETED');
      assert.equal(p.hs_call_recording_url, 'https://recordings.example-platform.com/r/1.mp3');
      assert.ok(p.hs_timestamp, 'no hs_timestamp: the Call has no place on the timeline');
      assert.match(p.hs_call_title ?? '', /HubSpot: create or update contact/);
      // The body: the summary escaped, which action wrote it and when, the link back, the reference line.
      assert.match(p.hs_call_body ?? '', /Asked about &lt;pricing&gt; &amp; terms\./);
      assert.match(
        p.hs_call_body ?? '',
        /Written by the action HubSpot: create or update contact \(hubspot-upsert\) at \d{4}-\d\d-\d\dT/,
      );
      assert.ok((p.hs_call_body ?? '').includes(`<a href="${URL_OF('call-1')}">`), 'no link back to the conversation');
      assert.equal(notesOf(contact.id).length, 0, 'a note was written besides the Call');

      await h.platform.updateFields(conv, { summary: 'Corrected: asked about annual pricing.' });
      await h.env.sleep('1m');
      await settled(conv);
      const runs = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!;
      assert.equal(runs.length, 2, 'the late summary was not synced');
      assert.equal(runs[1]!.noteId, first.noteId, 'the follow-up wrote another Call');
      const after = callsOf(contact.id);
      assert.equal(after.length, 1);
      assert.match(after[0]!.properties.hs_call_body ?? '', /Corrected: asked about annual pricing\./);
      assert.equal(after[0]!.properties.hs_call_direction, 'INBOUND', 'the update lost the call details');
      assert.equal(after[0]!.properties.hs_timestamp, p.hs_timestamp, 'the update moved the Call on the timeline');
    });
  });

  test('in conversation, a Call create HubSpot applies after the worker gave up (slow write): one Call, the duplicate archived', async () => {
    const live = engagement({ id: 'live', offlineSync: false });
    const conv = conversation('voice', [live]);
    const address = email('late.call');
    await h.run(async () => {
      const since = Date.now();
      h.emulator.failNext(ACME.accountId, 'calls.create', 'slow-write', 1, { holdMs: 16_000 });
      const outcome = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email: address },
        summary: 'Wants a call back',
      });
      assert.equal(outcome.result, 'created', outcome.reason);
      assert.equal(outcome.loggedAs, 'call');
      await heldWritesEnded(h, ACME.accountId, since);
      const contact = contactOf(address)!;
      assert.equal(callsOf(contact.id).length, 2, 'the held create did not land: nothing to converge');
      const c = await convergenceDone(h, conv);
      assert.equal(c.duplicateNotesArchived, 1);
      assert.deepEqual(
        callsOf(contact.id).map((x) => x.id),
        [outcome.noteId],
        'not the Call the agent was told about',
      );
      assert.equal(h.emulator.engagements(ACME.accountId, 'calls', true).length >= 1, true);
    });
  });

  test('offline, a Call create whose answer is lost: the retried attempt finds the Call it wrote, one Call', async () => {
    const conv = conversation('voice', [engagement()]);
    const address = email('lost.call');
    await h.run(async () => {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
      h.emulator.failNext(ACME.accountId, 'calls.create', 'lost-response', 1);
      await h.platform.endCall(conv, {
        summary: 'Lost answer, one Call.',
        call: { direction: 'outbound', durationMs: 60_000, status: 'completed' },
      });
      await h.env.sleep('5m');
      await settled(conv);
      const run = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']![0]!;
      assert.equal(run.result, 'created', run.reason);
      const calls = callsOf(contactOf(address)!.id);
      assert.equal(calls.length, 1, 'the retried attempt created a second Call');
      assert.equal(calls[0]!.id, run.noteId);
      assert.equal(calls[0]!.properties.hs_call_direction, 'OUTBOUND');
    });
  });
});

describe('an operator retry of a failed engagement run', () => {
  const CALL = {
    direction: 'outbound' as const,
    durationMs: 95_000,
    status: 'completed' as const,
    recordingUrl: 'https://recordings.example-platform.com/r/retry.mp3',
  };
  /** The offline sync of a voice conversation fails (HubSpot answers every lookup with a 500 past the retry window). */
  async function failedCall(conv: ReturnType<typeof conversation>, address: string): Promise<void> {
    h.emulator.setFaults(ACME.accountId, { operations: ['contacts.get'], serverErrorRate: 1 });
    try {
      await h.platform.recordMessage(conv, { from: 'customer', fields: { email: address } });
      await h.platform.endCall(conv, { summary: 'Wants the retry to keep the call.', call: CALL });
      await h.env.sleep('5m');
      await settled(conv);
      const run = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!.at(-1)!;
      assert.equal(run.result, 'failed', run.reason);
    } finally {
      h.emulator.setFaults(ACME.accountId, null);
    }
  }
  const assertCallWithDetails = (address: string, noteId: string | undefined, url: string) => {
    const calls = callsOf(contactOf(address)!.id);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.id, noteId, 'the outcome names another record than the Call');
    const p = calls[0]!.properties;
    assert.equal(p.hs_call_direction, 'OUTBOUND', 'the retried Call lost the call direction');
    assert.equal(p.hs_call_duration, '95000', 'the retried Call lost the call duration');
    assert.equal(p.hs_call_recording_url, CALL.recordingUrl, 'the retried Call lost the recording link');
    assert.match(p.hs_call_body ?? '', /Wants the retry to keep the call\./);
    assert.ok((p.hs_call_body ?? '').includes(`<a href="${url}">`), 'the retried Call lost the conversation link');
  };

  test('after the conversation completed: the retry session logs the Call with the call details and the conversation link', async () => {
    const url = URL_OF('retry-completed');
    const conv = conversation('voice', [engagement()], {
      conversationUrl: url,
      options: { offlineRetryWindowMs: 60_000, retentionMs: 3600_000 },
    });
    const address = email('retry.completed');
    await h.run(async () => {
      await failedCall(conv, address);
      await h.platform.result(conv); // the retention passes (time skips): the workflow completes
      assert.equal((await h.platform.handle(conv).describe()).status.name, 'COMPLETED');
      assert.equal(contactOf(address), undefined, 'the failed run wrote a contact');

      const run = await retryAction(h.env.client, conv, 'hubspot-upsert');
      assert.equal(run.trigger, 'operator-retry');
      assert.equal(run.result, 'created', run.reason);
      assert.equal(run.loggedAs, 'call');
      assertCallWithDetails(address, run.noteId, url);
    });
  });

  test('while the conversation is dormant: the retry logs the Call with the call details and the conversation link', async () => {
    const url = URL_OF('retry-dormant');
    const conv = conversation('voice', [engagement()], {
      conversationUrl: url,
      options: { offlineRetryWindowMs: 60_000 },
    });
    const address = email('retry.dormant');
    await h.run(async () => {
      await failedCall(conv, address);
      const run = await retryAction(h.env.client, conv, 'hubspot-upsert');
      assert.equal(run.trigger, 'operator-retry');
      assert.equal(run.result, 'created', run.reason);
      assertCallWithDetails(address, run.noteId, url);
    });
  });
});

describe('text conversations', () => {
  test('WhatsApp becomes one Communication (WHATS_APP), updated in place by a follow-up', async () => {
    const conv = conversation('whatsapp', [engagement()]);
    const address = email('wa');
    await h.run(async () => {
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: address },
        summary: 'Asked for opening hours.',
      });
      await h.env.sleep('11m');
      await settled(conv);
      const first = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']![0]!;
      assert.equal(first.loggedAs, 'communication');
      const contact = contactOf(address)!;
      const comms = communicationsOf(contact.id);
      assert.equal(comms.length, 1);
      assert.equal(comms[0]!.properties.hs_communication_channel_type, 'WHATS_APP');
      assert.match(comms[0]!.properties.hs_communication_body ?? '', /Asked for opening hours\./);
      assert.equal(notesOf(contact.id).length, 0);
      await h.platform.recordMessage(conv, { from: 'customer', summary: 'Asked for opening hours and parking.' });
      await h.env.sleep('11m');
      await settled(conv);
      const again = communicationsOf(contact.id);
      assert.equal(again.length, 1, 'the follow-up wrote a second Communication');
      assert.match(again[0]!.properties.hs_communication_body ?? '', /and parking\./);
    });
  });

  test('offline, a Communication create HubSpot applies after the worker gave up (slow write): one Communication, the duplicate archived', async () => {
    const conv = conversation('whatsapp', [engagement()]);
    const address = email('late.wa');
    await h.run(async () => {
      const since = Date.now();
      h.emulator.failNext(ACME.accountId, 'communications.create', 'slow-write', 1, { holdMs: 16_000 });
      await h.platform.recordMessage(conv, {
        from: 'customer',
        fields: { email: address },
        summary: 'Held, then applied.',
      });
      await h.env.sleep('11m');
      await settled(conv);
      const run = (await h.platform.getState(conv))!.outcomes['hubspot-upsert']!.at(-1)!;
      assert.equal(run.result, 'created', run.reason);
      assert.equal(run.loggedAs, 'communication');
      await heldWritesEnded(h, ACME.accountId, since);
      const contact = contactOf(address)!;
      assert.equal(communicationsOf(contact.id).length, 2, 'the held create did not land: nothing to converge');
      const c = await convergenceDone(h, conv);
      assert.equal(c.duplicateNotesArchived, 1);
      assert.deepEqual(
        communicationsOf(contact.id).map((x) => x.id),
        [run.noteId],
        'not the Communication the outcome names',
      );
    });
  });

  test('SMS becomes a Communication (SMS); web chat stays a note that says which action wrote it', async () => {
    const sms = conversation('sms', [engagement()]);
    const chat = conversation('chat', [engagement()], { conversationUrl: URL_OF('chat-1') });
    const [a, b] = [email('sms'), email('chat')];
    await h.run(async () => {
      await h.platform.recordMessage(sms, { from: 'customer', fields: { email: a }, summary: 'By SMS.' });
      await h.platform.recordMessage(chat, { from: 'customer', fields: { email: b }, summary: 'By chat.' });
      await h.env.sleep('11m');
      await settled(sms);
      await settled(chat);
      assert.equal(communicationsOf(contactOf(a)!.id)[0]?.properties.hs_communication_channel_type, 'SMS');
      const chatContact = contactOf(b)!;
      assert.equal(
        communicationsOf(chatContact.id).length,
        0,
        'web chat has no HubSpot channel type, yet a Communication was written',
      );
      const notes = notesOf(chatContact.id);
      assert.equal(notes.length, 1);
      const body = notes[0]!.properties.hs_note_body ?? '';
      assert.match(body, /Written by the action HubSpot: create or update contact \(hubspot-upsert\) at /);
      assert.ok(body.includes(`href="${URL_OF('chat-1')}"`));
      const run = (await h.platform.getState(chat))!.outcomes['hubspot-upsert']![0]!;
      assert.equal(run.loggedAs, undefined);
    });
  });
});

describe('validation', () => {
  test('a bad logAs is refused naming the field and the allowed values', () => {
    const parsed = actionConfigSchema.safeParse({ ...action(), logAs: 'call' });
    assert.equal(parsed.success, false);
    assert.match(
      describeZodError(parsed.error!),
      /^logAs: unknown logAs "call": the allowed values are note, engagement$/,
    );
  });

  test('the platform client refuses a conversation link that is not https, and call details without a direction', async () => {
    await assert.rejects(
      h.platform.recordMessage(
        conversation('chat', [action()], { conversationUrl: 'http://app.example-platform.com/c/1' }),
        { from: 'customer' },
      ),
      /conversationUrl: expected an https URL/,
    );
    await assert.rejects(
      h.platform.endCall(conversation('voice', [action()]), { call: { durationMs: 10 } as never }),
      /call\.direction/,
    );
  });
});

// The chaos run's verdict (bench/chaos/verdict.ts) on engagements: a conversation whose action logs its
// voice call as a HubSpot Call passes with exactly one Call on its contact carrying the latest summary
// and the call's details, and each way the store can be wrong is counted: a second Call, a Call on
// another contact, a note where the Call is due, a Call without the call's direction. The store is the
// HubSpot emulator's, written over HTTP by the official client as the worker would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client as HubSpotClient } from '@hubspot/api-client';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../hubspot-emulator';
import { checkStore, emptyTally, type ChaosTally } from '../bench/chaos/verdict';
import type { Plan } from '../bench/chaos/plan';
import { escapeHtml, noteReference } from '../src/action/note';
import type { CallDetails } from '../src/action/timeline';
import { conversationWorkflowId, type ConversationResult } from '../src/platform/contract';

const ACCOUNT: EmulatorAccountSeed = {
  accountId: 'verdict',
  token: 'verdict-token',
  appId: 7001,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
};
const SUMMARY = 'Conversation 3 <b>summary</b> & next steps';
const CALL: CallDetails = { direction: 'outbound', durationMs: 63_000 };

let em: HubSpotEmulator;
let hubspot: HubSpotClient;
let seq = 0;

before(async () => {
  em = await startHubSpotEmulator({ port: 0, accounts: [ACCOUNT], seed: 1 });
  hubspot = new HubSpotClient({ accessToken: ACCOUNT.token, basePath: em.url, numberOfApiCallRetries: 0 });
});
after(async () => em?.close());

/** A voice conversation of the row "theirs, no update" (note only) whose offline action logs engagements, synced once. */
function plan(): { p: Plan; contactId: string; ref: string } {
  const i = ++seq;
  const email = `verdict.${i}@example.com`;
  const contactId = em.addContact(ACCOUNT.accountId, { email, firstname: 'Original', phone: '+1 555 0100' });
  const conversationId = `verdict-${i}`;
  const run = { actionId: 'offline', trigger: 'offline' as const, at: '', result: 'note_only' as const };
  const result = {
    outcomes: { offline: [{ ...run, propertiesWritten: [], reason: 'summary logged as a HubSpot call' }] },
  } as unknown as ConversationResult;
  const p = {
    i,
    row: 'theirs-no-update',
    accountId: ACCOUNT.accountId,
    email,
    summary: SUMMARY,
    live: false,
    voice: true,
    engagement: true,
    call: CALL,
    existingId: contactId,
    duplicateEnd: false,
    repeatAfterEnd: false,
    liveAsks: [],
    firstRunId: 'run-1',
    runsAtFirstEnd: 1,
    repeatsSent: 0,
    lateSent: false,
    result,
    completed: true,
    times: {},
    conversation: { conversationId, workspaceId: 'ws', channel: 'voice', actions: [] },
  } as Plan;
  return { p, contactId, ref: noteReference(`${conversationWorkflowId('ws', conversationId)}:run-1:offline`) };
}

const body = (ref: string) => `<p>${escapeHtml(SUMMARY)}</p><p>Reference: ${ref}</p>`;

async function logCall(contactId: string, ref: string, call = CALL): Promise<void> {
  await hubspot.crm.objects.calls.basicApi.create({
    properties: {
      hs_timestamp: new Date().toISOString(),
      hs_call_body: body(ref),
      hs_call_direction: call.direction.toUpperCase(),
      hs_call_duration: String(call.durationMs ?? 0),
    },
    associations: [
      { to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 194 }] },
    ] as never,
  });
}

function verdict(p: Plan): ChaosTally {
  const tally = emptyTally(1, '0-0 ms');
  checkStore(em, [ACCOUNT], [p], tally, 0);
  return tally;
}

test('one Call on the contact, with the latest summary and the call details: synced, one Call checked, nothing counted', async () => {
  const { p, contactId, ref } = plan();
  await logCall(contactId, ref);
  const t = verdict(p);
  assert.equal(t.synced, 1, JSON.stringify([...t.lost, ...t.wrongProperties, ...t.wrongContactEngagements]));
  assert.deepEqual(t.engagements, { calls: 1, communications: 0 });
  assert.equal(t.duplicateEngagements, 0);
  assert.deepEqual(t.wrongContactEngagements, []);
  assert.deepEqual(t.wrongProperties, []);
});

test('a second Call of the same (conversation, action) on the contact is a duplicate engagement', async () => {
  const { p, contactId, ref } = plan();
  await logCall(contactId, ref);
  await logCall(contactId, ref);
  const t = verdict(p);
  assert.equal(t.duplicateEngagements, 1);
  assert.match(t.duplicates.join('\n'), /2 offline Calls on contact/);
  assert.equal(t.duplicateNotes, 0);
});

test("a Call on another contact is an engagement on the wrong contact; no Call on the run's contact is lost", async () => {
  const { p, ref } = plan();
  const other = em.addContact(ACCOUNT.accountId, { email: `someone.else.${seq}@example.com` });
  await logCall(other, ref);
  const t = verdict(p);
  assert.equal(t.wrongContactEngagements.length, 1);
  assert.deepEqual(t.wrongContactNotes, []);
  assert.match(t.lost.join('\n'), /no offline Call on contact/);
});

test('a note where the Call is due, and a Call without the call direction, are wrong properties', async () => {
  const { p, contactId, ref } = plan();
  await hubspot.crm.objects.notes.basicApi.create({
    properties: { hs_timestamp: new Date().toISOString(), hs_note_body: body(ref) },
    associations: [
      { to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 202 }] },
    ] as never,
  });
  await logCall(contactId, ref, { direction: 'inbound', durationMs: CALL.durationMs });
  const t = verdict(p);
  assert.match(t.wrongProperties.join('\n'), /logged 1 note\(s\), expected a Call/);
  assert.match(t.wrongProperties.join('\n'), /hs_call_direction "INBOUND", expected "OUTBOUND"/);
});

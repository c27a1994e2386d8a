// Fast: the whole-run activity (runContactSync) in Temporal's MockActivityEnvironment over an in-memory
// HubSpot behind the activities' port (helpers/fake-hubspot.ts); no Temporal server, no emulator. What
// the end-to-end suite reaches only by fault injection is driven here directly: a retried attempt (the
// attempt number and the last heartbeat's details come from the mocked activity info), a 409, a create
// whose answer was lost, a call that hangs until the attempt's time is nearly over.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure, type Logger, type MetricMeter, type MetricTags } from '@temporalio/common';
import { actionConfigSchema, type ActionConfigInput } from '../src/action/config';
import { noteReference, renderSummaryNote } from '../src/action/note';
import { valueHash } from '../src/action/hash';
import type { ContactCheckResult } from '../src/action/convergence';
import type { ContactSyncResult } from '../src/action/run';
import type { ReceiptRecorder, ReceiptWrite } from '../src/action/receipt';
import type { AccountIdentity } from '../src/hubspot/port';
import { ABORT_MARGIN_MS } from '../activities/attempt';
import { createActivities, type ContactSyncActivityInput, type RunProgress } from '../activities';
import { isOurs, ownershipProperties, withOwnershipMarker, writtenByUs } from '../src/hubspot/ownership';
import { FakeAccount, FakeHubSpot } from './helpers/fake-hubspot';

const ACCOUNT = 'acme-eu';
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * What the activities add to their counters, as "name{label=value,…}" -> total (the worker exports them to
 * Prometheus), without the tags the SDK adds to every activity metric (namespace, task queue, activity type).
 */
function countingMeter(): { meter: MetricMeter; totals: Map<string, number> } {
  const totals = new Map<string, number>();
  const key = (name: string, tags: MetricTags = {}) =>
    `${name}{${Object.entries(tags)
      .filter(([k]) => !['namespace', 'taskQueue', 'activityType'].includes(k))
      .sort()
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',')}}`;
  const metric = (name: string) => ({
    name,
    add: (n: number, tags?: MetricTags) => totals.set(key(name, tags), (totals.get(key(name, tags)) ?? 0) + n),
    record: () => undefined,
    set: () => undefined,
    withTags: () => metric(name),
  });
  const meter: MetricMeter = {
    createCounter: (name) => metric(name) as never,
    createHistogram: (name) => metric(name) as never,
    createGauge: (name) => metric(name) as never,
    withTags: () => meter,
  };
  return { meter, totals };
}

function config(overrides: Partial<ActionConfigInput> = {}) {
  return actionConfigSchema.parse({
    id: 'save-lead',
    name: 'Save lead',
    intent: 'Save the caller as a lead',
    offlineSync: true,
    hubspotAccountId: ACCOUNT,
    allowCreate: true,
    allowUpdateExisting: false,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
    ],
    ...overrides,
  });
}

function runInput(overrides: Partial<ContactSyncActivityInput> = {}): ContactSyncActivityInput {
  return {
    config: config(),
    fields: { email: 'jane@example.com', first_name: 'Jane' },
    summary: 'Jane asked for a demo.',
    conversationKey: 'acme/c-1001/save-lead',
    knownNoteIds: [],
    mayHaveWritten: false,
    timestamp: '2026-12-07T10:00:00.000Z',
    lane: 'offline',
    ...overrides,
  };
}

/** One attempt of the activity: a fresh mocked context (attempt, timeouts, the last heartbeat's details), its heartbeats collected. */
async function attempt(
  account: FakeAccount,
  input: ContactSyncActivityInput,
  info: Partial<Info> = {},
  receipts?: ReceiptRecorder,
) {
  const env = new MockActivityEnvironment(
    { startToCloseTimeoutMs: 60_000, scheduleToCloseTimeoutMs: 0, ...info },
    { logger: quiet },
  );
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const activities = createActivities({ hubspot: new FakeHubSpot(account), ...(receipts ? { receipts } : {}) });
  try {
    return {
      result: (await env.run(activities.runContactSync, input)) as ContactSyncResult,
      heartbeats,
      failure: undefined,
    };
  } catch (err) {
    return { result: undefined, heartbeats, failure: err as ApplicationFailure };
  }
}

const reference = noteReference(runInput().conversationKey);

describe('runContactSync over the HubSpot port (fast)', () => {
  test('no contact for the email: creates it as ours, then its note, and looks for no earlier note', async () => {
    const account = new FakeAccount(ACCOUNT);
    const { result } = await attempt(account, runInput());
    assert.equal(result?.result, 'created');
    const [contact] = account.contactsWithEmail('jane@example.com');
    assert.ok(contact, 'the contact exists');
    assert.equal(result?.contactId, contact.id);
    assert.equal(contact.properties.firstname, 'Jane');
    assert.ok(isOurs(account.connection, contact.properties), 'HubSpot records our app as its source');
    const notes = account.notesOf(contact.id);
    assert.equal(notes.length, 1);
    assert.equal(result?.noteId, notes[0]!.id);
    assert.ok(notes[0]!.properties.hs_note_body!.includes(reference));
    assert.deepEqual(account.calls, ['contactPropertySchema', 'readContactByEmail', 'createContact', 'createNote']);
    // What the convergence check is given: the contact, the values and the note, none of it uncertain.
    const { contactId, properties, contactUncertain, noteId, noteUncertain } = result!.sent!;
    assert.deepEqual(
      { contactId, properties, contactUncertain, noteId, noteUncertain },
      {
        contactId: contact.id,
        properties: { email: 'jane@example.com', firstname: 'Jane' },
        contactUncertain: false,
        noteId: notes[0]!.id,
        noteUncertain: false,
      },
    );
  });

  test('a contact this system created: updated, not created again; the email is not rewritten', async () => {
    const account = new FakeAccount(ACCOUNT);
    const id = account.seedContact({ email: 'Jane@Example.com', firstname: 'J' }, { ours: true });
    const { result } = await attempt(account, runInput());
    assert.equal(result?.result, 'updated');
    assert.equal(result?.contactId, id);
    assert.deepEqual(result?.propertiesWritten, ['firstname']);
    assert.equal(account.contacts.get(id)!.properties.firstname, 'Jane');
    assert.equal(account.contacts.get(id)!.properties.email, 'Jane@Example.com');
    assert.equal(account.contacts.size, 1);
  });

  test('a contact someone else created, updating existing fields not allowed: only the note is written', async () => {
    const account = new FakeAccount(ACCOUNT);
    const id = account.seedContact({ email: 'jane@example.com', firstname: 'Janet' });
    const { result } = await attempt(account, runInput());
    assert.equal(result?.result, 'note_only');
    assert.equal(account.contacts.get(id)!.properties.firstname, 'Janet');
    assert.equal(account.notesOf(id).length, 1);
    assert.ok(!account.calls.includes('updateContact'));
  });

  test('a known note still on the contact is updated in place; one the contact no longer has is not reused', async () => {
    const account = new FakeAccount(ACCOUNT);
    const id = account.seedContact({ email: 'jane@example.com' }, { ours: true });
    const known = account.seedNote(id, renderSummaryNote('Earlier summary', runInput().conversationKey));
    const { result } = await attempt(account, runInput({ knownNoteIds: [known] }));
    assert.equal(result?.noteId, known);
    assert.equal(account.notesOf(id).length, 1);
    assert.ok(account.notes.get(known)!.properties.hs_note_body!.includes('Jane asked for a demo.'));
    assert.ok(!account.calls.includes('createNote'));

    // The email was corrected: the new contact gets a note of its own, the old contact's note is left alone.
    const other = new FakeAccount(ACCOUNT);
    const old = other.seedContact({ email: 'old@example.com' }, { ours: true });
    const oldNote = other.seedNote(old, renderSummaryNote('Earlier summary', runInput().conversationKey));
    const moved = await attempt(other, runInput({ knownNoteIds: [oldNote] }));
    assert.equal(moved.result?.result, 'created');
    assert.notEqual(moved.result?.noteId, oldNote);
    assert.equal(other.notesOf(moved.result!.contactId!).length, 1);
    assert.ok(other.notes.get(oldNote)!.properties.hs_note_body!.includes('Earlier summary'));
  });

  test('a retried attempt finds the note an earlier attempt created (answer lost) by its reference on the contact, and does not write a second', async () => {
    const account = new FakeAccount(ACCOUNT);
    const id = account.seedContact({ email: 'jane@example.com' }, { ours: true });
    // Another conversation's note, and the note the first attempt wrote before its answer was lost.
    account.seedNote(id, renderSummaryNote('Someone else', 'acme/c-0999/save-lead'));
    const lost = account.seedNote(id, renderSummaryNote('Jane asked for a demo.', runInput().conversationKey));
    const { result } = await attempt(account, runInput(), { attempt: 2 });
    assert.equal(result?.noteId, lost);
    assert.equal(account.notesOf(id).length, 2, 'no new note');
    assert.ok(
      account.calls.includes('noteIdsOfContact') && account.calls.includes('readNotes'),
      'looked through the association, never search',
    );
    assert.equal(result?.sent?.noteUncertain, true, 'a retried write may land late: the convergence check is told');

    // The first attempt of a run that knows of no earlier note does not look.
    const first = new FakeAccount(ACCOUNT);
    first.seedContact({ email: 'jane@example.com' }, { ours: true });
    await attempt(first, runInput());
    assert.ok(!first.calls.includes('noteIdsOfContact'));
  });

  test('409 on create: a contact someone else created since the lookup is looked up again and decided under the rules for existing contacts', async () => {
    const account = new FakeAccount(ACCOUNT);
    let theirs = '';
    account.meanwhile(
      'createContact',
      () => (theirs = account.seedContact({ email: 'jane@example.com', firstname: 'Janet' })),
    );
    const { result } = await attempt(account, runInput());
    assert.equal(result?.result, 'note_only');
    assert.equal(result?.contactId, theirs);
    assert.equal(account.contactsWithEmail('jane@example.com').length, 1, 'no duplicate contact');
    assert.equal(
      account.contacts.get(theirs)!.properties.firstname,
      'Janet',
      'not ours, updates not allowed: left alone',
    );
    assert.equal(account.notesOf(theirs).length, 1);
    assert.deepEqual(
      account.calls.filter((c) => c === 'readContactByEmail' || c === 'createContact'),
      ['readContactByEmail', 'createContact', 'readContactByEmail'],
    );
  });

  test('409 on create naming a contact this system created (an earlier create landed): completed, and the outcome says created', async () => {
    const account = new FakeAccount(ACCOUNT);
    let ours = '';
    account.meanwhile(
      'createContact',
      () => (ours = account.seedContact({ email: 'jane@example.com' }, { ours: true })),
    );
    const { result } = await attempt(account, runInput());
    assert.equal(result?.result, 'created');
    assert.equal(result?.contactId, ours);
    assert.equal(account.contacts.get(ours)!.properties.firstname, 'Jane');
    assert.equal(account.contactsWithEmail('jane@example.com').length, 1);
  });

  test('a create whose answer was lost: the attempt fails retryably with what it sent; the next attempt (heartbeat: createSent) completes that contact as created', async () => {
    const account = new FakeAccount(ACCOUNT);
    account.inject('createContact', 'lost-answer');
    const first = await attempt(account, runInput());
    assert.ok(first.failure instanceof ApplicationFailure);
    assert.equal(first.failure.type, 'HubSpotUnavailable');
    assert.equal(first.failure.nonRetryable, false);
    const carried = first.failure.details?.[0] as RunProgress;
    assert.equal(carried.createSent, true);
    assert.equal(carried.sent?.contactUncertain, true);
    const last = first.heartbeats.at(-1) as RunProgress;
    assert.equal(last.createSent, true, 'the last heartbeat tells the next attempt');
    assert.equal(account.contactsWithEmail('jane@example.com').length, 1, 'the create landed');

    const second = await attempt(account, runInput(), { attempt: 2, heartbeatDetails: last });
    assert.equal(second.result?.result, 'created', 'found again, the contact counts as created by this run');
    const [contact] = account.contactsWithEmail('jane@example.com');
    assert.equal(second.result?.contactId, contact!.id);
    assert.equal(account.contactsWithEmail('jane@example.com').length, 1);
    assert.equal(account.notesOf(contact!.id).length, 1);
    assert.equal(second.result?.sent?.contactUncertain, true);

    // Without the heartbeat's createSent the same contact reads as an update of ours.
    const plain = new FakeAccount(ACCOUNT);
    plain.seedContact({ email: 'jane@example.com' }, { ours: true });
    assert.equal((await attempt(plain, runInput(), { attempt: 2 })).result?.result, 'updated');
  });

  test('a fault at the same call waits longer each time; an attempt that got further into the step waits the first backoff again', async () => {
    const account = new FakeAccount(ACCOUNT);
    const next = async (heartbeatDetails: RunProgress | undefined, attemptNo: number) => {
      const from = account.calls.length;
      const { failure } = await attempt(account, runInput(), { attempt: attemptNo, heartbeatDetails });
      assert.ok(failure instanceof ApplicationFailure, 'the attempt fails');
      return { failure, details: failure.details?.[0] as RunProgress, calls: account.calls.slice(from) };
    };
    // Each attempt fails at one call of the note step; the next attempt starts from the last one's details.
    const failAt: Array<'createNote' | 'noteIdsOfContact'> = [
      'createNote', // 1: the note's create fails
      'createNote', // 2: a retried attempt first reads the contact's notes (an earlier create may have landed): one call further
      'createNote', // 3: the same call again
      'noteIdsOfContact', // 4: earlier in the step
      'createNote', // 5: further than the last attempt
    ];
    let details: RunProgress | undefined;
    const waits: unknown[] = [];
    for (const [i, call] of failAt.entries()) {
      account.inject(call, 'unavailable');
      const failed = await next(details, i + 1);
      assert.equal(failed.calls.at(-1), call);
      details = failed.details;
      waits.push(failed.failure.nextRetryDelay);
    }
    assert.deepEqual(waits, [2_000, 2_000, 4_000, 8_000, 2_000]);
    const { result } = await attempt(account, runInput(), { attempt: 6, heartbeatDetails: details });
    assert.equal(result?.result, 'created');
    assert.equal(account.notesOf(result.contactId!).length, 1);
  });

  test("the attempt's calls end a margin before its timeout, so a retry never overlaps them", async () => {
    const account = new FakeAccount(ACCOUNT);
    account.inject('createContact', 'hang');
    const timeoutMs = 1_000;
    const start = Date.now();
    const { failure } = await attempt(account, runInput(), {
      startToCloseTimeoutMs: timeoutMs,
      scheduledTimestampMs: start,
      currentAttemptScheduledTimestampMs: start,
    });
    const ended = account.hangsEndedAt[0]! - start;
    assert.ok(
      ended >= timeoutMs - ABORT_MARGIN_MS - 50 && ended < timeoutMs - ABORT_MARGIN_MS / 2,
      `the hung call ended after ${ended} ms`,
    );
    assert.equal(failure?.type, 'HubSpotCallAborted');
    assert.equal(failure?.nonRetryable, false);
    assert.equal(
      (failure?.details?.[0] as RunProgress).sent?.contactUncertain,
      true,
      'the write may still land: the next attempt and the convergence check are told',
    );
  });

  test("a later attempt's calls end a margin before what is left of the schedule-to-close timeout", async () => {
    const account = new FakeAccount(ACCOUNT);
    account.inject('readContactByEmail', 'hang');
    const now = Date.now();
    // Scheduled 400 ms ago with 1 s to close, this attempt has 600 ms left.
    await attempt(account, runInput(), {
      attempt: 2,
      startToCloseTimeoutMs: 0,
      scheduleToCloseTimeoutMs: 1_000,
      scheduledTimestampMs: now - 400,
      currentAttemptScheduledTimestampMs: now,
    });
    const ended = account.hangsEndedAt[0]! - now;
    assert.ok(
      ended >= 600 - ABORT_MARGIN_MS - 50 && ended < 600 - ABORT_MARGIN_MS / 2,
      `the hung call ended after ${ended} ms`,
    );
  });

  test('in conversation, a run whose budget ends is a failed outcome that says so, not a retry', async () => {
    const account = new FakeAccount(ACCOUNT);
    account.inject('createContact', 'hang');
    const { result, failure } = await attempt(account, runInput({ lane: 'agent', deadlineMs: Date.now() + 600 }));
    assert.equal(failure, undefined);
    assert.equal(result?.result, 'failed');
    assert.match(result!.reason, /did not complete the run within the in-conversation action's time budget/);
  });

  test("an offline attempt whose heartbeat carries the run's result (an earlier attempt could not write its receipt) only writes the receipt: no HubSpot call, the same result", async () => {
    const account = new FakeAccount(ACCOUNT);
    const done = await attempt(account, runInput());
    assert.equal(done.result?.result, 'created');
    const calls = account.calls.length;
    const writes: Array<{ kind: 'started' | 'finished'; write: ReceiptWrite }> = [];
    const recorder: ReceiptRecorder = {
      started: async (write) => void writes.push({ kind: 'started', write }),
      finished: async (write) => void writes.push({ kind: 'finished', write }),
    };
    const heartbeatDetails: RunProgress = {
      accountLabel: ACCOUNT,
      hubspotCalls: 3,
      result: done.result!,
      receiptTries: 1,
    };
    const retried = await attempt(
      account,
      runInput({ workspaceId: 'acme', receipt: { trigger: 'offline', conversationId: 'c-1001' } }),
      { attempt: 2, heartbeatDetails },
      recorder,
    );
    assert.equal(retried.failure, undefined);
    assert.deepEqual(retried.result, done.result, 'the same result');
    assert.deepEqual(account.calls.slice(calls), [], 'no HubSpot call');
    assert.deepEqual(
      writes.map(({ kind, write }) => ({
        kind,
        outcome: write.outcome,
        finished: write.finished,
        contactId: write.contactId,
        record: write.record?.id,
        hubspotCalls: write.hubspotCalls,
        attempts: write.attempts,
      })),
      [
        {
          kind: 'finished',
          outcome: 'created',
          finished: true,
          contactId: done.result!.contactId,
          record: done.result!.noteId,
          hubspotCalls: 3,
          attempts: 2,
        },
      ],
    );
  });

  test('in conversation, a receipts database that does not answer holds the answer within the budget and never fails the run', async () => {
    const account = new FakeAccount(ACCOUNT);
    let tried = 0;
    const down = async () => {
      tried++;
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    };
    const start = Date.now();
    const { result, failure } = await attempt(
      account,
      runInput({
        lane: 'agent',
        deadlineMs: start + 1_000,
        workspaceId: 'acme',
        receipt: { trigger: 'in-conversation', conversationId: 'c-1001' },
      }),
      {},
      { started: down, finished: down },
    );
    assert.equal(failure, undefined);
    assert.equal(result?.result, 'created');
    assert.ok(tried >= 2, `${tried} receipt writes tried`);
    assert.ok(Date.now() - start < 1_000, `answered after ${Date.now() - start} ms`);
  });

  test('an account of another workspace is refused before any HubSpot read', async () => {
    const account = new FakeAccount(ACCOUNT, { workspaceId: 'globex' });
    const { result } = await attempt(account, runInput({ workspaceId: 'acme' }));
    assert.equal(result?.result, 'failed');
    assert.match(result!.reason, /not connected to this conversation's workspace/);
    assert.deepEqual(account.calls, []);
  });
});

describe('convergeContacts over the HubSpot port (fast)', () => {
  test('a convergence check that meets a fault is retried sooner when it got further than its last attempt', async () => {
    const account = new FakeAccount(ACCOUNT);
    const id = account.seedContact({ email: 'jane@example.com', firstname: 'Jane' }, { ours: true });
    const key = runInput().conversationKey;
    const known = account.seedNote(id, renderSummaryNote('Jane asked for a demo.', key));
    const input = {
      checks: [
        {
          accountId: ACCOUNT,
          contactId: id,
          properties: { firstname: valueHash('Jane') },
          uncertain: {},
          notes: [{ actionId: 'save-lead', reference: noteReference(key), noteId: known, uncertainBodies: [] }],
        },
      ],
    };
    let heartbeatDetails: unknown;
    const waits: unknown[] = [];
    // Attempts 1 and 2 fail at the first read, attempt 3 at the second one, attempt 4 succeeds.
    for (const [i, call] of (
      ['readContactsWithHistory', 'readContactsWithHistory', 'noteIdsOfContacts'] as const
    ).entries()) {
      account.inject(call, 'unavailable');
      const env = new MockActivityEnvironment(
        { startToCloseTimeoutMs: 60_000, scheduleToCloseTimeoutMs: 0, attempt: i + 1, heartbeatDetails },
        { logger: quiet },
      );
      const failure = await env
        .run(createActivities({ hubspot: new FakeHubSpot(account) }).convergeContacts, input)
        .then(
          () => assert.fail('the attempt meets the fault'),
          (err: ApplicationFailure) => err,
        );
      assert.ok(failure instanceof ApplicationFailure && !failure.nonRetryable, String(failure));
      heartbeatDetails = failure.details?.[0];
      waits.push(failure.nextRetryDelay);
    }
    assert.deepEqual(waits, [2_000, 4_000, 2_000]);
    const env = new MockActivityEnvironment({ attempt: 4, heartbeatDetails }, { logger: quiet });
    const [result] = (await env.run(
      createActivities({ hubspot: new FakeHubSpot(account) }).convergeContacts,
      input,
    )) as ContactCheckResult[];
    assert.equal(result?.keptNotes['save-lead'], known);
  });

  test("a duplicate note a late create left is archived, the known one kept; our late write is undone, a person's edit left alone", async () => {
    const account = new FakeAccount(ACCOUNT);
    const id = account.seedContact({ email: 'jane@example.com', firstname: 'Jane', lastname: 'Doe' }, { ours: true });
    const key = runInput().conversationKey;
    const known = account.seedNote(id, renderSummaryNote('Jane asked for a demo.', key));
    const late = account.seedNote(id, renderSummaryNote('Jane asked for a demo.', key));
    const theirs = account.seedNote(id, renderSummaryNote('Another conversation', 'acme/c-0999/save-lead'));
    await account.updateContact(id, { firstname: 'Janet' }); // a write of ours whose answer never came lands late
    account.editAsPerson(id, { lastname: 'Smith' });
    account.calls.length = 0;
    const counted = countingMeter();
    const env = new MockActivityEnvironment(
      { startToCloseTimeoutMs: 60_000, scheduleToCloseTimeoutMs: 0 },
      { logger: quiet, metricMeter: counted.meter },
    );
    const [result] = (await env.run(createActivities({ hubspot: new FakeHubSpot(account) }).convergeContacts, {
      checks: [
        {
          accountId: ACCOUNT,
          contactId: id,
          properties: { firstname: valueHash('Jane'), lastname: valueHash('Doe') },
          uncertain: { firstname: [valueHash('Janet')] },
          notes: [{ actionId: 'save-lead', reference: noteReference(key), noteId: known, uncertainBodies: [] }],
        },
      ],
    })) as ContactCheckResult[];
    assert.deepEqual(result?.archivedNotes, [late]);
    assert.equal(result?.keptNotes['save-lead'], known);
    assert.deepEqual(
      account
        .notesOf(id)
        .map((n) => n.id)
        .sort(),
      [known, theirs].sort(),
    );
    assert.deepEqual(result?.rewritten, ['firstname']);
    assert.equal(account.contacts.get(id)!.properties.firstname, 'Jane');
    assert.deepEqual(result?.leftAlone, [{ property: 'lastname', why: 'changed-since-by-someone-else' }]);
    assert.equal(account.contacts.get(id)!.properties.lastname, 'Smith');
    assert.ok(!account.calls.some((c) => c.startsWith('search')), 'exact reads only');
    // Counted for the on-call engineer (docs/OPERATIONS.md): one check that repaired, and each repair by kind.
    assert.deepEqual(Object.fromEntries(counted.totals), {
      [`hubspot_contact_sync_convergence_checks{hubspot_account=${ACCOUNT},result=repaired}`]: 1,
      [`hubspot_contact_sync_convergence_repairs{hubspot_account=${ACCOUNT},repair=duplicate_note_archived}`]: 1,
      [`hubspot_contact_sync_convergence_repairs{hubspot_account=${ACCOUNT},repair=value_rewritten}`]: 1,
    });
  });
});

describe('ownership rules (fast)', () => {
  test('ours by record source (our app) or, where the operator set one, by the marker property only', () => {
    const app: AccountIdentity = { appId: 4242, kind: 'private-app' };
    assert.ok(isOurs(app, { hs_object_source: 'INTEGRATION', hs_object_source_id: '4242' }));
    assert.ok(!isOurs(app, { hs_object_source: 'INTEGRATION', hs_object_source_id: '9999' }));
    assert.ok(!isOurs(app, { hs_object_source: 'CRM_UI', hs_object_source_id: '4242' }));
    const marked = { ...app, ownershipMarker: { property: 'created_by_system', value: 'agent-platform' } };
    assert.ok(isOurs(marked, { created_by_system: 'agent-platform' }));
    assert.ok(!isOurs(marked, { hs_object_source: 'INTEGRATION', hs_object_source_id: '4242' }));
    assert.deepEqual(ownershipProperties(marked), ['hs_object_source', 'hs_object_source_id', 'created_by_system']);
    assert.deepEqual(withOwnershipMarker(marked, { email: 'a@b.c' }), {
      email: 'a@b.c',
      created_by_system: 'agent-platform',
    });
    assert.deepEqual(withOwnershipMarker(app, { email: 'a@b.c' }), { email: 'a@b.c' });
  });

  test('written by us: an integration write of our app; with a service key, any integration write', () => {
    const write = (sourceId: string) => ({ value: 'x', sourceType: 'INTEGRATION', sourceId });
    assert.ok(writtenByUs({ appId: 4242, kind: 'private-app' })(write('4242')));
    assert.ok(!writtenByUs({ appId: 4242, kind: 'private-app' })(write('1')));
    assert.ok(writtenByUs({ appId: 4242, kind: 'service-key' })(write('1')));
    assert.ok(!writtenByUs({ appId: 4242, kind: 'service-key' })({ value: 'x', sourceType: 'CRM_UI' }));
  });
});

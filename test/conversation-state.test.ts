// ConversationEntity (workflows/conversation-state.ts): the conversation's state and what the workflow
// decides from it, without any Temporal server: sync status, what is unsynced, when the offline sync is
// due, refusals, outcomes, and what continue-as-new carries. A fast test: plain node, a clock of its own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { actionConfigSchema, type ActionConfig } from '../src/action/config';
import { CARRIED_BUDGET_BYTES, utf8Length } from '../src/action/limits';
import {
  DEFAULT_OPTIONS,
  type ActionRun,
  type CarriedState,
  type Channel,
  type ConvergenceCarried,
  type ConvergenceSummary,
} from '../src/platform/definitions';
import { StatusAttr, SyncStatusAttr } from '../src/platform/search-attributes';
import {
  ConversationEntity,
  MAX_OUTCOMES_PER_ACTION,
  MAX_REJECTIONS,
  type ConvergenceView,
  type ConversationSetup,
} from '../workflows/conversation-state';

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const MIN = 60_000;

const action = (over: Partial<ActionConfig> = {}): ActionConfig =>
  actionConfigSchema.parse({
    id: 'save-lead',
    name: 'Save lead',
    intent: 'save the customer',
    offlineSync: true,
    hubspotAccountId: 'acme-eu',
    allowCreate: true,
    allowUpdateExisting: true,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
    ],
    ...over,
  });
const lookupNow = () => action({ id: 'lookup-now', name: 'Look up now', offlineSync: false });

/** A conversation on a clock the test moves. */
function conversation(over: Partial<ConversationSetup> = {}, workspaceBound = true) {
  const clock = { now: T0 };
  const setup: ConversationSetup = {
    conversationId: 'c-1',
    workspaceId: 'acme',
    channel: 'chat',
    actions: [action()],
    ...over,
  };
  const entity = new ConversationEntity(setup, {
    workflowId: 'acme/c-1',
    firstExecutionRunId: 'run-1',
    workspaceBound,
    now: () => clock.now,
  });
  return { entity, clock, setup };
}

const caller = { workspaceId: 'acme' };
const voiceChannel: Channel = 'voice';

/** Runs an action on the entity the way the workflow does: start, outcome, settle. */
function run(
  entity: ConversationEntity,
  config: ActionConfig,
  trigger: ActionRun['trigger'],
  result: ActionRun['result'],
  over: Partial<ActionRun> = {},
): ActionRun {
  const start = entity.runStarted(config, trigger);
  try {
    return entity.runFinished(start, { result, propertiesWritten: [], reason: `the run ${result}`, ...over });
  } finally {
    entity.runSettled();
  }
}

/** The offline sync after the end, as the workflow runs it. */
function syncOffline(entity: ConversationEntity, result: ActionRun['result'] = 'created') {
  entity.syncStarting();
  for (const a of entity.unsynced())
    run(entity, a, 'offline', result, result === 'failed' ? {} : { contactId: '101', noteId: 'n-1' });
  entity.syncDone();
}

describe('ConversationEntity', () => {
  test('sync status: pending while a text conversation with an offline action goes on, running during a run, then what the latest runs say', () => {
    const { entity } = conversation({ actions: [action(), lookupNow()] });
    assert.equal(entity.syncStatus(), 'pending');
    entity.onMessage({ ...caller, from: 'customer', fields: { email: 'jane@example.com' } });
    run(entity, lookupNow(), 'in-conversation', 'updated');
    assert.equal(entity.syncStatus(), 'pending', 'the offline action has not run yet');
    entity.end('inactivity');
    entity.syncStarting();
    const start = entity.runStarted(action(), 'offline');
    assert.equal(entity.syncStatus(), 'running');
    assert.equal(entity.state().syncStatus, 'running');
    entity.runFinished(start, {
      result: 'failed',
      propertiesWritten: [],
      reason: 'HubSpot account acme-eu rejected the token (401)',
    });
    entity.runSettled();
    entity.syncDone();
    assert.equal(entity.syncStatus(), 'failed', 'one failed latest run fails the conversation');

    const onlyInConversation = conversation({ actions: [lookupNow()] }).entity;
    assert.equal(onlyInConversation.syncStatus(), 'none');
    run(onlyInConversation, lookupNow(), 'in-conversation', 'skipped');
    assert.equal(onlyInConversation.syncStatus(), 'skipped');
    run(onlyInConversation, lookupNow(), 'in-conversation', 'note_only');
    assert.equal(onlyInConversation.syncStatus(), 'synced');
  });

  test('unsynced: nothing after the offline sync; identical values stay synced, a changed mapped value does not', () => {
    const { entity } = conversation({ fields: { email: 'jane@example.com', first_name: 'Jane' } });
    assert.deepEqual(
      entity.unsynced().map((a) => a.id),
      ['save-lead'],
      'never run: due',
    );
    syncOffline(entity);
    assert.equal(entity.status, 'ended');
    assert.deepEqual(entity.unsynced(), []);
    assert.equal(entity.syncStatus(), 'synced');

    entity.onFieldsUpdated({ ...caller, fields: { first_name: 'Jane' } });
    assert.deepEqual(entity.unsynced(), [], 'identical values cost nothing');
    entity.onFieldsUpdated({ ...caller, fields: { company: 'Acme' } });
    assert.deepEqual(entity.unsynced(), [], "an unmapped field is not the action's");
    entity.onFieldsUpdated({ ...caller, fields: { first_name: 'Janet' } });
    assert.deepEqual(
      entity.unsynced().map((a) => a.id),
      ['save-lead'],
    );
    assert.equal(entity.syncStatus(), 'pending');
    entity.onFieldsUpdated({ ...caller, summary: 'Jane asked for a demo.' });
    assert.deepEqual(
      entity.unsynced().map((a) => a.id),
      ['save-lead'],
    );
  });

  test('unsynced: a failed offline run is due again with the next values, identical ones included', () => {
    const { entity } = conversation({ fields: { email: 'jane@example.com' } });
    syncOffline(entity, 'failed');
    assert.deepEqual(entity.unsynced(), [], 'the failed run used the current values: nothing new to run it with');
    entity.onFieldsUpdated({ ...caller, fields: { email: 'jane@example.com' } });
    assert.deepEqual(
      entity.unsynced().map((a) => a.id),
      ['save-lead'],
    );
    syncOffline(entity, 'created');
    assert.deepEqual(entity.unsynced(), []);
    entity.onFieldsUpdated({ ...caller, fields: { email: 'jane@example.com' } });
    assert.deepEqual(entity.unsynced(), [], 'after a success, identical values are synced');
  });

  test('a logged Call syncs the call details given later; an action writing a note does not', () => {
    const call = action({ id: 'log-call', logAs: 'engagement' });
    const { entity } = conversation({
      channel: voiceChannel,
      actions: [action(), call],
      fields: { email: 'jane@example.com' },
    });
    entity.onCallEnded({ ...caller });
    syncOffline(entity);
    entity.onCallEnded({ ...caller, call: { direction: 'inbound', durationMs: 95_000, status: 'completed' } });
    assert.deepEqual(
      entity.unsynced().map((a) => a.id),
      ['log-call'],
    );
  });

  test('offline sync due: text, an inactivity timeout after the last message; then none once ended', () => {
    const { entity, clock } = conversation();
    assert.equal(entity.offlineSyncDueAt(), new Date(T0 + 10 * MIN).toISOString());
    clock.now = T0 + 4 * MIN;
    entity.onMessage({ ...caller, from: 'customer' });
    assert.equal(entity.offlineSyncDueAt(), new Date(T0 + 14 * MIN).toISOString());
    assert.equal(entity.untilEndMs(), 10 * MIN);
    clock.now = T0 + 9 * MIN;
    entity.onFieldsUpdated({ ...caller, fields: { first_name: 'Jane' } });
    assert.equal(
      entity.offlineSyncDueAt(),
      new Date(T0 + 14 * MIN).toISOString(),
      'values without a message restart nothing',
    );
    assert.equal(entity.untilEndMs(), 5 * MIN);
    clock.now = T0 + 14 * MIN;
    syncOffline(entity);
    assert.equal(entity.offlineSyncDueAt(), null);
    assert.equal(
      conversation({ actions: [lookupNow()] }).entity.offlineSyncDueAt(),
      null,
      'no offline action: never due',
    );
  });

  test('offline sync due: voice, only once the call ended (now), and after the end while values are unsynced', () => {
    const { entity, clock } = conversation({ channel: voiceChannel, options: { callSafetyTimeoutMs: 60 * MIN } });
    assert.equal(entity.offlineSyncDueAt(), null);
    assert.equal(entity.untilEndMs(), 60 * MIN, 'the safety timeout bounds the wait for callEnded');
    clock.now = T0 + 3 * MIN;
    assert.equal(entity.onCallEnded({ ...caller, fields: { email: 'jane@example.com' } }), undefined);
    assert.equal(entity.callEnded, true);
    assert.equal(entity.offlineSyncDueAt(), new Date(T0 + 3 * MIN).toISOString());
    entity.end('call-ended');
    syncOffline(entity);
    assert.equal(entity.offlineSyncDueAt(), null);
    clock.now = T0 + 5 * MIN;
    entity.onFieldsUpdated({ ...caller, summary: 'Jane asked for a demo.' });
    assert.equal(entity.offlineSyncDueAt(), new Date(T0 + 5 * MIN).toISOString(), 'a follow-up is due at once');
  });

  test('refused signals are recorded with why, the last 20 kept, and change nothing', () => {
    const { entity } = conversation();
    const refused = entity.onMessage({ workspaceId: 'globex', from: 'customer', fields: { email: 'x@example.com' } });
    assert.equal(refused?.message, 'message signal refused: the conversation belongs to another workspace');
    assert.equal(
      entity.onMessage({ from: 'customer' })?.message,
      'message signal refused: workspaceId: the caller must name its workspace',
    );
    assert.equal(
      entity.onMessage({ ...caller, from: 'bot' })?.message,
      'message signal refused: from: expected "customer" or "agent"',
    );
    assert.equal(
      entity.onFieldsUpdated({ ...caller })?.message,
      'fieldsUpdated signal refused: (root): give fields, a summary, or both',
    );
    assert.equal(
      entity.onCallEnded({ ...caller })?.message,
      'callEnded signal refused: the conversation is on chat, not voice',
    );
    assert.equal(entity.state().messageCount, 0);
    assert.equal(entity.activity, 0);
    for (let i = 0; i < 30; i++) entity.onFieldsUpdated({ ...caller, fields: { [`f${i}`]: 42 } });
    const { rejections } = entity.state();
    assert.equal(rejections.length, MAX_REJECTIONS);
    assert.equal(
      rejections[0]!.message,
      'fieldsUpdated signal refused: fields.f10: expected text or null',
      'the oldest go first',
    );
    assert.equal(rejections.at(-1)!.message, 'fieldsUpdated signal refused: fields.f29: expected text or null');
    assert.equal(entity.result().finalFields.f29, undefined);
  });

  test('runAction and retryAction refusals name the problem; an ended conversation takes no in-conversation run', () => {
    const { entity } = conversation({ actions: [action(), lookupNow()] });
    assert.equal(entity.runActionRefusal({ ...caller, actionId: 'lookup-now' }), undefined);
    assert.equal(
      entity.runActionRefusal({ ...caller, actionId: 'nope' }),
      'runAction refused: no action "nope" in this conversation (known: save-lead, lookup-now)',
    );
    assert.equal(
      entity.runActionRefusal({ ...caller, actionId: 'save-lead' }),
      'runAction refused: action "save-lead" runs by offline sync after the conversation ends, not on demand',
    );
    assert.equal(
      entity.runActionRefusal({ workspaceId: 'globex', actionId: 'lookup-now' }),
      'runAction refused: the conversation belongs to another workspace',
    );
    assert.equal(entity.retryActionRefusal({ ...caller, actionId: 'save-lead' }), undefined);
    assert.equal(
      entity.retryActionRefusal({ ...caller, actionId: '' }),
      'retryAction refused: actionId: expected the id of an action of this conversation',
    );
    syncOffline(entity);
    assert.equal(
      entity.runActionRefusal({ ...caller, actionId: 'lookup-now' }),
      'runAction refused: the conversation has ended',
    );
    // Before the workspace marker: a caller naming no workspace is one of that time.
    assert.equal(
      conversation({}, false).entity.runActionRefusal({ actionId: 'nope' }),
      'runAction refused: no action "nope" in this conversation (known: save-lead)',
    );
  });

  test('outcomes: the last 20 per action are kept; a run that wrote a note remembers it, a failure after it makes the next run look', () => {
    const { entity } = conversation({ actions: [lookupNow()] });
    for (let i = 0; i < 25; i++) run(entity, lookupNow(), 'in-conversation', 'updated', { reason: `run ${i}` });
    const runs = entity.state().outcomes['lookup-now']!;
    assert.equal(runs.length, MAX_OUTCOMES_PER_ACTION);
    assert.deepEqual([runs[0]!.reason, runs.at(-1)!.reason], ['run 5', 'run 24']);

    run(entity, lookupNow(), 'in-conversation', 'created', { contactId: '101', noteId: 'n-1' });
    assert.equal(entity.runStarted(lookupNow(), 'in-conversation').request.mayHaveWritten, false);
    entity.runSettled();
    run(entity, lookupNow(), 'in-conversation', 'failed');
    const next = entity.runStarted(lookupNow(), 'in-conversation');
    entity.runSettled();
    assert.equal(next.request.mayHaveWritten, true);
    assert.deepEqual(next.request.knownNoteIds, ['n-1']);
    assert.equal(next.request.conversationKey, 'acme/c-1:run-1:lookup-now');
    assert.equal(next.request.deadlineMs, T0 + DEFAULT_OPTIONS.actionTimeoutMs);
    entity.notesChanged('lookup-now', '102', 'n-2', ['n-1']);
    assert.deepEqual(entity.knownNotes('lookup-now'), [{ contactId: '102', noteId: 'n-2' }]);
  });

  test('search attributes are published when the status or the sync status changes, not otherwise', () => {
    const { entity } = conversation();
    const first = entity.publication();
    assert.ok(first);
    assert.equal(first.find((a) => a.key === StatusAttr)?.value, 'active');
    assert.equal(entity.publication(), undefined);
    entity.onMessage({ ...caller, from: 'customer' });
    assert.equal(entity.publication(), undefined);
    entity.syncStarting();
    assert.equal(entity.publication()?.find((a) => a.key === StatusAttr)?.value, 'ending');
    entity.runStarted(action(), 'offline');
    assert.equal(entity.publication()?.find((a) => a.key === SyncStatusAttr)?.value, 'running');
  });

  test('dormant: a message, new values or an unsynced action wake the conversation once; a text follow-up continues it from the new values', () => {
    const { entity, clock } = conversation({ fields: { email: 'jane@example.com' } });
    syncOffline(entity);
    assert.equal(entity.woken(), false);
    clock.now = T0 + 30 * MIN;
    entity.onFieldsUpdated({ ...caller, fields: { email: 'jane@example.com' } });
    assert.equal(entity.woken(), true, 'a change of values wakes the wait, even identical ones');
    assert.equal(entity.markWake(), false, 'no message came');
    assert.equal(entity.woken(), false);
    entity.onMessage({ ...caller, from: 'customer', fields: { first_name: 'Jane' } });
    assert.equal(entity.markWake(), true);
    assert.equal(entity.woken(), true, 'the changed value stays unsynced until it runs');
    entity.resume();
    assert.equal(entity.status, 'active');
    assert.equal(entity.offlineSyncDueAt(), new Date(T0 + 40 * MIN).toISOString());
  });

  test('retention: from the end, or later while a convergence check is due', () => {
    const { entity, clock } = conversation({ options: { retentionMs: 60 * MIN } });
    syncOffline(entity);
    clock.now = T0 + 5 * MIN;
    assert.equal(entity.retainedUntilMs(), T0 + 60 * MIN);
    const later: ConvergenceView = {
      summary: () => undefined,
      carried: () => undefined,
      lastDueAtMs: () => T0 + 90 * MIN,
    };
    assert.equal(entity.retainedUntilMs(later), T0 + 90 * MIN);
    assert.equal(entity.state(later).retainedUntil, new Date(T0 + 90 * MIN).toISOString());
  });

  test('an operator retry session counts as synced for the other actions only the values it started with', () => {
    const other = action({ id: 'other' });
    const { entity } = conversation({
      actions: [action(), other],
      fields: { email: 'jane@example.com' },
      operatorRetry: { actionId: 'save-lead' },
    });
    entity.onFieldsUpdated({ ...caller, fields: { first_name: 'Jane' } }); // arrived with the session's start
    entity.operatorRetryStarting(action(), true);
    assert.deepEqual(
      entity.unsynced().map((a) => a.id),
      ['save-lead', 'other'],
    );
    const before = conversation({ actions: [action(), other], fields: { email: 'jane@example.com' } }).entity;
    before.onFieldsUpdated({ ...caller, fields: { first_name: 'Jane' } });
    before.operatorRetryStarting(action(), false);
    assert.deepEqual(
      before.unsynced().map((a) => a.id),
      ['save-lead'],
      'histories before the marker took the late value for synced',
    );
  });

  test("a completed session's result keeps what an operator retry must run with: the conversation link and the call's details", () => {
    const call = action({ id: 'log-call', logAs: 'engagement' });
    const details = {
      direction: 'outbound' as const,
      durationMs: 95_000,
      recordingUrl: 'https://rec.example.com/1.mp3',
    };
    const url = 'https://app.example-platform.com/conversations/c-1';
    const { entity } = conversation({ channel: voiceChannel, actions: [call], conversationUrl: url });
    entity.onCallEnded({ ...caller, fields: { email: 'jane@example.com' }, call: details });
    syncOffline(entity, 'failed');
    const result = entity.result();
    assert.equal(result.conversationUrl, url);
    assert.equal(result.callEnded, true);
    assert.deepEqual(result.call, details);
    // The retry session (src/ops/operator.ts) starts from them: its run is given the same details and link.
    const retry = conversation({
      channel: voiceChannel,
      actions: [call],
      conversationUrl: result.conversationUrl,
      carried: {
        fields: result.finalFields,
        lastActivityAtMs: T0,
        messageCount: 0,
        noteIds: {},
        outcomes: result.outcomes,
        rejections: [],
        runsBefore: 1,
        startedAtMs: T0,
        callEnded: result.callEnded,
        call: result.call,
      },
      operatorRetry: { actionId: 'log-call' },
    }).entity;
    retry.operatorRetryStarting(call, true);
    const request = retry.runStarted(call, 'operator-retry').request;
    assert.deepEqual(request.call, details);
    assert.equal(request.conversationUrl, url);
  });

  test('round trip through the carried state: the next run answers as this one did, one run later', () => {
    const { entity, clock, setup } = conversation({
      channel: voiceChannel,
      actions: [action(), lookupNow()],
      conversationUrl: 'https://app.example.com/c/1',
    });
    entity.onMessage({ ...caller, from: 'customer', fields: { email: 'jane@example.com' } });
    run(entity, lookupNow(), 'in-conversation', 'created', { contactId: '101', noteId: 'n-1' });
    entity.onMessage({ ...caller, from: 'bot' });
    entity.onCallEnded({
      ...caller,
      summary: 'Jane asked for a demo.',
      call: { direction: 'outbound', durationMs: 1_000 },
    });
    entity.end('call-ended');
    clock.now = T0 + 2 * MIN;
    syncOffline(entity);
    const convergence: ConvergenceCarried = {
      contacts: {},
      counts: {
        checks: 1,
        duplicateNotesArchived: 0,
        valuesRewritten: 0,
        noteBodiesRewritten: 0,
        valuesLeftAlone: 0,
        failedChecks: 0,
      },
    };
    const summary: ConvergenceSummary = { ...convergence.counts, pending: 0, dueAt: null };
    const view: ConvergenceView = { summary: () => summary, carried: () => convergence, lastDueAtMs: () => undefined };

    const next = entity.continuation(view);
    assert.equal(next.carried?.runsBefore, 1);
    assert.deepEqual(next.carried?.convergence, convergence);
    assert.deepEqual(next.carried?.failedOffline, []);
    assert.equal(next.conversationUrl, 'https://app.example.com/c/1');
    assert.equal(
      next.options?.inactivityTimeoutMs,
      DEFAULT_OPTIONS.inactivityTimeoutMs,
      'the options are resolved once',
    );
    const copy = JSON.parse(JSON.stringify(next)) as typeof next; // what Temporal carries is JSON
    clock.now = T0 + 3 * MIN;
    const after = new ConversationEntity(
      { ...copy, actions: setup.actions },
      { workflowId: 'acme/c-1', firstExecutionRunId: 'run-2', workspaceBound: true, now: () => clock.now },
    );
    assert.deepEqual(after.state(view), { ...entity.state(view), runsBefore: 1 });
    assert.deepEqual(after.result(view), { ...entity.result(view), runsBefore: 1 });
    assert.equal(after.state().syncStatus, 'synced');
    assert.equal(after.conversationRef, 'run-1', "the notes keep the first run's name");
    assert.equal(after.callEnded, true);
    assert.deepEqual(after.knownNotes('lookup-now'), [{ contactId: '101', noteId: 'n-1' }]);
    assert.deepEqual(after.unsynced(), [], 'identical values are still synced');
    assert.equal(after.markWake(), false);
    after.onFieldsUpdated({ ...caller, summary: 'Jane asked for a demo.' });
    assert.deepEqual(after.unsynced(), []);
    after.onFieldsUpdated({ ...caller, summary: 'Jane asked for a demo on Friday.' });
    assert.deepEqual(
      after.unsynced().map((a) => a.id),
      ['save-lead'],
    );
  });

  test('a failed offline action is carried as failed: the next run cannot tell whether values came since, and runs it again', () => {
    const { entity } = conversation({ fields: { email: 'jane@example.com' } });
    syncOffline(entity, 'failed');
    assert.deepEqual(entity.unsynced(), []);
    const next = entity.carried();
    assert.deepEqual(next.failedOffline, ['save-lead']);
    const after = conversation({ carried: next }).entity;
    assert.equal(after.status, 'ended');
    assert.deepEqual(
      after.unsynced().map((a) => a.id),
      ['save-lead'],
    );
    assert.equal(after.syncStatus(), 'pending');
  });

  test('the first release carried one note id per action: known, on an unknown contact', () => {
    const carried: CarriedState = {
      fields: {},
      lastActivityAtMs: T0,
      messageCount: 0,
      noteIds: { 'save-lead': 'n-9' },
      outcomes: {},
      rejections: [],
      runsBefore: 2,
      startedAtMs: T0,
    };
    const { entity } = conversation({ carried });
    assert.deepEqual(entity.knownNotes('save-lead'), [{ contactId: '', noteId: 'n-9' }]);
    assert.equal(entity.state().runsBefore, 2);
  });

  test('the carried state is trimmed to its budget: the oldest outcomes of the longest list, then rejections; this run keeps them all', () => {
    const actions = ['a', 'b', 'c'].map((id) => action({ id, offlineSync: false }));
    const values = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`notes${i}`, 'x'.repeat(60_000)]));
    const { entity } = conversation({ actions, fields: { email: 'jane@example.com', ...values(3) } });
    const long = 'r'.repeat(15_000);
    for (const a of actions)
      for (let i = 0; i < (a.id === 'a' ? 20 : 12); i++)
        run(entity, a, 'in-conversation', 'updated', { reason: `${a.id}${i} ${long}` });
    for (let i = 0; i < 20; i++) entity.onFieldsUpdated({ ...caller, fields: { [`bad${i}`]: 1 } });
    const carried = entity.carried();
    assert.ok(utf8Length(JSON.stringify(carried)) <= CARRIED_BUDGET_BYTES);
    const counts = Object.fromEntries(Object.entries(carried.outcomes).map(([id, runs]) => [id, runs.length]));
    assert.ok(counts.a! < 20, `the longest list lost its oldest runs: ${JSON.stringify(counts)}`);
    assert.ok(counts.a! >= counts.b! - 1, 'runs go from the longest list first');
    for (const runs of Object.values(carried.outcomes))
      assert.match(runs.at(-1)!.reason, /^[abc]1[19] /, 'the newest run of each action is carried');
    assert.equal(carried.rejections.length, 20, 'outcomes go before rejections');
    assert.deepEqual(carried.fields, entity.result().finalFields, 'values are never trimmed');
    assert.equal(carried.fields.notes2?.length, 60_000);
    assert.equal(entity.state().outcomes.a!.length, 20, 'this run still answers with every outcome');

    // Outcomes alone cannot bring it under: rejections go too, never the last outcome of an action.
    const huge = conversation({ actions, fields: values(4) }).entity;
    for (const a of actions) run(huge, a, 'in-conversation', 'updated', { reason: 'r'.repeat(200_000) });
    for (let i = 0; i < 20; i++) huge.onFieldsUpdated({ ...caller, fields: { [`bad${i}`]: 1 } });
    const squeezed = huge.carried();
    assert.deepEqual(
      Object.values(squeezed.outcomes).map((runs) => runs.length),
      [1, 1, 1],
    );
    assert.deepEqual(squeezed.rejections, []);
  });
});

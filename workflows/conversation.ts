// conversationWorkflow: one per conversation. It follows the conversation through signals, decides
// when it has ended (durable timers, never a worker clock), runs the offline actions once after the
// end, answers in-conversation actions through the runAction update, and then stays dormant for the
// retention period: a repeated callEnded or identical values cost no HubSpot call, new values cause
// one follow-up sync into the same note, an operator retry runs on it. Then it completes.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  metricMeter,
  patched,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActionConfig } from '../src/action/config';
import { FailureType } from '../src/action/failures';
import { CARRIED_BUDGET_BYTES, utf8Length } from '../src/action/limits';
import { SUMMARY_FIELD } from '../src/action/names';
import {
  callEndedSignal,
  CHANNELS,
  DEFAULT_OPTIONS,
  fieldsUpdatedSignal,
  isVoice,
  messageSignal,
  retryActionUpdate,
  runActionUpdate,
  stateQuery,
  type ActionRun,
  type CallDetails,
  type CarriedState,
  type ConversationInput,
  type ConversationOptions,
  type ConversationResult,
  type ConversationState,
  type ConversationStatus,
  type EndReason,
  type FieldValues,
  type KnownNote,
  type Rejection,
  type SyncStatus,
} from '../src/platform/definitions';
import { ChannelAttr, ConversationIdAttr, HubSpotAccountsAttr, StatusAttr, SyncStatusAttr } from '../src/platform/search-attributes';
import { checkActionId, checkCallDetails, checkCallerWorkspace, checkMessageSender, checkValues, overBudget, syncFingerprint, type Values } from './checks';
import { Convergence } from './convergence';
import { runContactSync } from './run-action';

/**
 * Histories recorded by the first released version (no marker) replay on its frozen code; every new
 * conversation gets the marker and the lifecycle below.
 */
const LIFECYCLE_PATCH = 'dormant-retention-lifecycle';
/**
 * Conversations started with this marker refuse every signal, update and query that does not name
 * their workspace. Earlier histories hold signals sent before callers named one: those stay accepted.
 */
const WORKSPACE_PATCH = 'workspace-bound-handlers';
/**
 * Late values are never taken for synced: an operator retry session counts as synced only the values it
 * started with, and a value that arrives while the conversation waits for a handler at the end of its
 * retention is synced before it completes.
 */
const LATE_VALUES_PATCH = 'late-values-synced';
/**
 * Every wait starts a timer of at least 1 ms. A wait computed as already over (0 ms) starts no timer on
 * replay (the SDK's condition(fn, 0) rule for histories without its own marker), yet the same wait can
 * be computed as 3 s on a retried task that applied the same signals in a later activation (with a later
 * time): the two must issue the same commands.
 */
const POSITIVE_WAITS_PATCH = 'waits-never-zero';

/** Outcomes and rejections kept per run; older ones are in earlier runs' histories. */
const MAX_OUTCOMES_PER_ACTION = 20;
const MAX_REJECTIONS = 20;
/** Notes remembered per action (one per contact the conversation landed on). */
const MAX_NOTES_PER_ACTION = 10;

/** Action outcomes by result, account and trigger, exported with the worker's Temporal metrics (Prometheus). */
const outcomeCounter = metricMeter.createCounter('hubspot_contact_sync_outcomes', 'runs', 'Outcomes of the HubSpot contact-sync action');

export async function conversationWorkflow(input: ConversationInput): Promise<ConversationResult> {
  if (!patched(LIFECYCLE_PATCH)) {
    // Loaded only for those histories: the frozen code (and the validation library it uses) is not
    // evaluated for every conversation the worker keeps in memory.
    const { conversationWorkflowV1 } = await import(/* webpackMode: "eager" */ './legacy/conversation-v1');
    return conversationWorkflowV1(input as never);
  }
  return conversationLifecycle(input);
}

function optionsOf(given: Partial<ConversationOptions> | undefined): ConversationOptions {
  const options = { ...DEFAULT_OPTIONS };
  for (const key of Object.keys(DEFAULT_OPTIONS) as Array<keyof ConversationOptions>) {
    const v = given?.[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) options[key] = v;
  }
  return options;
}

/** Notes carried by the first released version were a note id per action, contact unknown. */
function knownNotesOf(carried: CarriedState['noteIds'] | undefined): Record<string, KnownNote[]> {
  const out: Record<string, KnownNote[]> = {};
  for (const [actionId, v] of Object.entries(carried ?? {})) out[actionId] = typeof v === 'string' ? [{ contactId: '', noteId: v }] : [...v];
  return out;
}

async function conversationLifecycle(raw: ConversationInput): Promise<ConversationResult> {
  if (typeof raw !== 'object' || raw === null || typeof raw.conversationId !== 'string' || !CHANNELS.includes(raw.channel) || !Array.isArray(raw.actions)) {
    // The platform client validates before starting, so this is a caller bypassing it: fail fast and say why.
    throw ApplicationFailure.nonRetryable('Invalid conversation input: conversationId, channel and actions are required', FailureType.InvalidConversationInput);
  }
  const input = { ...raw, actions: raw.actions as ActionConfig[] }; // the client applied the schema's defaults
  const workspaceBound = patched(WORKSPACE_PATCH);
  if (workspaceBound && !input.carried && !input.operatorRetry && (typeof input.workspaceId !== 'string' || input.workspaceId.length === 0)) {
    throw ApplicationFailure.nonRetryable('Invalid conversation input: workspaceId is required', FailureType.InvalidConversationInput);
  }
  /** Why a caller may not act on this conversation, or undefined when it may (see WORKSPACE_PATCH). */
  const foreignCaller = (raw: unknown): string | undefined => checkCallerWorkspace(raw, input.workspaceId, workspaceBound);
  const options = optionsOf(input.options);
  const waitFloorMs = patched(POSITIVE_WAITS_PATCH) ? 1 : 0;
  const carried = input.carried;
  const voice = isVoice(input.channel);
  const nowMs = () => Date.now(); // workflow time: deterministic, advanced by the server
  const iso = (ms: number) => new Date(ms).toISOString();
  const initial = checkValues({ fields: input.fields, summary: input.summary });
  const initialValues: Values = initial.ok ? initial.value : {};

  // ---- state ---------------------------------------------------------------------------------
  let fields: FieldValues = { ...(carried?.fields ?? {}), ...(initialValues.fields ?? {}) };
  let summary: string | undefined = initialValues.summary ?? carried?.summary;
  let lastActivityAtMs = carried?.lastActivityAtMs ?? nowMs();
  let messageCount = carried?.messageCount ?? 0;
  let activitySeq = 0; // bumps on every message: the resettable wait watches it
  let changeSeq = 0; // bumps on every accepted change of values
  let lastChangeAtMs = carried?.lastChangeAtMs ?? 0;
  let callEnded = carried?.callEnded ?? false;
  /** Voice: the call's details (callEnded), logged on a HubSpot Call by actions that log engagements. */
  let call: CallDetails | undefined = carried?.call;
  let endedAtMs: number | undefined = carried?.endedAtMs;
  let endReason: EndReason | null = carried?.endReason ?? null;
  let status: ConversationStatus = endedAtMs !== undefined ? 'ended' : 'active';
  const notes = knownNotesOf(carried?.noteIds);
  const outcomes: Record<string, ActionRun[]> = { ...(carried?.outcomes ?? {}) };
  const rejections: Rejection[] = [...(carried?.rejections ?? [])];
  const synced: Record<string, string> = { ...(carried?.synced ?? {}) };
  /** Offline actions whose last run failed, with the change count when it started: new signals run them again. */
  const failedAtChange: Record<string, number> = Object.fromEntries((carried?.failedOffline ?? []).map((id) => [id, -1]));
  const startedAtMs = carried?.startedAtMs ?? nowMs();
  const runsBefore = carried?.runsBefore ?? 0;
  const actionsById = new Map(input.actions.map((a) => [a.id, a]));
  const offlineActions = input.actions.filter((a) => a.offlineSync);
  /** Runs of the same action are serialised: each waits for the previous one. */
  const actionQueues = new Map<string, Promise<unknown>>();
  let runningCount = 0;
  // The note of a (conversation, action): a conversation id reused after retention is a new conversation.
  const conversationRef = carried?.conversationRef ?? workflowInfo().firstExecutionRunId;
  const conversationKey = (actionId: string) => `${workflowInfo().workflowId}:${conversationRef}:${actionId}`;
  // Checks, once HubSpot can no longer apply a write we gave up on, that it did not spoil the sync.
  const convergence = new Convergence(
    {
      conversationKey,
      running: () => runningCount > 0,
      notesChanged: (actionId, contactId, kept, archived) => {
        const known = (notes[actionId] ?? []).filter((n) => !archived.includes(n.noteId) && n.noteId !== kept);
        if (kept) known.push({ contactId, noteId: kept });
        notes[actionId] = known.slice(-MAX_NOTES_PER_ACTION);
      },
    },
    carried?.convergence,
  );

  const fingerprint = (config: ActionConfig) =>
    syncFingerprint(
      config.fieldMappings.map((m) => m.astraField).filter((f) => f !== SUMMARY_FIELD),
      fields,
      summary,
      // An action logging a Call also syncs call details that came later (no details: the fingerprint is as before).
      config.logAs === 'engagement' ? call : undefined,
    );
  /**
   * Offline actions due to run: their last offline run used other values than the current ones, or it
   * failed and values came since (identical ones included: a failed sync is not a synced one).
   */
  const unsynced = () =>
    offlineActions.filter((a) => synced[a.id] !== fingerprint(a) || (failedAtChange[a.id] !== undefined && changeSeq > failedAtChange[a.id]!));
  /** The values this run started with, before any signal: what an operator retry session's other actions had synced. */
  const startedWith = Object.fromEntries(offlineActions.map((a) => [a.id, fingerprint(a)]));

  const syncStatus = (): SyncStatus => {
    if (runningCount > 0) return 'running';
    if (status !== 'ended' && offlineActions.length > 0) return 'pending';
    if (status === 'ended' && unsynced().length > 0) return 'pending';
    const latest = Object.values(outcomes)
      .map((runs) => runs[runs.length - 1])
      .filter((r): r is ActionRun => r !== undefined);
    if (latest.length === 0) return offlineActions.length > 0 ? 'pending' : 'none';
    if (latest.some((r) => r.result === 'failed')) return 'failed';
    if (latest.every((r) => r.result === 'skipped')) return 'skipped';
    return 'synced';
  };

  const offlineSyncDueAt = (): string | null => {
    if (offlineActions.length === 0) return null;
    if (status === 'ended') return voice && unsynced().length > 0 ? iso(nowMs()) : null;
    if (voice) return callEnded ? iso(nowMs()) : null;
    return iso(lastActivityAtMs + options.inactivityTimeoutMs);
  };

  /** The end of the retention, or later while a convergence check is due. */
  const retainedUntilMs = (ended: number) => Math.max(ended + options.retentionMs, convergence.lastDueAtMs() ?? 0);

  const state = (): ConversationState => ({
    conversationId: input.conversationId,
    ...(input.workspaceId ? { workspaceId: input.workspaceId } : {}),
    channel: input.channel,
    status,
    syncStatus: syncStatus(),
    startedAt: iso(startedAtMs),
    lastMessageAt: messageCount > 0 ? iso(lastActivityAtMs) : null,
    messageCount,
    offlineSyncDueAt: offlineSyncDueAt(),
    endReason,
    retainedUntil: status === 'ended' && endedAtMs !== undefined ? iso(retainedUntilMs(endedAtMs)) : null,
    runsBefore,
    outcomes,
    rejections,
    ...(convergence.summary() ? { convergence: convergence.summary() } : {}),
  });

  // Search attributes and memo: what operators filter and read in the Web UI. No personal data.
  let published = '';
  const publish = () => {
    const current = `${status}|${syncStatus()}`;
    if (current === published) return;
    published = current;
    upsertSearchAttributes([
      { key: ConversationIdAttr, value: input.conversationId },
      { key: ChannelAttr, value: input.channel },
      { key: StatusAttr, value: status },
      { key: SyncStatusAttr, value: syncStatus() },
      { key: HubSpotAccountsAttr, value: [...new Set(input.actions.map((a) => a.hubspotAccountId))] },
    ]);
  };
  if (!carried) {
    upsertMemo({
      actions: input.actions.map((a) => `${a.name} (${a.id}, ${a.offlineSync ? 'offline sync' : 'in conversation'}, account ${a.hubspotAccountId})`),
    });
  }
  publish();

  const merge = (update: Values) => {
    if (update.fields) fields = { ...fields, ...update.fields };
    if (update.summary !== undefined) summary = update.summary;
    changeSeq++;
    lastChangeAtMs = nowMs();
  };

  /** Records a refused signal (the last MAX_REJECTIONS are kept); the workflow goes on. */
  const refuse = (kind: Rejection['kind'], reason: string) => {
    rejections.push({ at: iso(nowMs()), kind, message: `${kind} signal refused: ${reason}` });
    if (rejections.length > MAX_REJECTIONS) rejections.splice(0, rejections.length - MAX_REJECTIONS);
    log.warn('Refused an invalid signal', { kind });
  };
  /** The values of a signal, or undefined when refused (recorded). */
  const accept = (kind: Rejection['kind'], raw: unknown): Values | undefined => {
    const checked = checkValues(raw);
    if (!checked.ok) return void refuse(kind, checked.reason);
    const overflow = overBudget(fields, checked.value.fields);
    if (overflow) return void refuse(kind, overflow);
    return checked.value;
  };

  const record = (run: ActionRun, accountLabel: string) => {
    const list = (outcomes[run.actionId] ??= []);
    list.push(run);
    if (list.length > MAX_OUTCOMES_PER_ACTION) list.splice(0, list.length - MAX_OUTCOMES_PER_ACTION);
    if (run.noteId && run.contactId) {
      const known = (notes[run.actionId] ?? []).filter((n) => n.noteId !== run.noteId);
      known.push({ contactId: run.contactId, noteId: run.noteId });
      notes[run.actionId] = known.slice(-MAX_NOTES_PER_ACTION);
    }
    outcomeCounter.add(1, { result: run.result, hubspot_account: accountLabel, trigger: run.trigger });
    log.info('Action finished', { actionId: run.actionId, trigger: run.trigger, result: run.result, contactId: run.contactId, noteId: run.noteId });
  };

  /** A run of this action failed after the last one that wrote its note: a note it wrote may be unknown to us. */
  const failedSinceLastNote = (actionId: string): boolean => {
    const list = outcomes[actionId] ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.noteId) return false;
      if (list[i]!.result === 'failed') return true;
    }
    return false;
  };

  /** deadlineMs: an in-conversation run's budget ends then, counted from when the agent asked (a queued run waits within it). */
  const runAction = (config: ActionConfig, trigger: ActionRun['trigger'], deadlineMs?: number): Promise<ActionRun> => {
    const previous = actionQueues.get(config.id) ?? Promise.resolve();
    const run = previous.then(async () => {
      runningCount++;
      publish();
      try {
        const at = nowMs();
        const used = fingerprint(config);
        const changesAtStart = changeSeq;
        const { accountLabel, sent, ...outcome } = await runContactSync({
          config,
          workspaceId: input.workspaceId,
          fields,
          summary,
          conversationKey: conversationKey(config.id),
          knownNoteIds: (notes[config.id] ?? []).map((n) => n.noteId),
          mayHaveWritten: failedSinceLastNote(config.id),
          timestamp: iso(at),
          channel: input.channel,
          ...(call ? { call } : {}),
          ...(input.conversationUrl ? { conversationUrl: input.conversationUrl } : {}),
          mode: trigger === 'in-conversation' ? 'in-conversation' : 'offline',
          deadlineMs: trigger === 'in-conversation' ? (deadlineMs ?? at + options.actionTimeoutMs) : undefined,
          retryWindowMs: options.offlineRetryWindowMs,
        });
        const result: ActionRun = { ...outcome, actionId: config.id, trigger, at: iso(at) };
        if (config.offlineSync && trigger !== 'in-conversation') {
          synced[config.id] = used;
          if (result.result === 'failed') failedAtChange[config.id] = changesAtStart;
          else delete failedAtChange[config.id];
        }
        record(result, accountLabel);
        convergence.recorded(config.id, sent);
        return result;
      } finally {
        runningCount--;
        convergence.settled();
        publish();
      }
    });
    // The queue only orders runs; a failure of one never blocks the next.
    actionQueues.set(config.id, run.catch(() => undefined));
    return run;
  };

  // ---- handlers --------------------------------------------------------------------------------
  // Signals never throw: an invalid one is recorded as rejected and the workflow goes on.
  setHandler(messageSignal, (raw) => {
    const foreign = foreignCaller(raw);
    if (foreign) return refuse('message', foreign);
    const from = checkMessageSender(raw);
    if (!from.ok) return refuse('message', from.reason);
    const values = accept('message', raw);
    if (!values) return;
    merge(values);
    messageCount++;
    lastActivityAtMs = nowMs();
    activitySeq++;
  });
  setHandler(fieldsUpdatedSignal, (raw) => {
    const foreign = foreignCaller(raw);
    if (foreign) return refuse('fieldsUpdated', foreign);
    const values = accept('fieldsUpdated', raw);
    if (!values) return;
    if (values.fields === undefined && values.summary === undefined) return refuse('fieldsUpdated', '(root): give fields, a summary, or both');
    merge(values);
  });
  setHandler(callEndedSignal, (raw) => {
    const foreign = foreignCaller(raw);
    if (foreign) return refuse('callEnded', foreign);
    const values = accept('callEnded', raw);
    if (!values) return;
    // A text conversation has no call: the signal and its values are refused as a whole.
    if (!voice) return refuse('callEnded', `the conversation is on ${input.channel}, not voice`);
    const details = checkCallDetails(raw);
    if (!details.ok) return refuse('callEnded', details.reason);
    merge(values);
    if (details.value) call = details.value;
    callEnded = true;
  });
  setHandler(
    runActionUpdate,
    async (request) => {
      const values = checkValues(request); // the validator accepted it
      if (values.ok && (values.value.fields || values.value.summary !== undefined)) merge(values.value);
      return runAction(actionsById.get(request.actionId)!, 'in-conversation', nowMs() + options.actionTimeoutMs);
    },
    {
      // The validator refuses before anything is written to history.
      validator: (raw) => {
        const foreign = foreignCaller(raw);
        if (foreign) throw new Error(`runAction refused: ${foreign}`);
        const id = checkActionId(raw);
        if (!id.ok) throw new Error(`runAction refused: ${id.reason}`);
        const action = actionsById.get(id.value);
        if (!action) throw new Error(`runAction refused: no action "${id.value}" in this conversation (known: ${[...actionsById.keys()].join(', ') || 'none'})`);
        if (action.offlineSync) throw new Error(`runAction refused: action "${action.id}" runs by offline sync after the conversation ends, not on demand`);
        const values = checkValues(raw);
        if (!values.ok) throw new Error(`runAction refused: ${values.reason}`);
        const overflow = overBudget(fields, values.value.fields);
        if (overflow) throw new Error(`runAction refused: ${overflow}`);
        if (status !== 'active') throw new Error('runAction refused: the conversation has ended');
      },
    },
  );
  setHandler(retryActionUpdate, async (request) => runAction(actionsById.get(request.actionId)!, 'operator-retry'), {
    validator: (raw) => {
      const foreign = foreignCaller(raw);
      if (foreign) throw new Error(`retryAction refused: ${foreign}`);
      const id = checkActionId(raw);
      if (!id.ok) throw new Error(`retryAction refused: ${id.reason}`);
      if (!actionsById.has(id.value)) throw new Error(`retryAction refused: no action "${id.value}" in this conversation (known: ${[...actionsById.keys()].join(', ') || 'none'})`);
    },
  });
  setHandler(stateQuery, (caller) => {
    const foreign = foreignCaller(caller);
    if (foreign) throw new Error(`state refused: ${foreign}`);
    return state();
  });

  /** Continues as new, carrying what matters, trimmed to the carried-state budget. */
  const carryOver = async (): Promise<never> => {
    // A convergence check under way finishes first; one that is only due is carried, with its time.
    if (convergence.busy()) await condition(() => !convergence.busy());
    const next: CarriedState = {
      fields,
      summary,
      lastActivityAtMs,
      messageCount,
      noteIds: notes,
      outcomes,
      rejections,
      runsBefore: runsBefore + 1,
      startedAtMs,
      synced,
      failedOffline: Object.keys(failedAtChange),
      lastChangeAtMs,
      conversationRef,
      ...(convergence.carried() ? { convergence: convergence.carried() } : {}),
      ...(callEnded ? { callEnded: true } : {}),
      ...(call ? { call } : {}),
      ...(endedAtMs !== undefined ? { endedAtMs } : {}),
      ...(endReason ? { endReason } : {}),
    };
    // Oldest outcomes, then rejections, go first when the carried state would outgrow its budget.
    while (utf8Length(JSON.stringify(next)) > CARRIED_BUDGET_BYTES) {
      const longest = Object.values(next.outcomes).sort((a, b) => b.length - a.length)[0];
      if (longest && longest.length > 1) longest.shift();
      else if (next.rejections.length > 0) next.rejections.shift();
      else break;
    }
    return continueAsNew<typeof conversationWorkflow>({
      conversationId: input.conversationId,
      channel: input.channel,
      ...(input.workspaceId ? { workspaceId: input.workspaceId } : {}),
      ...(input.conversationUrl ? { conversationUrl: input.conversationUrl } : {}),
      actions: input.actions,
      options,
      carried: next,
    });
  };
  const continueAsNewDue = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= options.historyEventsBeforeContinueAsNew;

  const result = (): ConversationResult => ({
    ...state(),
    actions: input.actions,
    options,
    finalFields: fields,
    finalSummary: summary,
    conversationRef,
    ...(input.workspaceId ? { workspaceId: input.workspaceId } : {}),
  });

  // What the dormant wait compares with: taken when a sync starts and at each wake, never when the wait
  // begins. A signal that arrives with the sync's last activity result may be applied before or after
  // that result (the SDK orders the jobs of one activation its own way, and not always the same way on
  // a retried task); the wait must issue the same commands in both orders.
  let sinceActivity = activitySeq;
  let sinceChange = changeSeq;

  /** Runs the offline actions whose values changed since their last offline run (all of them, the first time). */
  const syncOffline = async () => {
    sinceActivity = activitySeq;
    sinceChange = changeSeq;
    status = 'ending';
    publish();
    await Promise.all(unsynced().map((a) => runAction(a, 'offline')));
    await condition(allHandlersFinished);
    endedAtMs = nowMs();
    status = 'ended';
    publish();
  };

  if (input.operatorRetry) {
    // An operator retries an action of a conversation whose workflow had completed: run it with the
    // values given, then stay dormant like any ended conversation (messages that arrive are kept).
    const config = actionsById.get(input.operatorRetry.actionId);
    if (!config) throw ApplicationFailure.nonRetryable(`No action "${input.operatorRetry.actionId}" to retry in this conversation`, FailureType.UnknownAction);
    status = 'ending';
    // The conversation's other offline actions ran before it completed, with the values this session
    // started with: only the retried one runs. A value that arrived since (with the session's start) is
    // not theirs yet: the dormant wait below syncs it.
    const late = patched(LATE_VALUES_PATCH);
    for (const a of offlineActions) if (a.id !== config.id) synced[a.id] = late ? startedWith[a.id]! : fingerprint(a);
    await runAction(config, 'operator-retry');
    endedAtMs = nowMs();
    status = 'ended';
    publish();
  }

  for (;;) {
    if (status === 'active') {
      // ---- waiting for the end -------------------------------------------------------------------
      const seenSeq = activitySeq;
      if (voice) {
        // The call ends on its signal; the safety timeout covers a signal that never comes.
        const waitMs = Math.max(waitFloorMs, lastActivityAtMs + options.callSafetyTimeoutMs - nowMs());
        const woke = await condition(() => callEnded || activitySeq !== seenSeq || continueAsNewDue(), waitMs);
        if (callEnded) endReason = 'call-ended';
        else if (!woke) endReason = 'call-safety-timeout';
        else if (continueAsNewDue()) {
          await condition(allHandlersFinished);
          if (!callEnded) return carryOver();
          continue;
        } else continue;
      } else {
        // Text: the conversation ends after a full inactivity timeout with no message; each message restarts the wait.
        const waitMs = Math.max(waitFloorMs, lastActivityAtMs + options.inactivityTimeoutMs - nowMs());
        const woke = await condition(() => activitySeq !== seenSeq || continueAsNewDue(), waitMs);
        if (woke) {
          if (continueAsNewDue()) {
            await condition(allHandlersFinished);
            return carryOver();
          }
          continue;
        }
        endReason = 'inactivity';
      }
      log.info('Conversation ended', { endReason, offlineActions: offlineActions.length });
      await syncOffline();
      continue;
    }

    // ---- dormant: kept for the retention period ---------------------------------------------------
    // Values that arrived while the sync ran, or since, are a follow-up; anything else waits. The wait
    // always starts its timer, even when it is over at once, so that the order in which such values and
    // the sync's end were applied never changes the workflow's commands.
    // A convergence check due later than the retention keeps the conversation until it is done.
    const retainUntil = retainedUntilMs(endedAtMs ?? nowMs());
    const wake = () => activitySeq !== sinceActivity || changeSeq !== sinceChange || unsynced().length > 0 || continueAsNewDue();
    const woke = await condition(wake, Math.max(waitFloorMs, retainUntil - nowMs()));
    if (!woke) {
      if (convergence.pending()) {
        await condition(() => !convergence.pending() || wake());
        continue;
      }
      if (!allHandlersFinished()) {
        // An operator retry is still running: values that arrive meanwhile are synced, not dropped.
        await condition(allHandlersFinished);
        if (wake() && patched(LATE_VALUES_PATCH)) continue;
      }
      break;
    }
    if (continueAsNewDue()) {
      await condition(allHandlersFinished);
      return carryOver();
    }
    const messaged = activitySeq !== sinceActivity;
    sinceActivity = activitySeq;
    sinceChange = changeSeq;
    if (unsynced().length === 0 && !messaged) continue; // a duplicate, or identical values: nothing to do
    if (voice) {
      // The call is over: new values are synced at once, into the same contact and note.
      log.info('New values after the end: follow-up sync');
      await syncOffline();
    } else {
      // Text: the conversation goes on; it ends again after its own inactivity wait.
      lastActivityAtMs = Math.max(lastActivityAtMs, lastChangeAtMs);
      status = 'active';
      publish();
    }
  }

  await condition(allHandlersFinished);
  publish();
  return result();
}

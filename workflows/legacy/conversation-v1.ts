// The first released conversation workflow, frozen so that histories it recorded still replay: a
// conversation started before the dormant-retention lifecycle (workflows/conversation.ts) finishes its
// current run here and continues as new on the current code. Only patched() changes are allowed.
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
import type { z } from 'zod';
import {
  callEndedSignal,
  fieldsUpdatedSignal,
  messageSignal,
  retryActionUpdate,
  runActionUpdate,
  stateQuery,
  type ActionRun,
  type ConversationResult,
  type ConversationState,
  type ConversationStatus,
  type Rejection,
  type SyncStatus,
} from '../../src/platform/contract';
import {
  callEndedSchema,
  conversationInputSchema,
  conversationOptionsSchema,
  describeZodError,
  MAX_FIELDS,
  fieldsUpdatedSchema,
  isVoice,
  messageSchema,
  retryActionSchema,
  runActionSchema,
  type ConversationInput,
  type FieldValues,
} from './contract-v1';
import type { ActionConfig } from '../../src/action/config';
import {
  ChannelAttr,
  ConversationIdAttr,
  HubSpotAccountsAttr,
  StatusAttr,
  SyncStatusAttr,
} from '../../src/platform/search-attributes';
import { runContactSyncV1 } from './run-action-v1';

/** Marks histories where values that arrived during the offline sync open a new session. */
const LATE_VALUES_PATCH = 'late-values-open-a-session';
/**
 * Marks histories where a callEnded on a text channel is refused whole. Before it, its values were
 * merged (and a rejection recorded); histories of that time replay only with that behaviour.
 */
const TEXT_CALL_ENDED_PATCH = 'text-call-ended-refused-whole';

/** Outcomes and rejections kept per run; older ones are in earlier runs' histories. */
const MAX_OUTCOMES_PER_ACTION = 20;
const MAX_REJECTIONS = 20;

/** Action outcomes by result, account and trigger, exported with the worker's Temporal metrics (Prometheus). */
const outcomeCounter = metricMeter.createCounter(
  'hubspot_contact_sync_outcomes',
  'runs',
  'Outcomes of the HubSpot contact-sync action',
);

export async function conversationWorkflowV1(rawInput: ConversationInput): Promise<ConversationResult> {
  const parsedInput = conversationInputSchema.safeParse(rawInput);
  if (!parsedInput.success) {
    // The platform client validates before starting, so this is a caller bypassing it: fail fast and say why.
    throw ApplicationFailure.nonRetryable(
      `Invalid conversation input: ${describeZodError(parsedInput.error)}`,
      'InvalidConversationInput',
    );
  }
  const input = parsedInput.data;
  const options = conversationOptionsSchema.parse(input.options ?? {});
  const carried = input.carried;
  const voice = isVoice(input.channel);
  const nowMs = () => Date.now(); // workflow time: deterministic, advanced by the server
  const iso = (ms: number) => new Date(ms).toISOString();

  // ---- state ---------------------------------------------------------------------------------
  let fields: FieldValues = { ...(carried?.fields ?? {}), ...(input.fields ?? {}) };
  let summary: string | undefined = input.summary ?? carried?.summary;
  let lastActivityAtMs = carried?.lastActivityAtMs ?? nowMs();
  let messageCount = carried?.messageCount ?? 0;
  let activitySeq = 0; // bumps on every message: the resettable wait watches it
  let changeSeq = 0; // bumps on every accepted signal: values that arrive while ending are not lost
  let callEnded = carried?.callEnded ?? false;
  let status: ConversationStatus = 'active';
  let endReason: ConversationState['endReason'] = null;
  const noteIds: Record<string, string> = { ...(carried?.noteIds ?? {}) };
  const outcomes: Record<string, ActionRun[]> = { ...((carried?.outcomes as Record<string, ActionRun[]>) ?? {}) };
  const rejections: Rejection[] = [...((carried?.rejections as Rejection[]) ?? [])];
  const startedAtMs = carried?.startedAtMs ?? nowMs();
  const runsBefore = carried?.runsBefore ?? 0;
  const actionsById = new Map(input.actions.map((a) => [a.id, a]));
  const offlineActions = input.actions.filter((a) => a.offlineSync);
  /** Runs of the same action are serialised: each waits for the previous one. */
  const actionQueues = new Map<string, Promise<unknown>>();
  let pendingOffline = false;
  let runningCount = 0;

  const syncStatus = (): SyncStatus => {
    if (runningCount > 0) return 'running';
    if (pendingOffline) return 'pending';
    const latest = Object.values(outcomes)
      .map((runs) => runs[runs.length - 1])
      .filter((r): r is ActionRun => r !== undefined);
    if (latest.length === 0) return offlineActions.length > 0 ? 'pending' : 'none';
    if (latest.some((r) => r.result === 'failed')) return 'failed';
    if (latest.every((r) => r.result === 'skipped')) return 'skipped';
    return 'synced';
  };

  const offlineSyncDueAt = (): string | null => {
    if (offlineActions.length === 0 || status === 'ended') return null;
    if (voice) return callEnded ? iso(nowMs()) : null;
    return iso(lastActivityAtMs + options.inactivityTimeoutMs);
  };

  const state = (): ConversationState => ({
    conversationId: input.conversationId,
    channel: input.channel,
    status,
    syncStatus: syncStatus(),
    startedAt: iso(startedAtMs),
    lastMessageAt: messageCount > 0 ? iso(lastActivityAtMs) : null,
    messageCount,
    offlineSyncDueAt: offlineSyncDueAt(),
    endReason,
    runsBefore,
    outcomes,
    rejections,
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
  upsertMemo({
    actions: input.actions.map(
      (a) =>
        `${a.name} (${a.id}, ${a.offlineSync ? 'offline sync' : 'in conversation'}, account ${a.hubspotAccountId})`,
    ),
  });
  publish();

  const merge = (update: { fields?: FieldValues; summary?: string }) => {
    if (update.fields) fields = { ...fields, ...update.fields };
    if (update.summary !== undefined) summary = update.summary;
  };

  /** Records a refused signal (the last MAX_REJECTIONS are kept); the workflow goes on. */
  const refuse = (kind: Rejection['kind'], reason: string) => {
    rejections.push({ at: iso(nowMs()), kind, message: `${kind} signal refused: ${reason}` });
    if (rejections.length > MAX_REJECTIONS) rejections.splice(0, rejections.length - MAX_REJECTIONS);
    log.warn('Refused an invalid signal', { kind });
  };
  const reject = (kind: Rejection['kind'], error: z.ZodError) => refuse(kind, describeZodError(error));
  /** Why an update would take the conversation past MAX_FIELDS distinct fields, if it would. */
  const tooManyFields = (update: { fields?: FieldValues }): string | undefined => {
    if (!update.fields) return undefined;
    const total = new Set([...Object.keys(fields), ...Object.keys(update.fields)]).size;
    return total > MAX_FIELDS
      ? `fields: this would bring the conversation to ${total} distinct fields; at most ${MAX_FIELDS}`
      : undefined;
  };

  const record = (run: ActionRun) => {
    const list = (outcomes[run.actionId] ??= []);
    list.push(run);
    if (list.length > MAX_OUTCOMES_PER_ACTION) list.splice(0, list.length - MAX_OUTCOMES_PER_ACTION);
    if (run.noteId) noteIds[run.actionId] = run.noteId;
    outcomeCounter.add(1, {
      result: run.result,
      hubspot_account: actionsById.get(run.actionId)?.hubspotAccountId ?? 'unknown',
      trigger: run.trigger,
    });
    log.info('Action finished', {
      actionId: run.actionId,
      trigger: run.trigger,
      result: run.result,
      contactId: run.contactId,
      noteId: run.noteId,
    });
  };

  const runAction = (config: ActionConfig, trigger: ActionRun['trigger']): Promise<ActionRun> => {
    const previous = actionQueues.get(config.id) ?? Promise.resolve();
    const run = previous.then(async () => {
      runningCount++;
      publish();
      try {
        const at = nowMs();
        const outcome = await runContactSyncV1({
          config,
          fields,
          summary,
          conversationKey: `${workflowInfo().workflowId}:${config.id}`,
          noteId: noteIds[config.id],
          timestamp: iso(at),
          mode: trigger === 'in-conversation' ? 'in-conversation' : 'offline',
          retryWindowMs: trigger === 'in-conversation' ? options.actionTimeoutMs : options.offlineRetryWindowMs,
        });
        const result: ActionRun = { ...outcome, actionId: config.id, trigger, at: iso(at) };
        record(result);
        return result;
      } finally {
        runningCount--;
        publish();
      }
    });
    // The queue only orders runs; a failure of one never blocks the next.
    actionQueues.set(
      config.id,
      run.catch(() => undefined),
    );
    return run;
  };

  // ---- handlers --------------------------------------------------------------------------------
  // Signals never throw: an invalid one is recorded as rejected and the workflow goes on.
  setHandler(messageSignal, (raw) => {
    const parsed = messageSchema.safeParse(raw);
    if (!parsed.success) return reject('message', parsed.error);
    const overflow = tooManyFields(parsed.data);
    if (overflow) return refuse('message', overflow);
    merge(parsed.data);
    messageCount++;
    lastActivityAtMs = nowMs();
    activitySeq++;
    changeSeq++;
  });
  setHandler(fieldsUpdatedSignal, (raw) => {
    const parsed = fieldsUpdatedSchema.safeParse(raw);
    if (!parsed.success) return reject('fieldsUpdated', parsed.error);
    const overflow = tooManyFields(parsed.data);
    if (overflow) return refuse('fieldsUpdated', overflow);
    merge(parsed.data);
    changeSeq++;
  });
  setHandler(callEndedSignal, (raw) => {
    const parsed = callEndedSchema.safeParse(raw ?? {});
    if (!parsed.success) return reject('callEnded', parsed.error);
    if (!voice) {
      // A text conversation has no call: the signal and its values are refused as a whole.
      if (patched(TEXT_CALL_ENDED_PATCH))
        return refuse('callEnded', `the conversation is on ${input.channel}, not voice`);
      merge(parsed.data);
      rejections.push({
        at: iso(nowMs()),
        kind: 'callEnded',
        message: `callEnded signal refused: the conversation is on ${input.channel}, not voice`,
      });
      return;
    }
    const overflow = tooManyFields(parsed.data);
    if (overflow) return refuse('callEnded', overflow);
    merge(parsed.data);
    changeSeq++;
    callEnded = true;
  });
  setHandler(
    runActionUpdate,
    async (request) => {
      merge(request);
      return runAction(actionsById.get(request.actionId)!, 'in-conversation');
    },
    {
      // The validator refuses before anything is written to history.
      validator: (raw) => {
        const parsed = runActionSchema.safeParse(raw);
        if (!parsed.success) throw new Error(`runAction refused: ${describeZodError(parsed.error)}`);
        const action = actionsById.get(parsed.data.actionId);
        if (!action) {
          throw new Error(
            `runAction refused: no action "${parsed.data.actionId}" in this conversation (known: ${[...actionsById.keys()].join(', ') || 'none'})`,
          );
        }
        if (action.offlineSync) {
          throw new Error(
            `runAction refused: action "${action.id}" runs by offline sync after the conversation ends, not on demand`,
          );
        }
        const overflow = tooManyFields(parsed.data);
        if (overflow) throw new Error(`runAction refused: ${overflow}`);
        if (status !== 'active') throw new Error('runAction refused: the conversation has ended');
      },
    },
  );
  setHandler(retryActionUpdate, async (request) => runAction(actionsById.get(request.actionId)!, 'operator-retry'), {
    validator: (raw) => {
      const parsed = retryActionSchema.safeParse(raw);
      if (!parsed.success) throw new Error(`retryAction refused: ${describeZodError(parsed.error)}`);
      if (!actionsById.has(parsed.data.actionId)) {
        throw new Error(
          `retryAction refused: no action "${parsed.data.actionId}" in this conversation (known: ${[...actionsById.keys()].join(', ') || 'none'})`,
        );
      }
      if (status === 'ended') throw new Error('retryAction refused: this session has ended; retry starts a new one');
    },
  });
  setHandler(stateQuery, state);

  const result = (): ConversationResult => ({
    ...state(),
    actions: input.actions,
    options: options as ConversationResult['options'],
    finalFields: fields,
    finalSummary: summary,
  });

  if (input.operatorRetry) {
    // An operator retries a failed action of a finished conversation: run it once, with the values given, and end.
    const config = actionsById.get(input.operatorRetry.actionId);
    if (!config)
      throw ApplicationFailure.nonRetryable(
        `No action "${input.operatorRetry.actionId}" to retry in this conversation`,
        'UnknownAction',
      );
    status = 'ending';
    await runAction(config, 'operator-retry');
    await condition(allHandlersFinished);
    status = 'ended';
    publish();
    return result();
  }

  /** Continues as new, carrying what matters: values, note ids, outcomes, rejections. */
  const carryOver = (): Promise<never> =>
    continueAsNew<typeof conversationWorkflowV1>({
      conversationId: input.conversationId,
      channel: input.channel,
      actions: input.actions,
      options,
      carried: {
        fields,
        summary,
        lastActivityAtMs,
        messageCount,
        noteIds,
        outcomes,
        rejections,
        runsBefore: runsBefore + 1,
        startedAtMs,
        ...(voice && callEnded ? { callEnded: true } : {}),
      },
    });

  // ---- waiting for the end -------------------------------------------------------------------
  const continueAsNewDue = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= options.historyEventsBeforeContinueAsNew;

  for (;;) {
    if (voice) {
      // The call ends on its signal; the safety timeout covers a signal that never comes.
      const seenSeq = activitySeq;
      const waitMs = Math.max(0, lastActivityAtMs + options.callSafetyTimeoutMs - nowMs());
      const ended = await condition(() => callEnded || activitySeq !== seenSeq || continueAsNewDue(), waitMs);
      if (callEnded) {
        endReason = 'call-ended';
        break;
      }
      if (!ended) {
        endReason = 'call-safety-timeout';
        break;
      }
    } else {
      // Text: the conversation ends after a full inactivity timeout with no message; each message restarts the wait.
      const seenSeq = activitySeq;
      const waitMs = Math.max(0, lastActivityAtMs + options.inactivityTimeoutMs - nowMs());
      const woke = await condition(() => activitySeq !== seenSeq || continueAsNewDue(), waitMs);
      if (!woke) {
        endReason = 'inactivity';
        break;
      }
    }
    if (continueAsNewDue()) {
      // Let running handlers finish so nothing is lost, then carry what matters into a fresh history.
      await condition(allHandlersFinished);
      if (voice ? callEnded : false) continue;
      return carryOver();
    }
  }

  // ---- after the end: offline actions run once, with the final values ----------------------------
  status = 'ending';
  pendingOffline = offlineActions.length > 0;
  publish();
  log.info('Conversation ended', { endReason, offlineActions: offlineActions.length });
  pendingOffline = false;
  const changesAtEnd = changeSeq;
  await Promise.all(offlineActions.map((a) => runAction(a, 'offline')));
  await condition(allHandlersFinished);
  if (changeSeq !== changesAtEnd && offlineActions.length > 0 && patched(LATE_VALUES_PATCH)) {
    // Messages or values arrived while the offline actions ran, too late for them: a new session of the
    // conversation takes them (text: after its own inactivity wait; voice: at once) and updates the
    // same contact and note. Nothing the platform sent is dropped.
    log.info('Values arrived while the conversation was ending: a new session will sync them');
    return carryOver();
  }
  status = 'ended';
  publish();
  return result();
}

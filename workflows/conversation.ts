// conversationWorkflow: one per conversation. It follows the conversation through signals, decides
// when it has ended (durable timers, never a worker clock), runs the offline actions once after the
// end, answers in-conversation actions through the runAction update, and then stays dormant for the
// retention period: a repeated callEnded or identical values cost no HubSpot call, new values cause
// one follow-up sync into the same note, an operator retry runs on it. Then it completes.
// The conversation's state and what follows from it (sync status, what is unsynced, the state query's
// answer, the carried state) are a ConversationEntity (conversation-state.ts); this function holds the
// handlers, the waits, the runs and every workflow call, in the order the recorded histories replay.
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  log,
  metricMeter,
  patched,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActionConfig } from '../src/action/config';
import { FailureType } from '../src/action/failures';
import { END_TO_SYNCED } from '../src/action/metrics';
import {
  callEndedSignal,
  CHANNELS,
  fieldsUpdatedSignal,
  messageSignal,
  retryActionUpdate,
  runActionUpdate,
  stateQuery,
  type ActionRun,
  type ConversationInput,
  type ConversationResult,
  type Rejection,
} from '../src/platform/definitions';
import { Convergence } from './convergence';
import { ConversationEntity } from './conversation-state';
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
/**
 * The dormant wait keeps one durable timer per end of retention, however often it wakes for nothing (a
 * repeated callEnded, identical values). Before it, each wake started a timer of its own, and how many
 * wakes there were depended on whether such a signal was applied with the sync's result or after it:
 * live and replay could disagree (a timer id one apart), and the conversation's workflow task failed on
 * every attempt.
 */
const ONE_RETENTION_TIMER_PATCH = 'one-retention-timer';

/** Action outcomes by result, account and trigger, exported with the worker's Temporal metrics (Prometheus). */
const outcomeCounter = metricMeter.createCounter(
  'hubspot_contact_sync_outcomes',
  'runs',
  'Outcomes of the HubSpot contact-sync action',
);
/** From an offline sync being due (the end; a voice follow-up's values) to each of its outcomes in HubSpot. Not recorded on replay. */
const endToSynced = metricMeter.createHistogram(
  END_TO_SYNCED,
  'int',
  'ms',
  'From the end of a conversation to its offline sync done in HubSpot',
);

export async function conversationWorkflow(input: ConversationInput): Promise<ConversationResult> {
  if (!patched(LIFECYCLE_PATCH)) {
    // Loaded only for those histories: the frozen code (and the validation library it uses) is not
    // evaluated for every conversation the worker keeps in memory.
    const { conversationWorkflowV1 } = await import(/* webpackMode: "eager" */ './legacy/conversation-v1');
    return conversationWorkflowV1(input as never);
  }
  return conversationLifecycle(input);
}

async function conversationLifecycle(raw: ConversationInput): Promise<ConversationResult> {
  if (
    typeof raw !== 'object' ||
    raw === null ||
    typeof raw.conversationId !== 'string' ||
    !CHANNELS.includes(raw.channel) ||
    !Array.isArray(raw.actions)
  ) {
    // The platform client validates before starting, so this is a caller bypassing it: fail fast and say why.
    throw ApplicationFailure.nonRetryable(
      'Invalid conversation input: conversationId, channel and actions are required',
      FailureType.InvalidConversationInput,
    );
  }
  const input = { ...raw, actions: raw.actions as ActionConfig[] }; // the client applied the schema's defaults
  const workspaceBound = patched(WORKSPACE_PATCH);
  if (
    workspaceBound &&
    !input.carried &&
    !input.operatorRetry &&
    (typeof input.workspaceId !== 'string' || input.workspaceId.length === 0)
  ) {
    throw ApplicationFailure.nonRetryable(
      'Invalid conversation input: workspaceId is required',
      FailureType.InvalidConversationInput,
    );
  }
  const waitFloorMs = patched(POSITIVE_WAITS_PATCH) ? 1 : 0;
  const { workflowId, firstExecutionRunId } = workflowInfo();
  const conversation = new ConversationEntity(input, { workflowId, firstExecutionRunId, workspaceBound });
  const { options, voice } = conversation;
  /** Runs of the same action are serialised: each waits for the previous one. */
  const actionQueues = new Map<string, Promise<unknown>>();
  /** When the current offline sync became due (workflow time): the end-to-synced histogram counts from it. */
  let syncDueAtMs = 0;
  // Checks, once HubSpot can no longer apply a write we gave up on, that it did not spoil the sync.
  const convergence = new Convergence(
    {
      conversationKey: (actionId) => conversation.conversationKey(actionId),
      running: () => conversation.running,
      notesChanged: (actionId, contactId, kept, archived) =>
        conversation.notesChanged(actionId, contactId, kept, archived),
      receipt: () => ({ workspaceId: input.workspaceId, conversationId: input.conversationId }),
    },
    input.carried?.convergence,
  );

  // Search attributes and memo: what operators filter and read in the Web UI. No personal data.
  const publish = () => {
    const changed = conversation.publication();
    if (changed) upsertSearchAttributes(changed);
  };
  if (!input.carried) upsertMemo(conversation.memo());
  publish();

  /** deadlineMs: an in-conversation run's budget ends then, counted from when the agent asked (a queued run waits within it). */
  const runAction = (config: ActionConfig, trigger: ActionRun['trigger'], deadlineMs?: number): Promise<ActionRun> => {
    const previous = actionQueues.get(config.id) ?? Promise.resolve();
    const run = previous.then(async () => {
      const start = conversation.runStarted(config, trigger, deadlineMs);
      publish();
      try {
        const { accountLabel, sent, ...outcome } = await runContactSync(start.request);
        const result = conversation.runFinished(start, outcome);
        outcomeCounter.add(1, { result: result.result, hubspot_account: accountLabel, trigger: result.trigger });
        if (trigger === 'offline' && result.result !== 'failed')
          endToSynced.record(Math.max(0, Date.now() - syncDueAtMs), { hubspot_account: accountLabel });
        log.info('Action finished', {
          actionId: result.actionId,
          trigger: result.trigger,
          result: result.result,
          contactId: result.contactId,
          noteId: result.noteId,
        });
        convergence.recorded(config.id, sent);
        return result;
      } finally {
        conversation.runSettled();
        convergence.settled();
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
  const refused = (rejection: Rejection | undefined) => {
    if (rejection) log.warn('Refused an invalid signal', { kind: rejection.kind });
  };
  setHandler(messageSignal, (raw) => refused(conversation.onMessage(raw)));
  setHandler(fieldsUpdatedSignal, (raw) => refused(conversation.onFieldsUpdated(raw)));
  setHandler(callEndedSignal, (raw) => refused(conversation.onCallEnded(raw)));
  /** Update validators refuse before anything is written to history. */
  const refuseUpdate = (why: string | undefined) => {
    if (why) throw new Error(why);
  };
  setHandler(
    runActionUpdate,
    async (request) => {
      conversation.runActionValues(request); // the validator accepted them
      return runAction(
        conversation.actionsById.get(request.actionId)!,
        'in-conversation',
        conversation.actionDeadlineMs(),
      );
    },
    { validator: (raw) => refuseUpdate(conversation.runActionRefusal(raw)) },
  );
  setHandler(
    retryActionUpdate,
    async (request) => runAction(conversation.actionsById.get(request.actionId)!, 'operator-retry'),
    {
      validator: (raw) => refuseUpdate(conversation.retryActionRefusal(raw)),
    },
  );
  setHandler(stateQuery, (caller) => {
    const foreign = conversation.foreignCaller(caller);
    if (foreign) throw new Error(`state refused: ${foreign}`);
    return conversation.state(convergence);
  });

  /** Continues as new, carrying what matters, trimmed to the carried-state budget. */
  const carryOver = async (): Promise<never> => {
    // A convergence check under way finishes first; one that is only due is carried, with its time.
    if (convergence.busy()) await condition(() => !convergence.busy());
    return continueAsNew<typeof conversationWorkflow>(conversation.continuation(convergence));
  };
  const continueAsNewDue = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= options.historyEventsBeforeContinueAsNew;

  /** Runs the offline actions whose values changed since their last offline run (all of them, the first time). */
  const syncOffline = async () => {
    syncDueAtMs = Date.now();
    conversation.syncStarting();
    publish();
    await Promise.all(conversation.unsynced().map((a) => runAction(a, 'offline')));
    await condition(allHandlersFinished);
    conversation.syncDone();
    publish();
  };

  if (input.operatorRetry) {
    // An operator retries an action of a conversation whose workflow had completed: run it with the
    // values given, then stay dormant like any ended conversation (messages that arrive are kept).
    const config = conversation.actionsById.get(input.operatorRetry.actionId);
    if (!config)
      throw ApplicationFailure.nonRetryable(
        `No action "${input.operatorRetry.actionId}" to retry in this conversation`,
        FailureType.UnknownAction,
      );
    // The conversation's other offline actions ran before it completed, with the values this session
    // started with: only the retried one runs. A value that arrived since (with the session's start) is
    // not theirs yet: the dormant wait below syncs it.
    conversation.operatorRetryStarting(config, patched(LATE_VALUES_PATCH));
    await runAction(config, 'operator-retry');
    conversation.syncDone();
    publish();
  }

  let oneRetentionTimer: boolean | undefined;
  const retention = new RetentionTimer();
  for (;;) {
    if (conversation.status === 'active') {
      // ---- waiting for the end -------------------------------------------------------------------
      const seenSeq = conversation.activity;
      const waitMs = Math.max(waitFloorMs, conversation.untilEndMs());
      if (voice) {
        // The call ends on its signal; the safety timeout covers a signal that never comes.
        const woke = await condition(
          () => conversation.callEnded || conversation.activity !== seenSeq || continueAsNewDue(),
          waitMs,
        );
        if (conversation.callEnded) conversation.end('call-ended');
        else if (!woke) conversation.end('call-safety-timeout');
        else if (continueAsNewDue()) {
          await condition(allHandlersFinished);
          if (!conversation.callEnded) return carryOver();
          continue;
        } else continue;
      } else {
        // Text: the conversation ends after a full inactivity timeout with no message; each message restarts the wait.
        const woke = await condition(() => conversation.activity !== seenSeq || continueAsNewDue(), waitMs);
        if (woke) {
          if (continueAsNewDue()) {
            await condition(allHandlersFinished);
            return carryOver();
          }
          continue;
        }
        conversation.end('inactivity');
      }
      log.info('Conversation ended', {
        endReason: conversation.endReason,
        offlineActions: conversation.offlineActions.length,
      });
      await syncOffline();
      continue;
    }

    // ---- dormant: kept for the retention period ---------------------------------------------------
    // Values that arrived while the sync ran, or since, are a follow-up; anything else waits. The wait
    // always starts its timer, even when it is over at once, so that the order in which such values and
    // the sync's end were applied never changes the workflow's commands.
    // A convergence check due later than the retention keeps the conversation until it is done.
    const retainUntil = conversation.retainedUntilMs(convergence);
    const wake = () => conversation.woken() || continueAsNewDue();
    oneRetentionTimer ??= patched(ONE_RETENTION_TIMER_PATCH);
    const woke = oneRetentionTimer
      ? await retention.wait(retainUntil, wake)
      : await condition(wake, Math.max(waitFloorMs, retainUntil - Date.now()));
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
    const messaged = conversation.markWake();
    if (conversation.unsynced().length === 0 && !messaged) continue; // a duplicate, or identical values: nothing to do
    if (voice) {
      // The call is over: new values are synced at once, into the same contact and note.
      log.info('New values after the end: follow-up sync');
      await syncOffline();
    } else {
      // Text: the conversation goes on; it ends again after its own inactivity wait.
      conversation.resume();
      publish();
    }
  }

  await condition(allHandlersFinished);
  publish();
  return conversation.result(convergence);
}

/**
 * The end of the retention as one durable timer: started when the end is first waited for, replaced (the
 * old one cancelled) only when the end moves. Waking for a signal starts no timer, so the workflow's
 * commands do not depend on how many times it woke.
 */
class RetentionTimer {
  private endMs?: number;
  private scope?: CancellationScope;
  private over = false;

  /** Waits until wake() or the end; true when woken (a wake at the end still counts), false at the end. */
  async wait(endMs: number, wake: () => boolean): Promise<boolean> {
    if (endMs !== this.endMs) {
      this.scope?.cancel();
      const scope = new CancellationScope();
      this.endMs = endMs;
      this.scope = scope;
      this.over = false;
      scope
        .run(() => sleep(Math.max(1, endMs - Date.now())))
        .then(
          () => {
            if (this.scope === scope) this.over = true;
          },
          () => undefined, // cancelled: the end moved
        );
    }
    await condition(() => wake() || this.over);
    return wake();
  }
}

// One run of the "HubSpot: create or update contact" action, from the workflow. The run's logic (look
// up, decide with planContactSync, write the contact, write the note) is src/action/run.ts; the whole
// run is one activity (patch run-one-activity; earlier histories ran each step as an activity, and
// replay that way), and this file says where and how it runs:
//  - in conversation: on the agent's lane, first in priority, within one budget, actionTimeoutMs, for
//    the whole run (retries included), so the agent has its outcome in time whatever HubSpot does;
//  - offline (after the end, follow-ups, operator retries): on the offline lane, last in priority and
//    fair between HubSpot accounts, retried for the offline retry window.
import {
  ActivityFailure,
  ApplicationFailure,
  patched,
  proxyActivities,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { ContactSyncActivities, RunProgress } from '../activities';
import type { ActionConfig } from '../src/action/config';
import { RUN_RETRY } from '../src/action/limits';
import type { ReceiptContext } from '../src/action/receipt';
import { FailureType } from '../src/action/failures';
import {
  noteStepInput,
  runContactSyncSteps,
  type ContactSyncResult,
  type ContactSyncSteps,
  type SentWrites,
} from '../src/action/run';
import {
  agentTaskQueue,
  offlinePriority,
  offlineTaskQueue,
  TASK_PRIORITY,
  type CallDetails,
  type Channel,
  type FieldValues,
} from '../src/platform/definitions';

export type { SentWrites };

export interface RunActionInput {
  config: ActionConfig;
  workspaceId?: string;
  fields: FieldValues;
  summary?: string;
  /** Stable per (conversation, action): the note of this pair is found again by it. Never personal data. */
  conversationKey: string;
  /** Notes earlier runs of this action wrote; one is reused only while it is associated with this run's contact. */
  knownNoteIds: string[];
  /** An earlier run of this action ended without an answer: a note it wrote may exist unknown to us. */
  mayHaveWritten: boolean;
  /** ISO time used as the note's hs_timestamp. */
  timestamp: string;
  /** With the action's logAs: a note, a Call or a Communication. */
  channel?: Channel;
  /** Voice: the call's details (callEnded). */
  call?: CallDetails;
  /** The conversation in the platform: the note links to it. */
  conversationUrl?: string;
  mode: 'in-conversation' | 'offline';
  /** In conversation: the workflow time by which the run must have its outcome. Offline: the retry window. */
  deadlineMs?: number;
  retryWindowMs: number;
  /** What the run's receipt says of where it came from (docs/ACCOUNTS.md, "Receipts"); absent in runs scheduled before receipts. */
  receipt?: ReceiptContext;
}

export type RunActionResult = ContactSyncResult;

/**
 * A run is one activity: one activity task and one workflow task per run instead of three of each.
 * Histories without the marker ran (and replay) each step as an activity.
 */
const ONE_ACTIVITY_PATCH = 'run-one-activity';

/** Below this much budget an activity is not started: its answer could not arrive in time. */
const MIN_STEP_MS = 100;

/** The offline activities' options: HubSpot faults are retried for the retry window, so an outage delays a sync instead of losing it. */
function offlineActivities(input: RunActionInput) {
  return proxyActivities<ContactSyncActivities>({
    // One HubSpot call rarely takes more than a few seconds; a hung attempt is cut and retried.
    startToCloseTimeout: '60s',
    heartbeatTimeout: '20s',
    scheduleToCloseTimeout: input.retryWindowMs,
    retry: {
      initialInterval: RUN_RETRY.offline.initialMs,
      backoffCoefficient: 2,
      maximumInterval: RUN_RETRY.offline.maximumMs,
    },
    // The offline lane, whichever lane the conversation runs on.
    taskQueue: offlineTaskQueue(workflowInfo().taskQueue),
    // After the agent's work and the conversations' own tasks; fair between HubSpot accounts.
    priority: offlinePriority(input.workspaceId, input.config.hubspotAccountId),
  });
}

function activities(input: RunActionInput) {
  if (input.mode === 'offline') return offlineActivities(input);
  const left = Math.max(MIN_STEP_MS, (input.deadlineMs ?? Date.now()) - Date.now());
  return proxyActivities<ContactSyncActivities>({
    // The agent's lane: its own task queue and the first priority, so the agent never waits behind queued offline syncs.
    taskQueue: agentTaskQueue(workflowInfo().taskQueue),
    priority: { priorityKey: TASK_PRIORITY.agent },
    // The agent waits: every attempt and every retry of this step fit in what is left of the run's budget.
    startToCloseTimeout: left,
    scheduleToCloseTimeout: left,
    heartbeatTimeout: Math.min(left, 5_000),
    retry: {
      initialInterval: RUN_RETRY.agent.initialMs,
      backoffCoefficient: 2,
      maximumInterval: RUN_RETRY.agent.maximumMs,
    },
  });
}

/** A readable reason out of an activity failure, for the outcome the operator sees. */
export function failureReason(err: unknown, mode: RunActionInput['mode']): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof TimeoutFailure) {
      const last = cause.cause?.message;
      const window = mode === 'in-conversation' ? "the in-conversation action's time budget" : 'the retry window';
      return `HubSpot did not complete ${err.activityType} within ${window} (${cause.timeoutType})${last ? `; last error: ${last}` : ''}`;
    }
    if (cause instanceof ApplicationFailure) return cause.message;
    return cause?.message ?? err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

const isConflict = (err: unknown) =>
  err instanceof ActivityFailure &&
  err.cause instanceof ApplicationFailure &&
  err.cause.type === FailureType.ContactConflict;

export async function runContactSync(input: RunActionInput): Promise<RunActionResult> {
  if (patched(ONE_ACTIVITY_PATCH)) return runAsOneActivity(input);
  const accountId = input.config.hubspotAccountId;
  const lane = input.mode === 'in-conversation' ? ('agent' as const) : ('offline' as const);
  const budgetLeft = () => (input.deadlineMs === undefined ? Infinity : input.deadlineMs - Date.now());
  /** Each step an activity, started only while the budget can still hold its answer. */
  const step = <T>(
    what: string,
    run: (act: ReturnType<typeof activities>, opts: { summary: string }) => Promise<T>,
  ): Promise<T> => {
    if (budgetLeft() < MIN_STEP_MS) {
      throw ApplicationFailure.nonRetryable(
        `The in-conversation action's time budget ran out before ${what}`,
        FailureType.ActionBudgetExhausted,
      );
    }
    return run(activities(input), { summary: `${what} · action ${input.config.id} · account ${accountId}` });
  };
  const steps: ContactSyncSteps = {
    lookUp: (config, email) =>
      step('look up contact by email', (act, o) =>
        act.lookUpContactForAction.executeWithOptions(o, [
          { accountId, workspaceId: input.workspaceId, config, email, lane, deadlineMs: input.deadlineMs },
        ]),
      ),
    writeContact: (write, label) =>
      step(label, (act, o) =>
        act.writeContactAsPlanned.executeWithOptions(o, [{ accountId, write, lane, deadlineMs: input.deadlineMs }]),
      ),
    writeNote: (note) =>
      step('write summary note', (act, o) =>
        act.writeSummaryNote.executeWithOptions(o, [
          { ...noteStepInput(input, accountId, note), lane, deadlineMs: input.deadlineMs },
        ]),
      ),
    isConflict,
    failed: (err) => failureReason(err, input.mode),
  };
  return runContactSyncSteps(input, steps);
}

/** The run in one activity; a run that fails for good still says what it may have sent. */
async function runAsOneActivity(input: RunActionInput): Promise<RunActionResult> {
  const { config } = input;
  const agent = input.mode === 'in-conversation';
  if (agent && (input.deadlineMs ?? Infinity) - Date.now() < MIN_STEP_MS) {
    return {
      result: 'failed',
      propertiesWritten: [],
      reason: "The in-conversation action's time budget ran out before the run started",
      accountLabel: 'unknown',
    };
  }
  try {
    return await activities(input).runContactSync.executeWithOptions(
      {
        summary: `${agent ? 'in-conversation run' : 'offline sync'} · action ${config.id} · account ${config.hubspotAccountId}`,
      },
      [
        {
          config,
          workspaceId: input.workspaceId,
          fields: input.fields,
          ...(input.summary !== undefined ? { summary: input.summary } : {}),
          conversationKey: input.conversationKey,
          knownNoteIds: input.knownNoteIds,
          mayHaveWritten: input.mayHaveWritten,
          timestamp: input.timestamp,
          lane: agent ? 'agent' : 'offline',
          ...(agent && input.deadlineMs !== undefined ? { deadlineMs: input.deadlineMs } : {}),
          ...(input.channel ? { channel: input.channel } : {}),
          ...(input.call ? { call: input.call } : {}),
          ...(input.conversationUrl ? { conversationUrl: input.conversationUrl } : {}),
          ...(input.receipt ? { receipt: input.receipt } : {}),
        },
      ],
    );
  } catch (err) {
    const progress = progressOf(err);
    // Every write of a run that never answered may still land: all of them count as unanswered.
    const sent = progress?.sent
      ? {
          ...progress.sent,
          contactUncertain: Object.keys(progress.sent.properties).length > 0 || progress.sent.contactUncertain,
          noteUncertain: progress.sent.noteBodyHash !== undefined,
        }
      : undefined;
    return {
      result: 'failed',
      propertiesWritten: [],
      reason: failureReason(err, input.mode),
      accountLabel: progress?.accountLabel ?? 'unknown',
      ...(sent ? { sent } : {}),
    };
  }
}

/** What a failed run had sent: its last failure's details, or its last heartbeat when it timed out. */
function progressOf(err: unknown): RunProgress | undefined {
  if (!(err instanceof ActivityFailure)) return undefined;
  const cause = err.cause;
  const details =
    cause instanceof ApplicationFailure
      ? cause.details?.[0]
      : cause instanceof TimeoutFailure
        ? cause.lastHeartbeatDetails
        : undefined;
  if (!details || typeof details !== 'object') return undefined;
  const p = details as RunProgress;
  return typeof p.accountLabel === 'string' ? p : undefined;
}

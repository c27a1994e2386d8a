// The names and shapes the platform and a conversation workflow exchange: workflow type, signals,
// update, query and their payload types. No validation library here: workflow code imports this file,
// and every workflow the worker keeps in memory evaluates what the workflow bundle contains. The zod
// schemas that validate these shapes (and document them) live in src/platform/contract.ts, used by the
// platform client and the activities.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Priority } from '@temporalio/common';
import type { ActionConfig, ActionConfigInput } from '../action/config';
import { fnv64Hex } from '../action/hash';
import type { SyncOutcome } from '../action/plan';
import type { CallDetails, Channel as TimelineChannel } from '../action/timeline';

export const WORKFLOW_TYPE = 'conversationWorkflow';
export const DEFAULT_TASK_QUEUE = 'hubspot-contact-sync';

const AGENT_LANE_SUFFIX = '-agent';

/**
 * The agent's lane of a task queue: conversations with an in-conversation action run there, and every
 * in-conversation run schedules its activities there, never behind offline syncs. The lane of a lane is itself.
 */
export const agentTaskQueue = (taskQueue: string): string =>
  taskQueue.endsWith(AGENT_LANE_SUFFIX) ? taskQueue : `${taskQueue}${AGENT_LANE_SUFFIX}`;

/** The task queue of a lane's offline work: the queue whose lane it is (offline syncs run there, whichever lane the conversation is on). */
export const offlineTaskQueue = (taskQueue: string): string =>
  taskQueue.endsWith(AGENT_LANE_SUFFIX) ? taskQueue.slice(0, -AGENT_LANE_SUFFIX.length) : taskQueue;

/** The task queue a conversation starts on: the agent's lane when the agent can wait on it. */
export function conversationTaskQueue(
  taskQueue: string,
  actions: ReadonlyArray<Pick<ActionConfig, 'offlineSync'>>,
): string {
  return actions.some((a) => !a.offlineSync) ? agentTaskQueue(taskQueue) : taskQueue;
}

/**
 * Task priority (Temporal's priority keys: 1 first, 5 last, 3 when none is given). Whoever waits goes
 * first: the agent waiting for an in-conversation run, then the signals of conversations nobody waits
 * on, then the offline syncs (docs/TEMPORAL.md, "Priority and fairness").
 */
export const TASK_PRIORITY = {
  /** Conversations with an in-conversation action (every task of theirs: the agent may be waiting on any), and the agent's activities. */
  agent: 1,
  /** Conversations whose actions all run offline: their signals, timers and the end of their syncs. */
  conversation: 3,
  /** The HubSpot work of offline syncs and convergence checks. */
  offlineSync: 4,
} as const;

/** The server refuses fairness keys longer than this (Temporal server 1.32, common/priorities). */
const FAIRNESS_KEY_MAX = 64;

/**
 * The fairness key of a HubSpot account: offline work is shared fairly between accounts, since each has
 * its own rate limit (a campaign of one account cannot starve another's syncs). Ids only, never personal data.
 */
export function accountFairnessKey(workspaceId: string | undefined, accountId: string): string {
  const key = `${workspaceId ?? ''}/${accountId}`;
  return key.length <= FAIRNESS_KEY_MAX ? key : `h/${fnv64Hex(key)}`;
}

/**
 * The priority a conversation workflow is started with (continue-as-new keeps it): first when the agent
 * can wait on it, and fair between the HubSpot accounts of the conversations (the first action's account).
 */
export function conversationPriority(input: {
  workspaceId?: string;
  actions: ReadonlyArray<Pick<ActionConfig, 'offlineSync' | 'hubspotAccountId'>>;
}): Priority {
  const first = input.actions[0];
  return {
    priorityKey: input.actions.some((a) => !a.offlineSync) ? TASK_PRIORITY.agent : TASK_PRIORITY.conversation,
    ...(first ? { fairnessKey: accountFairnessKey(input.workspaceId, first.hubspotAccountId) } : {}),
  };
}

/** The priority of an offline sync's or a convergence check's HubSpot work. */
export function offlinePriority(workspaceId: string | undefined, accountId: string): Priority {
  return { priorityKey: TASK_PRIORITY.offlineSync, fairnessKey: accountFairnessKey(workspaceId, accountId) };
}

/**
 * The workflow id of a conversation: derived from its workspace and its conversation id, so every call
 * of that workspace finds the same workflow and two workspaces may use the same conversation id. Neither
 * id may contain "/" (the contract's schemas), so the id cannot be read two ways.
 */
export function conversationWorkflowId(workspaceId: string, conversationId: string): string {
  return `conversation/${workspaceId}/${conversationId}`;
}

/**
 * The workflow id of a conversation started before conversations were scoped to workspaces. The
 * platform client still finds such a conversation while it runs, for its own workspace only
 * (docs/PLATFORM_CONTRACT.md, "Conversations started before workspaces").
 */
export function legacyConversationWorkflowId(conversationId: string): string {
  return `conversation-${conversationId}`;
}

/** Who is calling: every signal, update and query names the caller's workspace, checked against the conversation's. */
export interface WorkspaceScoped {
  workspaceId?: string;
}

export type Channel = TimelineChannel;
/** Every channel a conversation may be on (the workflow's own check of its input reads it; the contract's channelSchema too). */
export { CHANNELS } from '../action/timeline';
export const isVoice = (channel: Channel): boolean => channel === 'voice';

/** How many distinct fields a conversation may hold, in one signal and in all of them together. */
export const MAX_FIELDS = 200;

/** Field values collected by the agent, keyed by platform field. Null clears nothing in HubSpot. */
export type FieldValues = Record<string, string | null>;

export interface ConversationOptions {
  inactivityTimeoutMs: number;
  callSafetyTimeoutMs: number;
  offlineRetryWindowMs: number;
  actionTimeoutMs: number;
  retentionMs: number;
  historyEventsBeforeContinueAsNew: number;
}

export const DEFAULT_OPTIONS: ConversationOptions = {
  inactivityTimeoutMs: 10 * 60_000,
  callSafetyTimeoutMs: 4 * 3600_000,
  offlineRetryWindowMs: 24 * 3600_000,
  actionTimeoutMs: 30_000,
  retentionMs: 7 * 24 * 3600_000,
  historyEventsBeforeContinueAsNew: 5_000,
};

export interface Message extends WorkspaceScoped {
  from: 'customer' | 'agent';
  messageId?: string;
  fields?: FieldValues;
  summary?: string;
}
export interface FieldsUpdate extends WorkspaceScoped {
  fields?: FieldValues;
  summary?: string;
}
export interface CallEnded extends WorkspaceScoped {
  fields?: FieldValues;
  summary?: string;
  /** What the platform knows of the call: logged on a HubSpot Call when an action logs engagements. */
  call?: CallDetails;
}

/** The call of a voice conversation (callEnded): direction, duration, status, recording link. */
export type { CallDetails };
export interface RunActionRequest extends WorkspaceScoped {
  actionId: string;
  fields?: FieldValues;
  summary?: string;
}
export interface RetryActionRequest extends WorkspaceScoped {
  actionId: string;
}

/** A note this system wrote for an action, on the contact it was written to. */
export interface KnownNote {
  contactId: string;
  noteId: string;
}

/** What a conversation carries into its next run (continue-as-new). Never a token. */
export interface CarriedState {
  fields: FieldValues;
  summary?: string;
  lastActivityAtMs: number;
  messageCount: number;
  /** Notes written per action: a string is a note id carried by the first released version. */
  noteIds: Record<string, string | KnownNote[]>;
  outcomes: Record<string, ActionRun[]>;
  rejections: Rejection[];
  runsBefore: number;
  startedAtMs: number;
  /** Voice: the call had already ended. */
  callEnded?: boolean;
  /** The conversation had ended and its offline sync ran: the new run stays dormant until retention ends. */
  endedAtMs?: number;
  endReason?: EndReason;
  /** Per offline action: a fingerprint of the values its last offline run used (0 HubSpot calls for identical values). */
  synced?: Record<string, string>;
  /** Offline actions whose last run failed: the next signal with values runs them again, even identical ones. */
  failedOffline?: string[];
  /** When values last changed (workflow time): a text follow-up waits its inactivity from then. */
  lastChangeAtMs?: number;
  /** Voice: the call's details given with callEnded. */
  call?: CallDetails;
  /** Names this conversation's notes (with the action id): the first run id of the conversation, kept by operator retries after it completed. */
  conversationRef?: string;
  /** What the convergence checks need: per contact, hashes of what was written and of writes whose answer never came, and when a check is due. */
  convergence?: ConvergenceCarried;
}

/** Per contact a conversation wrote to: hashes only (src/action/hash.ts valueHash), never the values. */
export interface ConvergenceContact {
  accountId: string;
  /** Property name -> hash of the newest value this conversation wrote. */
  properties: Record<string, string>;
  /** Property name -> hashes of values sent in writes whose answer never came. */
  uncertain: Record<string, string[]>;
  /** Per action: the note its last run wrote there, the hash of that body, and of bodies sent without an answer. */
  notes: Record<
    string,
    { noteId?: string; bodyHash?: string; uncertainBodies: string[]; object?: 'calls' | 'communications' }
  >;
  /** When the check of this contact is due (workflow time, ms); absent: none pending. */
  dueAtMs?: number;
  /** Checks of this contact that failed in a row. */
  failedChecks?: number;
}

/** What the convergence checks found and repaired, counted over the conversation's life. */
export interface ConvergenceCounts {
  /** Contacts checked. */
  checks: number;
  duplicateNotesArchived: number;
  valuesRewritten: number;
  noteBodiesRewritten: number;
  /** Values that differed from what this conversation wrote and were left alone (a person or another system changed them). */
  valuesLeftAlone: number;
  /** Checks that could not be made (HubSpot failed them past their retries). */
  failedChecks: number;
}

export interface ConvergenceCarried {
  contacts: Record<string, ConvergenceContact>;
  counts: ConvergenceCounts;
}

/** The convergence checks of a conversation, as its state shows them. */
export interface ConvergenceSummary extends ConvergenceCounts {
  /** Contacts whose check is due or under way. */
  pending: number;
  /** When the last pending check is due. */
  dueAt: string | null;
}

export interface ConversationInput {
  conversationId: string;
  channel: Channel;
  /**
   * The platform workspace (tenant) the conversation belongs to. The platform client requires it;
   * conversations started before that may have none.
   */
  workspaceId?: string;
  actions: ActionConfigInput[];
  fields?: FieldValues;
  summary?: string;
  /** The conversation in the platform (https): linked from what the actions write to HubSpot. */
  conversationUrl?: string;
  options?: Partial<ConversationOptions>;
  /** Internal: state carried over by continue-as-new. */
  carried?: CarriedState;
  /** Internal (operator tools): run this action at once on the given values, then stay dormant. */
  operatorRetry?: { actionId: string };
}

export type ConversationStatus = 'active' | 'ending' | 'ended';
export type SyncStatus = 'none' | 'pending' | 'running' | 'synced' | 'failed' | 'skipped';
export type EndReason = 'inactivity' | 'call-ended' | 'call-safety-timeout';

export interface Rejection {
  at: string;
  kind: 'message' | 'fieldsUpdated' | 'callEnded';
  message: string;
}

export interface ActionRun extends SyncOutcome {
  actionId: string;
  trigger: 'in-conversation' | 'offline' | 'operator-retry';
  at: string;
}

export interface ConversationState {
  conversationId: string;
  /** The workspace the conversation belongs to (absent only for conversations started before workspaces were required). */
  workspaceId?: string;
  channel: Channel;
  status: ConversationStatus;
  syncStatus: SyncStatus;
  startedAt: string;
  lastMessageAt: string | null;
  messageCount: number;
  /** When the offline sync is due: text, 10 minutes after the last message; voice, null until the call ends. */
  offlineSyncDueAt: string | null;
  endReason: EndReason | null;
  /** After the end: until when the conversation is kept (follow-up values, duplicate signals, operator retries). */
  retainedUntil?: string | null;
  /** How many earlier runs this conversation continued from. */
  runsBefore: number;
  outcomes: Record<string, ActionRun[]>;
  rejections: Rejection[];
  /** Checks after writes whose answer never came (HubSpot may apply them late), and what they repaired; absent when none was needed. */
  convergence?: ConvergenceSummary;
}

export interface ConversationResult extends ConversationState {
  /** The actions snapshot and options of this session (no personal data). */
  actions: ActionConfig[];
  options: ConversationOptions;
  /** The field values and summary the offline sync used, so that an operator can retry a failed action. */
  finalFields: FieldValues;
  finalSummary?: string;
  /** See CarriedState.conversationRef. */
  conversationRef?: string;
  /** The conversation in the platform, as the session had it: an operator retry links back to it too. */
  conversationUrl?: string;
  /** Voice: the call had ended (callEnded), with these details: an operator retry logs them on the Call too. */
  callEnded?: boolean;
  call?: CallDetails;
}

export const messageSignal = defineSignal<[Message]>('message');
export const fieldsUpdatedSignal = defineSignal<[FieldsUpdate]>('fieldsUpdated');
export const callEndedSignal = defineSignal<[CallEnded]>('callEnded');
export const runActionUpdate = defineUpdate<ActionRun, [RunActionRequest]>('runAction');
export const stateQuery = defineQuery<ConversationState, [WorkspaceScoped?]>('state');
/** Operator tools only; the platform uses runAction. */
export const retryActionUpdate = defineUpdate<ActionRun, [RetryActionRequest]>('retryAction');

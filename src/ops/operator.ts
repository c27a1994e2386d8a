// Operator tools over the Temporal client: read a conversation's state, retry a failed action.
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import {
  conversationWorkflowId,
  legacyConversationWorkflowId,
  type ConversationRef,
  retryActionUpdate,
  stateQuery,
  WORKFLOW_TYPE,
  type ActionRun,
  type ConversationInput,
  type ConversationResult,
  type ConversationState,
  type KnownNote,
  conversationPriority,
} from '../platform/contract';
import {
  ChannelAttr,
  ConversationIdAttr,
  HubSpotAccountsAttr,
  StatusAttr,
  SyncStatusAttr,
} from '../platform/search-attributes';

export class OperatorError extends Error {
  override name = 'OperatorError';
}

export interface ConversationOverview {
  workflowId: string;
  runId: string;
  workflowStatus: string;
  taskQueue: string;
  state?: ConversationState;
  result?: ConversationResult;
}

async function overviewOf(
  client: Client,
  workflowId: string,
  workspaceId: string,
): Promise<ConversationOverview | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const overview: ConversationOverview = {
    workflowId: handle.workflowId,
    runId: description.runId,
    workflowStatus: description.status.name,
    taskQueue: description.taskQueue,
  };
  if (description.status.name === 'RUNNING') overview.state = await handle.query(stateQuery, { workspaceId });
  else if (description.status.name === 'COMPLETED') overview.result = (await handle.result()) as ConversationResult;
  return overview;
}

/**
 * The latest session of a conversation of a workspace: its Temporal status, and its state (running) or
 * result (completed). A conversation started before workspaces (id `conversation-<conversationId>`) is
 * found when no workspace-scoped one exists and it belongs to this workspace (or names none).
 */
export async function inspectConversation(client: Client, ref: ConversationRef): Promise<ConversationOverview> {
  const scoped = await overviewOf(client, conversationWorkflowId(ref.workspaceId, ref.conversationId), ref.workspaceId);
  if (scoped) return scoped;
  const legacy = await overviewOf(client, legacyConversationWorkflowId(ref.conversationId), ref.workspaceId).catch(
    (err: unknown) => {
      if (err instanceof Error && /belongs to another workspace/.test(err.message)) return undefined;
      throw err;
    },
  );
  const owner = legacy?.state?.workspaceId ?? legacy?.result?.workspaceId;
  if (legacy && (owner === undefined || owner === ref.workspaceId)) return legacy;
  throw new OperatorError(
    `No conversation "${ref.conversationId}" in workspace ${ref.workspaceId} (workflow ${conversationWorkflowId(ref.workspaceId, ref.conversationId)} not found)`,
  );
}

/**
 * Runs an action of a conversation again. A running conversation runs it now with its current values
 * (retryAction update); a finished one starts a one-shot session with the values its last session
 * ended with, its conversation link and its call's details. Either way the contact and the note (or
 * the Call, the Communication) are updated, never duplicated.
 */
export async function retryAction(client: Client, ref: ConversationRef, actionId: string): Promise<ActionRun> {
  const { conversationId } = ref;
  const overview = await inspectConversation(client, ref);
  const handle = client.workflow.getHandle(overview.workflowId);
  if (overview.workflowStatus === 'RUNNING') {
    return handle.executeUpdate(retryActionUpdate, { args: [{ actionId, workspaceId: ref.workspaceId }] });
  }
  const last = overview.result;
  if (!last) {
    throw new OperatorError(
      `The last session of "${conversationId}" ended as ${overview.workflowStatus}: there are no final values to retry with`,
    );
  }
  if (!last.actions.some((a) => a.id === actionId)) {
    throw new OperatorError(
      `Conversation "${conversationId}" has no action "${actionId}" (its actions: ${last.actions.map((a) => a.id).join(', ') || 'none'})`,
    );
  }
  // The new session continues the completed one: its values, its outcomes, the notes it wrote (reused
  // only while still on their contact) and its workspace; only the retried action runs.
  const noteIds: Record<string, KnownNote[]> = {};
  for (const [id, runs] of Object.entries(last.outcomes)) {
    const known = runs
      .filter((r) => r.noteId && r.contactId)
      .map((r) => ({ contactId: r.contactId!, noteId: r.noteId! }));
    if (known.length)
      noteIds[id] = known.filter((n, i) => known.findIndex((k) => k.noteId === n.noteId) === i).slice(-10);
  }
  const startedAtMs = Date.parse(last.startedAt);
  const input: ConversationInput = {
    conversationId,
    channel: last.channel,
    ...(last.workspaceId ? { workspaceId: last.workspaceId } : {}),
    ...(last.conversationUrl ? { conversationUrl: last.conversationUrl } : {}),
    actions: last.actions,
    options: last.options,
    carried: {
      fields: last.finalFields,
      ...(last.finalSummary !== undefined ? { summary: last.finalSummary } : {}),
      lastActivityAtMs: last.lastMessageAt ? Date.parse(last.lastMessageAt) : startedAtMs,
      messageCount: last.messageCount,
      noteIds,
      outcomes: last.outcomes,
      rejections: [],
      runsBefore: last.runsBefore + 1,
      startedAtMs,
      ...(last.conversationRef ? { conversationRef: last.conversationRef } : {}),
      ...(last.endReason ? { endReason: last.endReason } : {}),
      ...(last.callEnded ? { callEnded: true } : {}),
      ...(last.call ? { call: last.call } : {}),
    },
    operatorRetry: { actionId },
  };
  const retry = await client.workflow.start(WORKFLOW_TYPE, {
    workflowId: overview.workflowId,
    taskQueue: overview.taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: ConversationIdAttr, value: conversationId },
      { key: ChannelAttr, value: last.channel },
      { key: StatusAttr, value: 'ending' },
      { key: SyncStatusAttr, value: 'running' },
      { key: HubSpotAccountsAttr, value: [...new Set(last.actions.map((a) => a.hubspotAccountId))] },
    ],
    staticSummary: `Operator retry of action ${actionId}`,
    priority: conversationPriority({ workspaceId: ref.workspaceId, actions: last.actions }),
  });
  // The retry session stays dormant after its run, like any ended conversation: wait for the run (the
  // session is 'ending' until it is done), not for the end of the retention.
  for (const until = Date.now() + 10 * 60_000; ;) {
    const state = await retry.query(stateQuery, { workspaceId: ref.workspaceId }).catch(() => undefined);
    const run = state?.outcomes[actionId]?.at(-1);
    if (state?.status === 'ended' && run?.trigger === 'operator-retry') return run;
    if (Date.now() > until)
      throw new OperatorError(
        `The retry session of "${conversationId}" recorded no outcome for "${actionId}" within 10 minutes`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

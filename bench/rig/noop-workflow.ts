// The Temporal floor for the benchmarks on the rig (rig.ts) and the burst: a workflow with the same shape
// as conversationWorkflow (same workflow type name, same signals `message`, `fieldsUpdated` and
// `callEnded`, the same end: a text conversation after its resettable inactivity timer, a voice call on
// `callEnded` or its safety timeout; an update `runAction`, a query `state`; after the end the retention
// wait) that does no HubSpot work: after the conversation ends it runs one no-op activity (the offline
// run, at the offline syncs' priority), and `runAction` runs one no-op activity (at the in-conversation
// priority). It is registered on its own task queue with its own bundle (`workflowsPath:
// require.resolve('./noop-workflow')`), so the same platform client (src/platform/client.ts, with that
// task queue) drives it exactly as it drives the real one, with the same workflow options (priority and
// fairness key included).
//
// Deliberately lightweight: no zod, no search-attribute upserts, no memo: what remains is what
// Temporal itself costs for a conversation of this shape.
import {
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  allHandlersFinished,
} from '@temporalio/workflow';

export interface NoopActivities {
  noop(input: { conversationId: string; kind: 'offline' | 'in-conversation' }): Promise<void>;
}

/** Task priorities (plain constants, no import of the product's: 1 is dispatched first). */
const OFFLINE_PRIORITY = 4;
const IN_CONVERSATION_PRIORITY = 1;
const activityOptions = {
  startToCloseTimeout: '60s',
  retry: { initialInterval: '300ms', backoffCoefficient: 2, maximumInterval: '3s' },
} as const;

// Same names as src/platform/contract.ts (not imported, to keep zod out of this bundle).
const messageSignal = defineSignal<[{ fields?: Record<string, string | null>; summary?: string }]>('message');
const fieldsUpdatedSignal =
  defineSignal<[{ fields?: Record<string, string | null>; summary?: string }]>('fieldsUpdated');
const callEndedSignal = defineSignal<[{ fields?: Record<string, string | null>; summary?: string }]>('callEnded');
const stateQuery = defineQuery<{ messageCount: number; ended: boolean }>('state');
const runActionUpdate = defineUpdate<
  { actionId: string; trigger: string; result: string; at: string; propertiesWritten: string[] },
  [{ actionId: string }]
>('runAction');

interface NoopInput {
  conversationId: string;
  workspaceId?: string;
  channel: string;
  actions?: Array<{ hubspotAccountId?: string }>;
  options?: { inactivityTimeoutMs?: number; callSafetyTimeoutMs?: number; retentionMs?: number };
}

export async function conversationWorkflow(
  input: NoopInput,
): Promise<{ conversationId: string; messageCount: number; endReason: string }> {
  const inactivityTimeoutMs = input.options?.inactivityTimeoutMs ?? 10 * 60_000;
  const callSafetyTimeoutMs = input.options?.callSafetyTimeoutMs ?? 4 * 3_600_000;
  const retentionMs = input.options?.retentionMs ?? 7 * 24 * 3_600_000;
  const voice = input.channel === 'voice';
  // The fairness key of the account the conversation's first action writes to, as the platform client gives the workflow.
  const fairnessKey = `${input.workspaceId ?? ''}/${input.actions?.[0]?.hubspotAccountId ?? ''}`;
  const { noop: offlineNoop } = proxyActivities<NoopActivities>({
    ...activityOptions,
    priority: { priorityKey: OFFLINE_PRIORITY, fairnessKey },
  });
  const { noop: inConversationNoop } = proxyActivities<NoopActivities>({
    ...activityOptions,
    priority: { priorityKey: IN_CONVERSATION_PRIORITY, fairnessKey },
  });
  let fields: Record<string, string | null> = {};
  let summary: string | undefined;
  let messageCount = 0;
  let activitySeq = 0;
  let lastActivityAtMs = Date.now();
  let ended = false;
  let callEnded = false;

  setHandler(messageSignal, (m) => {
    if (m?.fields) fields = { ...fields, ...m.fields };
    if (m?.summary !== undefined) summary = m.summary;
    messageCount++;
    activitySeq++;
    lastActivityAtMs = Date.now();
  });
  setHandler(fieldsUpdatedSignal, (u) => {
    if (u?.fields) fields = { ...fields, ...u.fields };
    if (u?.summary !== undefined) summary = u.summary;
  });
  setHandler(callEndedSignal, (m) => {
    if (!voice) return;
    if (m?.fields) fields = { ...fields, ...m.fields };
    if (m?.summary !== undefined) summary = m.summary;
    callEnded = true;
  });
  setHandler(stateQuery, () => ({ messageCount, ended }));
  setHandler(
    runActionUpdate,
    async (req) => {
      await inConversationNoop({ conversationId: input.conversationId, kind: 'in-conversation' });
      return {
        actionId: req.actionId,
        trigger: 'in-conversation',
        result: 'skipped',
        at: new Date().toISOString(),
        propertiesWritten: [],
      };
    },
    {
      validator: (_req) => {
        if (ended) throw new Error('runAction refused: the conversation has ended');
      },
    },
  );

  let endReason = 'inactivity';
  for (;;) {
    const seen = activitySeq;
    const waitMs = Math.max(1, lastActivityAtMs + (voice ? callSafetyTimeoutMs : inactivityTimeoutMs) - Date.now());
    const woke = await condition(() => callEnded || activitySeq !== seen, waitMs);
    if (callEnded) {
      endReason = 'call-ended';
      break;
    }
    if (!woke) {
      endReason = voice ? 'call-safety-timeout' : 'inactivity';
      break;
    }
  }
  ended = true;
  await offlineNoop({ conversationId: input.conversationId, kind: 'offline' });
  // Kept for the retention period, as the real one (the benchmarks set it to 1 ms).
  await condition(() => false, Math.max(1, retentionMs));
  await condition(allHandlersFinished);
  void summary;
  void fields;
  return { conversationId: input.conversationId, messageCount, endReason };
}

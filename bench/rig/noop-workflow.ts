// The Temporal floor for the benchmarks on the rig (rig.ts): a workflow with the same shape as
// conversationWorkflow (same workflow type name, same signals `message` and `fieldsUpdated`, the same
// resettable inactivity timer, an update `runAction`, a query `state`) that does no HubSpot work: after
// the conversation ends it runs one no-op activity, and `runAction` runs one no-op activity. It is
// registered on its own task queue with its own bundle (`workflowsPath: require.resolve('./noop-workflow')`),
// so the same platform client (src/platform/client.ts, with that task queue) drives it exactly as it
// drives the real one.
//
// Deliberately lightweight: no zod, no search-attribute upserts, no memo: what remains is what
// Temporal itself costs for a conversation of this shape.
import { condition, defineQuery, defineSignal, defineUpdate, proxyActivities, setHandler, allHandlersFinished } from '@temporalio/workflow';

export interface NoopActivities {
  noop(input: { conversationId: string; kind: 'offline' | 'in-conversation' }): Promise<void>;
}

const { noop } = proxyActivities<NoopActivities>({
  startToCloseTimeout: '60s',
  retry: { initialInterval: '300ms', backoffCoefficient: 2, maximumInterval: '3s' },
});

// Same names as src/platform/contract.ts (not imported, to keep zod out of this bundle).
const messageSignal = defineSignal<[{ fields?: Record<string, string | null>; summary?: string }]>('message');
const fieldsUpdatedSignal = defineSignal<[{ fields?: Record<string, string | null>; summary?: string }]>('fieldsUpdated');
const stateQuery = defineQuery<{ messageCount: number; ended: boolean }>('state');
const runActionUpdate = defineUpdate<{ actionId: string; trigger: string; result: string; at: string; propertiesWritten: string[] }, [{ actionId: string }]>('runAction');

interface NoopInput {
  conversationId: string;
  channel: string;
  options?: { inactivityTimeoutMs?: number };
}

export async function conversationWorkflow(input: NoopInput): Promise<{ conversationId: string; messageCount: number; endReason: string }> {
  const inactivityTimeoutMs = input.options?.inactivityTimeoutMs ?? 10 * 60_000;
  let fields: Record<string, string | null> = {};
  let summary: string | undefined;
  let messageCount = 0;
  let activitySeq = 0;
  let lastActivityAtMs = Date.now();
  let ended = false;

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
  setHandler(stateQuery, () => ({ messageCount, ended }));
  setHandler(
    runActionUpdate,
    async (req) => {
      await noop({ conversationId: input.conversationId, kind: 'in-conversation' });
      return { actionId: req.actionId, trigger: 'in-conversation', result: 'skipped', at: new Date().toISOString(), propertiesWritten: [] };
    },
    {
      validator: (_req) => {
        if (ended) throw new Error('runAction refused: the conversation has ended');
      },
    },
  );

  for (;;) {
    const seen = activitySeq;
    const waitMs = Math.max(0, lastActivityAtMs + inactivityTimeoutMs - Date.now());
    const woke = await condition(() => activitySeq !== seen, waitMs);
    if (!woke) break;
  }
  ended = true;
  await noop({ conversationId: input.conversationId, kind: 'offline' });
  await condition(allHandlersFinished);
  void summary;
  return { conversationId: input.conversationId, messageCount, endReason: 'inactivity' };
}

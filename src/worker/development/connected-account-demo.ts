// Development: once an operator connects a portal on the setup page, a short demo conversation syncs
// into the new account, so "Add account" visibly ends in a contact and a note in the emulator.
import type { ActionConfigInput } from '../../action/config';
import type { ConversationClient, ConversationRef } from '../../platform/client';
import type { AccountStore } from '../../account-store/store';

export interface ConnectedAccountDemoOptions {
  store: AccountStore;
  platform: ConversationClient;
  workspaceId: string;
  /** The emulator: where the contacts can be looked at. */
  emulatorUrl: string;
  say: (line: string) => void;
  pollMs?: number;
}

/** Plays one WhatsApp conversation for an account of the workspace; returns its outcome line. */
export async function playConnectedAccountDemo(
  o: Omit<ConnectedAccountDemoOptions, 'store' | 'pollMs'> & { accountId: string; stopped?: () => boolean },
): Promise<string> {
  const stamp = Date.now().toString(36);
  const action: ActionConfigInput = {
    id: 'hubspot-contact',
    name: 'HubSpot: create or update contact',
    intent: 'Save the customer in the CRM once the conversation is over',
    offlineSync: true,
    hubspotAccountId: o.accountId,
    allowCreate: true,
    allowUpdateExisting: true,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
      { hubspotProperty: 'lastname', astraField: 'last_name' },
    ],
    customFields: [],
  };
  const conversation = {
    conversationId: `demo-connected-${stamp}`,
    channel: 'whatsapp' as const,
    workspaceId: o.workspaceId,
    actions: [action],
    options: { inactivityTimeoutMs: 3_000 },
  };
  o.say(
    `conversation ${conversation.conversationId} in workspace ${o.workspaceId} syncs into HubSpot account ${o.accountId}`,
  );
  await o.platform.recordMessage(conversation, {
    from: 'customer',
    fields: { email: `jamie.${stamp}@example.com`, first_name: 'Jamie' },
  });
  await o.platform.recordMessage(conversation, { from: 'agent', fields: { last_name: 'Rivera' } });
  await o.platform.updateFields(conversation, { summary: 'Jamie asked for a quote; follow up by email.' });
  // The conversation is kept a while after it ends (late values, operator retries): wait for the outcome, not the end.
  const outcome = await waitForOutcome(o.platform, conversation, action.id, 60_000, o.stopped);
  return outcome
    ? `${outcome.result} (${outcome.reason})${outcome.contactId ? `: contact ${outcome.contactId}` : ''}`
    : 'no outcome within a minute';
}

export async function waitForOutcome(
  platform: ConversationClient,
  conversation: ConversationRef,
  actionId: string,
  timeoutMs: number,
  stopped: () => boolean = () => false,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopped()) {
    const outcome = (await platform.getState(conversation))?.outcomes[actionId]?.at(-1);
    if (outcome) return outcome;
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

/** Watches the workspace for accounts connected after the start, and plays the demo into each once. Returns a stop function that resolves once the watcher is idle. */
export function playDemoOnNewConnections(o: ConnectedAccountDemoOptions): () => Promise<void> {
  let stopped = false;
  const seen = new Set<string>();
  const ready = o.store.listConnections(o.workspaceId).then((list) => list.forEach((c) => seen.add(c.accountId)));
  const tick = async () => {
    await ready;
    while (!stopped) {
      const list = await o.store.listConnections(o.workspaceId).catch(() => []);
      for (const c of list) {
        if (seen.has(c.accountId) || c.status !== 'connected' || stopped) continue;
        seen.add(c.accountId);
        try {
          o.say(
            `outcome: ${await playConnectedAccountDemo({ ...o, accountId: c.accountId, stopped: () => stopped })}; the emulator shows it at ${o.emulatorUrl}/_emulator/accounts`,
          );
        } catch (err) {
          o.say(`failed: ${(err as Error).message}`);
        }
      }
      for (let waited = 0; waited < (o.pollMs ?? 2_000) && !stopped; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
    }
  };
  const loop = tick().catch(() => undefined);
  return async () => {
    stopped = true;
    // A query in flight may wait for a worker that has stopped: give it a moment, not more.
    await Promise.race([loop, new Promise((r) => setTimeout(r, 2_000))]);
  };
}

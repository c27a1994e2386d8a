// The demo: a WhatsApp conversation and a phone call played through the platform client, then the
// HubSpot contact and the timeline entries they produced (the action logs engagements: a WhatsApp
// Communication and a Call), read back through the official HubSpot client.
// It writes contacts, so it only ever runs against the HubSpot emulator.
//   npm start                 (development: the main job plays it once the worker is up)
//   npm run demo              (against a worker that is already running: `npm start` in another terminal)
import { HubSpotAccounts } from '../../hubspot/accounts';
import { Client, Connection } from '@temporalio/client';
import type { ActionConfigInput } from '../../action/config';
import { ConversationClient, type Conversation, type ConversationRef } from '../../platform/client';
import { DEFAULT_TASK_QUEUE, type ActionRun, type ConversationState } from '../../platform/contract';
import { DEMO_ACCOUNT } from '../../../hubspot-emulator';
import { dataConverterFromEnv } from '../../codec/data-converter';

/** The workspace the demo's conversations belong to: development's own (the setup page's login link names it too). */
const DEMO_WORKSPACE = 'default';

export interface DemoOptions {
  platform: ConversationClient;
  /** The emulator the worker talks to (the demo account). */
  hubspotBasePath: string;
  say: (line: string) => void;
  /** How long the text conversation waits after its last message. Default 5 s (production: 10 minutes). */
  inactivityTimeoutMs?: number;
}

export interface DemoRun {
  conversationId: string;
  outcome: ActionRun | undefined;
  contact?: Record<string, string | null>;
  noteBody?: string | null;
}

const demoAction: ActionConfigInput = {
  id: 'hubspot-contact',
  name: 'HubSpot: create or update contact',
  intent: 'Save the customer in the CRM once the conversation is over',
  offlineSync: true,
  hubspotAccountId: DEMO_ACCOUNT.accountId,
  allowCreate: true,
  allowUpdateExisting: false,
  fieldMappings: [
    { hubspotProperty: 'email', astraField: 'email' },
    { hubspotProperty: 'firstname', astraField: 'first_name' },
    { hubspotProperty: 'lastname', astraField: 'last_name' },
    { hubspotProperty: 'favorite_product', astraField: 'favorite_product' },
    { hubspotProperty: 'conversation_summary', astraField: 'summary' },
  ],
  customFields: [{ key: 'favorite_product', label: 'Favorite product', type: 'text' }],
  logAs: 'engagement',
};

const CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'favorite_product',
  'conversation_summary',
  'hs_object_source',
  'hs_object_source_id',
];

export async function runDemo(options: DemoOptions): Promise<DemoRun[]> {
  const { platform, say } = options;
  const hubspot = await new HubSpotAccounts([
    {
      accountId: DEMO_ACCOUNT.accountId,
      token: DEMO_ACCOUNT.token,
      appId: DEMO_ACCOUNT.appId,
      basePath: options.hubspotBasePath,
    },
  ]).get(DEMO_ACCOUNT.accountId);
  const stamp = Date.now().toString(36);
  const inactivityTimeoutMs = options.inactivityTimeoutMs ?? 5_000;

  /** The conversation once its offline sync has run (it is then kept, dormant, for its retention period). */
  const synced = async (conversation: ConversationRef): Promise<ConversationState> => {
    const { conversationId } = conversation;
    for (const until = Date.now() + 120_000; ;) {
      const state = await platform.getState(conversation);
      if (state?.status === 'ended' && Object.keys(state.outcomes).length > 0) return state;
      if (Date.now() > until)
        throw new Error(
          `conversation ${conversationId} did not sync within 2 minutes (status ${state?.status ?? 'unknown'})`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const show = async (conversationId: string, result: ConversationState): Promise<DemoRun> => {
    const outcome = result.outcomes[demoAction.id]?.at(-1);
    const run: DemoRun = { conversationId, outcome };
    if (!outcome) {
      say(`  no outcome recorded (status ${result.status})`);
      return run;
    }
    say(`  outcome: ${outcome.result} (${outcome.reason})`);
    if (outcome.contactId) {
      const contact = await hubspot.readContact(outcome.contactId, CONTACT_PROPERTIES);
      if (!contact) throw new Error(`contact ${outcome.contactId} is not in HubSpot`);
      run.contact = contact.properties;
      say(`  HubSpot contact ${contact.id}:`);
      for (const name of CONTACT_PROPERTIES)
        if (contact.properties[name]) say(`    ${name.padEnd(22)} ${contact.properties[name]}`);
    }
    if (outcome.noteId && outcome.loggedAs) {
      const object = outcome.loggedAs === 'call' ? 'calls' : 'communications';
      const [record] = await hubspot.readEngagements(object, [outcome.noteId], false);
      if (!record) throw new Error(`${outcome.loggedAs} ${outcome.noteId} is not in HubSpot`);
      run.noteBody = record.properties[outcome.loggedAs === 'call' ? 'hs_call_body' : 'hs_communication_body'];
      say(`  HubSpot ${outcome.loggedAs} ${record.id} on the contact's timeline: ${run.noteBody}`);
    } else if (outcome.noteId) {
      const {
        results: [note],
      } = await hubspot.readNotes([outcome.noteId]);
      if (!note) throw new Error(`note ${outcome.noteId} is not in HubSpot`);
      run.noteBody = note.properties.hs_note_body;
      say(`  HubSpot note ${note.id}: ${note.properties.hs_note_body}`);
    }
    return run;
  };

  // 1. WhatsApp: a new customer. The conversation ends after the inactivity wait; the sync creates the contact.
  const text: Conversation = {
    conversationId: `demo-whatsapp-${stamp}`,
    workspaceId: DEMO_WORKSPACE,
    channel: 'whatsapp',
    actions: [demoAction],
    options: { inactivityTimeoutMs },
  };
  say(
    `WhatsApp conversation ${text.conversationId}: 2 messages, then ${inactivityTimeoutMs / 1000} s of silence (production waits 10 minutes)`,
  );
  await platform.recordMessage(text, {
    from: 'customer',
    fields: { email: 'alex.morgan@example.com', first_name: 'Alex' },
  });
  await platform.recordMessage(text, { from: 'agent', fields: { last_name: 'Morgan', favorite_product: 'Team plan' } });
  await platform.updateFields(text, {
    summary: 'Alex asked about the Team plan for 12 seats & wants a demo next week.',
  });
  const textRun = await show(text.conversationId, await synced(text));

  // 2. Phone call: a customer already in HubSpot (found by a secondary email). Updating existing
  //    contacts is not allowed by this action, so only the summary is logged (as a Call).
  const call: Conversation = {
    conversationId: `demo-call-${stamp}`,
    workspaceId: DEMO_WORKSPACE,
    channel: 'voice',
    actions: [demoAction],
  };
  say(`Phone call ${call.conversationId}: the customer is already in HubSpot; the sync runs when the call ends`);
  await platform.recordMessage(call, {
    from: 'customer',
    fields: { email: 'Maria@Garcia-Consulting.example', first_name: 'María' },
  });
  await platform.endCall(call, {
    summary: 'Maria called to move her renewal to March. Callback requested.',
    call: { direction: 'inbound', durationMs: 142_000 },
  });
  const callRun = await show(call.conversationId, await synced(call));

  say(
    `see both conversations in the Temporal Web UI, and everything stored in the emulator at ${options.hubspotBasePath}/_emulator/accounts/${DEMO_ACCOUNT.accountId}/contacts`,
  );
  return [textRun, callRun];
}

/** `npm run demo`: plays the demo against a worker that is already running. */
async function main(): Promise<void> {
  const say = (line: string) => process.stdout.write(`[demo] ${line}\n`);
  const address = process.env.TEMPORAL_ADDRESS ?? `localhost:${process.env.TEMPORAL_DEV_PORT ?? 7233}`;
  const hubspotBasePath =
    process.env.HUBSPOT_EMULATOR_URL ?? `http://127.0.0.1:${process.env.HUBSPOT_EMULATOR_PORT ?? 8787}`;
  const health = await fetch(`${hubspotBasePath}/_emulator/health`).catch(() => undefined);
  if (!health?.ok)
    throw new Error(
      `no HubSpot emulator answers at ${hubspotBasePath}: start the worker first (npm start), or set HUBSPOT_EMULATOR_URL`,
    );
  const connection = await Connection.connect({ address }).catch((err: Error) => {
    throw new Error(
      `no Temporal server answers at ${address} (${err.message}): start the worker first (npm start), or set TEMPORAL_ADDRESS`,
    );
  });
  try {
    const client = new Client({
      connection,
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      dataConverter: dataConverterFromEnv(),
    });
    const platform = new ConversationClient({
      client,
      taskQueue: process.env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    });
    await runDemo({ platform, hubspotBasePath, say });
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`[demo] ${(err as Error).message}\n`);
    process.exit(1);
  });
}

// The platform contract: every payload the platform exchanges with a conversation workflow, as zod
// schemas that are the validation and the documentation at once. The names (signals, update, query)
// and the payload types are in src/platform/definitions.ts, shared with the workflow, so a rename cannot drift;
// the platform client and the activities validate with the schemas below. Workflow code does not
// import this file: it keeps small deterministic checks of its own, so a tightened rule here never
// breaks the replay of a running conversation.
import { z } from 'zod';
import { actionConfigSchema } from '../action/config';
import {
  ACTIONS_BUDGET_BYTES,
  FIELDS_BUDGET_BYTES,
  fieldValuesBytes,
  SUMMARY_LIMIT,
  truncateSummary,
  utf8Length,
} from '../action/limits';
import * as d from './definitions';

export * from './definitions';

const isoTimestamp = z.iso.datetime({ offset: true });

export const channelSchema = z
  .enum(d.CHANNELS)
  .describe(
    'Where the conversation happens. chat (web chat), whatsapp, sms and linkedin are text channels; voice is a phone call.',
  );

/** A link into the platform: https only, no credentials in it. */
export const httpsUrlSchema = z
  .string()
  .max(2_000)
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'expected an https URL (no user name or password in it)');

export const conversationIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits and . _ : - only')
  .describe('The platform’s conversation id. It names the workflow, so it must not contain personal data.');

export const workspaceIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits and . _ : - only')
  .describe(
    "The platform workspace (tenant) the conversation belongs to. With the conversation id it names the workflow: the same conversation id in two workspaces is two conversations, and a call for one workspace never reaches another's conversation. The worker refuses to use a HubSpot account or a saved action config of another workspace.",
  );

/** Where a conversation is: its workspace and its conversation id. Every call of the platform client names both. */
export const conversationRefSchema = z
  .object({ workspaceId: workspaceIdSchema, conversationId: conversationIdSchema })
  .describe('A conversation of a workspace.');
export type ConversationRef = z.output<typeof conversationRefSchema>;

/** Field values collected by the agent, keyed by platform field (astraField). Null clears nothing in HubSpot. */
export const fieldValuesSchema = z
  .record(z.string().min(1).max(100), z.string().max(65_536).nullable())
  .refine((r) => Object.keys(r).length <= d.MAX_FIELDS, `at most ${d.MAX_FIELDS} fields`)
  .refine(
    (r) => fieldValuesBytes(r) <= FIELDS_BUDGET_BYTES,
    `field names and values together must stay within ${FIELDS_BUDGET_BYTES / 1024} KiB (UTF-8)`,
  )
  .describe(
    `Field values collected by the agent, keyed by platform field. Empty values are never written to HubSpot. At most ${d.MAX_FIELDS} fields and ${FIELDS_BUDGET_BYTES / 1024} KiB per conversation.`,
  );

export const summarySchema = z
  .string()
  .max(1_000_000)
  .transform(truncateSummary)
  .describe(
    `The conversation summary. Written as a note on the contact (and to a property mapped to \`summary\`). Longer than HubSpot's ${SUMMARY_LIMIT} characters, it is cut to them with a visible marker.`,
  );

export const durationMsSchema = z
  .number()
  .int()
  .positive()
  .max(30 * 24 * 3600_000);

/** A default duration as the descriptions say it: "10 minutes", "24 hours", "7 days". */
function inWords(ms: number): string {
  const units: Array<[number, string, number]> = [
    [24 * 3600_000, 'days', 2],
    [3600_000, 'hours', 1],
    [60_000, 'minutes', 1],
    [1_000, 'seconds', 1],
  ];
  for (const [size, name, least] of units) if (ms % size === 0 && ms / size >= least) return `${ms / size} ${name}`;
  return `${ms} ms`;
}
const defaults = d.DEFAULT_OPTIONS;

export const conversationOptionsSchema = z
  .object({
    inactivityTimeoutMs: durationMsSchema
      .default(defaults.inactivityTimeoutMs)
      .describe(
        `Text channels: the conversation ends this long after the last message. Default ${inWords(defaults.inactivityTimeoutMs)}.`,
      ),
    callSafetyTimeoutMs: durationMsSchema
      .default(defaults.callSafetyTimeoutMs)
      .describe(
        `Voice: the conversation ends this long after the last event if the call-ended signal never comes. Default ${inWords(defaults.callSafetyTimeoutMs)}.`,
      ),
    offlineRetryWindowMs: durationMsSchema
      .default(defaults.offlineRetryWindowMs)
      .describe(
        `How long an offline sync keeps retrying HubSpot faults (429, 5xx, network) before it is recorded as failed. Default ${inWords(defaults.offlineRetryWindowMs)}.`,
      ),
    actionTimeoutMs: durationMsSchema
      .min(1_000)
      .default(defaults.actionTimeoutMs)
      .describe(
        `In-conversation actions: the bound on the time the agent waits for the outcome, the whole run included (plus a margin of about a second, docs/PLATFORM_CONTRACT.md). Default ${inWords(defaults.actionTimeoutMs)}.`,
      ),
    retentionMs: durationMsSchema
      .default(defaults.retentionMs)
      .describe(
        `After the end, how long the conversation is kept dormant: duplicate signals and identical values cost no HubSpot call, new values cause one follow-up sync into the same note, operators can retry. Then it completes. Default ${inWords(defaults.retentionMs)}.`,
      ),
    historyEventsBeforeContinueAsNew: z
      .number()
      .int()
      .min(20)
      .max(50_000)
      .default(defaults.historyEventsBeforeContinueAsNew)
      .describe(
        'Start a new run (continue-as-new) once the history holds this many events, or earlier when Temporal suggests it.',
      ),
  })
  .describe(
    'Timing rules of the conversation. Defaults are the product’s documented behaviour (DEFAULT_OPTIONS, src/platform/definitions.ts).',
  );

/** What the platform sends to start a conversation (the workflow's own keys, carried and operatorRetry, are not the platform's). */
export const conversationInputSchema = z
  .object({
    conversationId: conversationIdSchema,
    channel: channelSchema,
    workspaceId: workspaceIdSchema,
    actions: z
      .array(actionConfigSchema)
      .max(50)
      .refine((a) => new Set(a.map((x) => x.id)).size === a.length, 'action ids must be unique')
      .refine(
        (a) => utf8Length(JSON.stringify(a)) <= ACTIONS_BUDGET_BYTES,
        `the action configs together must stay within ${ACTIONS_BUDGET_BYTES / 1024} KiB of JSON`,
      )
      .describe('The HubSpot actions attached to the agent, snapshotted when the conversation starts.'),
    fields: fieldValuesSchema.optional(),
    summary: summarySchema.optional(),
    conversationUrl: httpsUrlSchema
      .optional()
      .describe(
        'The conversation in the platform: what actions write to HubSpot links back to it. https only; it must not carry personal data (an id, not an email).',
      ),
    options: conversationOptionsSchema.optional(),
  })
  .strict()
  .describe('Starts a conversation workflow.');
export type ParsedConversationInput = z.output<typeof conversationInputSchema>;

export const messageSchema = z
  .object({
    from: z.enum(['customer', 'agent']).describe('Who wrote the message. Both restart the 10-minute wait.'),
    messageId: z.string().min(1).max(200).optional().describe('The platform’s message id, for tracing.'),
    fields: fieldValuesSchema
      .optional()
      .describe('Field values known after this message (merged into the conversation).'),
    summary: summarySchema.optional().describe('The summary so far, if the platform maintains one.'),
  })
  .describe(
    'A message was exchanged in the conversation. The message text itself is not sent: the workflow needs only the timing and the fields.',
  );

export const fieldsUpdatedSchema = z
  .object({
    fields: fieldValuesSchema.optional(),
    summary: summarySchema.optional(),
  })
  .refine((v) => v.fields !== undefined || v.summary !== undefined, 'give fields, a summary, or both')
  .describe('New field values and/or summary. Does not restart the inactivity wait.');

export const callDetailsSchema = z
  .object({
    direction: z
      .enum(['inbound', 'outbound'])
      .describe('inbound: the customer called; outbound: the agent called the customer.'),
    durationMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600_000)
      .optional()
      .describe('How long the call lasted, in milliseconds.'),
    status: z
      .enum(['completed', 'no-answer', 'busy', 'failed', 'canceled'])
      .optional()
      .describe('How the call ended. Default completed.'),
    recordingUrl: httpsUrlSchema
      .optional()
      .describe('Where the platform keeps the recording (https): HubSpot shows it on the Call.'),
  })
  .strict()
  .describe(
    'The call, as the platform knows it. Logged on a HubSpot Call by actions that log engagements (logAs `engagement`). No phone numbers.',
  );

export const callEndedSchema = z
  .object({
    fields: fieldValuesSchema.optional(),
    summary: summarySchema.optional(),
    call: callDetailsSchema.optional(),
  })
  .describe(
    'The phone call ended (voice channel). Offline actions run right after it; a repeated callEnded costs nothing.',
  );

export const runActionSchema = z
  .object({
    actionId: z
      .string()
      .min(1)
      .max(200)
      .describe('The id of an in-conversation (offlineSync OFF) action of this conversation.'),
    fields: fieldValuesSchema.optional().describe('Field values at the moment the agent triggers the action.'),
    summary: summarySchema.optional(),
  })
  .describe('The agent triggers an in-conversation action and waits for its outcome.');

export const retryActionSchema = z
  .object({
    actionId: z.string().min(1).max(200).describe('Any action of this conversation, offline-sync ones included.'),
  })
  .describe(
    'Operator tools: run an action again now, with the conversation’s current values (also while the conversation is dormant after its end).',
  );

/**
 * safeParse that never throws. Zod's length checks compare a value's `length` even when the type check
 * failed, and throw on one that cannot be turned into a number (an object without a prototype): such
 * input is refused as a whole, like any other unreadable value.
 */
export function safeValidate<T extends z.ZodType>(schema: T, value: unknown): z.ZodSafeParseResult<z.output<T>> {
  try {
    return schema.safeParse(value) as z.ZodSafeParseResult<z.output<T>>;
  } catch {
    const error = new z.ZodError([
      {
        code: 'custom',
        path: [],
        message: 'a value that cannot be read (a length or a number that is not one)',
        input: value,
      },
    ]);
    return { success: false, error } as z.ZodSafeParseResult<z.output<T>>;
  }
}

/** One readable line out of a zod error: "path: problem; path: problem". */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map(
      (i) =>
        `${
          i.path.length
            ? i.path
                .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
                .join('')
                .replace(/^\./, '')
            : '(root)'
        }: ${i.message}`,
    )
    .join('; ');
}

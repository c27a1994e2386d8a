// The input schemas of the first released conversation workflow, frozen: histories recorded by that
// version replay through workflows/legacy/conversation-v1.ts, which must accept and refuse exactly
// what it accepted and refused then. New code uses src/platform/contract.ts. Do not change.
import { z } from 'zod';
import { actionConfigSchema } from '../../src/action/config';

const isoTimestamp = z.iso.datetime({ offset: true });

export const channelSchema = z
  .enum(['chat', 'whatsapp', 'voice'])
  .describe('Where the conversation happens. chat and whatsapp are text channels; voice is a phone call.');
export type Channel = z.infer<typeof channelSchema>;

export function isVoice(channel: Channel): boolean {
  return channel === 'voice';
}

export const conversationIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits and . _ : - only')
  .describe('The platform’s conversation id. It names the workflow, so it must not contain personal data.');

/** How many distinct fields a conversation may hold, in one signal and in all of them together. */
export const MAX_FIELDS = 200;

/** Field values collected by the agent, keyed by platform field (astraField). Null clears nothing in HubSpot. */
export const fieldValuesSchema = z
  .record(z.string().min(1).max(100), z.string().max(65_536).nullable())
  .refine((r) => Object.keys(r).length <= MAX_FIELDS, `at most ${MAX_FIELDS} fields`)
  .describe('Field values collected by the agent, keyed by platform field. Empty values are never written to HubSpot.');
export type FieldValues = z.infer<typeof fieldValuesSchema>;

export const summarySchema = z
  .string()
  .max(1_000_000)
  .describe('The conversation summary. Written as a note on the contact (and to a property mapped to `summary`).');

export const durationMsSchema = z
  .number()
  .int()
  .positive()
  .max(30 * 24 * 3600_000);

export const conversationOptionsSchema = z
  .object({
    inactivityTimeoutMs: durationMsSchema
      .default(10 * 60_000)
      .describe('Text channels: the conversation ends this long after the last message. Default 10 minutes.'),
    callSafetyTimeoutMs: durationMsSchema
      .default(4 * 3600_000)
      .describe(
        'Voice: the conversation ends this long after the last event if the call-ended signal never comes. Default 4 hours.',
      ),
    offlineRetryWindowMs: durationMsSchema
      .default(24 * 3600_000)
      .describe(
        'How long an offline sync keeps retrying HubSpot faults (429, 5xx, network) before it is recorded as failed. Default 24 hours.',
      ),
    actionTimeoutMs: durationMsSchema
      .default(30_000)
      .describe('In-conversation actions: the bound on the time the agent waits for the outcome. Default 30 seconds.'),
    historyEventsBeforeContinueAsNew: z
      .number()
      .int()
      .min(20)
      .max(50_000)
      .default(5_000)
      .describe(
        'Start a new run (continue-as-new) once the history holds this many events, or earlier when Temporal suggests it.',
      ),
  })
  .describe('Timing rules of the conversation. Defaults are the product’s documented behaviour.');
export type ConversationOptions = z.infer<typeof conversationOptionsSchema>;

/** What carries over to the next run when a long conversation continues as new. */
export const carriedStateSchema = z.object({
  fields: fieldValuesSchema,
  summary: summarySchema.optional(),
  lastActivityAtMs: z.number(),
  messageCount: z.number().int().nonnegative(),
  noteIds: z.record(z.string(), z.string()),
  outcomes: z.record(z.string(), z.array(z.any())),
  rejections: z.array(z.any()),
  runsBefore: z.number().int().nonnegative(),
  startedAtMs: z.number(),
  /** Voice: the call had already ended (a session opened by values that arrived while the previous one was ending). */
  callEnded: z.boolean().optional(),
});
export type CarriedState = z.infer<typeof carriedStateSchema>;

export const conversationInputSchema = z
  .object({
    conversationId: conversationIdSchema,
    channel: channelSchema,
    actions: z
      .array(actionConfigSchema)
      .max(50)
      .refine((a) => new Set(a.map((x) => x.id)).size === a.length, 'action ids must be unique')
      .describe('The HubSpot actions attached to the agent, snapshotted when the conversation starts.'),
    fields: fieldValuesSchema.optional(),
    summary: summarySchema.optional(),
    options: conversationOptionsSchema.optional(),
    carried: carriedStateSchema.optional().describe('Internal: state carried over by continue-as-new.'),
    operatorRetry: z
      .object({ actionId: z.string().min(1).max(200) })
      .optional()
      .describe(
        'Operator tools: run this one action now with the given fields and summary, then end (retry of a failed action of a finished conversation).',
      ),
  })
  .describe('Starts a conversation workflow.');
export type ConversationInput = z.input<typeof conversationInputSchema>;
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
export type Message = z.infer<typeof messageSchema>;

export const fieldsUpdatedSchema = z
  .object({
    fields: fieldValuesSchema.optional(),
    summary: summarySchema.optional(),
  })
  .refine((v) => v.fields !== undefined || v.summary !== undefined, 'give fields, a summary, or both')
  .describe('New field values and/or summary. Does not restart the inactivity wait.');
export type FieldsUpdate = z.infer<typeof fieldsUpdatedSchema>;

export const callEndedSchema = z
  .object({
    fields: fieldValuesSchema.optional(),
    summary: summarySchema.optional(),
  })
  .describe('The phone call ended (voice channel). Offline actions run right after it.');
export type CallEnded = z.infer<typeof callEndedSchema>;

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
export type RunActionRequest = z.infer<typeof runActionSchema>;

export const retryActionSchema = z
  .object({
    actionId: z.string().min(1).max(200).describe('Any action of this conversation, offline-sync ones included.'),
  })
  .describe('Operator tools: run an action again now, with the conversation’s current values.');
export type RetryActionRequest = z.infer<typeof retryActionSchema>;

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

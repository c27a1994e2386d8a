// The action configuration the operator sets up: the zod schema is the validation, the type and the
// documentation (each field's .describe()). Imported by workflow code: zod only.
import { z } from 'zod';
import { DEFAULT_LOG_AS, DEFAULT_WRITE_RULE } from './names';

export { DEFAULT_LOG_AS, DEFAULT_WRITE_RULE, emailField, SUMMARY_FIELD } from './names';

/** How a mapped value is written to a contact that already exists (docs/CONTACT_SYNC.md, "Write rules"). */
export const WRITE_RULES = ['overwrite', 'fillIfEmpty', 'keepPersonEdits'] as const;
export type WriteRule = (typeof WRITE_RULES)[number];

export const writeRuleSchema = z
  .enum(WRITE_RULES, {
    error: (issue) =>
      `unknown write rule ${JSON.stringify(String(issue.input)).slice(0, 60)}: the allowed write rules are ${WRITE_RULES.join(', ')}`,
  })
  .describe(
    `How the value is written to a contact that exists: \`${DEFAULT_WRITE_RULE}\` (default) always; \`fillIfEmpty\` only when HubSpot has no value; \`keepPersonEdits\` unless a person or another integration set the value since this system last wrote it (HubSpot's property history). A created contact gets every value.`,
  );

/** Where the summary is logged on the contact's timeline (docs/CONTACT_SYNC.md, "Engagements"). */
export const LOG_AS = ['note', 'engagement'] as const;
export type LogAs = (typeof LOG_AS)[number];

export const logAsSchema = z
  .enum(LOG_AS, {
    error: (issue) =>
      `unknown logAs ${JSON.stringify(String(issue.input)).slice(0, 60)}: the allowed values are ${LOG_AS.join(', ')}`,
  })
  .describe(
    `How the conversation is logged on the contact: \`${DEFAULT_LOG_AS}\` (default) a note with the summary; \`engagement\` a voice conversation as a HubSpot Call, a WhatsApp, SMS or LinkedIn conversation as a Communication of that channel (web chat, which HubSpot has no channel type for, stays a note).`,
  );

export const fieldMappingSchema = z
  .object({
    hubspotProperty: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .describe('Internal name of the HubSpot contact property written, e.g. `firstname`.'),
    astraField: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .describe('Platform field whose value is written; `summary` is the conversation summary.'),
    writeRule: writeRuleSchema.optional(),
  })
  .describe('One row of the field mapping.');
export type FieldMapping = z.infer<typeof fieldMappingSchema>;

export const customFieldSchema = z
  .object({
    key: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and _ only, starting with a letter')
      .describe('Field key the agent collects and mappings refer to.'),
    label: z.string().trim().min(1).max(200).describe('What the operator and the agent see.'),
    type: z.literal('text').describe('Only text fields exist today.'),
  })
  .describe(
    'A platform field created while mapping: the agent collects it and it becomes a contact attribute the operator can pick.',
  );
export type CustomField = z.infer<typeof customFieldSchema>;

export const actionConfigSchema = z
  .object({
    id: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .describe('Stable id of the action. The note of a conversation is per (conversation, action id).'),
    name: z.string().trim().min(1).max(200).describe('Name shown to operators.'),
    intent: z.string().trim().min(1).max(2000).describe('What the agent reads to decide when to trigger the action.'),
    offlineSync: z
      .boolean()
      .describe(
        'OFF: runs when the agent triggers it during the conversation. ON: runs once, automatically, after the conversation ends.',
      ),
    hubspotAccountId: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(
        (v) => !/^(pat-|Bearer\s)/i.test(v) && !/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(v),
        'looks like a token: give the account reference, tokens stay in the worker’s secrets',
      )
      .describe('Reference to a connected HubSpot account (configured in the worker). Never a token.'),
    allowCreate: z
      .boolean()
      .describe(
        '"Allow creating and updating new contacts". ON: creates a contact when none exists for the email, and fully updates contacts this system created. OFF: never creates.',
      ),
    allowUpdateExisting: z
      .boolean()
      .describe(
        '"Allow updating existing fields". ON: updates mapped properties of contacts already in HubSpot, even ones this system did not create. OFF: only the summary note is written to such contacts.',
      ),
    fieldMappings: z
      .array(fieldMappingSchema)
      .min(1)
      .max(200)
      .refine(
        (rows) => rows.some((r) => r.hubspotProperty.toLowerCase() === 'email'),
        'a row mapping the HubSpot property `email` is required: the action does not run without it',
      )
      .describe('Which platform field goes to which HubSpot contact property.'),
    logAs: logAsSchema.optional(),
    customFields: z.array(customFieldSchema).max(100).default([]).describe('Platform fields created while mapping.'),
  })
  .describe('The "HubSpot: create or update contact" action, as the operator configured it.');
export type ActionConfig = z.output<typeof actionConfigSchema>;
export type ActionConfigInput = z.input<typeof actionConfigSchema>;

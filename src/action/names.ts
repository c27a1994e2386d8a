// Names of the action's configuration that workflow code needs, without the validation library
// (the schema is src/action/config.ts, which re-exports these; nothing here imports it back).

/** Platform field that carries the conversation summary. */
export const SUMMARY_FIELD = 'summary';

/** The platform field mapped to HubSpot's email: the lookup key. */
export function emailField(config: {
  fieldMappings: ReadonlyArray<{ hubspotProperty: string; astraField: string }>;
}): string {
  return config.fieldMappings.find((r) => r.hubspotProperty.toLowerCase() === 'email')!.astraField;
}

/** The write rule of a mapping row that names none (docs/CONTACT_SYNC.md, "Write rules"). */
export const DEFAULT_WRITE_RULE = 'overwrite' as const;

/** What an action logs the conversation as when its config says nothing (docs/CONTACT_SYNC.md, "Engagements"). */
export const DEFAULT_LOG_AS = 'note' as const;

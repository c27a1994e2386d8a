// Names of the action's configuration that workflow code needs, without the validation library
// (the schema is src/action/config.ts).
import type { ActionConfig, LogAs, WriteRule } from './config';

/** Platform field that carries the conversation summary. */
export const SUMMARY_FIELD = 'summary';

/** The platform field mapped to HubSpot's email: the lookup key. */
export function emailField(config: Pick<ActionConfig, 'fieldMappings'>): string {
  return config.fieldMappings.find((r) => r.hubspotProperty.toLowerCase() === 'email')!.astraField;
}

/** The write rule of a mapping row that names none (docs/CONTACT_SYNC.md, "Write rules"). */
export const DEFAULT_WRITE_RULE: WriteRule = 'overwrite';

/** What an action logs the conversation as when its config says nothing (docs/CONTACT_SYNC.md, "Engagements"). */
export const DEFAULT_LOG_AS: LogAs = 'note';

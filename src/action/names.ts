// Names of the action's configuration that workflow code needs, without the validation library
// (the schema is src/action/config.ts).
import type { ActionConfig } from './config';

/** Platform field that carries the conversation summary. */
export const SUMMARY_FIELD = 'summary';

/** The platform field mapped to HubSpot's email: the lookup key. */
export function emailField(config: Pick<ActionConfig, 'fieldMappings'>): string {
  return config.fieldMappings.find((r) => r.hubspotProperty.toLowerCase() === 'email')!.astraField;
}

// Checks an action's field mappings against the HubSpot account's live contact-property schema
// (GET /crm/v3/properties/contacts). Each problem names its row. Pure: the schema is passed in.
import type { ActionConfig } from './config';

/** The part of HubSpot's property definition the rules look at. */
export interface HubSpotPropertyDefinition {
  name: string;
  label?: string;
  type: string;
  fieldType: string;
  calculated?: boolean;
  hubspotDefined?: boolean;
  modificationMetadata?: { readOnlyValue?: boolean };
}

/** Text-like field types a conversation value can be written to (type `string`). */
export const TEXT_FIELD_TYPES = ['text', 'textarea', 'phonenumber'] as const;

export function validateFieldMappings(config: ActionConfig, schema: HubSpotPropertyDefinition[]): string[] {
  const byName = new Map(schema.map((p) => [p.name.toLowerCase(), p]));
  const problems: string[] = [];
  const targets = new Map<string, number>();
  config.fieldMappings.forEach((row, i) => {
    const where = `fieldMappings[${i}] (${row.hubspotProperty} <- ${row.astraField})`;
    const name = row.hubspotProperty.toLowerCase();
    const first = targets.get(name);
    if (first !== undefined) problems.push(`${where}: HubSpot property "${row.hubspotProperty}" is already mapped by fieldMappings[${first}]`);
    else targets.set(name, i);

    const prop = byName.get(name);
    if (!prop) {
      problems.push(`${where}: HubSpot account ${config.hubspotAccountId} has no contact property "${row.hubspotProperty}"`);
    } else if (prop.modificationMetadata?.readOnlyValue) {
      problems.push(`${where}: "${prop.name}" is read-only in HubSpot`);
    } else if (prop.calculated) {
      problems.push(`${where}: "${prop.name}" is calculated by HubSpot and cannot be written`);
    } else if (prop.type !== 'string' || !(TEXT_FIELD_TYPES as readonly string[]).includes(prop.fieldType)) {
      problems.push(`${where}: "${prop.name}" is a ${prop.type}/${prop.fieldType} property; only text, textarea and phone-number string properties can be mapped`);
    }
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(row.astraField)) {
      problems.push(`${where}: platform field "${row.astraField}" is not a field name (letters, digits and _)`);
    }
  });
  return problems;
}

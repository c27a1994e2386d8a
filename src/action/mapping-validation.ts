// Checks an action's field mappings against the HubSpot account's live contact-property schema
// (GET /crm/properties/2026-09/contacts). Each problem names its row. Pure: the schema is passed in.
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

/** A portal rule as HubSpot's property validations API lists it. */
export interface PropertyRule {
  ruleType: string;
  ruleArguments?: string[];
}

/**
 * What the portal's write rules (API version 2026-09) mean for this config, before any conversation
 * meets them: required properties a create would lack with the current mapping (HubSpot would refuse
 * it), conditional requirements, and mapped properties that carry format rules. Warnings, not errors:
 * the agent may still collect the value, and a refused write is reported with the rule it broke.
 */
export function validationRuleWarnings(config: ActionConfig, rules: Record<string, PropertyRule[]>): string[] {
  const mapped = new Set(config.fieldMappings.map((r) => r.hubspotProperty.toLowerCase()));
  const out: string[] = [];
  for (const [property, list] of Object.entries(rules)) {
    const isMapped = mapped.has(property.toLowerCase());
    for (const rule of list) {
      if (rule.ruleType === 'REQUIRED_ON_CREATE' && !isMapped && config.allowCreate) {
        out.push(`HubSpot requires "${property}" when a contact is created, and no mapping row writes it: creates will be refused`);
      } else if (rule.ruleType === 'CONDITIONALLY_REQUIRED' && !isMapped) {
        const [when, ...values] = rule.ruleArguments ?? [];
        out.push(`HubSpot requires "${property}" when "${when}" is ${values.map((v) => `"${v}"`).join(' or ') || 'set'}, and no mapping row writes it: such writes will be refused`);
      } else if (isMapped && rule.ruleType !== 'REQUIRED_ON_CREATE' && rule.ruleType !== 'CONDITIONALLY_REQUIRED') {
        out.push(`"${property}" carries a format rule (${rule.ruleType}${rule.ruleArguments?.length ? ` ${rule.ruleArguments.join(', ')}` : ''}): HubSpot refuses values that break it`);
      }
    }
  }
  return out;
}

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
  hasUniqueValue?: boolean;
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
    if (first !== undefined)
      problems.push(`${where}: HubSpot property "${row.hubspotProperty}" is already mapped by fieldMappings[${first}]`);
    else targets.set(name, i);

    const prop = byName.get(name);
    if (!prop) {
      problems.push(
        `${where}: HubSpot account ${config.hubspotAccountId} has no contact property "${row.hubspotProperty}"`,
      );
    } else if (prop.modificationMetadata?.readOnlyValue) {
      problems.push(`${where}: "${prop.name}" is read-only in HubSpot`);
    } else if (prop.calculated) {
      problems.push(`${where}: "${prop.name}" is calculated by HubSpot and cannot be written`);
    } else if (prop.type !== 'string' || !(TEXT_FIELD_TYPES as readonly string[]).includes(prop.fieldType)) {
      problems.push(
        `${where}: "${prop.name}" is a ${prop.type}/${prop.fieldType} property; only text, textarea and phone-number string properties can be mapped`,
      );
    }
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(row.astraField)) {
      problems.push(`${where}: platform field "${row.astraField}" is not a field name (letters, digits and _)`);
    }
  });
  return problems;
}

/** A rule as HubSpot's property validations API lists it (one of its published rule types). */
export interface PropertyRule {
  ruleType: string;
  ruleArguments?: string[];
}

/**
 * A property a portal's write rule (API version 2026-09: required on create, conditionally required)
 * required, learned from HubSpot refusing a write that lacked it: HubSpot's API lists these rules
 * nowhere else.
 */
export interface LearnedRequirement {
  property: string;
  /** HubSpot's code for the rule. */
  rule: string;
  /** The write HubSpot refused. */
  write: 'create' | 'update';
  /** For a conditional rule: the properties whose value set the requirement off. */
  condition: string[];
  /** When HubSpot last refused a write by it (ISO). */
  learnedAt: string;
}

/**
 * What the portal means for this config before any conversation meets it, from what HubSpot's API
 * really exposes: properties its write rules required when HubSpot refused a write without them
 * (learned), format rules on mapped properties (the property validations API), and mapped properties
 * whose values must be unique (the property schema). Warnings, not errors: the agent may still collect
 * the value, and a refused write is reported with the rule it broke.
 */
export function validationRuleWarnings(
  config: ActionConfig,
  rules: Record<string, PropertyRule[]>,
  learned: LearnedRequirement[] = [],
  schema: HubSpotPropertyDefinition[] = [],
): string[] {
  const mapped = new Set(config.fieldMappings.map((r) => r.hubspotProperty.toLowerCase()));
  const out: string[] = [];
  const warned = new Set<string>();
  for (const l of learned) {
    const property = l.property.toLowerCase();
    if (mapped.has(property) || warned.has(property)) continue;
    if (l.write === 'create' && !l.condition.length && !config.allowCreate) continue;
    warned.add(property);
    const seen = `rule ${l.rule}, last refused ${l.learnedAt.slice(0, 10)}`;
    if (l.condition.length) {
      out.push(
        `HubSpot refused a contact ${l.write} because "${l.property}" had no value while ${l.condition.map((c) => `"${c}"`).join(', ')} had the value a portal rule names (${seen}), and no mapping row writes it: such writes will be refused`,
      );
    } else {
      out.push(
        `HubSpot refused a contact ${l.write} because "${l.property}" had no value (${seen}), and no mapping row writes it: ${l.write === 'create' ? 'creates' : 'such updates'} will be refused`,
      );
    }
  }
  for (const [property, list] of Object.entries(rules)) {
    if (!mapped.has(property.toLowerCase())) continue;
    for (const rule of list) {
      out.push(
        `"${property}" carries a format rule (${rule.ruleType}${rule.ruleArguments?.length ? ` ${rule.ruleArguments.join(', ')}` : ''}): HubSpot refuses values that break it`,
      );
    }
  }
  for (const p of schema) {
    if (p.hasUniqueValue && mapped.has(p.name.toLowerCase()))
      out.push(
        `"${p.name}" must have a value no other contact has: HubSpot refuses a write that repeats another contact's value`,
      );
  }
  return out;
}

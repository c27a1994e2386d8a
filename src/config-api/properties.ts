// Which contact properties an operator may map, and why the others are not offered. The rules are the
// action's own (src/action/mapping-validation.ts): a property is offered exactly when a one-row
// mapping to it passes validateFieldMappings.
import { validateFieldMappings, type HubSpotPropertyDefinition } from '../action/mapping-validation';
import type { ActionConfig } from '../action/config';

export interface PropertyView {
  name: string;
  label: string;
  group: string;
  type: string;
  fieldType: string;
  /** true for HubSpot's own (standard) properties, false for the portal's custom ones */
  standard: boolean;
}

export interface PropertyListing {
  mappable: PropertyView[];
  notOffered: Array<PropertyView & { reason: string }>;
}

type Definition = HubSpotPropertyDefinition & { groupName?: string; hidden?: boolean; archived?: boolean };

export function mappableProperties(accountId: string, schema: Definition[]): PropertyListing {
  const listing: PropertyListing = { mappable: [], notOffered: [] };
  for (const p of schema) {
    if (p.archived) continue;
    const view: PropertyView = {
      name: p.name,
      label: p.label ?? p.name,
      group: p.groupName ?? '',
      type: p.type,
      fieldType: p.fieldType,
      standard: p.hubspotDefined ?? false,
    };
    const probe = {
      hubspotAccountId: accountId,
      fieldMappings: [{ hubspotProperty: p.name, astraField: 'field' }],
    } as unknown as ActionConfig;
    const problems = validateFieldMappings(probe, [p]);
    // The rule's message starts with the row it is about; the listing is about the property.
    if (problems.length)
      listing.notOffered.push({ ...view, reason: problems[0]!.replace(/^fieldMappings\[0\] \([^)]*\): /, '') });
    else listing.mappable.push(view);
  }
  const byLabel = (a: PropertyView, b: PropertyView) => a.label.localeCompare(b.label);
  listing.mappable.sort(byLabel);
  listing.notOffered.sort(byLabel);
  return listing;
}

/** HubSpot's answer to a property read failed; status is HubSpot's HTTP status (0: unreachable). */
export class HubSpotSchemaError extends Error {
  override name = 'HubSpotSchemaError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

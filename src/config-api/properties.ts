// Which contact properties an operator may map, and why the others are not offered. The rules are the
// action's own (src/action/mapping-validation.ts): a property is offered exactly when a one-row
// mapping to it passes validateFieldMappings.
import { Client } from '@hubspot/api-client';
import { validateFieldMappings, type HubSpotPropertyDefinition } from '../action/mapping-validation';
import type { ActionConfig } from '../action/config';
import type { AccountDirectory } from '../hubspot/directory';

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
    const view: PropertyView = { name: p.name, label: p.label ?? p.name, group: p.groupName ?? '', type: p.type, fieldType: p.fieldType, standard: p.hubspotDefined ?? false };
    const probe = { hubspotAccountId: accountId, fieldMappings: [{ hubspotProperty: p.name, astraField: 'field' }] } as unknown as ActionConfig;
    const problems = validateFieldMappings(probe, [p]);
    // The rule's message starts with the row it is about; the listing is about the property.
    if (problems.length) listing.notOffered.push({ ...view, reason: problems[0]!.replace(/^fieldMappings\[0\] \([^)]*\): /, '') });
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
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/**
 * Reads an account's contact-property schema through the official client, with the directory's token;
 * a 401 EXPIRED_AUTHENTICATION invalidates the token and tries once more with a fresh one.
 */
export function officialClientSchemaReader(directory: AccountDirectory): (accountId: string) => Promise<Definition[]> {
  return async (accountId) => {
    const connection = await directory.connection(accountId);
    for (let attempt = 0; ; attempt++) {
      const token = await directory.accessToken(accountId);
      const client = new Client({ accessToken: token, basePath: connection?.basePath, numberOfApiCallRetries: 0 });
      try {
        const r = await client.crm.properties.coreApi.getAll('contacts');
        return r.results as unknown as Definition[];
      } catch (err) {
        const code = (err as { code?: number }).code ?? 0;
        const body = (err as { body?: { category?: string } }).body;
        if (code === 401 && body?.category === 'EXPIRED_AUTHENTICATION' && attempt === 0) {
          await directory.invalidate(accountId, token);
          continue;
        }
        throw new HubSpotSchemaError(
          code ? `HubSpot account ${accountId} refused the property read (${code}${body?.category ? ` ${body.category}` : ''})` : `HubSpot account ${accountId} is unreachable`,
          code,
        );
      }
    }
  };
}

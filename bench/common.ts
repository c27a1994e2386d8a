// Shared by the benchmark scripts: the action config they drive (email, first name and phone mapped).
import type { ActionConfigInput } from '../src/action/config';

export function benchAction(
  id: string,
  hubspotAccountId: string,
  rules: { allowCreate: boolean; allowUpdateExisting: boolean },
  offlineSync: boolean,
): ActionConfigInput {
  return {
    id,
    name: 'HubSpot: create or update contact',
    intent: 'Save the customer',
    offlineSync,
    hubspotAccountId,
    ...rules,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
      { hubspotProperty: 'phone', astraField: 'phone' },
    ],
    customFields: [],
  };
}

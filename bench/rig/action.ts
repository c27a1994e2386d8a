// The action config the benchmarks drive: "HubSpot: create or update contact" with email, first name
// and phone mapped.
import type { ActionConfigInput } from '../../src/action/config';

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

/** The workspace benchmark conversations belong to (chaos runs spread theirs over two: bench/chaos/plan.ts). */
export const BENCH_WORKSPACE = 'ws-bench';

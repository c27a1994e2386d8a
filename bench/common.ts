// Shared by the benchmark scripts: the action config they drive (email, first name and phone mapped),
// and a bounded pool of concurrent work.
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

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

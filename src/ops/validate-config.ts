// Checks an action config the way the worker will use it: the zod schema first, then its field
// mappings against the live contact-property schema of the HubSpot account it names.
import { actionConfigSchema } from '../action/config';
import { validateFieldMappings } from '../action/mapping-validation';
import { describeZodError } from '../platform/contract';
import { HubSpotAccounts } from '../hubspot/accounts';
import type { WorkerConfig } from '../environment/config';

/** The problems found, each naming its field or mapping row; empty when the config is valid. */
export async function validateActionConfigFile(raw: unknown, config: WorkerConfig): Promise<string[]> {
  const parsed = actionConfigSchema.safeParse(raw);
  if (!parsed.success) return describeZodError(parsed.error).split('; ');
  const action = parsed.data;
  const settings = config.hubspotAccounts?.find((a) => a.accountId === action.hubspotAccountId);
  if (!settings) {
    return [
      `hubspotAccountId: account "${action.hubspotAccountId}" is not configured (HUBSPOT_ACCOUNTS has: ${config.hubspotAccounts?.map((a) => a.accountId).join(', ') || 'none'})`,
    ];
  }
  const account = await new HubSpotAccounts([settings]).get(settings.accountId);
  return validateFieldMappings(action, await account.contactPropertySchema());
}

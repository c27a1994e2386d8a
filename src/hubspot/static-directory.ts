// The accounts named in the worker's own configuration (HUBSPOT_ACCOUNTS): private-app tokens and
// service keys, fixed for the life of the worker. They never need reconnecting; a token HubSpot
// rejects is an operator's fix in the worker's secrets.
import type { AccountDirectory, HubSpotConnection } from './directory';

export interface HubSpotAccountSettings {
  accountId: string;
  token: string;
  /** The app that owns the token (private app or service key): HubSpot records it as hs_object_source_id of what it creates. */
  appId: number;
  /** 'private-app' (default) or 'service-key': both are static bearer credentials. */
  kind?: 'private-app' | 'service-key';
  /** The platform workspace that owns the account; unset: any workspace of this worker may use it. */
  workspaceId?: string;
  portalId?: number;
  /** See HubSpotConnection.ownershipMarker: the fallback "created by this system" marker. */
  ownershipMarker?: { property: string; value: string };
  basePath?: string;
  rateLimitPerTenSeconds?: number;
  searchRateLimitPerSecond?: number;
}

export function staticDirectory(accounts: readonly HubSpotAccountSettings[]): AccountDirectory {
  const byId = new Map<string, HubSpotAccountSettings>();
  for (const a of accounts) {
    if (byId.has(a.accountId)) throw new Error(`HubSpot account ${a.accountId} is configured twice`);
    byId.set(a.accountId, a);
  }
  const connection = (a: HubSpotAccountSettings): HubSpotConnection => ({
    accountId: a.accountId,
    workspaceId: a.workspaceId,
    portalId: a.portalId,
    appId: a.appId,
    kind: a.kind ?? 'private-app',
    status: 'connected',
    ...(a.ownershipMarker ? { ownershipMarker: a.ownershipMarker } : {}),
    basePath: a.basePath,
    rateLimitPerTenSeconds: a.rateLimitPerTenSeconds,
    searchRateLimitPerSecond: a.searchRateLimitPerSecond,
  });
  return {
    async connection(accountId) {
      const a = byId.get(accountId);
      return a ? connection(a) : undefined;
    },
    async accessToken(accountId) {
      const a = byId.get(accountId);
      // Only the asked id is named: the list of other accounts is not this caller's business.
      if (!a) throw new Error(`HubSpot account ${accountId.slice(0, 100)} is not configured on this worker`);
      return a.token;
    },
    // A static token cannot be refreshed: the next call uses the same one and fails the same way.
    async invalidate() {},
    async accountIds() {
      return [...byId.keys()];
    },
  };
}

// Where the worker learns which HubSpot accounts exist, who owns them and how to authenticate to
// them. The static list from the worker's secrets and the account store (OAuth connections made at
// run time) both implement it, so activities never care where an account came from.
// Tokens stay behind this interface: they never enter workflow inputs, history, logs or metrics.

export type CredentialKind = 'private-app' | 'service-key' | 'oauth';

/** What the worker knows of one connected HubSpot account (no secret in here). */
export interface HubSpotConnection {
  /** The reference an action config names in hubspotAccountId. */
  accountId: string;
  /** The platform workspace (tenant) that owns this connection; undefined for a worker-wide static account. */
  workspaceId?: string;
  /** HubSpot's portal (hub) id, when known. */
  portalId?: number;
  /** The app (OAuth app, private app or service key's app) whose id HubSpot records as the source of what it creates. */
  appId: number;
  kind: CredentialKind;
  /** 'connected', or 'needs-reconnect' when the refresh token was revoked: runs fail at once, named. */
  status: 'connected' | 'needs-reconnect';
  /**
   * How "created by this system" is recognised. Unset: HubSpot's record source (hs_object_source
   * INTEGRATION and hs_object_source_id = appId), which OAuth apps and private apps carry. Set: a
   * contact property this system writes on every contact it creates, and reads back; the fallback an
   * operator chooses where the record source cannot identify us (for example a service key).
   */
  ownershipMarker?: { property: string; value: string };
  /** HubSpot API base URL; default https://api.hubapi.com. */
  basePath?: string;
  rateLimitPerTenSeconds?: number;
  searchRateLimitPerSecond?: number;
}

/** A saved action config (configuration API), keyed by workspace and action id. */
export interface SavedActionConfig {
  workspaceId: string;
  actionId: string;
  /** The action config as saved (validated with actionConfigSchema by whoever saved it). */
  config: unknown;
}

/** A refusal by one of the portal's write-validation rules (API 2026-09): which rule, which properties. */
export interface ValidationRuleRefusal {
  /** HubSpot's code for the rule, e.g. REQUIRED_PROPERTY or CONDITIONALLY_REQUIRED_PROPERTY. */
  rule: string;
  /** The properties the write lacked. */
  missing: string[];
  /** Every property the rule requires, as HubSpot listed them. */
  required: string[];
  /** For a conditional rule: the property whose value set the requirement off. */
  condition: string[];
}

/** What HubSpot refused, and on which kind of write: remembered for the configuration check. */
export interface LearnedRefusal extends ValidationRuleRefusal {
  /** The write HubSpot refused: 'create' (of a contact) or 'update'. */
  write: 'create' | 'update';
}

export interface AccountDirectory {
  /** The connection, or undefined when no such account is connected. */
  connection(accountId: string): Promise<HubSpotConnection | undefined>;
  /**
   * A valid access token for the account: refreshed ahead of expiry for OAuth. Throws
   * AccountNeedsReconnect when the account must be reconnected by an operator.
   */
  accessToken(accountId: string): Promise<string>;
  /** HubSpot answered 401 EXPIRED_AUTHENTICATION with this token: drop it so the next accessToken() refreshes. */
  invalidate(accountId: string, token: string): Promise<void>;
  /** The action config saved through the configuration API for this workspace, if any. */
  savedActionConfig?(workspaceId: string, actionId: string): Promise<SavedActionConfig | undefined>;
  /** Every account id this worker may act for (bounded: used for metric labels). */
  accountIds(): Promise<string[]>;
  /**
   * HubSpot refused a write by one of the portal's write-validation rules (400 VALIDATION_ERROR): the
   * rule and the properties it named, to warn of them when an action config is checked. HubSpot's API
   * publishes these rules nowhere else. Best effort: a failure to remember fails nothing.
   */
  rememberRefusals?(accountId: string, refusals: LearnedRefusal[]): Promise<void>;
}

/**
 * The account's connection was revoked or its refresh token refused: an operator must reconnect it.
 * Thrown by a directory's accessToken() and recognised by its class, never by its wording: the HubSpot
 * adapter turns it into a HubSpotAccountNeedsReconnect failure, the configuration API into a 409.
 */
export class AccountNeedsReconnect extends Error {
  override name = 'AccountNeedsReconnect';
  constructor(readonly accountId: string) {
    super(
      `HubSpot account ${accountId} needs to be reconnected by an operator: HubSpot refused its refresh token (revoked or no longer valid)`,
    );
  }
}

// The worker's view of the account store: AccountDirectory backed by the database. Connections are
// read through a short cache, so a newly connected account is used without a restart and a
// disconnected one stops being used within `cacheTtlMs`. OAuth access tokens are refreshed ahead of
// expiry; one refresh per account at a time inside a worker (single flight), and across workers a
// lease on the row (compare-and-set on the token version) so that only one worker refreshes and no
// worker overwrites a newer token with an older one.
import { randomUUID } from 'node:crypto';
import {
  AccountNeedsReconnect,
  type AccountDirectory,
  type HubSpotConnection,
  type LearnedRefusal,
  type SavedActionConfig,
} from '../hubspot/directory';
import type { HubSpotOAuthClient } from './oauth-client';
import { OAuthError } from './oauth-client';
import type { AccountStore, ConnectionTokens } from './store';

export interface StoreDirectoryOptions {
  /** The OAuth app's client: refreshes tokens. Without it, OAuth connections cannot refresh. */
  oauth?: HubSpotOAuthClient;
  /** HubSpot API base for every stored connection. Default: the OAuth client's, else https://api.hubapi.com */
  basePath?: string;
  /** Refresh this long before the access token expires. Default 5 minutes (at most a quarter of its lifetime). */
  refreshAheadMs?: number;
  /** How long a connection, its status and a token are trusted without asking the database. Default 5 s. */
  cacheTtlMs?: number;
  /** How long a worker may hold the right to refresh before another may take it. Default 30 s. */
  refreshLeaseMs?: number;
  rateLimitPerTenSeconds?: number;
  searchRateLimitPerSecond?: number;
}

export { AccountNeedsReconnect };

/** The account is not connected (unknown or disconnected). */
export class AccountNotConnected extends Error {
  override name = 'AccountNotConnected';
  constructor(readonly accountId: string) {
    super(`HubSpot account ${accountId} is not connected`);
  }
}

interface CachedToken {
  token: string;
  version: number;
  /** epoch ms; Infinity for tokens that do not expire */
  expiresAt: number;
  /** when the database last confirmed it */
  checkedAt: number;
  /** refresh at */
  refreshAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StoreDirectory implements AccountDirectory {
  private readonly owner = `worker-${randomUUID()}`;
  private readonly tokenCache = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly connections = new Map<string, { at: number; value: HubSpotConnection | undefined }>();
  private ids?: { at: number; value: string[] };
  private readonly refreshAheadMs: number;
  private readonly cacheTtlMs: number;
  private readonly leaseMs: number;
  private readonly basePath: string;
  /** Token refreshes this directory made (tests and metrics). */
  refreshes = 0;

  constructor(
    private readonly store: AccountStore,
    private readonly options: StoreDirectoryOptions = {},
  ) {
    this.refreshAheadMs = options.refreshAheadMs ?? 5 * 60_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 5_000;
    this.leaseMs = options.refreshLeaseMs ?? 30_000;
    this.basePath = options.basePath ?? options.oauth?.apiBase ?? 'https://api.hubapi.com';
  }

  async connection(accountId: string): Promise<HubSpotConnection | undefined> {
    const now = Date.now();
    const hit = this.connections.get(accountId);
    // Only a usable connection is trusted from the cache: one that is missing or needs reconnecting is
    // read again, so a run right after the operator connects or reconnects it does not fail for nothing.
    if (hit && now - hit.at < this.cacheTtlMs && hit.value && hit.value.status !== 'needs-reconnect') return hit.value;
    const c = await this.store.connection(accountId);
    const value: HubSpotConnection | undefined =
      c && c.status !== 'disconnected'
        ? {
            accountId: c.accountId,
            workspaceId: c.workspaceId,
            ...(c.portalId !== undefined ? { portalId: c.portalId } : {}),
            appId: c.appId,
            kind: c.kind,
            status: c.status,
            basePath: this.basePath,
            ...(this.options.rateLimitPerTenSeconds
              ? { rateLimitPerTenSeconds: this.options.rateLimitPerTenSeconds }
              : {}),
            ...(this.options.searchRateLimitPerSecond
              ? { searchRateLimitPerSecond: this.options.searchRateLimitPerSecond }
              : {}),
          }
        : undefined;
    this.connections.set(accountId, { at: now, value });
    if (this.connections.size > 10_000) this.connections.delete(this.connections.keys().next().value!);
    return value;
  }

  async accessToken(accountId: string): Promise<string> {
    const now = Date.now();
    const cached = this.tokenCache.get(accountId);
    if (cached && now < cached.refreshAt && now - cached.checkedAt < this.cacheTtlMs) return cached.token;
    let flight = this.inflight.get(accountId);
    if (!flight) {
      flight = this.load(accountId).finally(() => this.inflight.delete(accountId));
      this.inflight.set(accountId, flight);
    }
    return flight;
  }

  async invalidate(accountId: string, token: string): Promise<void> {
    const cached = this.tokenCache.get(accountId);
    if (cached && cached.token === token) {
      this.tokenCache.delete(accountId);
      await this.store.expireAccessToken(accountId, cached.version);
      return;
    }
    // Not the cached one: mark the stored token expired only if it is this very token.
    const t = await this.store.tokens(accountId);
    if (t?.accessToken === token) await this.store.expireAccessToken(accountId, t.version);
  }

  async savedActionConfig(workspaceId: string, actionId: string): Promise<SavedActionConfig | undefined> {
    const saved = await this.store.actionConfig(workspaceId, actionId);
    return saved ? { workspaceId, actionId, config: saved.config } : undefined;
  }

  /** HubSpot refused a write by a portal rule: remembered in the store, where the configuration check reads it. */
  async rememberRefusals(accountId: string, refusals: LearnedRefusal[]): Promise<void> {
    await this.store.rememberRefusals(accountId, refusals);
  }

  async accountIds(): Promise<string[]> {
    const now = Date.now();
    if (this.ids && now - this.ids.at < this.cacheTtlMs) return this.ids.value;
    const value = await this.store.liveAccountIds();
    this.ids = { at: now, value };
    return value;
  }

  /** How long before expiry a token of this lifetime is refreshed: refreshAheadMs, at most a quarter of its life. */
  private aheadOf(lifetimeMs: number): number {
    return Math.min(this.refreshAheadMs, Math.max(0, lifetimeMs / 4));
  }

  private remember(
    accountId: string,
    token: string,
    version: number,
    expiresAt: number,
    now: number,
    issuedAt = now,
  ): string {
    const ahead = this.aheadOf(expiresAt - issuedAt);
    this.tokenCache.set(accountId, {
      token,
      version,
      expiresAt,
      checkedAt: now,
      refreshAt: expiresAt === Infinity ? Infinity : expiresAt - ahead,
    });
    return token;
  }

  private async load(accountId: string): Promise<string> {
    const deadline = Date.now() + this.leaseMs + 5_000;
    for (;;) {
      const now = Date.now();
      const t = await this.store.tokens(accountId);
      if (!t || t.status === 'disconnected') {
        this.tokenCache.delete(accountId);
        throw new AccountNotConnected(accountId);
      }
      if (t.status === 'needs-reconnect') {
        this.tokenCache.delete(accountId);
        throw new AccountNeedsReconnect(accountId);
      }
      if (t.kind !== 'oauth') {
        if (!t.accessToken) throw new AccountNotConnected(accountId);
        return this.remember(accountId, t.accessToken, t.version, Infinity, now);
      }
      const expiresAt = t.accessExpiresAt ?? 0;
      const lifetimeLeft = expiresAt - now;
      const ahead = this.aheadOf(expiresAt - (t.accessIssuedAt ?? expiresAt));
      if (t.accessToken && lifetimeLeft > ahead)
        return this.remember(accountId, t.accessToken, t.version, expiresAt, now, t.accessIssuedAt ?? now);

      if (await this.store.claimRefresh(accountId, t.version, this.owner, this.leaseMs, now))
        return this.refresh(accountId, t);

      // Another worker is refreshing (or just did): a token still valid for a while is good enough;
      // otherwise wait for theirs.
      if (t.accessToken && lifetimeLeft > Math.min(ahead / 2, 5_000) && lifetimeLeft > 1_000) {
        this.tokenCache.set(accountId, {
          token: t.accessToken,
          version: t.version,
          expiresAt,
          checkedAt: now,
          refreshAt: now + 1_000,
        });
        return t.accessToken;
      }
      if (Date.now() > deadline)
        throw new Error(`HubSpot account ${accountId}: another worker's token refresh did not finish in time`);
      await sleep(100 + Math.random() * 150);
    }
  }

  private async refresh(accountId: string, t: ConnectionTokens): Promise<string> {
    const oauth = this.options.oauth;
    if (!oauth || !t.refreshToken) {
      await this.store.releaseRefresh(accountId, this.owner);
      if (!t.refreshToken) {
        await this.store.markNeedsReconnect(accountId, 'no refresh token stored');
        throw new AccountNeedsReconnect(accountId);
      }
      throw new Error(
        `HubSpot account ${accountId}: its access token expired and this worker has no OAuth app settings to refresh it (HUBSPOT_OAUTH_CLIENT_ID/SECRET)`,
      );
    }
    let grant;
    try {
      grant = await oauth.refresh(t.refreshToken);
    } catch (err) {
      // Any 4xx but 429, whatever its body: the refresh token will not work again (HubSpot has answered
      // this in three dialects: the 2026-03 Error's category, v1's BAD_REFRESH_TOKEN, RFC 6749's invalid_grant).
      if (err instanceof OAuthError && err.refusedGrant) {
        await this.store.markNeedsReconnect(
          accountId,
          `HubSpot refused the refresh token (${err.status} ${err.error})`,
        );
        this.tokenCache.delete(accountId);
        this.connections.delete(accountId);
        throw new AccountNeedsReconnect(accountId);
      }
      await this.store.releaseRefresh(accountId, this.owner);
      throw err instanceof OAuthError ? new Error(`HubSpot account ${accountId}: ${err.message}`) : err;
    }
    this.refreshes++;
    const now = Date.now();
    const expiresAt = now + grant.expiresIn * 1000;
    const version = await this.store.completeRefresh(accountId, this.owner, {
      accessToken: grant.accessToken,
      accessExpiresAt: expiresAt,
      accessIssuedAt: now,
      refreshToken: grant.refreshToken,
    });
    if (version === undefined) {
      // The connection changed meanwhile (disconnected or reconnected): do not use a token for it.
      this.tokenCache.delete(accountId);
      return this.load(accountId);
    }
    return this.remember(accountId, grant.accessToken, version, expiresAt, now);
  }
}

/**
 * Several directories as one: the first that knows an account answers for it (e.g. the static
 * accounts from the worker's secrets, then the account store).
 */
export class CompositeDirectory implements AccountDirectory {
  constructor(private readonly directories: AccountDirectory[]) {}

  private async owner(accountId: string): Promise<AccountDirectory | undefined> {
    for (const d of this.directories) if (await d.connection(accountId)) return d;
    return undefined;
  }

  async connection(accountId: string): Promise<HubSpotConnection | undefined> {
    for (const d of this.directories) {
      const c = await d.connection(accountId);
      if (c) return c;
    }
    return undefined;
  }

  async accessToken(accountId: string): Promise<string> {
    const d = await this.owner(accountId);
    if (!d) throw new AccountNotConnected(accountId);
    return d.accessToken(accountId);
  }

  async invalidate(accountId: string, token: string): Promise<void> {
    const d = await this.owner(accountId);
    await d?.invalidate(accountId, token);
  }

  async savedActionConfig(workspaceId: string, actionId: string): Promise<SavedActionConfig | undefined> {
    for (const d of this.directories) {
      const saved = await d.savedActionConfig?.(workspaceId, actionId);
      if (saved) return saved;
    }
    return undefined;
  }

  async rememberRefusals(accountId: string, refusals: LearnedRefusal[]): Promise<void> {
    const d = await this.owner(accountId);
    await d?.rememberRefusals?.(accountId, refusals);
  }

  async accountIds(): Promise<string[]> {
    const all = await Promise.all(this.directories.map((d) => d.accountIds()));
    return [...new Set(all.flat())];
  }
}

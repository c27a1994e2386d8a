// HubSpot's OAuth for public apps, from the app's side: the install URL, and the date-versioned token
// API (POST /oauth/2026-03/token for the authorization-code and refresh-token grants, …/introspect,
// …/revoke; parameters in the form body). Errors never carry a token.
import type { AccountStore, StoredConnection } from './store';

export const OAUTH_API_VERSION = '2026-03';

export interface OAuthAppSettings {
  clientId: string;
  clientSecret: string;
  /** Where HubSpot sends the browser back: the configuration API's /oauth/callback. Register it in the app's settings. */
  redirectUri: string;
  scopes: string[];
  optionalScopes?: string[];
  /** Default https://app.hubspot.com/oauth/authorize */
  authorizeUrl?: string;
  /** HubSpot API base. Default https://api.hubapi.com */
  apiBase?: string;
  /** One token call is given up after this long. Default 10 s. */
  timeoutMs?: number;
}

export interface TokenGrant {
  accessToken: string;
  refreshToken: string;
  /** seconds */
  expiresIn: number;
}

export interface TokenInfo {
  hubId: number;
  appId: number;
  scopes: string[];
  expiresIn?: number;
}

/** HubSpot refused an OAuth call; `error` is the RFC 6749 code (invalid_grant, invalid_client, …). */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(message: string, readonly error: string, readonly status: number) {
    super(message);
  }
  /** The refresh token (or code) is revoked, expired or unknown: the account must be reconnected. */
  get invalidGrant(): boolean {
    return this.error === 'invalid_grant';
  }
}

export const DEFAULT_SCOPES = ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.read'];

export class HubSpotOAuthClient {
  readonly apiBase: string;

  constructor(readonly settings: OAuthAppSettings) {
    this.apiBase = (settings.apiBase ?? 'https://api.hubapi.com').replace(/\/+$/, '');
  }

  get clientId(): string {
    return this.settings.clientId;
  }

  /**
   * The URL that starts the install: the browser goes there, the user approves, HubSpot comes back with a
   * code. codeChallenge: PKCE (RFC 7636, S256), whose verifier the code exchange must then present.
   */
  installUrl(state: string, codeChallenge?: string): string {
    // Scopes are space-separated, encoded as %20 (HubSpot's documented form), not '+'.
    const params: Array<[string, string]> = [
      ['client_id', this.settings.clientId],
      ['redirect_uri', this.settings.redirectUri],
      ['scope', this.settings.scopes.join(' ')],
      ...(this.settings.optionalScopes?.length ? [['optional_scope', this.settings.optionalScopes.join(' ')] as [string, string]] : []),
      ['state', state],
      ...(codeChallenge ? ([['code_challenge', codeChallenge], ['code_challenge_method', 'S256']] as Array<[string, string]>) : []),
    ];
    const base = this.settings.authorizeUrl ?? 'https://app.hubspot.com/oauth/authorize';
    const query = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    return `${base}${base.includes('?') ? '&' : '?'}${query}`;
  }

  private async post(path: string, form: Record<string, string>, what: string): Promise<Record<string, unknown>> {
    const body = new URLSearchParams({ client_id: this.settings.clientId, client_secret: this.settings.clientSecret, ...form });
    let res: Response;
    try {
      res = await fetch(`${this.apiBase}/oauth/${OAUTH_API_VERSION}/${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(this.settings.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const cause = (err as Error).name === 'TimeoutError' ? 'no answer in time' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name);
      throw new OAuthError(`HubSpot OAuth ${what}: unreachable (${cause})`, 'unreachable', 0);
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const code = typeof json.error === 'string' ? json.error : res.status >= 500 ? 'server_error' : 'invalid_request';
      // error_description is HubSpot's own wording; it names no token.
      const description = typeof json.error_description === 'string' ? json.error_description.slice(0, 300) : `HTTP ${res.status}`;
      throw new OAuthError(`HubSpot OAuth ${what} refused (${res.status} ${code}): ${description}`, code, res.status);
    }
    return json;
  }

  private grant(json: Record<string, unknown>, what: string): TokenGrant {
    const { access_token, refresh_token, expires_in } = json;
    if (typeof access_token !== 'string' || typeof refresh_token !== 'string' || typeof expires_in !== 'number') {
      throw new OAuthError(`HubSpot OAuth ${what}: the answer lacks access_token, refresh_token or expires_in`, 'invalid_response', 200);
    }
    return { accessToken: access_token, refreshToken: refresh_token, expiresIn: expires_in };
  }

  async exchangeCode(code: string, codeVerifier?: string): Promise<TokenGrant> {
    const json = await this.post(
      'token',
      { grant_type: 'authorization_code', code, redirect_uri: this.settings.redirectUri, ...(codeVerifier ? { code_verifier: codeVerifier } : {}) },
      'code exchange',
    );
    return this.grant(json, 'code exchange');
  }

  async refresh(refreshToken: string): Promise<TokenGrant> {
    const json = await this.post('token', { grant_type: 'refresh_token', refresh_token: refreshToken }, 'token refresh');
    return this.grant(json, 'token refresh');
  }

  async introspect(token: string): Promise<TokenInfo> {
    const json = await this.post('token/introspect', { token }, 'introspection');
    if (json.active !== true) throw new OAuthError('HubSpot OAuth introspection: the token is not active', 'invalid_grant', 200);
    const scopes = Array.isArray(json.scopes) ? (json.scopes as string[]) : typeof json.scope === 'string' ? json.scope.split(' ') : [];
    return {
      hubId: Number(json.hub_id),
      appId: Number(json.app_id),
      scopes,
      ...(typeof json.expires_in === 'number' ? { expiresIn: json.expires_in } : {}),
    };
  }

  async revoke(token: string): Promise<void> {
    await this.post('token/revoke', { token }, 'revocation');
  }
}

/**
 * The end of an install: exchanges the authorization code, introspects the token (portal, app,
 * scopes) and stores the connection for the workspace, its tokens encrypted.
 */
export async function completeInstall(store: AccountStore, oauth: HubSpotOAuthClient, workspaceId: string, code: string, codeVerifier?: string): Promise<StoredConnection> {
  const grant = await oauth.exchangeCode(code, codeVerifier);
  const info = await oauth.introspect(grant.accessToken);
  if (!Number.isFinite(info.hubId) || !Number.isFinite(info.appId)) throw new OAuthError('HubSpot OAuth introspection gave no hub id or app id', 'invalid_response', 200);
  return store.saveOAuthConnection({
    workspaceId,
    portalId: info.hubId,
    appId: info.appId,
    scopes: info.scopes,
    refreshToken: grant.refreshToken,
    accessToken: grant.accessToken,
    accessExpiresAt: Date.now() + grant.expiresIn * 1000,
  });
}

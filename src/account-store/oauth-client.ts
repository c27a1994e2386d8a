// HubSpot's OAuth for public apps, from the app's side: the install URL, and the date-versioned token
// API (POST /oauth/2026-03/token for the authorization-code and refresh-token grants, …/introspect,
// …/revoke; parameters in the form body). Answers are read with the shapes of oauth-shapes.ts (HubSpot's
// 2026-03 OAuth spec). A refusal is read whatever its dialect: the spec's Error (`category`), the v1
// answers' `status` (BAD_REFRESH_TOKEN, …) or RFC 6749's `error` (invalid_grant, …); what it means is
// decided by its HTTP status (refusedGrant). Errors never carry a token.
import { oauthRefusalShape, tokenGrantShape, tokenInfoFieldsShape } from './oauth-shapes';
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

/**
 * An OAuth call that did not give what was asked. `status` is HubSpot's HTTP status (0: no answer, 200:
 * an answer that lacks what it must carry); `error` is the most specific code HubSpot's body gave,
 * whichever dialect it spoke (`subCategory`, `status`, RFC 6749 `error`, else `category`), or
 * 'unreachable', 'server_error', 'rate_limited', 'invalid_response', 'inactive_token'.
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    message: string,
    readonly error: string,
    readonly status: number,
  ) {
    super(message);
  }

  /**
   * HubSpot refused the grant for good: any 4xx but 429, whatever its body says. For a refresh-token
   * grant this is a dead connection (revoked, uninstalled, expired or never valid): the account must be
   * reconnected. 5xx, 429 and no answer at all are not refusals: they are worth another try.
   */
  get refusedGrant(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 429;
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
      ...(this.settings.optionalScopes?.length
        ? [['optional_scope', this.settings.optionalScopes.join(' ')] as [string, string]]
        : []),
      ['state', state],
      ...(codeChallenge
        ? ([
            ['code_challenge', codeChallenge],
            ['code_challenge_method', 'S256'],
          ] as Array<[string, string]>)
        : []),
    ];
    const base = this.settings.authorizeUrl ?? 'https://app.hubspot.com/oauth/authorize';
    const query = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    return `${base}${base.includes('?') ? '&' : '?'}${query}`;
  }

  private async post(path: string, form: Record<string, string>, what: string): Promise<Record<string, unknown>> {
    const body = new URLSearchParams({
      client_id: this.settings.clientId,
      client_secret: this.settings.clientSecret,
      ...form,
    });
    let res: Response;
    try {
      res = await fetch(`${this.apiBase}/oauth/${OAUTH_API_VERSION}/${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(this.settings.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const cause =
        (err as Error).name === 'TimeoutError'
          ? 'no answer in time'
          : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name);
      throw new OAuthError(`HubSpot OAuth ${what}: unreachable (${cause})`, 'unreachable', 0);
    }
    const text = (await res.text()).slice(0, 256 * 1024);
    let json: unknown = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw refusal(res.status, json, what);
    return typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  }

  private grant(json: Record<string, unknown>, what: string): TokenGrant {
    const parsed = tokenGrantShape.safeParse(json);
    if (!parsed.success)
      throw new OAuthError(
        `HubSpot OAuth ${what}: the answer lacks access_token, refresh_token or expires_in`,
        'invalid_response',
        200,
      );
    return {
      accessToken: parsed.data.access_token,
      refreshToken: parsed.data.refresh_token,
      expiresIn: parsed.data.expires_in,
    };
  }

  async exchangeCode(code: string, codeVerifier?: string): Promise<TokenGrant> {
    const json = await this.post(
      'token',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: this.settings.redirectUri,
        ...(codeVerifier ? { code_verifier: codeVerifier } : {}),
      },
      'code exchange',
    );
    return this.grant(json, 'code exchange');
  }

  async refresh(refreshToken: string): Promise<TokenGrant> {
    const json = await this.post(
      'token',
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      'token refresh',
    );
    return this.grant(json, 'token refresh');
  }

  /** What HubSpot says of a token (TokenInfoResponseBaseIF, 2026-03); a token it does not describe as active is an OAuthError. */
  async introspect(token: string): Promise<TokenInfo> {
    const json = await this.post('token/introspect', { token }, 'introspection');
    const parsed = tokenInfoFieldsShape.safeParse(json);
    if (!parsed.success)
      throw new OAuthError(
        'HubSpot OAuth introspection: the answer lacks active, hub_id or app_id',
        'invalid_response',
        200,
      );
    if (!parsed.data.active)
      throw new OAuthError('HubSpot OAuth introspection: the token is not active', 'inactive_token', 200);
    return {
      hubId: parsed.data.hub_id,
      appId: parsed.data.app_id,
      scopes: parsed.data.scopes ?? [],
      ...(parsed.data.expires_in !== undefined ? { expiresIn: parsed.data.expires_in } : {}),
    };
  }

  async revoke(token: string): Promise<void> {
    await this.post('token/revoke', { token }, 'revocation');
  }
}

/** Code characters only (UPPER_SNAKE, lower_snake, dots, dashes), bounded: anything else is not quoted. */
function codeOf(v: string | undefined): string | undefined {
  return v !== undefined && /^[A-Za-z0-9_.-]{1,80}$/.test(v) ? v : undefined;
}

/** The OAuthError of a non-2xx answer, read in any of HubSpot's dialects; its message names no token. */
function refusal(status: number, body: unknown, what: string): OAuthError {
  const parsed = oauthRefusalShape.safeParse(body);
  const b = parsed.success ? parsed.data : {};
  const code =
    codeOf(b.subCategory) ??
    codeOf(b.status === 'error' ? undefined : b.status) ??
    codeOf(b.error) ??
    codeOf(b.category);
  const fallback = status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : 'invalid_request';
  // HubSpot's own wording (message or error_description) names no token; it is cut short all the same.
  const said = (b.message ?? b.error_description ?? `HTTP ${status}`).slice(0, 300);
  const kind = status === 429 ? 'rate limited' : status >= 500 ? 'failed' : 'refused';
  return new OAuthError(
    `HubSpot OAuth ${what} ${kind} (${status} ${code ?? fallback}): ${said}`,
    code ?? fallback,
    status,
  );
}

/**
 * The end of an install: exchanges the authorization code, introspects the token (portal, app,
 * scopes) and stores the connection for the workspace, its tokens encrypted.
 */
export async function completeInstall(
  store: AccountStore,
  oauth: HubSpotOAuthClient,
  workspaceId: string,
  code: string,
  codeVerifier?: string,
): Promise<StoredConnection> {
  const grant = await oauth.exchangeCode(code, codeVerifier);
  const info = await oauth.introspect(grant.accessToken);
  if (!Number.isFinite(info.hubId) || !Number.isFinite(info.appId))
    throw new OAuthError('HubSpot OAuth introspection gave no hub id or app id', 'invalid_response', 200);
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

// HubSpot's OAuth for public apps, as the emulator speaks it: the install (authorize) page with its
// consent form, and the date-versioned token API (POST /oauth/2026-03/token, …/token/introspect,
// …/token/revoke) with form bodies, answering in the shapes of HubSpot's published 2026-03 OAuth spec
// (Auth/Oauth/Rollouts/279897/2026-03/oauth.json): token answers with token_use and a scopes array,
// introspections with every field the spec requires, refusals in HubSpot's standard Error
// (category, correlationId, message). Older dialects of the refusals (the v1 answers' `status`,
// RFC 6749's `error`) are named options, for clients that must read them too. Access tokens expire
// (30 minutes by default); an expired one is a 401 EXPIRED_AUTHENTICATION on the CRM routes. Each
// installed portal is an emulator account with its own data; what an app creates carries the app id
// as record source.
//
// Tokens are signed, not remembered: a restarted emulator still accepts the refresh tokens it issued
// before (its portals are seeded again), so a development database of connections survives restarts.
// Revocations are remembered in memory only.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { ALL_SCOPES, type AccountState, type EmulatorAccountSeed } from './store';

export interface EmulatorOAuthApp {
  clientId: string;
  clientSecret: string;
  appId: number;
  name: string;
  /** Redirect URLs the app registered; undefined accepts any http(s) URL (development). */
  redirectUris?: string[];
}

/**
 * How the token API words a refusal: 'spec' (default), the 2026-03 spec's Error
 * `{ category, correlationId, message }`; 'v1-status', HubSpot's v1 answers `{ status: "BAD_REFRESH_TOKEN",
 * message, correlationId }`; 'rfc6749', RFC 6749 section 5.2's `{ error: "invalid_grant", error_description }`.
 */
export type OAuthErrorShape = 'spec' | 'v1-status' | 'rfc6749';

/** A fault the token API answers instead of its work: HubSpot's 429 or an outage. */
export type OAuthFaultKind = '429' | '500' | '503';

export interface EmulatorOAuthOptions {
  /** Lifetime of access tokens in seconds. Default 1800 (HubSpot's 30 minutes). */
  accessTokenTtlSeconds?: number;
  /** OAuth apps the emulator knows. Default: the demo app (demo-client-id / demo-client-secret). */
  oauthApps?: EmulatorOAuthApp[];
  /** How refusals of the token API are worded. Default 'spec'. */
  oauthErrorShape?: OAuthErrorShape;
}

export const DEMO_OAUTH_APP: EmulatorOAuthApp = {
  clientId: 'demo-client-id',
  clientSecret: 'demo-client-secret',
  appId: 2000001,
  name: 'Contact sync (demo app)',
};

/** What the OAuth side needs of the emulator server. */
export interface EmulatorOAuthHost {
  readonly accounts: Map<string, AccountState>;
  addAccount(seed: EmulatorAccountSeed): AccountState;
}

/** Result of looking up a bearer token that is an OAuth access token. */
export type OAuthAuthentication =
  | { ok: true; account: AccountState; appId: number; scopes: string[] }
  | { ok: false; category: 'EXPIRED_AUTHENTICATION' | 'INVALID_AUTHENTICATION'; message: string };

interface TokenClaims {
  /** 'a' access, 'r' refresh */
  t: 'a' | 'r';
  /** emulator account id (the portal) */
  p: string;
  /** hub (portal) id */
  h: number;
  /** app id */
  app: number;
  /** client id */
  c: string;
  /** scopes */
  s: string[];
  /** expiry, epoch ms (access tokens) */
  e?: number;
  /** the refresh token's id this access token came from */
  r?: string;
  /** unique id */
  n: string;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  accountId: string;
  scopes: string[];
  expiresAt: number;
  /** PKCE (RFC 7636): the S256 challenge the install URL carried; the exchange must present its verifier. */
  codeChallenge?: string;
}

// The emulator is a development tool: a fixed signing secret keeps its tokens valid across restarts.
const SIGNING_SECRET = 'hubspot-emulator-oauth-signing-secret';
const CODE_TTL_MS = 10 * 60_000;
const TOKEN_PATH = '/oauth/2026-03/token';

/**
 * Why the token API refused: its HTTP status, the v1 `status` name and the RFC 6749 `error` code for
 * the older dialects, and the 2026-03 Error's category.
 */
interface Refusal {
  status: number;
  category: string;
  v1: string;
  rfc: string;
  message: string;
}
const refusal = (status: number, category: string, v1: string, rfc: string, message: string): Refusal => ({
  status,
  category,
  v1,
  rfc,
  message,
});
const BAD_FORM = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_REQUEST',
  'invalid_request',
  'The body must be application/x-www-form-urlencoded.',
);
const BAD_GRANT_TYPE = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_GRANT_TYPE',
  'unsupported_grant_type',
  'grant_type must be authorization_code or refresh_token.',
);
const BAD_CLIENT = refusal(
  401,
  'INVALID_AUTHENTICATION',
  'BAD_CLIENT_ID',
  'invalid_client',
  'Missing or unknown client_id, or a client_secret that does not match.',
);
const BAD_CODE = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_AUTH_CODE',
  'invalid_grant',
  'Missing, expired or already used authorization code.',
);
const BAD_VERIFIER = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_AUTH_CODE',
  'invalid_grant',
  'code_verifier does not match the code_challenge of the install.',
);
const BAD_REDIRECT = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_REDIRECT_URI',
  'invalid_grant',
  'redirect_uri does not match the one the code was issued for.',
);
const BAD_REFRESH = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_REFRESH_TOKEN',
  'invalid_grant',
  'Missing, unknown or revoked refresh token.',
);
const OTHER_APPS_REFRESH = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_REFRESH_TOKEN',
  'invalid_grant',
  'The refresh token was issued to another app.',
);
const BAD_TOKEN = refusal(
  400,
  'VALIDATION_ERROR',
  'BAD_TOKEN',
  'invalid_request',
  'The token is not valid: unknown, revoked, or issued to another app.',
);

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class EmulatorOAuth {
  private readonly apps = new Map<string, EmulatorOAuthApp>();
  private readonly codes = new Map<string, PendingCode>();
  private readonly revoked = new Set<string>();
  private readonly portalIds = new Map<string, number>();
  private readonly accessTtlMs: number;
  private readonly faults: OAuthFaultKind[] = [];
  /** Calls to the token endpoint, by grant type (tests count refreshes). */
  readonly grantCounts: Record<string, number> = {};
  /** How refusals are worded (settable: a test plays an older HubSpot). */
  errorShape: OAuthErrorShape;

  constructor(
    private readonly host: EmulatorOAuthHost,
    options: EmulatorOAuthOptions = {},
  ) {
    this.accessTtlMs = (options.accessTokenTtlSeconds ?? 1800) * 1000;
    this.errorShape = options.oauthErrorShape ?? 'spec';
    for (const app of options.oauthApps ?? [DEMO_OAUTH_APP]) this.apps.set(app.clientId, app);
  }

  /** Queues faults for the next calls of the token API (/token, /introspect, /revoke), oldest first. */
  failNext(kind: OAuthFaultKind, count = 1): number {
    for (let i = 0; i < count; i++) this.faults.push(kind);
    return this.faults.length;
  }

  /** The portal (hub) id of an emulator account: stable for a given account id. */
  portalId(accountId: string): number {
    let id = this.portalIds.get(accountId);
    if (id === undefined) {
      const h = createHmac('sha256', 'portal').update(accountId).digest();
      id = 20_000_000 + (h.readUInt32BE(0) % 70_000_000);
      this.portalIds.set(accountId, id);
    }
    return id;
  }

  // ---- tokens ----

  private sign(claims: TokenClaims): string {
    const body = b64url(JSON.stringify(claims));
    const mac = createHmac('sha256', SIGNING_SECRET).update(body).digest('base64url');
    return `${claims.t === 'a' ? 'CO' : 'na1-'}${body}.${mac}`;
  }

  private verify(token: string): TokenClaims | undefined {
    const m = /^(CO|na1-)([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
    if (!m) return undefined;
    const expected = createHmac('sha256', SIGNING_SECRET).update(m[2]!).digest();
    const given = Buffer.from(m[3]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString('utf8')) as TokenClaims;
      return (m[1] === 'CO') === (claims.t === 'a') ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  private accessTokenFor(refresh: TokenClaims, refreshId: string): { token: string; expiresIn: number } {
    const claims: TokenClaims = {
      t: 'a',
      p: refresh.p,
      h: refresh.h,
      app: refresh.app,
      c: refresh.c,
      s: refresh.s,
      e: Date.now() + this.accessTtlMs,
      r: refreshId,
      n: randomUUID(),
    };
    return { token: this.sign(claims), expiresIn: Math.round(this.accessTtlMs / 1000) };
  }

  /** A CRM call's bearer token, when it is one of ours; undefined when it is not an OAuth token. */
  authenticate(token: string): OAuthAuthentication | undefined {
    const claims = this.verify(token);
    if (!claims || claims.t !== 'a') return undefined;
    const account = this.host.accounts.get(claims.p);
    if (!account || this.revoked.has(claims.r ?? '') || this.revoked.has(claims.n)) {
      return {
        ok: false,
        category: 'INVALID_AUTHENTICATION',
        message: 'Authentication credentials not found. This API supports OAuth 2.0 authentication.',
      };
    }
    const now = Date.now();
    if ((claims.e ?? 0) <= now) {
      const ago = Math.max(1, Math.round((now - (claims.e ?? 0)) / 1000));
      return {
        ok: false,
        category: 'EXPIRED_AUTHENTICATION',
        message: `The OAuth token used to make this call expired ${ago} second(s) ago.`,
      };
    }
    return { ok: true, account, appId: claims.app, scopes: claims.s };
  }

  // ---- HTTP ----

  /** Serves every /oauth/ path. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/oauth/authorize' && method === 'GET') return this.authorizePage(res, url.searchParams);
    if (path === '/oauth/authorize' && method === 'POST') return this.authorizeDecision(res, await readForm(req));
    if (
      method === 'POST' &&
      (path === TOKEN_PATH || path === `${TOKEN_PATH}/introspect` || path === `${TOKEN_PATH}/revoke`)
    ) {
      const form = await readForm(req);
      const fault = this.faults.shift();
      if (fault) return this.fault(res, fault);
      if (!form) return this.refuse(res, BAD_FORM);
      if (path === TOKEN_PATH) return this.token(res, form);
      if (path.endsWith('/introspect')) return this.introspect(res, form);
      return this.revoke(res, form);
    }
    await drain(req);
    return sendJson(res, 404, {
      status: 'error',
      message: `No route for ${method} ${url.pathname} in the emulator`,
      correlationId: randomUUID(),
      category: 'OBJECT_NOT_FOUND',
    });
  }

  private checkAuthorizeRequest(
    q: URLSearchParams,
  ):
    | { app: EmulatorOAuthApp; redirectUri: string; scopes: string[]; optional: string[]; codeChallenge?: string }
    | string {
    const app = this.apps.get(q.get('client_id') ?? '');
    if (!app) return 'Unknown client_id: this app does not exist.';
    const redirectUri = q.get('redirect_uri') ?? '';
    let parsed: URL;
    try {
      parsed = new URL(redirectUri);
    } catch {
      return 'redirect_uri is missing or not a URL.';
    }
    if (!/^https?:$/.test(parsed.protocol)) return 'redirect_uri must be an http(s) URL.';
    if (app.redirectUris && !app.redirectUris.includes(redirectUri))
      return `redirect_uri ${redirectUri} is not registered for ${app.name}.`;
    const split = (v: string | null) => (v ?? '').split(/[\s+,]+/).filter(Boolean);
    const scopes = split(q.get('scope'));
    if (!scopes.length) return 'scope is required.';
    const challenge = q.get('code_challenge') || undefined;
    if (challenge && q.get('code_challenge_method') !== 'S256') return 'code_challenge_method must be S256.';
    return {
      app,
      redirectUri,
      scopes,
      optional: split(q.get('optional_scope')),
      ...(challenge ? { codeChallenge: challenge } : {}),
    };
  }

  private authorizePage(res: ServerResponse, q: URLSearchParams): void {
    const checked = this.checkAuthorizeRequest(q);
    if (typeof checked === 'string')
      return sendHtml(res, 400, page('Cannot install app', `<p role="alert">${esc(checked)}</p>`));
    const portals = [...this.host.accounts.values()].map((a) => a.seed.accountId);
    const hidden = [
      'client_id',
      'redirect_uri',
      'scope',
      'optional_scope',
      'state',
      'code_challenge',
      'code_challenge_method',
    ]
      .map((k) => `<input type="hidden" name="${k}" value="${esc(q.get(k) ?? '')}">`)
      .join('');
    const options = portals
      .map(
        (id, i) =>
          `<label><input type="radio" name="portal" value="${esc(id)}"${i === 0 ? ' checked' : ''}> ${esc(id)} (portal ${this.portalId(id)})</label><br>`,
      )
      .join('');
    const body = `
<h1>Connect ${esc(checked.app.name)} to HubSpot</h1>
<p>HubSpot emulator: choose the portal (account) to install the app in.</p>
<form method="post" action="/oauth/authorize">
  ${hidden}
  <fieldset><legend>Portal</legend>${options}
    <label><input type="radio" name="portal" value="__new__"${portals.length ? '' : ' checked'}> a new test portal</label>
  </fieldset>
  <p>The app asks for: ${checked.scopes.map((s) => `<code>${esc(s)}</code>`).join(', ')}${checked.optional.length ? `; optionally ${checked.optional.map((s) => `<code>${esc(s)}</code>`).join(', ')}` : ''}</p>
  <button type="submit" name="decision" value="approve">Connect app</button>
  <button type="submit" name="decision" value="deny">Cancel</button>
</form>`;
    sendHtml(res, 200, page(`Connect ${checked.app.name}`, body));
  }

  private authorizeDecision(res: ServerResponse, form: URLSearchParams | undefined): void {
    if (!form) return sendHtml(res, 400, page('Cannot install app', '<p role="alert">Bad form.</p>'));
    const checked = this.checkAuthorizeRequest(form);
    if (typeof checked === 'string')
      return sendHtml(res, 400, page('Cannot install app', `<p role="alert">${esc(checked)}</p>`));
    const back = new URL(checked.redirectUri);
    const state = form.get('state');
    if (state !== null && state !== '') back.searchParams.set('state', state);
    if (form.get('decision') !== 'approve') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user did not install the app.');
      return redirect(res, back.toString());
    }
    let accountId = form.get('portal') ?? '';
    if (accountId === '__new__') accountId = this.newPortal().seed.accountId;
    const account = this.host.accounts.get(accountId);
    if (!account)
      return sendHtml(res, 400, page('Cannot install app', `<p role="alert">No portal ${esc(accountId)}.</p>`));
    const missing = checked.scopes.filter((s) => !account.scopes.has(s));
    if (missing.length) {
      back.searchParams.set('error', 'invalid_scope');
      back.searchParams.set('error_description', `The portal cannot grant: ${missing.join(' ')}`);
      return redirect(res, back.toString());
    }
    const scopes = [
      ...checked.scopes,
      ...checked.optional.filter((s) => account.scopes.has(s) && !checked.scopes.includes(s)),
    ];
    const code = randomUUID();
    this.codes.set(code, {
      clientId: checked.app.clientId,
      redirectUri: checked.redirectUri,
      accountId,
      scopes,
      expiresAt: Date.now() + CODE_TTL_MS,
      ...(checked.codeChallenge ? { codeChallenge: checked.codeChallenge } : {}),
    });
    back.searchParams.set('code', code);
    redirect(res, back.toString());
  }

  /** A new portal with the first seeded portal's custom properties and no contacts. */
  private newPortal(): AccountState {
    const template = [...this.host.accounts.values()][0]?.seed;
    const accountId = `portal-${randomBytes(3).toString('hex')}`;
    return this.host.addAccount({
      accountId,
      token: `emulator-${randomBytes(16).toString('hex')}`,
      appId: DEMO_OAUTH_APP.appId,
      scopes: template?.scopes ?? ALL_SCOPES,
      customProperties: template?.customProperties ?? [],
    });
  }

  private client(form: URLSearchParams): EmulatorOAuthApp | undefined {
    const app = this.apps.get(form.get('client_id') ?? '');
    if (!app) return undefined;
    const given = Buffer.from(form.get('client_secret') ?? '');
    const expected = Buffer.from(app.clientSecret);
    return given.length === expected.length && timingSafeEqual(given, expected) ? app : undefined;
  }

  private token(res: ServerResponse, form: URLSearchParams): void {
    const grant = form.get('grant_type') ?? '';
    this.grantCounts[grant || '(none)'] = (this.grantCounts[grant || '(none)'] ?? 0) + 1;
    if (grant !== 'authorization_code' && grant !== 'refresh_token') return this.refuse(res, BAD_GRANT_TYPE);
    const app = this.client(form);
    if (!app) return this.refuse(res, BAD_CLIENT);

    if (grant === 'authorization_code') {
      const code = form.get('code') ?? '';
      const pending = this.codes.get(code);
      this.codes.delete(code); // single use, even when refused below
      if (!pending || pending.expiresAt < Date.now() || pending.clientId !== app.clientId)
        return this.refuse(res, BAD_CODE);
      if (form.get('redirect_uri') !== pending.redirectUri) return this.refuse(res, BAD_REDIRECT);
      // PKCE (RFC 7636, S256): a code issued for a challenge needs its verifier.
      if (
        pending.codeChallenge &&
        createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url') !== pending.codeChallenge
      )
        return this.refuse(res, BAD_VERIFIER);
      const refreshClaims: TokenClaims = {
        t: 'r',
        p: pending.accountId,
        h: this.portalId(pending.accountId),
        app: app.appId,
        c: app.clientId,
        s: pending.scopes,
        n: randomUUID(),
      };
      return this.grantAnswer(res, refreshClaims, this.sign(refreshClaims));
    }

    const refreshToken = form.get('refresh_token') ?? '';
    const claims = this.verify(refreshToken);
    if (!claims || claims.t !== 'r' || this.revoked.has(claims.n) || !this.host.accounts.has(claims.p))
      return this.refuse(res, BAD_REFRESH);
    if (claims.c !== app.clientId) return this.refuse(res, OTHER_APPS_REFRESH);
    // HubSpot refresh tokens do not rotate: the same one keeps working until revoked.
    return this.grantAnswer(res, claims, refreshToken);
  }

  /** AccessTokenResponse (2026-03): token_use "access_token", the scopes as an array. */
  private grantAnswer(res: ServerResponse, refresh: TokenClaims, refreshToken: string): void {
    const access = this.accessTokenFor(refresh, refresh.n);
    sendJson(res, 200, {
      token_type: 'bearer',
      token_use: 'access_token',
      access_token: access.token,
      refresh_token: refreshToken,
      expires_in: access.expiresIn,
      hub_id: refresh.h,
      user_id: userIdOf(refresh),
      scopes: [...refresh.s],
    });
  }

  /** A refusal in the configured dialect. */
  private refuse(res: ServerResponse, r: Refusal): void {
    if (this.errorShape === 'rfc6749') return sendJson(res, r.status, { error: r.rfc, error_description: r.message });
    if (this.errorShape === 'v1-status')
      return sendJson(res, r.status, { status: r.v1, message: r.message, correlationId: randomUUID() });
    sendJson(res, r.status, { category: r.category, correlationId: randomUUID(), message: r.message });
  }

  /** An injected fault: HubSpot's 429 (with Retry-After) or an outage, in the standard Error shape. */
  private fault(res: ServerResponse, kind: OAuthFaultKind): void {
    const status = Number(kind);
    const body =
      status === 429
        ? {
            status: 'error',
            errorType: 'RATE_LIMIT',
            policyName: 'TEN_SECONDLY_ROLLING',
            category: 'RATE_LIMITS',
            correlationId: randomUUID(),
            message: 'You have reached your ten_secondly_rolling limit.',
          }
        : {
            status: 'error',
            category: status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR',
            correlationId: randomUUID(),
            message: status === 503 ? 'Service Unavailable' : 'internal error',
          };
    sendJson(res, status, body, status === 429 ? { 'Retry-After': '1' } : {});
  }

  /**
   * TokenInfoResponseBaseIF (2026-03): every field the spec requires of an access or a refresh token's
   * introspection. An expired access token is described with `active: false`; a token that is not one
   * of ours, revoked, or another app's has no such description: the spec's Error, 400.
   */
  private introspect(res: ServerResponse, form: URLSearchParams): void {
    const app = this.client(form);
    if (!app) return this.refuse(res, BAD_CLIENT);
    const token = form.get('token') ?? '';
    const claims = this.verify(token);
    const now = Date.now();
    const revoked = claims && (this.revoked.has(claims.n) || (claims.r !== undefined && this.revoked.has(claims.r)));
    if (!claims || revoked || claims.c !== app.clientId || !this.host.accounts.has(claims.p))
      return this.refuse(res, BAD_TOKEN);
    const common = {
      token,
      token_type: 'bearer',
      client_id: claims.c,
      hub_id: claims.h,
      app_id: claims.app,
      user_id: userIdOf(claims),
      hub_domain: `${claims.p}.hubspot-emulator.local`,
      scopes: [...claims.s],
    };
    if (claims.t === 'r') return sendJson(res, 200, { active: true, token_use: 'refresh_token', ...common });
    const expiresAt = claims.e ?? now;
    sendJson(res, 200, {
      active: expiresAt > now,
      token_use: 'access_token',
      ...common,
      expires_in: Math.max(0, Math.floor((expiresAt - now) / 1000)),
      is_private_distribution: false,
      signed_access_token: {
        appId: claims.app,
        appInstallId: `${claims.app}-${claims.h}`,
        audience: 'api.hubapi.com',
        expiresAt,
        hubId: claims.h,
        hublet: 'na1',
        installingUserId: userIdOf(claims),
        isPrivateDistribution: false,
        isServiceAccount: false,
        isUserLevel: false,
        newSignature: '',
        scopeToScopeGroupPks: '',
        scopes: claims.s.join(' '),
        signature: '',
        trialScopeToScopeGroupPks: '',
        trialScopes: '',
        userId: userIdOf(claims),
      },
    });
  }

  /**
   * The 2026-03 spec declares no success answer for a revocation (only the Error default); HubSpot's v1
   * revocation (DELETE /oauth/v1/refresh-tokens/{token}) answers 204 without a body, and so does this.
   */
  private revoke(res: ServerResponse, form: URLSearchParams): void {
    const app = this.client(form);
    if (!app) return this.refuse(res, BAD_CLIENT);
    const claims = this.verify(form.get('token') ?? '');
    // RFC 7009: an unknown token is not an error.
    if (claims && claims.c === app.clientId) this.revoked.add(claims.n);
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
  }
}

// ---- small HTTP helpers ----

/** The installing user of a token's portal: the emulator has no users, so one stable id per portal. */
function userIdOf(claims: TokenClaims): number {
  return 5_000_000 + (claims.h % 1_000_000);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json;charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html;charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store' });
  res.end();
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}fieldset{margin:1rem 0}button{margin-right:.5rem}</style>
</head><body>${body}</body></html>`;
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    /* discard */
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

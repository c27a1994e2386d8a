// The configuration API behind the action's setup screens, and the operators' page. Every route under
// /v1/workspaces/:workspaceId/ acts for that workspace only: a connection or a config of another
// workspace is "not found". The platform backend authenticates with a bearer token; the operators'
// page with a session cookie obtained by logging in with that token (the page itself never holds it).
// See docs/ACCOUNTS.md.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { actionConfigSchema } from '../action/config';
import { validateFieldMappings, validationRuleWarnings, type HubSpotPropertyDefinition, type LearnedRequirement, type PropertyRule } from '../action/mapping-validation';
import { HubSpotAccounts } from '../hubspot/accounts';
import { isNeedsReconnect } from '../hubspot/errors';
import type { AccountDirectory } from '../hubspot/directory';
import type { HubSpotOAuthClient } from '../account-store/oauth-client';
import { completeInstall, OAuthError } from '../account-store/oauth-client';
import type { AccountStore, InstallMode, OAuthState, StoredConnection } from '../account-store/store';
import { AccountNeedsReconnect, AccountNotConnected } from '../account-store/store-directory';
import { HubSpotSchemaError, mappableProperties } from './properties';
import { loginPage, setupPage, setupScript } from './page';

export interface ConfigApiOptions {
  store: AccountStore;
  /** Tokens for the property reads (the store's directory). */
  directory: AccountDirectory;
  /** The OAuth app: without it, "Add account" is not offered. */
  oauth?: HubSpotOAuthClient;
  /** The platform backend's bearer token. */
  apiToken: string;
  /** Reads an account's contact-property schema. Default: the HubSpot adapter with the directory's token. */
  propertySchema?: (accountId: string) => Promise<HubSpotPropertyDefinition[]>;
  /** Reads the portal's property validation rules (API version 2026-09). Default: the HubSpot adapter. */
  validationRules?: (accountId: string) => Promise<Record<string, PropertyRule[]>>;
  /** The portal's write rules learned from HubSpot's refusals. Default: the account store's. */
  learnedRules?: (accountId: string) => Promise<LearnedRequirement[]>;
  /** How long an install (OAuth state) may take. Default 10 minutes. */
  stateTtlMs?: number;
  /** Origins the OAuth callback may send the browser back to, besides this service itself. */
  allowedReturnOrigins?: string[];
  /**
   * The URL browsers reach this service at (CONFIG_API_PUBLIC_URL): its origin is "this service" for
   * redirects and for the same-origin checks of /login and /logout. Default: the address it listens on.
   */
  publicUrl?: string;
  /** Failed logins allowed per client address in loginWindowMs before /login answers 429. Default 10. */
  loginAttempts?: number;
  /** Default 15 minutes. */
  loginWindowMs?: number;
  /** Operators' page sessions last this long. Default 8 hours. */
  sessionTtlMs?: number;
  /** Serve the operators' page (default true). */
  page?: boolean;
  /** Set the cookie's Secure flag (serve over https). Default false. */
  secureCookies?: boolean;
  /** One line per request (method, route, status, duration): never a token, a body or a query string. */
  log?: (line: string) => void;
}

/** A JSON error: { error, message, field? } with the HTTP status. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

const workspaceIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'a workspace id: letters, digits, . _ : - (at most 128)');
const accountIdSchema = z.string().min(1).max(200);
const actionIdSchema = z.string().trim().min(1).max(200);
const wsParams = z.object({ workspaceId: workspaceIdSchema });
const accountParams = wsParams.extend({ accountId: accountIdSchema });
const actionParams = wsParams.extend({ actionId: actionIdSchema });

const SESSION_COOKIE = 'config_session';
/** Set in the browser that starts an install from the page; the callback completes only there. */
const INSTALL_COOKIE = 'config_install';
const CALLBACK_PATH = '/oauth/callback';
const PAGE_HEADER = 'x-config-page';
/** Resolves relative returnTo paths when no public URL is known; never a real origin. */
const PLACEHOLDER_ORIGIN = 'http://config-api.invalid';

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Reads one cookie of a request. */
function cookieOf(req: FastifyRequest, name: string): string | undefined {
  const found = String(req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${name}=`));
  if (!found) return undefined;
  try {
    return decodeURIComponent(found.slice(name.length + 1));
  } catch {
    return undefined;
  }
}

/**
 * Failed logins per client address in a sliding window: past the limit, /login answers 429 until the
 * oldest failure leaves the window. Memory stays bounded (oldest addresses dropped first).
 */
class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Milliseconds until this address may try again, or 0. */
  waitMs(address: string, now = Date.now()): number {
    const recent = (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs);
    if (recent.length < this.limit) return 0;
    return recent[0]! + this.windowMs - now;
  }

  fail(address: string, now = Date.now()): void {
    const recent = (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs);
    recent.push(now);
    this.failures.delete(address);
    this.failures.set(address, recent);
    if (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
  }
}

function fieldOf(issue: z.core.$ZodIssue, part: string): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return `${part}${path}`;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, part: string): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ field: fieldOf(i, part), message: i.message }));
  throw new ApiError(400, 'invalid_input', issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues[0]!.field, { issues });
}

interface Input<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** 'platform': the bearer token; 'page': an operator's session of this workspace. */
  caller: InstallMode;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface ConfigApi {
  app: FastifyInstance;
  /** A single-use link that logs a browser into the page (development: printed at start). */
  oneTimeLoginPath(workspaceId: string, ttlMs?: number): string;
  /** Sets the public URL once the listening address is known (when none was configured). */
  usePublicUrl(url: string): void;
}

export function buildConfigApi(options: ConfigApiOptions): ConfigApi {
  const { store, oauth } = options;
  const stateTtlMs = options.stateTtlMs ?? 10 * 60_000;
  const sessionTtlMs = options.sessionTtlMs ?? 8 * 3600_000;
  const adapter = new HubSpotAccounts(options.directory);
  const readSchema = options.propertySchema ?? (async (accountId: string) => (await adapter.get(accountId)).contactPropertySchema());
  const readRules = options.validationRules ?? (async (accountId: string) => (await adapter.get(accountId)).contactValidationRules());
  const readLearned = options.learnedRules ?? ((accountId: string) => store.learnedWriteRules(accountId));
  // Keys derived from the API token: states and sessions survive a restart, and die with the token.
  const stateKey = createHmac('sha256', options.apiToken).update('oauth-state').digest();
  const sessionKey = createHmac('sha256', options.apiToken).update('page-session').digest();
  const onceCodes = new Map<string, { workspaceId: string; expiresAt: number }>();
  const loginThrottle = new LoginThrottle(options.loginAttempts ?? 10, options.loginWindowMs ?? 15 * 60_000);
  const log = options.log ?? (() => undefined);

  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // ---- errors: one handler, JSON that names the bad field ----
  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ApiError) {
      return reply.status(err.status).send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra });
    }
    const e = err as { statusCode?: number; code?: string; message?: string; name?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own refusals (bad JSON, body too large, unsupported type): their messages carry no secret.
      const field = e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'content-type' : 'body';
      return reply.status(e.statusCode).send({ error: 'bad_request', message: e.message ?? 'bad request', field });
    }
    log(`config-api: ${req.method} ${req.routeOptions.url ?? '?'} failed: ${e.name ?? 'Error'}`);
    return reply.status(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
  app.addHook('onResponse', async (req, reply) => {
    log(`config-api: ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} ${reply.statusCode} ${Math.round(reply.elapsedTime)}ms`);
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });

  // ---- authentication ----
  const sign = (key: Buffer, value: string) => createHmac('sha256', key).update(value).digest('base64url');

  const cookieFlags = options.secureCookies ? '; Secure' : '';

  /** The page session of a request: signed id, still open in the store (logout and revocation end it at once). */
  async function sessionOf(req: FastifyRequest): Promise<{ sessionId: string; workspaceId: string } | undefined> {
    const [sessionId, mac] = (cookieOf(req, SESSION_COOKIE) ?? '').split('.');
    if (!sessionId || !mac || !sameSecret(mac, sign(sessionKey, sessionId))) return undefined;
    const workspaceId = await store.pageSession(sessionId);
    return workspaceId ? { sessionId, workspaceId } : undefined;
  }

  async function setSession(reply: FastifyReply, workspaceId: string): Promise<void> {
    const sessionId = randomBytes(18).toString('base64url');
    await store.createPageSession(sessionId, workspaceId, Date.now() + sessionTtlMs);
    const value = `${sessionId}.${sign(sessionKey, sessionId)}`;
    reply.header('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(sessionTtlMs / 1000)}${cookieFlags}`);
  }

  /** Who calls: the platform's bearer token (any workspace it names), or the page's session (its own workspace only). */
  async function authorize(req: FastifyRequest, workspaceId: string): Promise<InstallMode> {
    const auth = String(req.headers.authorization ?? '');
    if (auth.startsWith('Bearer ')) {
      if (sameSecret(auth.slice(7).trim(), options.apiToken)) return 'platform';
      throw new ApiError(401, 'unauthorized', 'the bearer token is not valid', 'authorization');
    }
    const session = await sessionOf(req);
    if (session) {
      // Cookies ride along on cross-site requests: a state change must come from the page's own script.
      if (req.method !== 'GET' && req.headers[PAGE_HEADER] !== '1') throw new ApiError(403, 'forbidden', `requests with a session cookie must carry the ${PAGE_HEADER} header`, PAGE_HEADER);
      if (session.workspaceId === workspaceId) return 'page';
      throw new ApiError(404, 'not_found', `no workspace ${workspaceId} for this session`, 'workspaceId');
    }
    throw new ApiError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer …)', 'authorization');
  }

  /** This service's own origin, as browsers see it. */
  let publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin : PLACEHOLDER_ORIGIN;
  const ownOrigin = (): string => publicOrigin;

  /**
   * A form post of the page itself, not of another site: browsers say where a request comes from
   * (Sec-Fetch-Site, Origin). A request that says neither is refused.
   */
  function sameOriginForm(req: FastifyRequest): boolean {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string') return site === 'same-origin' || site === 'none';
    const origin = req.headers.origin;
    if (typeof origin !== 'string') return false;
    const host = req.headers.host;
    return origin === ownOrigin() || (typeof host === 'string' && (origin === `http://${host}` || origin === `https://${host}`));
  }

  /** Declares a workspace route: input validated with zod, the caller authorised for the workspace. */
  function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    schemas: { params: P; query?: Q; body?: B },
    handler: (input: Input<z.output<P>, z.output<Q>, z.output<B>>, reply: FastifyReply) => Promise<unknown>,
  ): void {
    app.route({
      method,
      url,
      handler: async (req, reply) => {
        const params = parse(schemas.params, req.params, 'path') as { workspaceId: string };
        const caller = await authorize(req, params.workspaceId);
        const query = schemas.query ? parse(schemas.query, req.query, 'query') : ({} as z.output<Q>);
        const body = schemas.body ? parse(schemas.body, req.body, 'body') : ({} as z.output<B>);
        return handler({ params: params as z.output<P>, query, body, caller }, reply);
      },
    });
  }

  async function ownConnection(workspaceId: string, accountId: string): Promise<StoredConnection> {
    const c = await store.workspaceConnection(workspaceId, accountId);
    if (!c) throw new ApiError(404, 'not_found', `no HubSpot account ${accountId} in workspace ${workspaceId}`, 'accountId');
    return c;
  }

  async function schemaOf(accountId: string): Promise<HubSpotPropertyDefinition[]> {
    try {
      return await readSchema(accountId);
    } catch (err) {
      if (err instanceof AccountNeedsReconnect) throw new ApiError(409, 'needs_reconnect', err.message, 'accountId');
      if (err instanceof AccountNotConnected) throw new ApiError(404, 'not_found', err.message, 'accountId');
      if (err instanceof HubSpotSchemaError) throw new ApiError(502, 'hubspot_error', err.message);
      if (isNeedsReconnect(err)) throw new ApiError(409, 'needs_reconnect', `HubSpot account ${accountId} needs to be reconnected`, 'accountId');
      throw new ApiError(502, 'hubspot_error', `HubSpot account ${accountId}: the property schema could not be read`);
    }
  }

  /** Every problem of an action config in this workspace: its shape, its account, each mapping row. */
  async function checkActionConfig(
    workspaceId: string,
    raw: unknown,
  ): Promise<{ problems: Array<{ field: string; message: string }>; warnings: string[]; config?: z.output<typeof actionConfigSchema> }> {
    const parsed = actionConfigSchema.safeParse(raw);
    if (!parsed.success) return { warnings: [], problems: parsed.error.issues.map((i) => ({ field: fieldOf(i, 'config'), message: i.message })) };
    const config = parsed.data;
    const connection = await store.workspaceConnection(workspaceId, config.hubspotAccountId);
    if (!connection) {
      return { config, warnings: [], problems: [{ field: 'config.hubspotAccountId', message: `HubSpot account ${config.hubspotAccountId} is not connected in workspace ${workspaceId}` }] };
    }
    if (connection.status === 'needs-reconnect') {
      return { config, warnings: [], problems: [{ field: 'config.hubspotAccountId', message: `HubSpot account ${config.hubspotAccountId} needs to be reconnected before its schema can be checked` }] };
    }
    const schema = await schemaOf(config.hubspotAccountId);
    const problems = validateFieldMappings(config, schema).map((message) => {
      const row = /^fieldMappings\[(\d+)\]/.exec(message);
      return { field: row ? `config.fieldMappings[${row[1]}]` : 'config.fieldMappings', message };
    });
    // What HubSpot exposes of the portal's write rules: format rules (the property validations API),
    // unique values (the schema), and required properties it refused a write without (learned).
    const learned = await readLearned(config.hubspotAccountId).catch(() => []);
    const unreadable = `HubSpot account ${config.hubspotAccountId}: its property validation rules could not be read, so writes may still be refused by them`;
    const warnings = await readRules(config.hubspotAccountId).then(
      (rules) => validationRuleWarnings(config, rules, learned, schema),
      () => [unreadable, ...validationRuleWarnings(config, {}, learned, schema)],
    );
    return { config, problems, warnings };
  }

  const connectionView = (c: StoredConnection) => ({
    accountId: c.accountId,
    workspaceId: c.workspaceId,
    kind: c.kind,
    ...(c.portalId !== undefined ? { portalId: c.portalId } : {}),
    appId: c.appId,
    scopes: c.scopes,
    status: c.status,
    ...(c.statusReason ? { statusReason: c.statusReason } : {}),
    connectedAt: c.createdAt,
    updatedAt: c.updatedAt,
  });

  /**
   * Where the browser may be sent back to: returnTo resolved against this service's own origin first,
   * then kept only as a path of this service (never one that a browser would read as another host,
   * such as //host or /\\host once dot segments and encodings are resolved) or a URL of an allowed
   * origin. Returns a path ("/…") or an absolute URL of an allowed origin.
   */
  function checkReturnTo(returnTo: string | undefined, field = 'body.returnTo'): string | undefined {
    if (returnTo === undefined) return undefined;
    const refuse = (why: string) => new ApiError(400, 'invalid_input', `${field}: ${why}`, field);
    // Browsers drop tabs and newlines inside URLs and read backslashes as slashes: so does the check.
    if (/[\u0000-\u001f\u007f]/.test(returnTo)) throw refuse('control characters are not allowed');
    let url: URL;
    try {
      url = new URL(returnTo, `${ownOrigin()}/`);
    } catch {
      throw refuse('a path on this service or a URL of an allowed origin');
    }
    if (url.origin === ownOrigin()) {
      const path = `${url.pathname}${url.search}${url.hash}`;
      if (!path.startsWith('/') || /^\/[/\\]/.test(path) || url.username || url.password) throw refuse('a path on this service must not name another host');
      return path;
    }
    if (!/^https?:$/.test(url.protocol) || !(options.allowedReturnOrigins ?? []).includes(url.origin)) {
      throw refuse(`origin ${url.origin === 'null' ? url.protocol : url.origin} is not allowed (CONFIG_API_RETURN_ORIGINS)`);
    }
    return url.toString();
  }

  /** A redirect target built from a stored returnTo: checked again, then given the outcome's parameters. */
  function returnUrl(returnTo: string, params: Record<string, string>): string {
    const target = checkReturnTo(returnTo, 'returnTo')!;
    const url = new URL(target, `${ownOrigin()}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return target.startsWith('/') ? `${url.pathname}${url.search}${url.hash}` : url.toString();
  }

  /** The state of an install, checked: its signature first, then that it is still usable. Nothing is used up here. */
  async function checkedState(state: string, field: string): Promise<{ stateId: string; used: OAuthState }> {
    const [stateId, mac, extra] = state.split('.');
    const invalid = () => new ApiError(400, 'invalid_state', 'the install link expired or was already used: start "Add account" again', field);
    if (!stateId || !mac || extra !== undefined) throw invalid();
    const used = await store.peekOAuthState(stateId);
    // A wrong signature never uses up a genuine state.
    if (!used || !sameSecret(mac, sign(stateKey, `${stateId}|${used.workspaceId}`))) throw invalid();
    return { stateId, used };
  }

  /** Uses the state and exchanges the code (with the install's PKCE verifier): the connection, stored for the state's workspace. */
  async function finishInstall(stateId: string, code: string): Promise<StoredConnection> {
    const used = await store.consumeOAuthState(stateId);
    if (!used) throw new ApiError(400, 'invalid_state', 'the install link expired or was already used: start "Add account" again', 'state');
    if (!oauth) throw new ApiError(501, 'oauth_not_configured', 'no OAuth app is configured');
    return completeInstall(store, oauth, used.workspaceId, code, used.codeVerifier);
  }

  // ---- the workspace API ----

  // "Add account". From the page: the install completes only in the browser that started it (a binding
  // cookie), still logged into this workspace. From the platform: HubSpot's answer is handed back to the
  // platform's own page (returnTo, an allowed origin), whose backend completes it for the workspace of
  // its logged-in user (POST …/connections/oauth/complete). Either way a forwarded consent link connects
  // nothing. PKCE binds the code to this service's exchange. See docs/ACCOUNTS.md.
  route('POST', '/v1/workspaces/:workspaceId/connections/oauth', { params: wsParams, body: z.object({ returnTo: z.string().max(2000).optional() }).strict() }, async ({ params, body, caller }, reply) => {
    if (!oauth) throw new ApiError(501, 'oauth_not_configured', 'no OAuth app is configured (HUBSPOT_OAUTH_CLIENT_ID, HUBSPOT_OAUTH_CLIENT_SECRET, HUBSPOT_OAUTH_REDIRECT_URI)');
    const returnTo = checkReturnTo(body.returnTo);
    if (caller === 'platform' && (!returnTo || returnTo.startsWith('/'))) {
      throw new ApiError(
        400,
        'invalid_input',
        "body.returnTo: an install started by the platform comes back to the platform's own page (a URL of an origin in CONFIG_API_RETURN_ORIGINS), which completes it with POST /v1/workspaces/{workspaceId}/connections/oauth/complete",
        'body.returnTo',
      );
    }
    const stateId = randomBytes(18).toString('base64url');
    const codeVerifier = randomBytes(32).toString('base64url');
    const expiresAt = Date.now() + stateTtlMs;
    let bindingHash: string | undefined;
    if (caller === 'page') {
      const binding = randomBytes(24).toString('base64url');
      bindingHash = sha256(binding);
      reply.header('Set-Cookie', `${INSTALL_COOKIE}=${binding}; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=${Math.ceil(stateTtlMs / 1000)}${cookieFlags}`);
    }
    await store.createOAuthState(stateId, { workspaceId: params.workspaceId, returnTo, expiresAt, mode: caller, bindingHash, codeVerifier });
    const state = `${stateId}.${sign(stateKey, `${stateId}|${params.workspaceId}`)}`;
    return { installUrl: oauth.installUrl(state, sha256(codeVerifier)), expiresAt: new Date(expiresAt).toISOString() };
  });

  route(
    'POST',
    '/v1/workspaces/:workspaceId/connections/oauth/complete',
    { params: wsParams, body: z.object({ state: z.string().min(1).max(500), code: z.string().min(1).max(2000) }).strict() },
    async ({ params, body, caller }, reply) => {
      if (caller !== 'platform') throw new ApiError(403, 'forbidden', "only the platform's backend completes an install it started (bearer token)", 'authorization');
      const { stateId, used } = await checkedState(body.state, 'body.state');
      // Another workspace's install: the same answer as an unknown one.
      if (used.workspaceId !== params.workspaceId || used.mode !== 'platform') {
        throw new ApiError(400, 'invalid_state', 'the install link expired or was already used: start "Add account" again', 'body.state');
      }
      let connection: StoredConnection;
      try {
        connection = await finishInstall(stateId, body.code);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError(502, 'oauth_failed', err instanceof OAuthError ? err.message : 'the connection could not be stored');
      }
      reply.status(201);
      return { connection: connectionView(connection) };
    },
  );

  route('DELETE', '/v1/workspaces/:workspaceId/sessions', { params: wsParams }, async ({ params, caller }) => {
    if (caller !== 'platform') throw new ApiError(403, 'forbidden', "only the platform's backend ends a workspace's sessions (bearer token)", 'authorization');
    return { workspaceId: params.workspaceId, revoked: await store.revokeWorkspaceSessions(params.workspaceId) };
  });

  route(
    'POST',
    '/v1/workspaces/:workspaceId/connections/private-app',
    {
      params: wsParams,
      body: z
        .object({
          token: z.string().min(10).max(500),
          appId: z.number().int().positive(),
          portalId: z.number().int().positive().optional(),
          kind: z.enum(['private-app', 'service-key']).default('private-app'),
        })
        .strict(),
    },
    async ({ params, body }, reply) => {
      const c = await store.saveStaticConnection({ workspaceId: params.workspaceId, kind: body.kind, appId: body.appId, portalId: body.portalId, token: body.token });
      reply.status(201);
      return { connection: connectionView(c) };
    },
  );

  route('GET', '/v1/workspaces/:workspaceId/connections', { params: wsParams }, async ({ params }) => ({
    connections: (await store.listConnections(params.workspaceId)).map(connectionView),
    addAccount: Boolean(oauth),
  }));

  route('GET', '/v1/workspaces/:workspaceId/connections/:accountId', { params: accountParams }, async ({ params }) => ({
    connection: connectionView(await ownConnection(params.workspaceId, params.accountId)),
  }));

  route('DELETE', '/v1/workspaces/:workspaceId/connections/:accountId', { params: accountParams }, async ({ params }) => {
    await ownConnection(params.workspaceId, params.accountId);
    const gone = await store.disconnect(params.workspaceId, params.accountId);
    if (!gone) throw new ApiError(404, 'not_found', `no HubSpot account ${params.accountId} in workspace ${params.workspaceId}`, 'accountId');
    let revoked = false;
    let revokeError: string | undefined;
    if (gone.refreshToken && oauth) {
      try {
        await oauth.revoke(gone.refreshToken);
        revoked = true;
      } catch (err) {
        revokeError = err instanceof OAuthError ? err.message : 'the revocation call failed';
      }
    }
    return { accountId: params.accountId, status: 'disconnected', refreshTokenRevoked: revoked, ...(revokeError ? { revokeError } : {}) };
  });

  route('GET', '/v1/workspaces/:workspaceId/connections/:accountId/properties', { params: accountParams }, async ({ params }) => {
    const c = await ownConnection(params.workspaceId, params.accountId);
    if (c.status === 'needs-reconnect') throw new ApiError(409, 'needs_reconnect', `HubSpot account ${c.accountId} needs to be reconnected`, 'accountId');
    return { accountId: c.accountId, ...mappableProperties(c.accountId, await schemaOf(c.accountId)) };
  });

  route('POST', '/v1/workspaces/:workspaceId/action-configs/validate', { params: wsParams, body: z.object({ config: z.unknown() }).strict() }, async ({ params, body }) => {
    const { problems, warnings } = await checkActionConfig(params.workspaceId, body.config);
    return { valid: problems.length === 0, problems, warnings };
  });

  route('PUT', '/v1/workspaces/:workspaceId/action-configs/:actionId', { params: actionParams, body: z.object({ config: z.unknown() }).strict() }, async ({ params, body }) => {
    const { config, problems, warnings } = await checkActionConfig(params.workspaceId, body.config);
    if (problems.length || !config) throw new ApiError(422, 'invalid_config', problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems[0]?.field, { problems });
    if (config.id !== params.actionId) throw new ApiError(422, 'invalid_config', `config.id "${config.id}" is not the action id in the path (${params.actionId})`, 'config.id');
    await store.saveActionConfig(params.workspaceId, params.actionId, config);
    const saved = await store.actionConfig(params.workspaceId, params.actionId);
    return { actionId: params.actionId, config, savedAt: saved!.updatedAt, warnings };
  });

  route('GET', '/v1/workspaces/:workspaceId/action-configs/:actionId', { params: actionParams }, async ({ params }) => {
    const saved = await store.actionConfig(params.workspaceId, params.actionId);
    if (!saved) throw new ApiError(404, 'not_found', `no action config ${params.actionId} in workspace ${params.workspaceId}`, 'actionId');
    return { actionId: params.actionId, config: saved.config, savedAt: saved.updatedAt };
  });

  // ---- the OAuth callback: the state authenticates it ----

  app.get(CALLBACK_PATH, async (req, reply) => {
    const q = parse(z.object({ state: z.string().min(1).max(500), code: z.string().max(2000).optional(), error: z.string().max(200).optional() }).passthrough(), req.query, 'query');
    const { stateId, used } = await checkedState(q.state, 'query.state');
    const back = (params: Record<string, string>) => returnUrl(used.returnTo ?? '/', params);
    const refused = q.error || !q.code ? (q.error ?? 'no_code') : undefined;

    if (used.mode === 'platform') {
      // The platform completes it (or shows the refusal) for the workspace of its own logged-in user.
      if (refused) await store.consumeOAuthState(stateId);
      return reply.redirect(back(refused ? { error: refused } : { code: q.code!, state: q.state }), 303);
    }

    // Started from the page: only the browser that started it, still logged into that workspace.
    const binding = cookieOf(req, INSTALL_COOKIE);
    const session = await sessionOf(req);
    if (!binding || !used.bindingHash || !sameSecret(sha256(binding), used.bindingHash) || session?.workspaceId !== used.workspaceId) {
      throw new ApiError(
        403,
        'install_not_yours',
        'This install link was started by someone else, in another browser: nothing was connected. To connect a HubSpot portal, log in to your own workspace\'s setup page and click "Add account" there.',
        'query.state',
      );
    }
    reply.header('Set-Cookie', `${INSTALL_COOKIE}=; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0${cookieFlags}`);
    if (refused) {
      await store.consumeOAuthState(stateId);
      if (used.returnTo) return reply.redirect(back({ error: refused }), 303);
      throw new ApiError(400, 'install_refused', `the install was not completed (${refused})`, 'query.error');
    }
    let connection: StoredConnection;
    try {
      connection = await finishInstall(stateId, q.code!);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const message = err instanceof OAuthError ? err.message : 'the connection could not be stored';
      if (used.returnTo) return reply.redirect(back({ error: err instanceof OAuthError ? err.error : 'internal' }), 303);
      throw new ApiError(502, 'oauth_failed', message);
    }
    if (used.returnTo) return reply.redirect(back({ connected: connection.accountId }), 303);
    return { connection: connectionView(connection) };
  });

  // ---- the operators' page ----

  if (options.page ?? true) {
    app.get('/', async (req, reply) => {
      const session = await sessionOf(req);
      if (!session) return reply.redirect('/login', 303);
      reply.header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'");
      return reply.type('text/html; charset=utf-8').send(setupPage(session.workspaceId));
    });
    app.get('/setup.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(setupScript));
    app.get('/login', async (_req, reply) => {
      reply.header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
      return reply.type('text/html; charset=utf-8').send(loginPage());
    });
    app.post('/login', async (req, reply) => {
      // Another site's form could log a browser into a workspace of its choosing.
      if (!sameOriginForm(req)) throw new ApiError(403, 'forbidden', 'log in from the login page of this service', 'origin');
      const address = req.socket.remoteAddress ?? 'unknown';
      const waitMs = loginThrottle.waitMs(address);
      if (waitMs > 0) {
        reply.status(429).header('Retry-After', String(Math.ceil(waitMs / 1000)));
        return reply.type('text/html; charset=utf-8').send(loginPage(`Too many failed logins from this address: try again in ${Math.ceil(waitMs / 60_000)} minute(s).`));
      }
      const body = parse(z.object({ token: z.string().max(500), workspaceId: workspaceIdSchema }), req.body, 'body');
      if (!sameSecret(body.token, options.apiToken)) {
        loginThrottle.fail(address);
        reply.status(401);
        return reply.type('text/html; charset=utf-8').send(loginPage('That token is not valid.'));
      }
      await setSession(reply, body.workspaceId);
      return reply.redirect('/', 303);
    });
    app.get('/login/once/:code', async (req, reply) => {
      const { code } = parse(z.object({ code: z.string().min(1).max(100) }), req.params, 'path');
      const entry = onceCodes.get(code);
      onceCodes.delete(code);
      if (!entry || entry.expiresAt < Date.now()) {
        reply.status(401);
        return reply.type('text/html; charset=utf-8').send(loginPage('That login link expired or was already used.'));
      }
      await setSession(reply, entry.workspaceId);
      return reply.redirect('/', 303);
    });
    app.post('/logout', async (req, reply) => {
      // Another site may not end an operator's session.
      if (!sameOriginForm(req)) throw new ApiError(403, 'forbidden', 'log out from the setup page of this service', 'origin');
      const session = await sessionOf(req);
      if (session) await store.revokePageSession(session.sessionId);
      reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${cookieFlags}`);
      return reply.redirect('/login', 303);
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));

  return {
    app,
    usePublicUrl(url) {
      publicOrigin = new URL(url).origin;
    },
    oneTimeLoginPath(workspaceId, ttlMs = 15 * 60_000) {
      parse(workspaceIdSchema, workspaceId, 'workspaceId');
      const code = randomBytes(18).toString('base64url');
      onceCodes.set(code, { workspaceId, expiresAt: Date.now() + ttlMs });
      return `/login/once/${code}`;
    },
  };
}

export interface RunningConfigApi extends ConfigApi {
  url: string;
  close(): Promise<void>;
}

export async function startConfigApi(options: ConfigApiOptions & { port?: number; host?: string }): Promise<RunningConfigApi> {
  const api = buildConfigApi(options);
  await api.app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = api.app.server.address() as { port: number };
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `http://${host}:${address.port}`;
  if (!options.publicUrl) api.usePublicUrl(url);
  return { ...api, url, close: () => api.app.close() };
}

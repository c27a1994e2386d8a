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
import type { HubSpotOAuthClient } from '../accounts/oauth-client';
import { completeInstall, OAuthError } from '../accounts/oauth-client';
import type { AccountStore, StoredConnection } from '../accounts/store';
import { AccountNeedsReconnect, AccountNotConnected } from '../accounts/store-directory';
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
const PAGE_HEADER = 'x-config-page';

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

  function sessionOf(req: FastifyRequest): string | undefined {
    const cookie = String(req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    if (!cookie) return undefined;
    const [ws, exp, mac] = decodeURIComponent(cookie.slice(SESSION_COOKIE.length + 1)).split('|');
    if (!ws || !exp || !mac || Number(exp) < Date.now()) return undefined;
    return sameSecret(mac, sign(sessionKey, `${ws}|${exp}`)) ? ws : undefined;
  }

  function setSession(reply: FastifyReply, workspaceId: string): void {
    const exp = String(Date.now() + sessionTtlMs);
    const value = encodeURIComponent(`${workspaceId}|${exp}|${sign(sessionKey, `${workspaceId}|${exp}`)}`);
    reply.header('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(sessionTtlMs / 1000)}${options.secureCookies ? '; Secure' : ''}`);
  }

  /** The platform's bearer token (any workspace it names), or the page's session (its own workspace only). */
  function authorize(req: FastifyRequest, workspaceId: string): void {
    const auth = String(req.headers.authorization ?? '');
    if (auth.startsWith('Bearer ')) {
      if (sameSecret(auth.slice(7).trim(), options.apiToken)) return;
      throw new ApiError(401, 'unauthorized', 'the bearer token is not valid', 'authorization');
    }
    const session = sessionOf(req);
    if (session) {
      // Cookies ride along on cross-site requests: a state change must come from the page's own script.
      if (req.method !== 'GET' && req.headers[PAGE_HEADER] !== '1') throw new ApiError(403, 'forbidden', `requests with a session cookie must carry the ${PAGE_HEADER} header`, PAGE_HEADER);
      if (session === workspaceId) return;
      throw new ApiError(404, 'not_found', `no workspace ${workspaceId} for this session`, 'workspaceId');
    }
    throw new ApiError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer …)', 'authorization');
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
        authorize(req, params.workspaceId);
        const query = schemas.query ? parse(schemas.query, req.query, 'query') : ({} as z.output<Q>);
        const body = schemas.body ? parse(schemas.body, req.body, 'body') : ({} as z.output<B>);
        return handler({ params: params as z.output<P>, query, body }, reply);
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

  function checkReturnTo(returnTo: string | undefined): string | undefined {
    if (returnTo === undefined) return undefined;
    if (/^\/(?![/\\])/.test(returnTo)) return returnTo;
    let url: URL;
    try {
      url = new URL(returnTo);
    } catch {
      throw new ApiError(400, 'invalid_input', 'body.returnTo: a path on this service or a URL of an allowed origin', 'body.returnTo');
    }
    if (!(options.allowedReturnOrigins ?? []).includes(url.origin)) {
      throw new ApiError(400, 'invalid_input', `body.returnTo: origin ${url.origin} is not allowed (CONFIG_API_RETURN_ORIGINS)`, 'body.returnTo');
    }
    return url.toString();
  }

  // ---- the workspace API ----

  route('POST', '/v1/workspaces/:workspaceId/connections/oauth', { params: wsParams, body: z.object({ returnTo: z.string().max(2000).optional() }).strict() }, async ({ params, body }) => {
    if (!oauth) throw new ApiError(501, 'oauth_not_configured', 'no OAuth app is configured (HUBSPOT_OAUTH_CLIENT_ID, HUBSPOT_OAUTH_CLIENT_SECRET, HUBSPOT_OAUTH_REDIRECT_URI)');
    const returnTo = checkReturnTo(body.returnTo);
    const stateId = randomBytes(18).toString('base64url');
    const expiresAt = Date.now() + stateTtlMs;
    await store.createOAuthState(stateId, params.workspaceId, returnTo, expiresAt);
    const state = `${stateId}.${sign(stateKey, `${stateId}|${params.workspaceId}`)}`;
    return { installUrl: oauth.installUrl(state), expiresAt: new Date(expiresAt).toISOString() };
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

  app.get('/oauth/callback', async (req, reply) => {
    const q = parse(z.object({ state: z.string().min(1).max(500), code: z.string().max(2000).optional(), error: z.string().max(200).optional() }).passthrough(), req.query, 'query');
    const [stateId, mac] = q.state.split('.');
    const used = stateId && mac ? await store.consumeOAuthState(stateId) : undefined;
    if (!used || !sameSecret(mac!, sign(stateKey, `${stateId}|${used.workspaceId}`))) {
      throw new ApiError(400, 'invalid_state', 'the install link expired or was already used: start "Add account" again', 'query.state');
    }
    const back = (params: Record<string, string>) => {
      const target = new URL(used.returnTo ?? '/', 'http://config-api.local');
      for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
      return used.returnTo && /^https?:/.test(used.returnTo) ? target.toString() : `${target.pathname}${target.search}`;
    };
    if (q.error || !q.code) {
      const reason = q.error ?? 'no_code';
      if (used.returnTo) return reply.redirect(back({ error: reason }), 303);
      throw new ApiError(400, 'install_refused', `the install was not completed (${reason})`, 'query.error');
    }
    if (!oauth) throw new ApiError(501, 'oauth_not_configured', 'no OAuth app is configured');
    let connection: StoredConnection;
    try {
      connection = await completeInstall(store, oauth, used.workspaceId, q.code);
    } catch (err) {
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
      const ws = sessionOf(req);
      if (!ws) return reply.redirect('/login', 303);
      reply.header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'");
      return reply.type('text/html; charset=utf-8').send(setupPage(ws));
    });
    app.get('/setup.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(setupScript));
    app.get('/login', async (_req, reply) => {
      reply.header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
      return reply.type('text/html; charset=utf-8').send(loginPage());
    });
    app.post('/login', async (req, reply) => {
      const body = parse(z.object({ token: z.string().max(500), workspaceId: workspaceIdSchema }), req.body, 'body');
      if (!sameSecret(body.token, options.apiToken)) {
        reply.status(401);
        return reply.type('text/html; charset=utf-8').send(loginPage('That token is not valid.'));
      }
      setSession(reply, body.workspaceId);
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
      setSession(reply, entry.workspaceId);
      return reply.redirect('/', 303);
    });
    app.post('/logout', async (_req, reply) => {
      reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
      return reply.redirect('/login', 303);
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));

  return {
    app,
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
  return { ...api, url: `http://${host}:${address.port}`, close: () => api.app.close() };
}

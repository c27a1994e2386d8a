// "Add account": HubSpot's OAuth install. From the page: the install completes only in the browser that
// started it (a binding cookie), still logged into this workspace. From the platform: HubSpot's answer
// is handed back to the platform's own page (returnTo, an allowed origin), whose backend completes it
// for the workspace of its logged-in user (POST …/connections/oauth/complete). Either way a forwarded
// consent link connects nothing. PKCE binds the code to this service's exchange. See docs/ACCOUNTS.md.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { completeInstall, OAuthError } from '../../account-store/oauth-client';
import type { OAuthState, StoredConnection } from '../../account-store/store';
import { cookieOf, sameSecret, sha256, workspaceRoute } from '../auth';
import type { ConfigApiContext } from '../context';
import { ApiError, parse, wsParams } from '../http';
import { connectionView } from './accounts';

/** Set in the browser that starts an install from the page; the callback completes only there. */
const INSTALL_COOKIE = 'config_install';
const CALLBACK_PATH = '/oauth/callback';
const STATE_SPENT = 'the install link expired or was already used: start "Add account" again';

/**
 * Where the browser may be sent back to: returnTo resolved against this service's own origin first,
 * then kept only as a path of this service (never one that a browser would read as another host,
 * such as //host or /\\host once dot segments and encodings are resolved) or a URL of an allowed
 * origin. Returns a path ("/…") or an absolute URL of an allowed origin.
 */
function checkReturnTo(
  ctx: ConfigApiContext,
  returnTo: string | undefined,
  field = 'body.returnTo',
): string | undefined {
  if (returnTo === undefined) return undefined;
  const ownOrigin = ctx.auth.ownOrigin();
  const refuse = (why: string) => new ApiError(400, 'invalid_input', `${field}: ${why}`, field);
  // Browsers drop tabs and newlines inside URLs and read backslashes as slashes: so does the check.
  if (/[\u0000-\u001f\u007f]/.test(returnTo)) throw refuse('control characters are not allowed');
  let url: URL;
  try {
    url = new URL(returnTo, `${ownOrigin}/`);
  } catch {
    throw refuse('a path on this service or a URL of an allowed origin');
  }
  if (url.origin === ownOrigin) {
    const path = `${url.pathname}${url.search}${url.hash}`;
    if (!path.startsWith('/') || /^\/[/\\]/.test(path) || url.username || url.password)
      throw refuse('a path on this service must not name another host');
    return path;
  }
  if (!/^https?:$/.test(url.protocol) || !ctx.allowedReturnOrigins.includes(url.origin)) {
    throw refuse(
      `origin ${url.origin === 'null' ? url.protocol : url.origin} is not allowed (CONFIG_API_RETURN_ORIGINS)`,
    );
  }
  return url.toString();
}

/** A redirect target built from a stored returnTo: checked again, then given the outcome's parameters. */
function returnUrl(ctx: ConfigApiContext, returnTo: string, params: Record<string, string>): string {
  const target = checkReturnTo(ctx, returnTo, 'returnTo')!;
  const url = new URL(target, `${ctx.auth.ownOrigin()}/`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return target.startsWith('/') ? `${url.pathname}${url.search}${url.hash}` : url.toString();
}

/** The state of an install, checked: its signature first, then that it is still usable. Nothing is used up here. */
async function checkedState(
  ctx: ConfigApiContext,
  state: string,
  field: string,
): Promise<{ stateId: string; used: OAuthState }> {
  const [stateId, mac, extra] = state.split('.');
  const invalid = () => new ApiError(400, 'invalid_state', STATE_SPENT, field);
  if (!stateId || !mac || extra !== undefined) throw invalid();
  const used = await ctx.store.peekOAuthState(stateId);
  // A wrong signature never uses up a genuine state.
  if (!used || !sameSecret(mac, ctx.auth.signState(`${stateId}|${used.workspaceId}`))) throw invalid();
  return { stateId, used };
}

/** Uses the state and exchanges the code (with the install's PKCE verifier): the connection, stored for the state's workspace. */
async function finishInstall(ctx: ConfigApiContext, stateId: string, code: string): Promise<StoredConnection> {
  const used = await ctx.store.consumeOAuthState(stateId);
  if (!used) throw new ApiError(400, 'invalid_state', STATE_SPENT, 'state');
  if (!ctx.oauth) throw new ApiError(501, 'oauth_not_configured', 'no OAuth app is configured');
  return completeInstall(ctx.store, ctx.oauth, used.workspaceId, code, used.codeVerifier);
}

const installBody = z.object({ returnTo: z.string().max(2000).optional() }).strict();
const completeBody = z.object({ state: z.string().min(1).max(500), code: z.string().min(1).max(2000) }).strict();
const callbackQuery = z
  .object({
    state: z.string().min(1).max(500),
    code: z.string().max(2000).optional(),
    error: z.string().max(200).optional(),
  })
  .passthrough();

/** Starting an install, and completing one the platform started: workspace routes. */
export const oauthInstallRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    const { store, auth } = ctx;

    workspaceRoute(
      app,
      'POST',
      '/connections/oauth',
      { params: wsParams, body: installBody },
      async ({ params, body, caller }, reply) => {
        const oauth = ctx.oauth;
        if (!oauth)
          throw new ApiError(
            501,
            'oauth_not_configured',
            'no OAuth app is configured (HUBSPOT_OAUTH_CLIENT_ID, HUBSPOT_OAUTH_CLIENT_SECRET, HUBSPOT_OAUTH_REDIRECT_URI)',
          );
        const returnTo = checkReturnTo(ctx, body.returnTo);
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
        const expiresAt = Date.now() + ctx.stateTtlMs;
        let bindingHash: string | undefined;
        if (caller === 'page') {
          const binding = randomBytes(24).toString('base64url');
          bindingHash = sha256(binding);
          reply.header(
            'Set-Cookie',
            `${INSTALL_COOKIE}=${binding}; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=${Math.ceil(ctx.stateTtlMs / 1000)}${auth.cookieFlags}`,
          );
        }
        await store.createOAuthState(stateId, {
          workspaceId: params.workspaceId,
          returnTo,
          expiresAt,
          mode: caller,
          bindingHash,
          codeVerifier,
        });
        const state = `${stateId}.${auth.signState(`${stateId}|${params.workspaceId}`)}`;
        return {
          installUrl: oauth.installUrl(state, sha256(codeVerifier)),
          expiresAt: new Date(expiresAt).toISOString(),
        };
      },
    );

    workspaceRoute(
      app,
      'POST',
      '/connections/oauth/complete',
      { params: wsParams, body: completeBody },
      async ({ params, body, caller }, reply) => {
        if (caller !== 'platform')
          throw new ApiError(
            403,
            'forbidden',
            "only the platform's backend completes an install it started (bearer token)",
            'authorization',
          );
        const { stateId, used } = await checkedState(ctx, body.state, 'body.state');
        // Another workspace's install: the same answer as an unknown one.
        if (used.workspaceId !== params.workspaceId || used.mode !== 'platform')
          throw new ApiError(400, 'invalid_state', STATE_SPENT, 'body.state');
        let connection: StoredConnection;
        try {
          connection = await finishInstall(ctx, stateId, body.code);
        } catch (err) {
          if (err instanceof ApiError) throw err;
          throw new ApiError(
            502,
            'oauth_failed',
            err instanceof OAuthError ? err.message : 'the connection could not be stored',
          );
        }
        reply.status(201);
        return { connection: connectionView(connection) };
      },
    );
  };

/** HubSpot's redirect back after consent: the state authenticates it (no bearer token, no workspace hook). */
export const oauthCallbackRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    const { store, auth } = ctx;

    app.get(CALLBACK_PATH, async (req, reply) => {
      const q = parse(callbackQuery, req.query, 'query');
      const { stateId, used } = await checkedState(ctx, q.state, 'query.state');
      const back = (params: Record<string, string>) => returnUrl(ctx, used.returnTo ?? '/', params);
      const refused = q.error || !q.code ? (q.error ?? 'no_code') : undefined;

      if (used.mode === 'platform') {
        // The platform completes it (or shows the refusal) for the workspace of its own logged-in user.
        if (refused) await store.consumeOAuthState(stateId);
        return reply.redirect(back(refused ? { error: refused } : { code: q.code!, state: q.state }), 303);
      }

      // Started from the page: only the browser that started it, still logged into that workspace.
      const binding = cookieOf(req, INSTALL_COOKIE);
      const session = await auth.sessionOf(req);
      if (
        !binding ||
        !used.bindingHash ||
        !sameSecret(sha256(binding), used.bindingHash) ||
        session?.workspaceId !== used.workspaceId
      ) {
        throw new ApiError(
          403,
          'install_not_yours',
          'This install link was started by someone else, in another browser: nothing was connected. To connect a HubSpot portal, log in to your own workspace\'s setup page and click "Add account" there.',
          'query.state',
        );
      }
      reply.header(
        'Set-Cookie',
        `${INSTALL_COOKIE}=; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0${auth.cookieFlags}`,
      );
      if (refused) {
        await store.consumeOAuthState(stateId);
        if (used.returnTo) return reply.redirect(back({ error: refused }), 303);
        throw new ApiError(400, 'install_refused', `the install was not completed (${refused})`, 'query.error');
      }
      let connection: StoredConnection;
      try {
        connection = await finishInstall(ctx, stateId, q.code!);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        const message = err instanceof OAuthError ? err.message : 'the connection could not be stored';
        if (used.returnTo)
          return reply.redirect(back({ error: err instanceof OAuthError ? err.error : 'internal' }), 303);
        throw new ApiError(502, 'oauth_failed', message);
      }
      if (used.returnTo) return reply.redirect(back({ connected: connection.accountId }), 303);
      return { connection: connectionView(connection) };
    });
  };

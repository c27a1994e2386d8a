// The operators' page sessions: logging in (with the API token, throttled per client address, or with
// a single-use link), logging out, and the platform ending every session of a workspace at once. The
// login and logout forms must come from this service's own pages (another site could log a browser
// into a workspace of its choosing, or end an operator's session).
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { workspaceRoute } from '../auth';
import type { ConfigApiContext } from '../context';
import { ApiError, parse, workspaceIdSchema, wsParams } from '../http';
import { loginPage } from '../page';

const loginBody = z.object({ token: z.string().max(500), workspaceId: workspaceIdSchema });
const onceParams = z.object({ code: z.string().min(1).max(100) });

/** Ending a workspace's sessions: a workspace route, for the platform's backend only. */
export const workspaceSessionRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    workspaceRoute(app, 'DELETE', '/sessions', { params: wsParams }, async ({ params, caller }) => {
      if (caller !== 'platform')
        throw new ApiError(
          403,
          'forbidden',
          "only the platform's backend ends a workspace's sessions (bearer token)",
          'authorization',
        );
      return { workspaceId: params.workspaceId, revoked: await ctx.store.revokeWorkspaceSessions(params.workspaceId) };
    });
  };

/** Logging in and out of the page. */
export const sessionRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    const { auth, loginThrottle } = ctx;

    app.post('/login', async (req, reply) => {
      if (!auth.sameOriginForm(req))
        throw new ApiError(403, 'forbidden', 'log in from the login page of this service', 'origin');
      const address = req.socket.remoteAddress ?? 'unknown';
      const waitMs = loginThrottle.waitMs(address);
      if (waitMs > 0) {
        reply.status(429).header('Retry-After', String(Math.ceil(waitMs / 1000)));
        return reply
          .type('text/html; charset=utf-8')
          .send(
            loginPage(
              `Too many failed logins from this address: try again in ${Math.ceil(waitMs / 60_000)} minute(s).`,
            ),
          );
      }
      const body = parse(loginBody, req.body, 'body');
      if (!auth.isApiToken(body.token)) {
        loginThrottle.fail(address);
        reply.status(401);
        return reply.type('text/html; charset=utf-8').send(loginPage('That token is not valid.'));
      }
      await auth.setSession(reply, body.workspaceId);
      return reply.redirect('/', 303);
    });

    app.get('/login/once/:code', async (req, reply) => {
      const { code } = parse(onceParams, req.params, 'path');
      const workspaceId = ctx.loginLinks.take(code);
      if (!workspaceId) {
        reply.status(401);
        return reply.type('text/html; charset=utf-8').send(loginPage('That login link expired or was already used.'));
      }
      await auth.setSession(reply, workspaceId);
      return reply.redirect('/', 303);
    });

    app.post('/logout', async (req, reply) => {
      if (!auth.sameOriginForm(req))
        throw new ApiError(403, 'forbidden', 'log out from the setup page of this service', 'origin');
      const session = await auth.sessionOf(req);
      if (session) await ctx.store.revokePageSession(session.sessionId);
      auth.clearSessionCookie(reply);
      return reply.redirect('/login', 303);
    });
  };

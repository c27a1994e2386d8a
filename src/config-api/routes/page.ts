// The operators' setup page (its HTML and script in ../page.ts): shown to a logged-in session, else
// the login page.
import type { FastifyPluginAsync } from 'fastify';
import type { ConfigApiContext } from '../context';
import { loginPage, setupPage, setupScript } from '../page';

export const pageRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/', async (req, reply) => {
      const session = await ctx.auth.sessionOf(req);
      if (!session) return reply.redirect('/login', 303);
      reply.header(
        'Content-Security-Policy',
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
      );
      return reply.type('text/html; charset=utf-8').send(setupPage(session.workspaceId));
    });
    app.get('/setup.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(setupScript));
    app.get('/login', async (_req, reply) => {
      reply.header(
        'Content-Security-Policy',
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      );
      return reply.type('text/html; charset=utf-8').send(loginPage());
    });
  };

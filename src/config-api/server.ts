// The configuration API behind the action's setup screens, and the operators' page. Every route under
// /v1/workspaces/:workspaceId/ acts for that workspace only: a connection or a config of another
// workspace is "not found". One fastify plugin per resource (routes/: accounts, action configs, the OAuth
// install, sessions, the page, the sync receipts); the workspace routes are authorised by one hook (auth.ts): the platform
// backend with a bearer token, the operators' page with a session cookie obtained by logging in with
// that token (the page itself never holds it). See docs/ACCOUNTS.md.
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AccountDirectory } from '../hubspot/directory';
import { HubSpotAccounts } from '../hubspot/accounts';
import type { HubSpotOAuthClient } from '../account-store/oauth-client';
import type { AccountStore } from '../account-store/store';
import type { HubSpotPropertyDefinition, LearnedRequirement, PropertyRule } from '../action/mapping-validation';
import { Auth, LoginThrottle, workspaceAuth } from './auth';
import { LoginLinks, type ConfigApiContext } from './context';
import { parse, useJsonErrors, workspaceIdSchema } from './http';
import { accountRoutes } from './routes/accounts';
import { actionConfigRoutes } from './routes/actions';
import { oauthCallbackRoutes, oauthInstallRoutes } from './routes/oauth';
import { pageRoutes } from './routes/page';
import { receiptRoutes } from './routes/receipts';
import { sessionRoutes, workspaceSessionRoutes } from './routes/sessions';

export { ApiError } from './http';

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
  /** The Temporal client a failed sync is retried through (receipts' retry route), connected on first use. */
  operatorClient?: () => Promise<Client>;
}

export interface ConfigApi {
  app: FastifyInstance;
  /** A single-use link that logs a browser into the page (development: printed at start). */
  oneTimeLoginPath(workspaceId: string, ttlMs?: number): string;
  /** Sets the public URL once the listening address is known (when none was configured). */
  usePublicUrl(url: string): void;
}

export function buildConfigApi(options: ConfigApiOptions): ConfigApi {
  const { store } = options;
  const adapter = new HubSpotAccounts(options.directory);
  const ctx: ConfigApiContext = {
    store,
    oauth: options.oauth,
    auth: new Auth({
      store,
      apiToken: options.apiToken,
      sessionTtlMs: options.sessionTtlMs ?? 8 * 3600_000,
      secureCookies: options.secureCookies ?? false,
      publicUrl: options.publicUrl,
    }),
    portal: {
      schema: options.propertySchema ?? (async (accountId) => (await adapter.get(accountId)).contactPropertySchema()),
      validationRules:
        options.validationRules ?? (async (accountId) => (await adapter.get(accountId)).contactValidationRules()),
      learnedRules: options.learnedRules ?? ((accountId) => store.learnedWriteRules(accountId)),
    },
    stateTtlMs: options.stateTtlMs ?? 10 * 60_000,
    allowedReturnOrigins: options.allowedReturnOrigins ?? [],
    loginThrottle: new LoginThrottle(options.loginAttempts ?? 10, options.loginWindowMs ?? 15 * 60_000),
    loginLinks: new LoginLinks(),
    ...(options.operatorClient ? { operatorClient: options.operatorClient } : {}),
  };

  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, trustProxy: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  useJsonErrors(app, options.log ?? (() => undefined));

  // The workspace API: every route authorised for its workspace by the hook, before its handler runs.
  void app.register(
    async (workspace) => {
      workspaceAuth(workspace, ctx.auth);
      await workspace.register(accountRoutes(ctx));
      await workspace.register(actionConfigRoutes(ctx));
      await workspace.register(oauthInstallRoutes(ctx));
      await workspace.register(workspaceSessionRoutes(ctx));
      await workspace.register(receiptRoutes(ctx));
    },
    { prefix: '/v1/workspaces/:workspaceId' },
  );
  // HubSpot's redirect after consent: the install's signed state authenticates it.
  void app.register(oauthCallbackRoutes(ctx));
  if (options.page ?? true) {
    void app.register(pageRoutes(ctx));
    void app.register(sessionRoutes(ctx));
  }
  app.get('/healthz', async () => ({ status: 'ok' }));

  return {
    app,
    usePublicUrl: (url) => ctx.auth.usePublicUrl(url),
    oneTimeLoginPath(workspaceId, ttlMs = 15 * 60_000) {
      parse(workspaceIdSchema, workspaceId, 'workspaceId');
      const code = randomBytes(18).toString('base64url');
      ctx.loginLinks.add(code, workspaceId, ttlMs);
      return `/login/once/${code}`;
    },
  };
}

export interface RunningConfigApi extends ConfigApi {
  url: string;
  close(): Promise<void>;
}

export async function startConfigApi(
  options: ConfigApiOptions & { port?: number; host?: string },
): Promise<RunningConfigApi> {
  const api = buildConfigApi(options);
  await api.app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = api.app.server.address() as { port: number };
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `http://${host}:${address.port}`;
  if (!options.publicUrl) api.usePublicUrl(url);
  return { ...api, url, close: () => api.app.close() };
}

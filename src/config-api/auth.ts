// Who calls the configuration API. The platform backend sends its bearer token; the operators' page
// a session cookie, obtained by logging in with that token (the page itself never holds it), for its
// own workspace only. Every route under /v1/workspaces/:workspaceId/ is authorised by one hook
// (`workspaceAuth`) before its handler runs; the page's form posts are checked to come from the page.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AccountStore, InstallMode } from '../account-store/store';
import { ApiError, parse, wsParams } from './http';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the workspace hook: who calls, and the path's parameters as the route's schema parsed them. */
    workspaceCall: { caller: InstallMode; params: unknown } | null;
  }
}

const SESSION_COOKIE = 'config_session';
/** Requests of the page's own script carry it: a cross-site form cannot. */
const PAGE_HEADER = 'x-config-page';
/** Resolves relative returnTo paths when no public URL is known; never a real origin. */
const PLACEHOLDER_ORIGIN = 'http://config-api.invalid';

export const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Compares secrets in constant time (of their hashes, so lengths do not leak either). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Reads one cookie of a request. */
export function cookieOf(req: FastifyRequest, name: string): string | undefined {
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
export class LoginThrottle {
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

export interface AuthOptions {
  store: AccountStore;
  apiToken: string;
  sessionTtlMs: number;
  secureCookies: boolean;
  /** The URL browsers reach this service at; its origin is "this service". */
  publicUrl?: string;
}

/** The callers' credentials: the bearer token, page sessions, signed install states, this service's origin. */
export class Auth {
  /** The Secure flag of every cookie, when served over https. */
  readonly cookieFlags: string;
  // Keys derived from the API token: states and sessions survive a restart, and die with the token.
  private readonly stateKey: Buffer;
  private readonly sessionKey: Buffer;
  private publicOrigin: string;

  constructor(private readonly options: AuthOptions) {
    this.cookieFlags = options.secureCookies ? '; Secure' : '';
    this.stateKey = createHmac('sha256', options.apiToken).update('oauth-state').digest();
    this.sessionKey = createHmac('sha256', options.apiToken).update('page-session').digest();
    this.publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin : PLACEHOLDER_ORIGIN;
  }

  private sign(key: Buffer, value: string): string {
    return createHmac('sha256', key).update(value).digest('base64url');
  }

  /** The signature of an install state (its id and workspace). */
  signState(value: string): string {
    return this.sign(this.stateKey, value);
  }

  /** Whether a token is the platform's API token. */
  isApiToken(token: string): boolean {
    return sameSecret(token, this.options.apiToken);
  }

  /** This service's own origin, as browsers see it. */
  ownOrigin(): string {
    return this.publicOrigin;
  }

  usePublicUrl(url: string): void {
    this.publicOrigin = new URL(url).origin;
  }

  /** The page session of a request: signed id, still open in the store (logout and revocation end it at once). */
  async sessionOf(req: FastifyRequest): Promise<{ sessionId: string; workspaceId: string } | undefined> {
    const [sessionId, mac] = (cookieOf(req, SESSION_COOKIE) ?? '').split('.');
    if (!sessionId || !mac || !sameSecret(mac, this.sign(this.sessionKey, sessionId))) return undefined;
    const workspaceId = await this.options.store.pageSession(sessionId);
    return workspaceId ? { sessionId, workspaceId } : undefined;
  }

  async setSession(reply: FastifyReply, workspaceId: string): Promise<void> {
    const sessionId = randomBytes(18).toString('base64url');
    const ttlMs = this.options.sessionTtlMs;
    await this.options.store.createPageSession(sessionId, workspaceId, Date.now() + ttlMs);
    const value = `${sessionId}.${this.sign(this.sessionKey, sessionId)}`;
    reply.header(
      'Set-Cookie',
      `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(ttlMs / 1000)}${this.cookieFlags}`,
    );
  }

  clearSessionCookie(reply: FastifyReply): void {
    reply.header('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${this.cookieFlags}`);
  }

  /** Who calls: the platform's bearer token (any workspace it names), or the page's session (its own workspace only). */
  async authorize(req: FastifyRequest, workspaceId: string): Promise<InstallMode> {
    const auth = String(req.headers.authorization ?? '');
    if (auth.startsWith('Bearer ')) {
      if (this.isApiToken(auth.slice(7).trim())) return 'platform';
      throw new ApiError(401, 'unauthorized', 'the bearer token is not valid', 'authorization');
    }
    const session = await this.sessionOf(req);
    if (session) {
      // Cookies ride along on cross-site requests: a state change must come from the page's own script.
      if (req.method !== 'GET' && req.headers[PAGE_HEADER] !== '1')
        throw new ApiError(
          403,
          'forbidden',
          `requests with a session cookie must carry the ${PAGE_HEADER} header`,
          PAGE_HEADER,
        );
      if (session.workspaceId === workspaceId) return 'page';
      throw new ApiError(404, 'not_found', `no workspace ${workspaceId} for this session`, 'workspaceId');
    }
    throw new ApiError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer …)', 'authorization');
  }

  /**
   * A form post of the page itself, not of another site: browsers say where a request comes from
   * (Sec-Fetch-Site, Origin). A request that says neither is refused.
   */
  sameOriginForm(req: FastifyRequest): boolean {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string') return site === 'same-origin' || site === 'none';
    const origin = req.headers.origin;
    if (typeof origin !== 'string') return false;
    const host = req.headers.host;
    return (
      origin === this.ownOrigin() ||
      (typeof host === 'string' && (origin === `http://${host}` || origin === `https://${host}`))
    );
  }
}

/** A workspace route's path schema, read by the hook from the route's config. */
interface WorkspaceRouteConfig {
  params?: z.ZodType;
}

/**
 * The hook of every workspace route: the path's parameters checked first (a bad id is a 400 whoever
 * asks), then the caller authorised for the workspace. A preHandler, so that it runs where the
 * handlers used to authorise: after fastify has read the body (a malformed body is refused as before).
 */
export function workspaceAuth(app: FastifyInstance, auth: Auth): void {
  app.decorateRequest('workspaceCall', null);
  app.addHook('preHandler', async (req) => {
    const schema = (req.routeOptions.config as WorkspaceRouteConfig).params ?? wsParams;
    const params = parse(schema, req.params, 'path') as { workspaceId: string };
    req.workspaceCall = { caller: await auth.authorize(req, params.workspaceId), params };
  });
}

export interface WorkspaceInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** 'platform': the bearer token; 'page': an operator's session of this workspace. */
  caller: InstallMode;
}

/** Declares a route of a workspace plugin: its input validated with zod; the hook has authorised the caller. */
export function workspaceRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  schemas: { params: P; query?: Q; body?: B },
  handler: (input: WorkspaceInput<z.output<P>, z.output<Q>, z.output<B>>, reply: FastifyReply) => Promise<unknown>,
): void {
  app.route({
    method,
    url,
    config: { params: schemas.params } satisfies WorkspaceRouteConfig,
    handler: async (req, reply) => {
      const { caller, params } = req.workspaceCall!;
      const query = schemas.query ? parse(schemas.query, req.query, 'query') : ({} as z.output<Q>);
      const body = schemas.body ? parse(schemas.body, req.body, 'body') : ({} as z.output<B>);
      return handler({ params: params as z.output<P>, query, body, caller }, reply);
    },
  });
}

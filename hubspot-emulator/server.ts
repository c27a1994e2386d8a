// The emulator's HTTP side: authentication, HubSpot's rate limits, fault injection and the
// /_emulator inspection API, in front of the CRM routes (crm.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { archiveContact, archiveNote, HttpError, match, mergeContacts, noteIdsOf, type Json, type Reply } from './crm';
import { searchLagOf, type SearchLag, type SearchLagOption } from './search-index';
import {
  AccountState,
  DEFAULT_SLOW_WRITE_MS,
  LOCK_MS,
  prng,
  type EmulatorAccountSeed,
  type FaultKind,
  type FaultSpec,
  type QueuedFault,
  type RequestRecord,
  type ValidationRules,
} from './store';
import { EmulatorOAuth, type EmulatorOAuthOptions, type OAuthAuthentication } from './oauth';

const REQUEST_LOG_SIZE = 10_000;
const DAILY_LIMIT = 1_000_000;
/** The bulk writes a random 423 (`lockedRate`) may refuse: HubSpot locks records during large batch syncs. */
const BULK_WRITES = new Set([
  'contacts.batchCreate',
  'contacts.batchUpdate',
  'contacts.batchUpsert',
  'notes.batchCreate',
  'notes.batchUpdate',
]);

// ---- the server ---------------------------------------------------------------------------------

export interface EmulatorServerOptions extends EmulatorOAuthOptions {
  port?: number;
  host?: string;
  accounts: EmulatorAccountSeed[];
  seed?: number;
  log?: (line: string) => void;
  /** The search-index lag of every account without its own; default DEFAULT_SEARCH_LAG (2–5 s). */
  searchLagMs?: SearchLagOption;
}

/** A fault drawn for one call. */
interface DrawnFault {
  kind?: FaultKind;
  latencyMs?: number;
  holdMs?: number;
  retryAfterSeconds?: number;
}

export class EmulatorServer {
  readonly accounts = new Map<string, AccountState>();
  private readonly byToken = new Map<string, AccountState>();
  private readonly log: RequestRecord[] = [];
  private logNext = 0;
  private readonly totals: Record<string, number> = {};
  private server?: Server;
  private readonly hanging = new Set<ServerResponse>();
  /** Aborted when the emulator closes: writes still held are not applied. */
  private readonly closing = new AbortController();
  url = '';
  port = 0;

  readonly oauth: EmulatorOAuth;
  /** The search-index lag accounts start with (unless their seed sets one). */
  readonly searchLag: SearchLag;

  constructor(private readonly options: EmulatorServerOptions) {
    this.searchLag = searchLagOf(options.searchLagMs);
    this.oauth = new EmulatorOAuth(this, options);
    this.resetAccounts();
  }

  resetAccounts(): void {
    this.accounts.clear();
    this.byToken.clear();
    this.log.length = 0;
    this.logNext = 0;
    for (const k of Object.keys(this.totals)) delete this.totals[k];
    for (const seed of this.options.accounts) this.addAccount(seed);
  }

  addAccount(seed: EmulatorAccountSeed): AccountState {
    if (this.accounts.has(seed.accountId)) throw new Error(`account ${seed.accountId} exists`);
    const state = new AccountState(seed, { searchLag: this.searchLag, seed: this.options.seed });
    state.random = prng(this.options.seed ?? 1);
    this.accounts.set(seed.accountId, state);
    this.byToken.set(seed.token, state);
    return state;
  }

  account(accountId: string): AccountState {
    const a = this.accounts.get(accountId);
    if (!a)
      throw new Error(`the emulator has no account "${accountId}" (has: ${[...this.accounts.keys()].join(', ')})`);
    return a;
  }

  requests(accountId?: string): RequestRecord[] {
    const ordered =
      this.log.length < REQUEST_LOG_SIZE
        ? this.log
        : [...this.log.slice(this.logNext), ...this.log.slice(0, this.logNext)];
    return accountId ? ordered.filter((r) => r.accountId === accountId) : [...ordered];
  }

  requestCounts(accountId?: string): Record<string, number> {
    return { ...(accountId ? this.account(accountId).counts : this.totals) };
  }

  private record(r: RequestRecord, account?: AccountState): void {
    if (this.log.length < REQUEST_LOG_SIZE) this.log.push(r);
    else {
      this.log[this.logNext] = r;
      this.logNext = (this.logNext + 1) % REQUEST_LOG_SIZE;
    }
    this.totals[r.operation] = (this.totals[r.operation] ?? 0) + 1;
    account?.count(r.operation);
    if (r.fault && account) account.faultCounts[r.fault] = (account.faultCounts[r.fault] ?? 0) + 1;
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent)
          this.send(res, 500, {
            status: 'error',
            message: `emulator error: ${(err as Error).message}`,
            correlationId: randomUUID(),
            category: 'INTERNAL_ERROR',
          });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as { port: number };
    this.port = addr.port;
    this.url = `http://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json;charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private rateHeaders(a: AccountState, now: number): Record<string, string> {
    const h: Record<string, string> = {
      'X-HubSpot-RateLimit-Daily': String(DAILY_LIMIT),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, DAILY_LIMIT - a.dailyUsed)),
    };
    if (a.general) {
      h['X-HubSpot-RateLimit-Interval-Milliseconds'] = '10000';
      h['X-HubSpot-RateLimit-Max'] = String(a.general.limit);
      h['X-HubSpot-RateLimit-Remaining'] = String(a.general.remaining(now));
    }
    if (a.search) {
      h['X-HubSpot-RateLimit-Secondly'] = String(a.search.limit);
      h['X-HubSpot-RateLimit-Secondly-Remaining'] = String(a.search.remaining(now));
    }
    return h;
  }

  private rateLimited(
    res: ServerResponse,
    a: AccountState,
    now: number,
    policy: 'TEN_SECONDLY_ROLLING' | 'SECONDLY',
    retryAfterMs: number,
  ): void {
    const message =
      policy === 'SECONDLY'
        ? 'You have reached your secondly limit.'
        : 'You have reached your ten_secondly_rolling limit.';
    this.send(
      res,
      429,
      {
        status: 'error',
        message,
        errorType: 'RATE_LIMIT',
        correlationId: randomUUID(),
        policyName: policy,
        category: 'RATE_LIMITS',
      },
      { ...this.rateHeaders(a, now), 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    );
  }

  /** The fault to inject on this call, if any: a queued one first, else a random draw. */
  private drawFault(a: AccountState, operation: string): DrawnFault | undefined {
    const queued = a.failNext.get(operation);
    if (queued?.length) {
      const q = queued.shift()!;
      return typeof q === 'string' ? { kind: q } : q;
    }
    const f = a.faults;
    if (!f || (f.operations && !f.operations.includes(operation))) return undefined;
    const r = a.random;
    if (f.rateLimitRate && r() < f.rateLimitRate) return { kind: '429' };
    if (f.serverErrorRate && r() < f.serverErrorRate) return { kind: r() < 0.5 ? '500' : '503' };
    if (f.timeoutRate && r() < f.timeoutRate) return { kind: 'timeout' };
    if (f.lostResponseRate && r() < f.lostResponseRate) return { kind: 'lost-response' };
    if (f.slowWriteRate && r() < f.slowWriteRate)
      return { kind: f.slowWriteIfConnected ? 'slow-write-if-connected' : 'slow-write' };
    if (f.lockedRate && BULK_WRITES.has(operation) && r() < f.lockedRate) return { kind: '423' };
    if (f.latencyMs) return { latencyMs: f.latencyMs + (f.latencyJitterMs ? r() * f.latencyJitterMs : 0) };
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_emulator')) return this.inspect(req, res, url, method);
    if (url.pathname.startsWith('/oauth/')) return this.oauth.handle(req, res, url, method);

    const route = match(method, url.pathname);
    const auth = req.headers.authorization ?? '';
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    // An OAuth access token (expiring, per app) or a static private-app token.
    const oauth: OAuthAuthentication | undefined = bearer ? this.oauth.authenticate(bearer) : undefined;
    const account = oauth ? (oauth.ok ? oauth.account : undefined) : this.byToken.get(bearer);
    const operation = route?.operation ?? 'unknown';
    const apiVersion = route?.apiVersion;
    const record = (status: number, fault?: string) =>
      this.record(
        {
          at: Date.now(),
          accountId: account?.seed.accountId,
          operation,
          method,
          path: url.pathname,
          status,
          ...(apiVersion ? { apiVersion } : {}),
          ...(fault ? { fault } : {}),
        },
        account,
      );

    if (!account) {
      await drain(req);
      record(401);
      return this.send(res, 401, {
        status: 'error',
        message:
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        correlationId: randomUUID(),
        category: 'INVALID_AUTHENTICATION',
        ...(oauth && !oauth.ok ? { category: oauth.category, message: oauth.message } : {}),
      });
    }
    if (!route) {
      await drain(req);
      record(404);
      return this.send(res, 404, {
        status: 'error',
        message: `No route for ${method} ${url.pathname} in the emulator`,
        correlationId: randomUUID(),
        category: 'OBJECT_NOT_FOUND',
      });
    }
    if (!(oauth?.ok ? oauth.scopes.includes(route.scope) : account.scopes.has(route.scope))) {
      await drain(req);
      record(403);
      return this.send(res, 403, {
        status: 'error',
        message:
          "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
        correlationId: randomUUID(),
        errors: [
          {
            message: `One or more of the following scopes are required: [${route.scope}]`,
            context: { requiredGranularScopes: [route.scope] },
          },
        ],
        links: { scopes: 'https://developers.hubspot.com/scopes' },
        category: 'MISSING_SCOPES',
      });
    }

    const now = Date.now();
    if (route.search && account.search && account.search.remaining(now) === 0) {
      await drain(req);
      record(429, 'rate-limit');
      return this.rateLimited(res, account, now, 'SECONDLY', account.search.resetInMs(now));
    }
    if (account.general && !account.general.take(now)) {
      await drain(req);
      record(429, 'rate-limit');
      return this.rateLimited(res, account, now, 'TEN_SECONDLY_ROLLING', account.general.resetInMs(now));
    }
    if (route.search) account.search?.take(now);
    account.dailyUsed++;

    const body = method === 'GET' ? {} : await readJson(req);
    const arrived = Date.now();
    const drawn = this.drawFault(account, operation);
    const fault = drawn?.kind;
    const busy = this.busyAnswer(account, operation, drawn, arrived);
    if (busy) {
      record(busy.status, busy.fault);
      return this.send(res, busy.status, busy.body, busy.headers);
    }
    const logFault = (
      kind: 'slow-write' | 'slow-write-if-connected' | 'lost-response' | 'timeout',
      outcome: 'applied' | 'dropped',
      reply?: Reply,
      callerLeft?: boolean,
    ) =>
      account.logFault({
        kind,
        operation,
        method,
        path: url.pathname,
        at: arrived,
        endedAt: Date.now(),
        outcome,
        ...(reply ? { status: reply.status, ids: idsOf(reply) } : {}),
        ...(callerLeft ? { callerLeft } : {}),
      });
    const slow = fault === 'slow-write' || fault === 'slow-write-if-connected';
    let callerLeft = false;
    if (drawn?.latencyMs !== undefined) await sleep(drawn.latencyMs);
    else if (fault === '429') {
      record(429, 'injected-429');
      return this.rateLimited(res, account, now, 'TEN_SECONDLY_ROLLING', 1000);
    } else if (fault === '500' || fault === '503') {
      const status = Number(fault);
      record(status, `injected-${fault}`);
      return this.send(res, status, {
        status: 'error',
        message: status === 503 ? 'Service Unavailable' : 'internal error',
        correlationId: randomUUID(),
        category: status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR',
      });
    } else if (fault === 'timeout') {
      record(0, 'injected-timeout');
      this.hanging.add(res);
      // Held until the timeout passes, the client gives up, or the emulator closes.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, account.faults?.timeoutMs ?? 30_000);
        res.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.hanging.delete(res);
      logFault('timeout', 'dropped');
      res.destroy();
      return;
    } else if (slow) {
      // Held, then applied when the hold ends whether or not the caller is still connected: HubSpot may
      // apply a request it fully received after the caller gave up. The kinder variant drops it when the
      // caller closed the connection first.
      this.hanging.add(res);
      const held = await holdWrite(
        res,
        drawn?.holdMs ?? account.faults?.slowWriteMs ?? DEFAULT_SLOW_WRITE_MS,
        fault === 'slow-write-if-connected',
        this.closing.signal,
      );
      this.hanging.delete(res);
      callerLeft = held.callerLeft;
      if (held.emulatorClosed || (callerLeft && fault === 'slow-write-if-connected')) {
        logFault(fault, 'dropped');
        record(0, 'injected-slow-write');
        res.destroy();
        return;
      }
    }

    // An operation the emulator does not serve answers its 501 whatever the body (some take an array).
    if (!route.unserved && (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))) {
      record(400);
      return this.send(res, 400, {
        status: 'error',
        message: 'Invalid input JSON on line 1',
        correlationId: randomUUID(),
        category: 'VALIDATION_ERROR',
      });
    }
    let reply: Reply;
    try {
      reply = route.handle(account, {
        params: [],
        query: url.searchParams,
        body: body ?? {},
        appId: oauth?.ok ? oauth.appId : account.seed.appId,
      });
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      reply = {
        status: err.status,
        body: {
          status: 'error',
          message: err.message,
          correlationId: randomUUID(),
          category: err.category,
          ...err.extra,
        },
      };
    }
    if (fault === 'lost-response') {
      // The write is applied; the answer never arrives.
      logFault('lost-response', 'applied', reply);
      record(reply.status, 'injected-lost-response');
      res.socket?.destroy();
      return;
    }
    if (slow) logFault(fault, 'applied', reply, callerLeft);
    record(reply.status, slow ? 'injected-slow-write' : undefined);
    if (callerLeft) {
      // Applied; nobody is there to read the answer.
      res.destroy();
      return;
    }
    this.send(res, reply.status, reply.body, { ...this.rateHeaders(account, Date.now()), ...reply.headers });
  }

  // ---- inspection API (no auth: tests, demos, benchmarks) ----
  private async inspect(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const seg = url.pathname.split('/').filter(Boolean).slice(1);
    const ok = (body: unknown, status = 200) => this.send(res, status, body);
    try {
      if (method === 'GET' && seg[0] === 'health') return ok({ status: 'ok', accounts: this.accounts.size });
      if (method === 'POST' && seg[0] === 'reset') {
        await drain(req);
        this.resetAccounts();
        return ok({ reset: true });
      }
      if (seg[0] === 'accounts' && seg.length === 1) {
        if (method === 'GET')
          return ok({
            accounts: [...this.accounts.values()].map((a) => ({
              accountId: a.seed.accountId,
              appId: a.seed.appId,
              contacts: a.contacts.size,
              notes: a.notes.size,
            })),
          });
        if (method === 'POST') {
          const seed = (await readJson(req)) as unknown as EmulatorAccountSeed | undefined;
          if (!seed?.accountId || !seed.token || typeof seed.appId !== 'number')
            return ok({ message: 'an account seed needs accountId, token and a numeric appId' }, 400);
          this.addAccount(seed);
          return ok({ accountId: seed.accountId }, 201);
        }
      }
      if (seg[0] === 'accounts' && seg.length === 3) {
        const a = this.account(decodeURIComponent(seg[1]!));
        const what = seg[2];
        if (method === 'GET' && what === 'contacts') return ok({ results: [...a.contacts.values()] });
        if (method === 'GET' && what === 'notes') return ok({ results: [...a.notes.values()] });
        if (method === 'GET' && what === 'requests') return ok({ results: this.requests(a.seed.accountId) });
        if (method === 'GET' && what === 'request-counts') return ok(this.requestCounts(a.seed.accountId));
        if (method === 'GET' && what === 'fault-counts') return ok({ ...a.faultCounts });
        if (method === 'PUT' && what === 'faults') {
          const body = (await readJson(req)) as (FaultSpec & { seed?: number }) | null | undefined;
          a.faults = body ?? null;
          if (body?.seed !== undefined) a.random = prng(body.seed);
          return ok({ faults: a.faults });
        }
        if (method === 'POST' && what === 'fail-next') {
          const body = (await readJson(req)) as
            | { operation?: string; kind?: FaultKind; count?: number; holdMs?: number; retryAfterSeconds?: number }
            | undefined;
          if (!body?.operation || !body.kind) return ok({ message: 'fail-next needs operation and kind' }, 400);
          return ok({
            queued: this.queueFault(a, body.operation, body.kind, body.count ?? 1, body.holdMs, body.retryAfterSeconds),
          });
        }
        if (method === 'GET' && what === 'fault-log') return ok({ results: [...a.faultLog] });
        if (method === 'GET' && what === 'search-lag') return ok(a.searchLag);
        if (method === 'PUT' && what === 'search-lag') {
          const body = (await readJson(req)) as SearchLagOption | { lagMs?: number } | undefined;
          const lag = typeof body === 'object' && body !== null && 'lagMs' in body ? body.lagMs : body;
          a.setSearchLag(searchLagOf(lag as SearchLagOption));
          return ok(a.searchLag);
        }
        if (method === 'POST' && what === 'flush-search') {
          await drain(req);
          a.flushSearch();
          return ok({ flushed: true });
        }
        if (method === 'PUT' && what === 'validation-rules') {
          const body = (await readJson(req)) as ValidationRules | null | undefined;
          a.rules = body ?? {};
          return ok(a.rules);
        }
        if (method === 'POST' && what === 'merge') {
          const body = (await readJson(req)) as { primaryObjectId?: string; objectIdToMerge?: string } | undefined;
          if (!body?.primaryObjectId || !body.objectIdToMerge)
            return ok({ message: 'merge needs primaryObjectId and objectIdToMerge' }, 400);
          return ok({ id: mergeContacts(a, String(body.primaryObjectId), String(body.objectIdToMerge)).id });
        }
      }
      if (seg[0] === 'accounts' && seg.length === 4 && method === 'DELETE') {
        const a = this.account(decodeURIComponent(seg[1]!));
        const id = decodeURIComponent(seg[3]!);
        if (seg[2] === 'contacts') return ok({ archived: archiveContact(a, id) });
        if (seg[2] === 'notes') return ok({ archived: archiveNote(a, id) });
      }
      if (
        seg[0] === 'accounts' &&
        seg.length === 5 &&
        method === 'GET' &&
        seg[2] === 'contacts' &&
        seg[4] === 'notes'
      ) {
        const a = this.account(decodeURIComponent(seg[1]!));
        return ok({ results: noteIdsOf(a, decodeURIComponent(seg[3]!)) });
      }
      return ok({ message: `no inspection route ${method} ${url.pathname}` }, 404);
    } catch (err) {
      return ok({ message: (err as Error).message }, err instanceof HttpError ? err.status : 400);
    }
  }

  /** Queues `count` faults of a kind for the next calls of an operation; the queue's new length. */
  queueFault(
    a: AccountState,
    operation: string,
    kind: FaultKind,
    count = 1,
    holdMs?: number,
    retryAfterSeconds?: number,
  ): number {
    const q: QueuedFault[] = a.failNext.get(operation) ?? [];
    for (let i = 0; i < count; i++)
      q.push(holdMs === undefined && retryAfterSeconds === undefined ? kind : { kind, holdMs, retryAfterSeconds });
    a.failNext.set(operation, q);
    return q.length;
  }

  /**
   * HubSpot's "Error handling" docs: 477 Migration in Progress, with a Retry-After header, while an
   * account moves between data hosting locations (every call of the account, until the migration
   * ends); 423 Locked when records are being synced in bulk, a lock that lasts 2 seconds (the same
   * operation is refused until it has passed). A drawn 477 starts a migration of `retryAfterSeconds`
   * (default 1); a drawn 423 starts a lock. The categories are the emulator's: the docs name none.
   */
  private busyAnswer(
    a: AccountState,
    operation: string,
    drawn: DrawnFault | undefined,
    now: number,
  ): { status: number; fault: string; body: unknown; headers: Record<string, string> } | undefined {
    const correlationId = randomUUID();
    if (drawn?.kind === '477')
      a.migratingUntil = Math.max(a.migratingUntil, now + (drawn.retryAfterSeconds ?? 1) * 1000);
    if (now < a.migratingUntil) {
      const seconds = Math.max(1, Math.ceil((a.migratingUntil - now) / 1000));
      const body = {
        status: 'error',
        message: `This HubSpot account is being migrated between data hosting locations; retry after ${seconds} seconds.`,
        correlationId,
        category: 'MIGRATION_IN_PROGRESS',
      };
      return {
        status: 477,
        fault: drawn?.kind === '477' ? 'injected-477' : 'migration',
        body,
        headers: { 'Retry-After': String(seconds) },
      };
    }
    if (drawn?.kind === '423') a.locks.set(operation, now + LOCK_MS);
    if (now < (a.locks.get(operation) ?? 0)) {
      const body = {
        status: 'error',
        message: 'These records are locked by a sync in progress; wait at least 2 seconds before the next request.',
        correlationId,
        category: 'LOCKED',
      };
      return { status: 423, fault: drawn?.kind === '423' ? 'injected-423' : 'locked', body, headers: {} };
    }
    return undefined;
  }
}

/** Ids a reply names (a record's, or a batch's results'), for the fault log. */
function idsOf(reply: Reply): string[] {
  const body = reply.body as { id?: unknown; results?: Array<{ id?: unknown }> } | undefined;
  if (typeof body?.id === 'string') return [body.id];
  return (body?.results ?? []).map((r) => r.id).filter((id): id is string => typeof id === 'string');
}

/**
 * Holds a write for `ms`. callerLeft: the caller closed the connection before the hold ended (with
 * `endOnClose`, the hold ends then). emulatorClosed: the emulator is shutting down, nothing is applied.
 */
function holdWrite(
  res: ServerResponse,
  ms: number,
  endOnClose: boolean,
  closing: AbortSignal,
): Promise<{ callerLeft: boolean; emulatorClosed: boolean }> {
  const gone = () => res.destroyed || res.socket?.destroyed !== false;
  if (closing.aborted) return Promise.resolve({ callerLeft: gone(), emulatorClosed: true });
  if (endOnClose && gone()) return Promise.resolve({ callerLeft: true, emulatorClosed: false });
  return new Promise((resolve) => {
    let callerLeft = gone();
    const finish = (emulatorClosed: boolean) => {
      clearTimeout(timer);
      res.off('close', onClose);
      closing.removeEventListener('abort', onClosing);
      resolve({ callerLeft: callerLeft || gone(), emulatorClosed });
    };
    const onClose = () => {
      callerLeft = true;
      if (endOnClose) finish(false);
    };
    const onClosing = () => finish(true);
    const timer = setTimeout(() => finish(false), ms);
    res.once('close', onClose);
    closing.addEventListener('abort', onClosing, { once: true });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    /* discard */
  }
}

/** The request body as JSON; undefined when it is not JSON. An empty body is {}. */
async function readJson(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (!chunks.length) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return v === null ? (null as unknown as Json) : v;
  } catch {
    return undefined;
  }
}

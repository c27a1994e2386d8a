// The one place where HubSpot calls meet the wire: the official client's typed APIs (the code generated
// by HubSpot in @hubspot/api-client, used unmodified) with a transport of ours, which
//  - sends every call to HubSpot's date-versioned API (2026-09): the client's generated request
//    factories still build the legacy /crm/v3 and /crm/v4 paths, whose request and answer shapes the
//    2026-09 API keeps, so the path is rewritten here, in dateVersionedPath, and nowhere else;
//  - aborts the request when the call's signal fires (the caller's cancellation or the call's own
//    timeout), and settles only once the request has really ended: answer read, or socket closed;
//  - keeps the raw answer of a failed call, so that errors are classified from HubSpot's own body.
//
// Why not the client's per-call `_options.httpApi`: in 14.0.1 the generated Observable APIs merge it into
// the call's configuration but then send through `this.configuration.httpApi`, so a per-call transport
// is ignored. A Configuration built with `createConfiguration({ httpApi })` is honoured, so each call
// builds the small API objects it needs around its own transport. The Client facade is not used: it
// adds no retries we want (retries belong to Temporal) and no transport we could abort.
import * as http from 'node:http';
import * as https from 'node:https';
import * as contactsApi from '@hubspot/api-client/lib/codegen/crm/contacts';
import * as notesApi from '@hubspot/api-client/lib/codegen/crm/objects/notes';
import * as callsApi from '@hubspot/api-client/lib/codegen/crm/objects/calls';
import * as communicationsApi from '@hubspot/api-client/lib/codegen/crm/objects/communications';
import * as associationsApi from '@hubspot/api-client/lib/codegen/crm/associations/v4';
import * as propertiesApi from '@hubspot/api-client/lib/codegen/crm/properties';
import { z } from 'zod';
import { MAX_ERROR_BODY_CHARS, type RawAnswer } from './errors';

/** The HubSpot API version every call uses. */
export const HUBSPOT_API_VERSION = '2026-09';
export const DEFAULT_BASE_PATH = 'https://api.hubapi.com';
/** Largest answer read (a portal's full contact-property list is the largest we ask for). */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const USER_AGENT = 'hubspot-api-client-nodejs; 14.0.1 (contact-sync-worker)';

/**
 * The 2026-09 path of a legacy CRM path built by the client's generated code:
 *   /crm/v3/objects/{type}/...           -> /crm/objects/2026-09/{type}/...
 *   /crm/v4/objects/{type}/{id}/associations/{to}/{toId} -> /crm/objects/2026-09/{type}/{id}/associations/{to}/{toId}
 *   /crm/v4/associations/{from}/{to}/... -> /crm/associations/2026-09/{from}/{to}/...
 *   /crm/v3/properties/{type}/...        -> /crm/properties/2026-09/{type}/...
 * A path already date-versioned is kept; any other path is refused, so that no call reaches a legacy
 * API by accident. So is the per-record association list (/crm/v4/objects/{type}/{id}/associations/{to}):
 * HubSpot's 2026-09 Associations spec does not declare it; its batch read takes one record as well.
 */
export function dateVersionedPath(path: string): string {
  const seg = path.split('/');
  // A base path may carry a prefix (a proxy's): the CRM path starts at its first "crm" segment.
  const k = seg.indexOf('crm');
  const refuse = () => new Error(`no ${HUBSPOT_API_VERSION} equivalent is known for ${path.slice(0, 120)}`);
  if (k < 1) throw refuse();
  const [legacy, group] = [seg[k + 1], seg[k + 2]];
  if (group === HUBSPOT_API_VERSION) return path;
  const known =
    (legacy === 'v3' && (group === 'objects' || group === 'properties')) ||
    (legacy === 'v4' && (group === 'objects' || group === 'associations'));
  if (!known) throw refuse();
  const rest = seg.slice(k + 3);
  if (legacy === 'v4' && group === 'objects' && rest.length === 4 && rest[2] === 'associations') {
    throw new Error(
      `no ${HUBSPOT_API_VERSION} equivalent is declared for ${path.slice(0, 120)}: read associations with POST /crm/associations/${HUBSPOT_API_VERSION}/{from}/{to}/batch/read`,
    );
  }
  return [...seg.slice(0, k + 1), group, HUBSPOT_API_VERSION, ...seg.slice(k + 3)].join('/');
}

/** The request as the client's generated code hands it over (its RequestContext). */
interface OutgoingRequest {
  getUrl(): string;
  getHttpMethod(): string;
  getHeaders(): Record<string, string>;
  getBody(): unknown;
}

export class HubSpotRequestAborted extends Error {
  override name = 'HubSpotRequestAborted';
  constructor(readonly reason: unknown) {
    super('the request was aborted');
  }
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo' }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo' }),
};

/** What one call's transport saw: filled as the exchange happens. */
export interface Exchange {
  /** The last answer's status and headers (and its body, when it was an error). */
  raw?: RawAnswer;
  /** Paths actually sent, in order. */
  paths: string[];
}

/** A call that failed, with what the transport saw of it (the raw answer), handed on to be classified. */
export class HubSpotCallFailed extends Error {
  override name = 'HubSpotCallFailed';
  constructor(
    readonly failure: unknown,
    readonly exchange?: Exchange,
  ) {
    super('the HubSpot call failed');
  }
}

/** No answer within the call's own timeout: the request was aborted (classified as unreachable, ETIMEDOUT). */
export class HubSpotCallTimedOut extends Error {
  override name = 'HubSpotCallTimedOut';
  readonly code = 'ETIMEDOUT';
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms; the request was aborted`);
  }
}

/**
 * One call's transport (the client's PromiseHttpLibrary). It settles when the request has ended: the
 * answer fully read, or, after an abort or a network error, the request's socket closed.
 */
export class CallTransport {
  readonly exchange: Exchange = { paths: [] };
  constructor(private readonly signal: AbortSignal) {}

  send(request: OutgoingRequest): Promise<contactsApi.ResponseContext> {
    const signal = this.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new HubSpotRequestAborted(signal.reason));
      let req: http.ClientRequest;
      let payload: string | undefined;
      try {
        const url = new URL(request.getUrl());
        url.pathname = dateVersionedPath(url.pathname);
        const body = request.getBody();
        if (body !== undefined && typeof body !== 'string' && !(body instanceof URLSearchParams))
          throw new Error('unsupported request body');
        payload = body === undefined ? undefined : String(body);
        const headers: Record<string, string> = { ...request.getHeaders(), 'User-Agent': USER_AGENT };
        if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
        const secure = url.protocol === 'https:';
        this.exchange.paths.push(url.pathname);
        req = (secure ? https : http).request(url, {
          method: request.getHttpMethod(),
          headers,
          agent: secure ? agents.https : agents.http,
        });
      } catch (err) {
        return reject(err);
      }
      let failure: unknown;
      let answer: contactsApi.ResponseContext | undefined;
      const onAbort = () => {
        if (answer) return; // read in full: the call has its answer
        failure ??= new HubSpotRequestAborted(signal.reason);
        req.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        failure ??= err;
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            failure ??= new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => {
          failure ??= err;
        });
        res.on('end', () => {
          if (failure) return;
          const data = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          const raw: RawAnswer = { status, headers };
          if (status >= 300 && data.length <= MAX_ERROR_BODY_CHARS) raw.body = data.toString('utf8');
          this.exchange.raw = raw;
          answer = new contactsApi.ResponseContext(status, headers, {
            text: async () => data.toString('utf8'),
            binary: async () => data,
          });
        });
      });
      // 'close' comes last, whatever happened: after the answer was read, or once the socket of an
      // aborted or failed request is closed. Only then does the call end (and its pacing slot free).
      req.on('close', () => {
        signal.removeEventListener('abort', onAbort);
        if (answer && !failure) resolve(answer);
        else
          reject(
            failure ??
              Object.assign(new Error('the connection closed before the answer was complete'), { code: 'ECONNRESET' }),
          );
      });
      req.end(payload);
    });
  }
}

/** The typed APIs one call may use, built around its token and transport. */
export interface HubSpotApis {
  contacts: { basic: contactsApi.BasicApi; batch: contactsApi.BatchApi; search: contactsApi.SearchApi };
  notes: { basic: notesApi.BasicApi; batch: notesApi.BatchApi; search: notesApi.SearchApi };
  /** Engagements (an action that logs conversations as Calls and Communications). */
  calls: { basic: callsApi.BasicApi; batch: callsApi.BatchApi };
  communications: { basic: communicationsApi.BasicApi; batch: communicationsApi.BatchApi };
  associations: { basic: associationsApi.BasicApi; batch: associationsApi.BatchApi };
  properties: { core: propertiesApi.CoreApi };
  /** For a call with no typed method in the client: JSON in, JSON out (validated by the caller). */
  json(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown>;
}

export function hubspotApis(basePath: string | undefined, token: string, transport: CallTransport): HubSpotApis {
  const base = (basePath ?? DEFAULT_BASE_PATH).replace(/\/+$/, '');
  const authMethods = { oauth2: { accessToken: token } };
  // Each generated module has its own (identical) configuration types; the objects are built lazily.
  const lazy = <T>(make: () => T) => {
    let v: T | undefined;
    return () => (v ??= make());
  };
  const contacts = lazy(() => {
    const c = contactsApi.createConfiguration({
      baseServer: new contactsApi.ServerConfiguration(base, {}),
      httpApi: contactsApi.wrapHttpLibrary(transport),
      authMethods,
    });
    return {
      basic: new contactsApi.BasicApi(c),
      batch: new contactsApi.BatchApi(c),
      search: new contactsApi.SearchApi(c),
    };
  });
  const notes = lazy(() => {
    const c = notesApi.createConfiguration({
      baseServer: new notesApi.ServerConfiguration(base, {}),
      httpApi: notesApi.wrapHttpLibrary(transport),
      authMethods,
    });
    return { basic: new notesApi.BasicApi(c), batch: new notesApi.BatchApi(c), search: new notesApi.SearchApi(c) };
  });
  const calls = lazy(() => {
    const c = callsApi.createConfiguration({
      baseServer: new callsApi.ServerConfiguration(base, {}),
      httpApi: callsApi.wrapHttpLibrary(transport),
      authMethods,
    });
    return { basic: new callsApi.BasicApi(c), batch: new callsApi.BatchApi(c) };
  });
  const communications = lazy(() => {
    const c = communicationsApi.createConfiguration({
      baseServer: new communicationsApi.ServerConfiguration(base, {}),
      httpApi: communicationsApi.wrapHttpLibrary(transport),
      authMethods,
    });
    return { basic: new communicationsApi.BasicApi(c), batch: new communicationsApi.BatchApi(c) };
  });
  const associations = lazy(() => {
    const c = associationsApi.createConfiguration({
      baseServer: new associationsApi.ServerConfiguration(base, {}),
      httpApi: associationsApi.wrapHttpLibrary(transport),
      authMethods,
    });
    return { basic: new associationsApi.BasicApi(c), batch: new associationsApi.BatchApi(c) };
  });
  const properties = lazy(() => {
    const c = propertiesApi.createConfiguration({
      baseServer: new propertiesApi.ServerConfiguration(base, {}),
      httpApi: propertiesApi.wrapHttpLibrary(transport),
      authMethods,
    });
    return { core: new propertiesApi.CoreApi(c) };
  });
  return {
    get contacts() {
      return contacts();
    },
    get notes() {
      return notes();
    },
    get calls() {
      return calls();
    },
    get communications() {
      return communications();
    },
    get associations() {
      return associations();
    },
    get properties() {
      return properties();
    },
    async json(method, path, body) {
      const ctx = new contactsApi.RequestContext(
        base + path,
        method === 'GET' ? contactsApi.HttpMethod.GET : contactsApi.HttpMethod.POST,
      );
      ctx.setHeaderParam('Accept', 'application/json');
      ctx.setHeaderParam('Authorization', `Bearer ${token}`);
      if (body !== undefined) {
        ctx.setHeaderParam('Content-Type', 'application/json');
        ctx.setBody(JSON.stringify(body));
      }
      const res = await transport.send(ctx);
      const text = await res.body.text();
      if (res.httpStatusCode < 200 || res.httpStatusCode > 299)
        throw new contactsApi.ApiException(res.httpStatusCode, 'HubSpot refused the call', text, res.headers);
      try {
        return text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        throw new Error(`HubSpot answered ${res.httpStatusCode} with a body that is not JSON`);
      }
    },
  };
}

// ---- answer shapes we parse ourselves ---------------------------------------------------------------

/** GET /crm/property-validations/2026-09/contacts/{propertyName}: the property's validation rules. */
export const propertyValidationRulesSchema = z.object({
  results: z
    .array(
      z.looseObject({
        ruleType: z.string(),
        ruleArguments: z.array(z.string()).optional(),
        shouldApplyNormalization: z.boolean().optional(),
      }),
    )
    .default([]),
});
export type PropertyValidationRule = z.infer<typeof propertyValidationRulesSchema>['results'][number];

/** GET /crm/property-validations/2026-09/contacts: every property of the portal that carries rules. */
export const allPropertyValidationRulesSchema = z.object({
  results: z
    .array(
      z.looseObject({ propertyName: z.string(), propertyValidationRules: propertyValidationRulesSchema.shape.results }),
    )
    .default([]),
});

/** The X-HubSpot-RateLimit-* headers of one answer, as numbers. */
export interface RateLimitAnswer {
  at: number;
  max?: number;
  remaining?: number;
  intervalMs?: number;
  secondly?: number;
  secondlyRemaining?: number;
  daily?: number;
  dailyRemaining?: number;
}

export function rateLimitHeaders(headers: Record<string, string>, at: number): RateLimitAnswer | undefined {
  const n = (name: string) => {
    const v = headers[name];
    if (v === undefined) return undefined;
    const x = Number(v);
    return Number.isFinite(x) ? x : undefined;
  };
  const r: RateLimitAnswer = {
    at,
    max: n('x-hubspot-ratelimit-max'),
    remaining: n('x-hubspot-ratelimit-remaining'),
    intervalMs: n('x-hubspot-ratelimit-interval-milliseconds'),
    secondly: n('x-hubspot-ratelimit-secondly'),
    secondlyRemaining: n('x-hubspot-ratelimit-secondly-remaining'),
    daily: n('x-hubspot-ratelimit-daily'),
    dailyRemaining: n('x-hubspot-ratelimit-daily-remaining'),
  };
  return Object.values(r).filter((v) => v !== undefined).length > 1 ? r : undefined;
}

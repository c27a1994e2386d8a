// HubSpot's errors, mapped to what they mean for a run, in one place: 429, 423 (a lock, 2 s), 477 (an
// account migration, Retry-After), 5xx (but 501 Not Implemented), timeouts and network errors are retried
// by Temporal (honouring HubSpot's waits through nextRetryDelay); 400, 401, 403, 404 and 501 fail at once
// with a message that names the account and the cause. Messages carry no
// personal data and no credential: HubSpot's own messages can quote an email or a URL, so only codes,
// property names and ids are kept, and whatever text is quoted is cut short first and then scanned once
// (no regular expression that can backtrack), so a hostile answer cannot stall the worker.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType, failureTypeOf } from '../action/failures';
import type { ValidationRuleRefusal } from './directory';

export type { ValidationRuleRefusal } from './directory';

/** Whether a failure says the account must be reconnected (by its type, never by its wording). */
export function isNeedsReconnect(err: unknown): boolean {
  return failureTypeOf(err) === FailureType.HubSpotAccountNeedsReconnect;
}

/** HubSpot's docs ("Error handling"): a 423 lock lasts 2 seconds; wait at least that long. */
export const LOCKED_WAIT_MS = 2_000;
/** HubSpot's docs: a 477's Retry-After is typically up to 24 hours; a longer one is not waited for longer. */
const MAX_MIGRATION_WAIT_S = 24 * 3600;
/** How much of an answer's body is parsed at all; HubSpot's error bodies are a few KiB. */
export const MAX_ERROR_BODY_CHARS = 256 * 1024;
/** How much of any text is looked at before it is redacted and quoted. */
const MAX_SCANNED_CHARS = 2_000;
/** How much redacted text a message quotes. */
const MAX_QUOTED_CHARS = 300;
const MAX_LISTED = 20;

const text = z.string().optional().catch(undefined);
const record = z.record(z.string(), z.unknown()).optional().catch(undefined);
const errorDetailSchema = z.looseObject({
  message: text,
  code: text,
  subCategory: text,
  name: text,
  error: text,
  context: record,
});
const errorBodySchema = z.looseObject({
  status: text,
  message: text,
  category: text,
  subCategory: text,
  errorType: text,
  policyName: text,
  correlationId: text,
  context: record,
  errors: z.array(z.unknown()).optional().catch(undefined),
});

export interface HubSpotErrorDetail {
  message?: string;
  code?: string;
  subCategory?: string;
  name?: string;
  error?: string;
  context?: Record<string, unknown>;
}
export interface HubSpotErrorBody {
  status?: string;
  message?: string;
  category?: string;
  subCategory?: string;
  errorType?: string;
  policyName?: string;
  correlationId?: string;
  context?: Record<string, unknown>;
  errors?: HubSpotErrorDetail[];
}

/** What the official client throws for a non-2xx answer (its ApiException). */
interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The raw answer as the transport saw it: the body before the client's deserializer dropped fields. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

export function isApiException(err: unknown): err is ApiExceptionLike {
  return (
    typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err
  );
}

/** HubSpot's error body, validated field by field; anything unexpected is dropped, never trusted. */
export function parseErrorBody(body: unknown): HubSpotErrorBody {
  let value = body;
  if (typeof value === 'string') {
    if (value.length > MAX_ERROR_BODY_CHARS) return {};
    try {
      value = JSON.parse(value);
    } catch {
      return {};
    }
  }
  const parsed = errorBodySchema.safeParse(value);
  if (!parsed.success) return {};
  const errors = (parsed.data.errors ?? []).slice(0, 100).flatMap((e) => {
    const d = errorDetailSchema.safeParse(e);
    return d.success ? [d.data as HubSpotErrorDetail] : [];
  });
  return { ...(parsed.data as HubSpotErrorBody), errors };
}

export function errorBody(err: ApiExceptionLike, raw?: RawAnswer): HubSpotErrorBody {
  if (raw?.body !== undefined && raw.status === err.code) return parseErrorBody(raw.body);
  return parseErrorBody(err.body);
}

// ---- redaction: one pass over a bounded string ------------------------------------------------------

/** Characters that end a word when scanning for emails, URLs and credentials. */
function isBoundary(c: number): boolean {
  // whitespace, quotes, brackets, comma, semicolon, angle brackets, backslash
  return (
    c <= 32 ||
    c === 34 ||
    c === 39 ||
    c === 96 ||
    c === 40 ||
    c === 41 ||
    c === 91 ||
    c === 93 ||
    c === 123 ||
    c === 125 ||
    c === 44 ||
    c === 59 ||
    c === 60 ||
    c === 62 ||
    c === 92
  );
}

function redactWord(word: string, lower: string): string {
  if (lower.includes('@') || lower.includes('%40')) return '[email]';
  if (lower.includes('://')) return '[url]';
  const q = word.indexOf('?');
  if (q >= 0 && (word.includes('=', q) || word.includes('&', q))) return `${word.slice(0, q)}?[query]`;
  return word;
}

/**
 * Text fit to quote in a failure message: cut to a bounded length first, then scanned once, word by
 * word. Emails (also %40-encoded), full URLs, query strings, the word after "Bearer" and any of the
 * given secrets are replaced. Linear in the (bounded) length, whatever the input.
 */
export function redact(input: string, secrets: readonly string[] = []): string {
  let s = input.length > MAX_SCANNED_CHARS ? input.slice(0, MAX_SCANNED_CHARS) : input;
  for (const secret of secrets) if (secret.length >= 8) s = s.split(secret).join('[credential]');
  let out = '';
  let i = 0;
  let afterBearer = false;
  while (i < s.length && out.length < MAX_QUOTED_CHARS) {
    const c = s.charCodeAt(i);
    if (isBoundary(c)) {
      out += s[i];
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && !isBoundary(s.charCodeAt(j))) j++;
    const word = s.slice(i, j);
    const lower = word.toLowerCase();
    out += afterBearer ? '[credential]' : redactWord(word, lower);
    afterBearer = lower === 'bearer' || lower === 'authorization:';
    i = j;
  }
  return out.length > MAX_QUOTED_CHARS ? out.slice(0, MAX_QUOTED_CHARS) : out;
}

/** A property name as HubSpot spells them (internal names): anything else is not quoted. */
function propertyName(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > 100) return undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46;
    if (!ok) return undefined;
  }
  return v;
}

/** An error code (UPPER_SNAKE, bounded): anything else is not quoted. */
function code(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > 80) return undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45)) return undefined;
  }
  return v;
}

/** Property names found under the given context keys (HubSpot puts them in lists: `{ propertyName: ["x"] }`). */
function propertiesIn(context: Record<string, unknown> | undefined, keys: readonly string[]): string[] {
  if (!context) return [];
  const out: string[] = [];
  for (const key of keys) {
    const v = context[key];
    const list = Array.isArray(v) ? v.slice(0, MAX_LISTED) : [v];
    for (const item of list) {
      const name = propertyName(item);
      if (name && !out.includes(name)) out.push(name);
    }
  }
  return out;
}
const OWN_PROPERTY = ['propertyName', 'property', 'name'];
const REQUIRED_PROPERTIES = ['requiredProperties', 'missingProperties', 'propertyNames'];
const CONDITION_PROPERTY = ['conditionProperty', 'conditionPropertyName'];

const RULE_MARKERS = ['REQUIRED', 'RULE', 'PERMISSION'];
const isRuleCode = (c: string | undefined) => c !== undefined && RULE_MARKERS.some((m) => c.includes(m));
const addAll = (to: string[], from: string[]) => {
  for (const x of from) if (!to.includes(x) && to.length < MAX_LISTED) to.push(x);
};

/** The write-validation rules an answer names, with the properties concerned (names only, never values). */
export function validationRuleRefusals(body: HubSpotErrorBody): ValidationRuleRefusal[] {
  const out: ValidationRuleRefusal[] = [];
  const consider = (rule: string | undefined, context: Record<string, unknown> | undefined, name?: string) => {
    if (!rule || !isRuleCode(rule)) return;
    let r = out.find((x) => x.rule === rule);
    if (!r) {
      if (out.length >= MAX_LISTED) return;
      r = { rule, missing: [], required: [], condition: [] };
      out.push(r);
    }
    addAll(r.missing, [...(propertyName(name) ? [name!] : []), ...propertiesIn(context, OWN_PROPERTY)]);
    addAll(r.required, propertiesIn(context, REQUIRED_PROPERTIES));
    addAll(r.condition, propertiesIn(context, CONDITION_PROPERTY));
  };
  for (const e of body.errors ?? []) consider(code(e.subCategory) ?? code(e.code) ?? code(e.error), e.context, e.name);
  if (!out.length) consider(code(body.subCategory), body.context);
  return out;
}

/** How a rule refusal reads in a message. */
export function describeRuleRefusal(r: ValidationRuleRefusal): string {
  const parts = [`rule ${r.rule}`];
  if (r.missing.length) parts.push(`missing ${r.missing.join(', ')}`);
  if (r.required.length) parts.push(`the rule requires ${r.required.join(', ')}`);
  if (r.condition.length) parts.push(`when ${r.condition.join(', ')} has the value the rule names`);
  return parts.join(': ');
}

/** The JSON list embedded in "Property values were not valid: [...]", found without a regex. */
function embeddedList(message: string | undefined): Array<{ name?: unknown; error?: unknown }> {
  if (!message || message.length > MAX_ERROR_BODY_CHARS) return [];
  const start = message.indexOf('[');
  const end = message.lastIndexOf(']');
  if (start < 0 || end <= start) return [];
  try {
    const list = JSON.parse(message.slice(start, end + 1)) as unknown;
    return Array.isArray(list)
      ? list.filter((e): e is { name?: unknown; error?: unknown } => typeof e === 'object' && e !== null)
      : [];
  } catch {
    return [];
  }
}

/** The property names and error codes of a validation error, without the values. */
export function validationDetails(body: HubSpotErrorBody, secrets: readonly string[] = []): string {
  const rows: string[] = [];
  for (const e of body.errors ?? []) {
    const name = propertyName(e.name) ?? propertiesIn(e.context, OWN_PROPERTY)[0];
    const why = code(e.error) ?? code(e.code) ?? code(e.subCategory);
    const row = [name && `property "${name}"`, why].filter(Boolean).join(': ');
    if (row) rows.push(row);
  }
  if (!rows.length) {
    for (const e of embeddedList(body.message).slice(0, MAX_LISTED)) {
      const name = propertyName(e.name);
      rows.push(`property "${name ?? '?'}": ${code(e.error) ?? 'invalid'}`);
    }
  }
  if (rows.length) return rows.slice(0, MAX_LISTED).join('; ');
  return redact(body.message ?? 'no details', secrets);
}

/** The id HubSpot names in a 409's "Existing ID: <id>", if any. */
export function existingIdOf(message: string | undefined): string | undefined {
  if (!message) return undefined;
  const m = message.length > MAX_SCANNED_CHARS ? message.slice(0, MAX_SCANNED_CHARS) : message;
  const at = m.indexOf('Existing ID:');
  if (at < 0) return undefined;
  let i = at + 'Existing ID:'.length;
  while (m[i] === ' ') i++;
  let j = i;
  while (j < m.length && j - i < 30 && m.charCodeAt(j) >= 48 && m.charCodeAt(j) <= 57) j++;
  return j > i ? m.slice(i, j) : undefined;
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  return headers[name] ?? headers[name.toLowerCase()];
}

/** Retry-After in seconds (HubSpot sends seconds), bounded; undefined when absent or not a number. */
function retryAfterSeconds(headers: Record<string, string> | undefined, max: number): number | undefined {
  const retryAfter = Number(header(headers, 'Retry-After'));
  return Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, max) : undefined;
}

function retryDelayMs(headers: Record<string, string> | undefined, body: HubSpotErrorBody): number | undefined {
  const retryAfter = retryAfterSeconds(headers, 3600);
  if (retryAfter !== undefined) return retryAfter * 1000;
  if (body.policyName === 'SECONDLY' || header(headers, 'X-HubSpot-RateLimit-Secondly-Remaining') === '0') return 1000;
  const interval = Number(header(headers, 'X-HubSpot-RateLimit-Interval-Milliseconds'));
  if (body.policyName === 'TEN_SECONDLY_ROLLING' || header(headers, 'X-HubSpot-RateLimit-Remaining') === '0') {
    return Number.isFinite(interval) && interval > 0 ? Math.min(interval, 60_000) : 10_000;
  }
  return undefined;
}

export interface ClassifyOptions {
  /** The answer as the transport read it (keeps fields the client's deserializer drops). */
  raw?: RawAnswer;
  /** Values that must never appear in a message (the call's token). */
  secrets?: readonly string[];
}

/** An account id as quoted in a message: bounded, and only characters an id can have. */
export function quotedAccountId(accountId: string): string {
  const cut = accountId.length > 100 ? `${accountId.slice(0, 100)}…` : accountId;
  return redact(cut);
}

/** Turns anything a HubSpot call threw into the ApplicationFailure that says what to do about it. */
export function classifyHubSpotError(
  err: unknown,
  accountId: string,
  operation: string,
  options: ClassifyOptions = {},
): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const secrets = options.secrets ?? [];
  const account = `HubSpot account ${quotedAccountId(accountId)}`;
  if (isApiException(err)) {
    const body = errorBody(err, options.raw);
    const headers = options.raw?.status === err.code ? options.raw.headers : err.headers;
    const correlation = code(body.correlationId?.toUpperCase()) ? body.correlationId : undefined; // a UUID
    const ref = correlation ? ` [correlationId ${correlation}]` : '';
    const status = err.code;
    const category = code(body.category);
    if (status === 429) {
      const delay = retryDelayMs(headers, body);
      return ApplicationFailure.create({
        message: `${account} is rate limited (429 ${code(body.policyName) ?? code(body.errorType) ?? 'RATE_LIMIT'}) during ${operation}; retrying${delay ? ` in ${delay} ms` : ''}${ref}`,
        type: FailureType.HubSpotRateLimited,
        nextRetryDelay: delay,
      });
    }
    if (status === 423) {
      // Records locked by a bulk sync: the lock lasts 2 s (HubSpot's docs); a Retry-After, if sent, wins.
      const delay = Math.max(LOCKED_WAIT_MS, (retryAfterSeconds(headers, 3600) ?? 0) * 1000);
      return ApplicationFailure.create({
        message: `${account} answered 423 Locked during ${operation} (records locked by a sync in progress); retrying in ${delay} ms${ref}`,
        type: FailureType.HubSpotLocked,
        nextRetryDelay: delay,
      });
    }
    if (status === 477) {
      // The account moves between data hosting locations: HubSpot's Retry-After says how long.
      const seconds = retryAfterSeconds(headers, MAX_MIGRATION_WAIT_S);
      return ApplicationFailure.create({
        message: `${account} is being migrated by HubSpot (477 Migration in Progress) during ${operation}; retrying${seconds ? ` in ${seconds} s` : ''}${ref}`,
        type: FailureType.HubSpotMigrating,
        nextRetryDelay: seconds ? seconds * 1000 : undefined,
      });
    }
    if (status === 501) {
      // Not Implemented (RFC 9110, 15.6.2): the server does not support the operation, which no retry
      // changes. HubSpot's docs name no 501; the local emulator answers it for operations it lacks.
      return ApplicationFailure.nonRetryable(
        `${account} answered 501 Not Implemented during ${operation}: the endpoint does not support it${ref}`,
        FailureType.HubSpotRequestFailed,
      );
    }
    if (status >= 500) {
      return ApplicationFailure.retryable(
        `${account} answered ${status} during ${operation}; retrying${ref}`,
        FailureType.HubSpotUnavailable,
      );
    }
    if (status === 401) {
      return ApplicationFailure.create({
        message: `${account} rejected the credentials (401 ${category ?? 'INVALID_AUTHENTICATION'}) during ${operation}: reconnect the account or replace its token${ref}`,
        type: FailureType.HubSpotAuthenticationFailed,
        nonRetryable: true,
        details: [category ?? 'INVALID_AUTHENTICATION'],
      });
    }
    if (status === 403) {
      return ApplicationFailure.nonRetryable(
        `${account}: the credentials lack a permission needed for ${operation} (403 ${category ?? 'MISSING_SCOPES'}): ${redact(body.message ?? '', secrets)}${ref}`,
        FailureType.HubSpotMissingScopes,
      );
    }
    if (status === 404)
      return ApplicationFailure.nonRetryable(
        `${account}: not found during ${operation} (404)${ref}`,
        FailureType.HubSpotNotFound,
      );
    if (status === 409) {
      const existingId = existingIdOf(body.message);
      return ApplicationFailure.create({
        message: `${account}: conflict during ${operation} (409${existingId ? `, existing id ${existingId}` : ''})${ref}`,
        type: FailureType.HubSpotConflict,
        nonRetryable: true,
        details: existingId ? [existingId] : [],
      });
    }
    if (status === 400) {
      const rules = validationRuleRefusals(body);
      if (rules.length) {
        const said = rules.map(describeRuleRefusal).join('; ');
        return ApplicationFailure.create({
          message: `${account} refused the ${operation} by a validation rule of the portal (400 ${category ?? 'VALIDATION_ERROR'}): ${said}${ref}`,
          type: FailureType.HubSpotValidationError,
          nonRetryable: true,
          details: [{ validationRules: rules }],
        });
      }
      return ApplicationFailure.nonRetryable(
        `${account} refused the ${operation} (400 ${category ?? 'VALIDATION_ERROR'}): ${validationDetails(body, secrets)}${ref}`,
        FailureType.HubSpotValidationError,
      );
    }
    return ApplicationFailure.nonRetryable(
      `${account} answered ${status} during ${operation}${ref}`,
      FailureType.HubSpotRequestFailed,
    );
  }
  // No HTTP answer at all: connection refused or reset, lost response, our own call timeout.
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    message?: unknown;
    code?: unknown;
    name?: unknown;
  };
  const why = code(e.code) ?? (typeof e.name === 'string' ? redact(e.name) : undefined) ?? 'network error';
  const said = typeof e.message === 'string' ? e.message : String(err);
  return ApplicationFailure.retryable(
    `${account} could not be reached during ${operation} (${why}: ${redact(said, secrets)}); retrying`,
    FailureType.HubSpotUnreachable,
  );
}

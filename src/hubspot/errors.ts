// HubSpot's errors, mapped to what they mean for a run, in one place: 429, 5xx, timeouts and network
// errors are retried by Temporal (honouring HubSpot's retry hints through nextRetryDelay); 400, 401,
// 403 and 404 fail at once with a message that names the account and the cause. Messages carry no
// personal data: HubSpot's own messages can quote an email, so only codes and property names are kept.
import { ApplicationFailure } from '@temporalio/common';

export interface HubSpotErrorBody {
  status?: string;
  message?: string;
  category?: string;
  errorType?: string;
  policyName?: string;
  correlationId?: string;
  errors?: Array<{ message?: string; code?: string; error?: string; name?: string; context?: Record<string, unknown> }>;
}

/** What the official client throws for a non-2xx answer (its ApiException). */
interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function isApiException(err: unknown): err is ApiExceptionLike {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

export function errorBody(err: ApiExceptionLike): HubSpotErrorBody {
  if (typeof err.body === 'object' && err.body !== null) return err.body as HubSpotErrorBody;
  if (typeof err.body === 'string') {
    try {
      return JSON.parse(err.body) as HubSpotErrorBody;
    } catch {
      return {};
    }
  }
  return {};
}

const EMAILS = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;
/** HubSpot's text with anything that looks like an email address removed. */
export const redact = (text: string) => text.replace(EMAILS, '[email]').slice(0, 300);

/** The property names and error codes of a validation error, without the values. */
function validationDetails(body: HubSpotErrorBody): string {
  const rows = (body.errors ?? [])
    .map((e) => [e.name && `property "${e.name}"`, e.error ?? e.code].filter(Boolean).join(': '))
    .filter(Boolean);
  if (rows.length) return rows.join('; ');
  // "Property values were not valid: [{...}]" embeds JSON with the values: parse the names out of it.
  const embedded = body.message?.match(/\[(\{.*\})\]/s)?.[1];
  if (embedded) {
    try {
      const list = JSON.parse(`[${embedded}]`) as Array<{ name?: string; error?: string }>;
      return list.map((e) => `property "${e.name}": ${e.error ?? 'invalid'}`).join('; ');
    } catch {
      /* fall through */
    }
  }
  return redact(body.message ?? 'no details');
}

function retryDelayMs(headers: Record<string, string> | undefined, body: HubSpotErrorBody): number | undefined {
  const h = (name: string) => headers?.[name] ?? headers?.[name.toLowerCase()];
  const retryAfter = Number(h('Retry-After'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000;
  if (body.policyName === 'SECONDLY' || h('X-HubSpot-RateLimit-Secondly-Remaining') === '0') return 1000;
  const interval = Number(h('X-HubSpot-RateLimit-Interval-Milliseconds'));
  if (body.policyName === 'TEN_SECONDLY_ROLLING' || h('X-HubSpot-RateLimit-Remaining') === '0') return Number.isFinite(interval) && interval > 0 ? interval : 10_000;
  return undefined;
}

/** Turns anything a HubSpot call threw into the ApplicationFailure that says what to do about it. */
export function classifyHubSpotError(err: unknown, accountId: string, operation: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const account = `HubSpot account ${accountId}`;
  if (isApiException(err)) {
    const body = errorBody(err);
    const ref = body.correlationId ? ` [correlationId ${body.correlationId}]` : '';
    const status = err.code;
    if (status === 429) {
      const delay = retryDelayMs(err.headers, body);
      return ApplicationFailure.create({
        message: `${account} is rate limited (429 ${body.policyName ?? body.errorType ?? 'RATE_LIMIT'}) during ${operation}; retrying${delay ? ` in ${delay} ms` : ''}${ref}`,
        type: 'HubSpotRateLimited',
        nextRetryDelay: delay,
      });
    }
    if (status >= 500) {
      return ApplicationFailure.retryable(`${account} answered ${status} during ${operation}; retrying${ref}`, 'HubSpotUnavailable');
    }
    if (status === 401) {
      return ApplicationFailure.nonRetryable(`${account} rejected the token (401) during ${operation}: check the account's token in the worker's secrets${ref}`, 'HubSpotAuthenticationFailed');
    }
    if (status === 403) {
      return ApplicationFailure.nonRetryable(`${account}: the token lacks a permission needed for ${operation} (403 ${body.category ?? 'MISSING_SCOPES'}): ${redact(body.message ?? '')}${ref}`, 'HubSpotMissingScopes');
    }
    if (status === 404) return ApplicationFailure.nonRetryable(`${account}: not found during ${operation} (404)${ref}`, 'HubSpotNotFound');
    if (status === 409) return ApplicationFailure.nonRetryable(`${account}: conflict during ${operation} (409)${ref}`, 'HubSpotConflict');
    if (status === 400) {
      return ApplicationFailure.nonRetryable(`${account} refused the ${operation} (400 ${body.category ?? 'VALIDATION_ERROR'}): ${validationDetails(body)}${ref}`, 'HubSpotValidationError');
    }
    return ApplicationFailure.nonRetryable(`${account} answered ${status} during ${operation}${ref}`, 'HubSpotRequestFailed');
  }
  // No HTTP answer at all: connection refused or reset, lost response, our own call timeout.
  const e = err as { message?: string; code?: string; name?: string };
  return ApplicationFailure.retryable(`${account} could not be reached during ${operation} (${e.code ?? e.name ?? 'network error'}: ${redact(e.message ?? String(err))}); retrying`, 'HubSpotUnreachable');
}

// What every activity attempt shares: the signal its HubSpot calls carry (the activity's cancellation
// and the end of the attempt, a margin early), heartbeats while it works, and whether an earlier
// attempt ended without an answer.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, failureTypeOf } from '../src/action/failures';
import { retryWaitMs, type RUN_RETRY } from '../src/action/limits';

/** The signal aborts this long before the attempt's timeout, so the request has ended before a retry starts. */
export const ABORT_MARGIN_MS = 250;

/**
 * The signal every HubSpot call of this attempt carries: the activity's cancellation, and the end of
 * the attempt (its start-to-close timeout, or what is left of its schedule-to-close timeout).
 */
export function attemptSignal(deadlineMs?: number): AbortSignal {
  const ctx = Context.current();
  const { info } = ctx;
  const elapsed = Math.max(0, info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs);
  const scheduleLeft = info.scheduleToCloseTimeoutMs > 0 ? info.scheduleToCloseTimeoutMs - elapsed : Infinity;
  const attemptLeft = info.startToCloseTimeoutMs > 0 ? info.startToCloseTimeoutMs : Infinity;
  // An in-conversation run also names its deadline (the workflow's clock, the server's): the time the
  // attempt waited in its task queue then counts too. A server clock ahead of ours (a test server that
  // skipped time) only makes this bound looser than the others, never tighter.
  const runLeft = deadlineMs !== undefined ? deadlineMs - Date.now() : Infinity;
  const left = Math.min(scheduleLeft, attemptLeft, runLeft);
  if (!Number.isFinite(left)) return ctx.cancellationSignal;
  return AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(Math.max(1, left - ABORT_MARGIN_MS))]);
}

/**
 * Heartbeats while fn runs, so that a cancellation (or a lost worker) reaches the attempt promptly;
 * `details` is what each heartbeat carries (the next attempt reads the last one).
 */
export async function heartbeating<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  deadlineMs?: number,
  details?: () => unknown,
): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(details?.()), 1_000);
  try {
    ctx.heartbeat(details?.());
    return await fn(attemptSignal(deadlineMs));
  } finally {
    clearInterval(timer);
  }
}

/**
 * An earlier attempt of this activity ended without an answer: a write it sent may still be applied by
 * HubSpot later (docs/CONTACT_SYNC.md, "Convergence"), and a note it created may exist unknown to us.
 */
export function attempted(): boolean {
  return Context.current().info.attempt > 1;
}

/**
 * The failure that ends an attempt on a HubSpot fault: retried after HubSpot's own wait (Retry-After,
 * 423's 2 s), else the lane's backoff for `failures` failures in a row. `details` reach the next attempt,
 * in the failure and in the last heartbeat.
 */
export function retryLater(
  err: unknown,
  failures: number,
  lane: keyof typeof RUN_RETRY,
  details: unknown,
): ApplicationFailure {
  Context.current().heartbeat(details);
  const hubspotWait = err instanceof ApplicationFailure && err.nextRetryDelay != null ? err.nextRetryDelay : undefined;
  return ApplicationFailure.create({
    message: err instanceof Error ? err.message : String(err),
    type: failureTypeOf(err) ?? FailureType.HubSpotUnavailable,
    details: [details],
    ...(err instanceof Error ? { cause: err } : {}),
    nextRetryDelay: hubspotWait ?? retryWaitMs(lane, failures),
    ...(err instanceof ApplicationFailure && err.category != null ? { category: err.category } : {}),
  });
}

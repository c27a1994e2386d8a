// The size budget of a conversation (docs/PLATFORM_CONTRACT.md): what the platform may send, what a workflow
// carries, and HubSpot's own limit on a text value. Pure functions, imported by workflow code and the
// platform client alike, so both sides cut and count the same way.

/** HubSpot's limit on a string property value and on hs_note_body (characters). */
export const HUBSPOT_TEXT_LIMIT = 65_536;
/** What ends a summary that was cut to fit. */
export const TRUNCATION_MARKER = '… [summary truncated]';
/** The longest summary a conversation keeps: HubSpot's limit, marker included. */
export const SUMMARY_LIMIT = HUBSPOT_TEXT_LIMIT;
/** UTF-8 bytes of all field names and values of a conversation together (one signal, and all of them). */
export const FIELDS_BUDGET_BYTES = 256 * 1024;
/** UTF-8 bytes of the JSON of a conversation's action configs. */
export const ACTIONS_BUDGET_BYTES = 64 * 1024;
/**
 * UTF-8 bytes of the state a conversation carries into a new run (continue-as-new): fields (256 KiB at
 * most), the summary (65,536 characters, at most 192 KiB), outcomes and rejections trimmed, oldest first,
 * to fit. Temporal refuses a payload over 2 MiB; a typical conversation carries a few KiB.
 */
export const CARRIED_BUDGET_BYTES = 768 * 1024;

/** UTF-8 length of a string, without allocating. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Cuts text to at most `limit` characters, ending with the marker when cut; never splits a surrogate pair. */
export function truncateText(text: string, limit = SUMMARY_LIMIT, marker = TRUNCATION_MARKER): string {
  if (text.length <= limit) return text;
  let keep = Math.max(0, limit - marker.length);
  const last = text.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep--;
  return text.slice(0, keep) + marker;
}

/** The summary as a conversation keeps it: cut to HubSpot's limit with a visible marker. */
export const truncateSummary = (summary: string): string => truncateText(summary, SUMMARY_LIMIT);

/** UTF-8 bytes of a set of field values (keys and values). */
export function fieldValuesBytes(fields: Record<string, string | null | undefined>): number {
  let total = 0;
  for (const [key, value] of Object.entries(fields))
    total += utf8Length(key) + (typeof value === 'string' ? utf8Length(value) : 0);
  return total;
}

/**
 * The retry backoff of a run's HubSpot work, per lane: the first wait, doubled per failure up to the
 * last. A run that is one activity counts its failures per step (its attempts carry the count), so a step
 * that fails waits as it would as an activity of its own, not longer for the failures of the steps before it.
 */
export const RUN_RETRY = {
  agent: { initialMs: 200, maximumMs: 2_000 },
  offline: { initialMs: 2_000, maximumMs: 60_000 },
} as const;

/**
 * Where a run's attempt failed: how many steps HubSpot had answered, how many HubSpot calls the failing
 * step had made (the failing call included), and how many attempts in a row failed with no progress.
 */
export interface FailurePoint {
  answered: number;
  /** Absent in the heartbeats of runs from before it was counted. */
  calls?: number;
  failures: number;
}

/**
 * The failures in a row after an attempt failed at `now`. An attempt that got further than the last one
 * (a later step, or further into the same step: HubSpot answered calls it had failed) starts the count
 * again: its faults are passing ones, not one call failing again and again, which waits longer each time.
 */
export function failuresInRow(before: FailurePoint | undefined, now: { answered: number; calls: number }): number {
  if (!before || now.answered > before.answered) return 1;
  if (now.answered === before.answered && before.calls !== undefined && now.calls > before.calls) return 1;
  return before.failures + 1;
}

/** The wait before the next attempt after a step's `failures`-th failure in a row. */
export function retryWaitMs(lane: keyof typeof RUN_RETRY, failures: number): number {
  const { initialMs, maximumMs } = RUN_RETRY[lane];
  return Math.min(maximumMs, initialMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

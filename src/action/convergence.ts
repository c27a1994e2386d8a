// What the convergence check decides, as pure functions (docs/CONTACT_SYNC.md, "Convergence"). HubSpot
// has no idempotency key and no conditional write, and a request the worker gave up on may still be
// applied later. After HubSpot's longest plausible request lifetime the workflow checks, with exact
// reads, what HubSpot holds against what this conversation wrote, and these functions say what to do:
// which duplicate notes to archive, which values to write again, and which to leave alone.
//
// The check carries no values, only their hashes (valueHash): the value to write again is taken from
// HubSpot's own property history, where our write left it. Imported by workflow code: no I/O.
import { valueHash } from './hash';

/**
 * HubSpot's longest plausible request lifetime, counted from the end of the run: 2 minutes. HubSpot
 * publishes no server-side deadline; its API is served through Cloudflare, whose edge ends a request
 * its origin has not answered within 100 seconds (error 524). A request still held after that is one
 * HubSpot itself could no longer answer; 20 seconds more cover an origin finishing a write it had
 * started. Every write of a run was sent before the run ended, so a check this long after the end sees
 * whatever such a write did. It must exceed the per-call timeout (15 s) plus the longest hold a test
 * uses (20 s in the chaos run): it does, with room.
 */
export const CONVERGENCE_DELAY_MS = 120_000;

/**
 * One version of a property, as HubSpot's `propertiesWithHistory` lists it (CRM objects API 2026-09,
 * ValueWithTimestamp), newest first.
 */
export interface PropertyVersion {
  value: string;
  sourceType: string;
  sourceId?: string;
  updatedByUserId?: number;
}

/** What the check expects of one contact: the values this conversation wrote last, and the notes of its actions. */
export interface ContactExpectation {
  accountId: string;
  contactId: string;
  /** Property name -> hash of the value this conversation wrote last (its newest write of that property). */
  properties: Record<string, string>;
  /**
   * Property name -> hashes of values this conversation sent in writes whose answer it never had (an
   * attempt abandoned at its timeout, a lost answer): a late write of ours carries one of them.
   */
  uncertain: Record<string, string[]>;
  notes: NoteExpectation[];
}

export interface NoteExpectation {
  actionId: string;
  /** The (conversation, action) reference line the note body carries (noteReference). */
  reference: string;
  /** The note the action's last run on this contact wrote or updated, when it has one. */
  noteId?: string;
  /** The note is a Call or a Communication (an action that logs engagements); absent: a note. */
  object?: 'calls' | 'communications';
  /** Hash of the body that run wrote. */
  bodyHash?: string;
  /** Hashes of bodies sent in note writes whose answer never came. */
  uncertainBodies: string[];
}

export interface ContactCheckResult {
  contactId: string;
  /** The id the contact reads as now (a merge gives it a new id); absent when it is gone. */
  contactIdNow?: string;
  /** Notes carrying one of our references that were archived as duplicates. */
  archivedNotes: string[];
  /** Per action: the note kept (its id may differ from the known one when that one was gone). */
  keptNotes: Record<string, string>;
  /** Properties written again (a late write of ours had overwritten them). */
  rewritten: string[];
  /** Note bodies written again, by action. */
  rewrittenNotes: string[];
  /** Properties that differ from what we wrote and were left alone, with why (no values). */
  leftAlone: Array<{ property: string; why: ValueJudgement['why'] }>;
  /** This check was retried and had to repair: a repair an earlier attempt sent may still land late, so check again. */
  uncertain: boolean;
}

export type ValueJudgement =
  | { verdict: 'as-written'; why?: undefined }
  | { verdict: 'write-again'; value: string; why?: undefined }
  | {
      verdict: 'leave';
      why: 'changed-since-by-someone-else' | 'changed-by-another-write-of-this-system' | 'our-write-not-in-history';
    };

/**
 * Decides about one value. `versions` newest first. `ours` tells a version written by this system's
 * credentials (an integration write whose source is our app) from anyone else's.
 *
 * - It holds what we wrote last: as written.
 * - Otherwise find our write in the history (the newest version with our value, written by us). A
 *   version after it by a person or another system (a CRM_UI edit, another app, a workflow, an import):
 *   someone changed it since, leave it.
 * - Every version after ours is by our own credentials: if the value it holds is one this conversation
 *   sent in a write whose answer never came, it is our own late write: write our value again. If not,
 *   another run of this system wrote it (another conversation on the same contact): leave it.
 */
export function judgeValue(
  current: string | null | undefined,
  versions: PropertyVersion[],
  expectedHash: string,
  uncertainHashes: string[],
  ours: (v: PropertyVersion) => boolean,
): ValueJudgement {
  if (typeof current === 'string' && valueHash(current) === expectedHash) return { verdict: 'as-written' };
  const at = versions.findIndex((v) => ours(v) && valueHash(v.value) === expectedHash);
  if (at < 0) return { verdict: 'leave', why: 'our-write-not-in-history' };
  const since = versions.slice(0, at);
  // The history's newest is our write, yet the value differs: nothing in it explains the difference.
  if (since.length === 0) return { verdict: 'leave', why: 'our-write-not-in-history' };
  if (since.some((v) => !ours(v))) return { verdict: 'leave', why: 'changed-since-by-someone-else' };
  const late = typeof current === 'string' && uncertainHashes.includes(valueHash(current));
  if (!late) return { verdict: 'leave', why: 'changed-by-another-write-of-this-system' };
  return { verdict: 'write-again', value: versions[at]!.value };
}

/**
 * The notes of one (conversation, action) on a contact: the one to keep and the duplicates to archive.
 * The note the action's last run wrote is kept (it holds the newest content); when it is gone, the
 * newest of ours. `notes` are the contact's notes that were read (id and body).
 */
export function duplicateNotes(
  notes: Array<{ id: string; body: string }>,
  reference: string,
  knownId: string | undefined,
): { keep?: string; archive: string[] } {
  const mine = notes.filter((n) => n.body.includes(reference)).map((n) => n.id);
  if (mine.length === 0) return { archive: [] };
  const keep = knownId && mine.includes(knownId) ? knownId : [...mine].sort(newestFirst)[0]!;
  return { keep, archive: mine.filter((id) => id !== keep) };
}

/** HubSpot ids grow over time: the longer, then the larger, is the newer. */
export const newestFirst = (a: string, b: string): number =>
  a.length !== b.length ? b.length - a.length : a < b ? 1 : a > b ? -1 : 0;

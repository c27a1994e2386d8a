// The convergence check (docs/CONTACT_SYNC.md, "Convergence"): once HubSpot's longest plausible request
// lifetime has passed after a sync, exact reads (the contact by id with the history of the values this
// conversation wrote, its note associations, its notes by id; never search) tell whether a write HubSpot
// applied after the worker gave up spoiled anything, and the repairs the pure rules of
// src/action/convergence.ts decide are made: duplicate notes carrying our reference archived, a value
// our own late write overwrote written again, anything a person or another system changed left alone.
// Reads: one batch of each kind per account and check; writes: none when nothing is wrong.
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { failuresInRow, type FailurePoint } from '../src/action/limits';
import {
  duplicateNotes,
  judgeValue,
  newestFirst,
  type ContactCheckResult,
  type ContactExpectation,
  type PropertyVersion,
} from '../src/action/convergence';
import { valueHash } from '../src/action/hash';
import type { CallOptions, EngagementObject, HubSpotAccountPort, HubSpotPort } from '../src/hubspot/port';
import { writtenByUs } from '../src/hubspot/ownership';
import { bodyProperty } from '../src/action/timeline';
import { CONVERGENCE_CHECKS, CONVERGENCE_REPAIRS } from '../src/action/metrics';
import { heartbeating, retryLater } from './attempt';
import { countingCalls } from './receipts';

/** Notes of a contact whose bodies are read to find duplicates: the newest ones. */
const NOTE_CANDIDATES = 100;

export function createConvergenceActivities({ hubspot }: { hubspot: HubSpotPort }) {
  return {
    /** Checks each contact against what this conversation wrote there, and repairs what a late write of ours spoiled. */
    async convergeContacts(input: { checks: ContactExpectation[] }): Promise<ContactCheckResult[]> {
      const { info } = Context.current();
      const before = info.attempt > 1 ? (info.heartbeatDetails as CheckProgress | undefined) : undefined;
      const progress: CheckProgress = { hubspotCalls: 0 };
      try {
        return await countingCalls.countInto(progress, () => check(input));
      } catch (err) {
        // HubSpot's faults only (the adapter classifies them); anything else fails the attempt as it is.
        if (!(err instanceof ApplicationFailure) || err.nonRetryable) throw err;
        // Each attempt reads again from the start: one that got further than the last one waits the
        // first backoff again, a fault at the same call waits longer each time (as a run's step does).
        const at = { answered: 0, calls: progress.hubspotCalls ?? 0 };
        const failures = failuresInRow(before?.failedAt, at);
        throw retryLater(err, failures, 'offline', { failedAt: { ...at, failures } } satisfies CheckProgress);
      }
    },
  };

  function check(input: { checks: ContactExpectation[] }): Promise<ContactCheckResult[]> {
    return heartbeating(async (signal) => {
      // An earlier attempt may have sent a repair that lands late. If so, this attempt still finds the
      // damage (the repair has not landed) and repairs it too: then the workflow checks again.
      const retried = Context.current().info.attempt > 1;
      const results: ContactCheckResult[] = [];
      const accounts = [...new Set(input.checks.map((c) => c.accountId))];
      for (const accountId of accounts) {
        const account = await hubspot.get(accountId);
        const checks = input.checks.filter((c) => c.accountId === accountId);
        const checked = await checkAccount(account, checks, { signal, lane: 'offline' }, retried);
        countRepairs(account.id, checked);
        results.push(...checked);
      }
      return results;
    });
  }
}

/** What a failed check tells the next attempt: where it failed. */
interface CheckProgress {
  hubspotCalls?: number;
  failedAt?: FailurePoint;
}

/**
 * The checks and the repairs they made, per account. Counted once the account's checks are done: a retried
 * attempt finds repaired what an earlier one repaired, and counts only what it repairs itself.
 */
function countRepairs(accountId: string, results: ContactCheckResult[]): void {
  const meter = Context.current().metricMeter;
  const checks = meter.createCounter(CONVERGENCE_CHECKS, 'checks', 'Convergence checks of a contact');
  const repairs = meter.createCounter(CONVERGENCE_REPAIRS, 'repairs', 'Repairs of what a late write of ours spoiled');
  for (const r of results) {
    const made = {
      duplicate_note_archived: r.archivedNotes.length,
      value_rewritten: r.rewritten.length,
      note_body_rewritten: r.rewrittenNotes.length,
    };
    const repaired = Object.values(made).some((n) => n > 0);
    checks.add(1, { hubspot_account: accountId, result: repaired ? 'repaired' : 'clean' });
    for (const [repair, n] of Object.entries(made)) if (n > 0) repairs.add(n, { hubspot_account: accountId, repair });
  }
}

async function checkAccount(
  account: HubSpotAccountPort,
  checks: ContactExpectation[],
  call: CallOptions,
  retried: boolean,
): Promise<ContactCheckResult[]> {
  const ours = writtenByUs(account.connection);
  const names = [...new Set(checks.flatMap((c) => Object.keys(c.properties)))];
  // The contacts, by id (a merge gives a new id; the old one reads as it), with the history of what we wrote.
  const { byId } = await account.readContactsWithHistory(
    checks.map((c) => c.contactId),
    names,
    call,
  );
  const live = checks.filter((c) => byId.has(c.contactId));
  const withNotes = live.filter((c) => c.notes.some((n) => !n.object));
  const noteIdsOf = withNotes.length
    ? await account.noteIdsOfContacts([...new Set(withNotes.map((c) => byId.get(c.contactId)!.id))], call)
    : new Map<string, string[]>();
  const candidates = [
    ...new Set(
      withNotes.flatMap((c) =>
        [...(noteIdsOf.get(byId.get(c.contactId)!.id) ?? [])].sort(newestFirst).slice(0, NOTE_CANDIDATES),
      ),
    ),
  ];
  const bodies = new Map(
    (candidates.length ? await account.readNotesWithHistory(candidates, false, call) : []).map((n) => [
      n.id,
      n.properties.hs_note_body ?? '',
    ]),
  );

  const results: ContactCheckResult[] = [];
  for (const check of checks) {
    const contact = byId.get(check.contactId);
    const result: ContactCheckResult = {
      contactId: check.contactId,
      archivedNotes: [],
      keptNotes: {},
      rewritten: [],
      rewrittenNotes: [],
      leftAlone: [],
      uncertain: false,
    };
    results.push(result);
    if (!contact) {
      log.info('Convergence: the contact is gone; nothing to check', {
        accountId: account.id,
        contactId: check.contactId,
      });
      continue;
    }
    result.contactIdNow = contact.id;

    // ---- notes: exactly one per (conversation, action) on the contact, with the newest content ----
    const onContact = (noteIdsOf.get(contact.id) ?? [])
      .filter((id) => bodies.has(id))
      .map((id) => ({ id, body: bodies.get(id)! }));
    for (const note of check.notes.filter((n) => n.object))
      await checkEngagement(account, contact.id, note, result, call, ours);
    for (const note of check.notes.filter((n) => !n.object)) {
      const { keep, archive } = duplicateNotes(onContact, note.reference, note.noteId);
      for (const id of archive) {
        await account.archiveNote(id, call);
        result.archivedNotes.push(id);
        log.warn('Convergence: archived a duplicate note written by a late request', {
          accountId: account.id,
          contactId: contact.id,
          noteId: id,
          keptNoteId: keep,
        });
      }
      if (!keep) continue;
      result.keptNotes[note.actionId] = keep;
      if (keep !== note.noteId || !note.bodyHash || valueHash(bodies.get(keep)!) === note.bodyHash) continue;
      // The kept note does not hold what the action wrote last: a late update of ours, or a person's edit.
      const [read] = await account.readNotesWithHistory([keep], true, call);
      const judged = judgeValue(
        read?.properties.hs_note_body,
        read?.history.hs_note_body ?? [],
        note.bodyHash,
        note.uncertainBodies,
        ours,
      );
      if (judged.verdict === 'write-again') {
        await account.updateNote(keep, judged.value, call);
        result.rewrittenNotes.push(note.actionId);
        log.warn('Convergence: wrote a note body again that a late request of ours had overwritten', {
          accountId: account.id,
          noteId: keep,
        });
      } else if (judged.verdict === 'leave') {
        result.leftAlone.push({ property: 'hs_note_body', why: judged.why });
      }
    }

    // ---- values: what this conversation wrote last, unless a person or another system changed it since ----
    const again: Record<string, string> = {};
    for (const [name, expected] of Object.entries(check.properties)) {
      const judged = judgeValue(
        contact.properties[name],
        contact.history[name] ?? [],
        expected,
        check.uncertain[name] ?? [],
        ours,
      );
      if (judged.verdict === 'write-again') again[name] = judged.value;
      else if (judged.verdict === 'leave') result.leftAlone.push({ property: name, why: judged.why });
    }
    if (Object.keys(again).length) {
      await account.updateContact(contact.id, again, call);
      result.rewritten.push(...Object.keys(again));
      log.warn('Convergence: wrote values again that a late request of ours had overwritten', {
        accountId: account.id,
        contactId: contact.id,
        properties: Object.keys(again),
      });
    }
    if (result.leftAlone.length)
      log.info('Convergence: values changed since our write were left alone', {
        accountId: account.id,
        contactId: contact.id,
        leftAlone: result.leftAlone,
      });
    result.uncertain =
      retried && (result.archivedNotes.length > 0 || result.rewritten.length > 0 || result.rewrittenNotes.length > 0);
  }
  return results;
}

/**
 * The note check for an action that logs engagements: exactly one Call (or Communication) of the
 * (conversation, action) on the contact, with the newest content. Reads that contact's engagements of
 * that kind (associations, then bodies by id); archives duplicates a late create left; writes the body
 * again when a late update of ours overwrote it.
 */
async function checkEngagement(
  account: HubSpotAccountPort,
  contactId: string,
  note: ContactExpectation['notes'][number],
  result: ContactCheckResult,
  call: CallOptions,
  ours: (v: PropertyVersion) => boolean,
): Promise<void> {
  const object: EngagementObject = note.object!;
  const body = bodyProperty(object);
  const ids = (await account.engagementIdsOfContact(object, contactId, call))
    .sort(newestFirst)
    .slice(0, NOTE_CANDIDATES);
  const read = ids.length ? await account.readEngagements(object, ids, false, call) : [];
  const bodies = new Map(read.map((e) => [e.id, e.properties[body] ?? '']));
  const { keep, archive } = duplicateNotes(
    read.map((e) => ({ id: e.id, body: bodies.get(e.id)! })),
    note.reference,
    note.noteId,
  );
  for (const id of archive) {
    await account.archiveEngagement(object, id, call);
    result.archivedNotes.push(id);
    log.warn('Convergence: archived a duplicate engagement written by a late request', {
      accountId: account.id,
      contactId,
      object,
      id,
      keptId: keep,
    });
  }
  if (!keep) return;
  result.keptNotes[note.actionId] = keep;
  if (keep !== note.noteId || !note.bodyHash || valueHash(bodies.get(keep)!) === note.bodyHash) return;
  const [withHistory] = await account.readEngagements(object, [keep], true, call);
  const judged = judgeValue(
    withHistory?.properties[body],
    withHistory?.history[body] ?? [],
    note.bodyHash,
    note.uncertainBodies,
    ours,
  );
  if (judged.verdict === 'write-again') {
    await account.updateEngagement(object, keep, { [body]: judged.value }, call);
    result.rewrittenNotes.push(note.actionId);
    log.warn('Convergence: wrote an engagement body again that a late request of ours had overwritten', {
      accountId: account.id,
      object,
      id: keep,
    });
  } else if (judged.verdict === 'leave') {
    result.leftAlone.push({ property: body, why: judged.why });
  }
}

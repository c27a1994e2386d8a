// Convergence, the workflow's side (docs/CONTACT_SYNC.md, "Convergence"). HubSpot may apply a request
// the worker gave up on (an attempt cut at its timeout, an answer lost) after the run has moved on: a
// second note, an older value over a newer one. A run that had such a write schedules a check of its
// contact once HubSpot's longest plausible request lifetime has passed: a durable timer, then one
// activity (activities/convergence.ts) that reads exactly what HubSpot holds and repairs what our own
// late write spoiled. Runs whose every write was answered schedule nothing, and cost nothing.
//
// The checks are keyed by contact. What they need is kept as hashes (never the values): per property
// the hash of the newest value this conversation wrote, and of values sent without an answer; per
// action the note it wrote and its body's hash. It survives continue-as-new (CarriedState.convergence),
// and a conversation is not completed while a check is due or under way.
import { log, patched, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { ContactSyncActivities } from '../activities';
import { CONVERGENCE_DELAY_MS, type ContactCheckResult, type ContactExpectation } from '../src/action/convergence';
import { valueHash } from '../src/action/hash';
import { noteReference } from '../src/action/note';
import {
  offlineTaskQueue,
  TASK_PRIORITY,
  type ConvergenceCarried,
  type ConvergenceContact,
  type ConvergenceCounts,
  type ConvergenceSummary,
} from '../src/platform/definitions';
import type { SentWrites } from './run-action';

/** Conversations that wrote without an answer check afterwards; earlier histories never did. */
export const CONVERGENCE_PATCH = 'converge-after-unanswered-writes';

/** Hashes kept per property (and note bodies per action) of writes whose answer never came. */
const MAX_UNCERTAIN = 8;
/** Contacts remembered: a conversation lands on one, a few after corrected emails. */
const MAX_CONTACTS = 10;
/** A contact whose check failed this many times in a row is given up (logged, counted). */
const MAX_FAILED_CHECKS = 3;

const emptyCounts = (): ConvergenceCounts => ({
  checks: 0,
  duplicateNotesArchived: 0,
  valuesRewritten: 0,
  noteBodiesRewritten: 0,
  valuesLeftAlone: 0,
  failedChecks: 0,
});

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function remember(list: string[], hash: string): void {
  if (!list.includes(hash)) list.push(hash);
  if (list.length > MAX_UNCERTAIN) list.splice(0, list.length - MAX_UNCERTAIN);
}

export interface ConvergenceDeps {
  /** The (conversation, action) key a note's reference line is built from. */
  conversationKey: (actionId: string) => string;
  /** True while a run of any action is under way: a check waits for it (the run reports back when done). */
  running: () => boolean;
  /** A check kept another note than the one the workflow knew, or archived ones it knew. */
  notesChanged: (actionId: string, contactId: string, kept: string | undefined, archived: string[]) => void;
  /** Whose conversation this is, for the receipt a repair leaves (docs/ACCOUNTS.md, "Receipts"). */
  receipt?: () => { workspaceId?: string; conversationId: string };
}

export class Convergence {
  private readonly contacts: Record<string, ConvergenceContact>;
  private readonly counts: ConvergenceCounts;
  private checking = 0;
  /** Decided once: old histories never schedule a check (their marker is absent). */
  private enabled?: boolean;

  constructor(
    private readonly deps: ConvergenceDeps,
    carried?: ConvergenceCarried,
  ) {
    this.contacts = clone(carried?.contacts ?? {});
    this.counts = { ...emptyCounts(), ...carried?.counts };
    // What an earlier run carried over continue-as-new goes on: its counts, and due checks get their timers again.
    if (carried && this.on()) {
      const due = Object.values(this.contacts)
        .map((c) => c.dueAtMs)
        .filter((d): d is number => d !== undefined);
      for (const at of new Set(due)) this.arm(at);
    }
  }

  private on(): boolean {
    this.enabled ??= patched(CONVERGENCE_PATCH);
    return this.enabled;
  }

  /** After each run: remember what it wrote; a write without an answer makes its contact's check due later. */
  recorded(actionId: string, sent: SentWrites | undefined): void {
    if (!sent?.contactId) return;
    const unanswered = sent.contactUncertain || sent.noteUncertain;
    // A person merged a contact an earlier run wrote to into this one: what we know of it is this one's now.
    for (const old of sent.mergedFrom ?? [])
      if (old !== sent.contactId && this.contacts[old]) this.merged(old, sent.contactId);
    const known = this.contacts[sent.contactId];
    // Nothing can land late and nothing is pending for this contact: nothing to remember.
    if (!unanswered && !known) return;
    if (!this.on()) return;
    const c: ConvergenceContact = known ?? { accountId: sent.accountId, properties: {}, uncertain: {}, notes: {} };
    c.accountId = sent.accountId;
    for (const [name, value] of Object.entries(sent.properties)) {
      const hash = valueHash(value);
      c.properties[name] = hash;
      if (sent.contactUncertain) remember((c.uncertain[name] ??= []), hash);
    }
    if (sent.noteBodyHash) {
      const note = (c.notes[actionId] ??= { uncertainBodies: [] });
      if (sent.noteId) note.noteId = sent.noteId;
      if (sent.noteObject) note.object = sent.noteObject;
      note.bodyHash = sent.noteBodyHash;
      if (sent.noteUncertain) remember(note.uncertainBodies, sent.noteBodyHash);
    }
    delete this.contacts[sent.contactId];
    this.contacts[sent.contactId] = c; // the newest last
    if (unanswered) this.due(c, Date.now() + CONVERGENCE_DELAY_MS);
    this.trim();
  }

  /** Moves what is known of a merged-away contact to the record it was merged into (the newer knowledge wins). */
  private merged(from: string, into: string): void {
    const old = this.contacts[from]!;
    delete this.contacts[from];
    const now = this.contacts[into];
    if (!now) {
      this.contacts[into] = old;
      return;
    }
    now.properties = { ...old.properties, ...now.properties };
    for (const [name, hashes] of Object.entries(old.uncertain))
      for (const h of hashes) remember((now.uncertain[name] ??= []), h);
    for (const [actionId, note] of Object.entries(old.notes)) {
      const mine = (now.notes[actionId] ??= { uncertainBodies: [] });
      mine.noteId ??= note.noteId;
      if (note.object) mine.object ??= note.object;
      mine.bodyHash ??= note.bodyHash;
      for (const h of note.uncertainBodies) remember(mine.uncertainBodies, h);
    }
    if (old.dueAtMs !== undefined) now.dueAtMs = Math.max(now.dueAtMs ?? 0, old.dueAtMs);
  }

  /** A run ended: a check that came due while it ran is made now. */
  settled(): void {
    if (
      this.enabled &&
      !this.deps.running() &&
      Object.values(this.contacts).some((c) => c.dueAtMs !== undefined && c.dueAtMs <= Date.now())
    )
      void this.check();
  }

  /** A check is due or under way: the conversation is not completed meanwhile. */
  pending(): boolean {
    return this.checking > 0 || Object.values(this.contacts).some((c) => c.dueAtMs !== undefined);
  }

  /** A check activity is under way (continue-as-new waits for it). */
  busy(): boolean {
    return this.checking > 0;
  }

  /** When the last due check is due (workflow time), if any. */
  lastDueAtMs(): number | undefined {
    const due = Object.values(this.contacts)
      .map((c) => c.dueAtMs)
      .filter((d): d is number => d !== undefined);
    return due.length ? Math.max(...due) : undefined;
  }

  summary(): ConvergenceSummary | undefined {
    if (!this.enabled) return undefined;
    const last = this.lastDueAtMs();
    return {
      ...this.counts,
      pending: Object.values(this.contacts).filter((c) => c.dueAtMs !== undefined).length + (this.checking > 0 ? 1 : 0),
      dueAt: last === undefined ? null : new Date(last).toISOString(),
    };
  }

  /** What continue-as-new carries: undefined when nothing was ever needed. */
  carried(): ConvergenceCarried | undefined {
    if (!this.enabled) return undefined;
    return { contacts: this.contacts, counts: this.counts };
  }

  private due(c: ConvergenceContact, at: number): void {
    c.dueAtMs = Math.max(c.dueAtMs ?? 0, at);
    this.arm(c.dueAtMs);
  }

  /** A durable timer for a due time; when it fires, whatever is due by then is checked. */
  private arm(at: number): void {
    void (async () => {
      await sleep(Math.max(1, at - Date.now()));
      await this.check();
    })();
  }

  private trim(): void {
    const ids = Object.keys(this.contacts);
    for (const id of ids.slice(0, Math.max(0, ids.length - MAX_CONTACTS)))
      if (this.contacts[id]!.dueAtMs === undefined) delete this.contacts[id];
  }

  /** Checks every contact whose check is due, in one activity; a run under way goes first (settled() calls back). */
  private async check(): Promise<void> {
    if (this.deps.running()) return;
    const now = Date.now();
    const due = Object.entries(this.contacts).filter(([, c]) => c.dueAtMs !== undefined && c.dueAtMs <= now);
    if (due.length === 0) return;
    for (const [, c] of due) delete c.dueAtMs;
    const checks: ContactExpectation[] = due.map(([contactId, c]) => ({
      accountId: c.accountId,
      contactId,
      properties: { ...c.properties },
      uncertain: clone(c.uncertain),
      notes: Object.entries(c.notes).map(([actionId, n]) => ({
        actionId,
        reference: noteReference(this.deps.conversationKey(actionId)),
        ...(n.noteId ? { noteId: n.noteId } : {}),
        ...(n.object ? { object: n.object } : {}),
        ...(n.bodyHash ? { bodyHash: n.bodyHash } : {}),
        uncertainBodies: [...n.uncertainBodies],
      })),
    }));
    this.checking++;
    try {
      const receipt = this.deps.receipt?.();
      const results = await activities().convergeContacts({ checks, ...(receipt ? { receipt } : {}) });
      for (const r of results) this.apply(r);
    } catch (err) {
      this.counts.failedChecks++;
      for (const [contactId, c] of due) {
        c.failedChecks = (c.failedChecks ?? 0) + 1;
        if (c.failedChecks < MAX_FAILED_CHECKS) this.due(c, Date.now() + CONVERGENCE_DELAY_MS);
        else
          log.warn('Convergence: giving up the check of a contact after repeated failures', {
            contactId,
            failures: c.failedChecks,
            error: (err as Error).message,
          });
      }
    } finally {
      this.checking--;
    }
  }

  private apply(r: ContactCheckResult): void {
    const c = this.contacts[r.contactId];
    this.counts.checks++;
    this.counts.duplicateNotesArchived += r.archivedNotes.length;
    this.counts.valuesRewritten += r.rewritten.length;
    this.counts.noteBodiesRewritten += r.rewrittenNotes.length;
    this.counts.valuesLeftAlone += r.leftAlone.length;
    if (r.archivedNotes.length || r.rewritten.length || r.rewrittenNotes.length) {
      log.warn('Convergence: repaired what a late write spoiled', {
        contactId: r.contactId,
        archivedNotes: r.archivedNotes,
        rewritten: r.rewritten,
        rewrittenNotes: r.rewrittenNotes,
      });
    }
    for (const [actionId, kept] of Object.entries(r.keptNotes))
      this.deps.notesChanged(actionId, r.contactIdNow ?? r.contactId, kept, r.archivedNotes);
    if (!c) return;
    delete c.failedChecks;
    for (const note of Object.values(c.notes))
      if (note.noteId && r.archivedNotes.includes(note.noteId)) delete note.noteId;
    for (const [actionId, kept] of Object.entries(r.keptNotes)) if (c.notes[actionId]) c.notes[actionId]!.noteId = kept;
    if (r.uncertain) {
      // A repair of this check may itself land late: what it wrote counts as unanswered, and it is checked again.
      for (const [name, hash] of Object.entries(c.properties)) remember((c.uncertain[name] ??= []), hash);
      for (const note of Object.values(c.notes)) if (note.bodyHash) remember(note.uncertainBodies, note.bodyHash);
      this.due(c, Date.now() + CONVERGENCE_DELAY_MS);
    } else if (c.dueAtMs === undefined) {
      // Every write sent before the check is older than a request's lifetime: none of them can land any more.
      c.uncertain = {};
      for (const note of Object.values(c.notes)) note.uncertainBodies = [];
    }
    if (r.contactIdNow && r.contactIdNow !== r.contactId) {
      // A merge gave the contact a new id: later checks read it under that one.
      this.merged(r.contactId, r.contactIdNow);
    } else if (!r.contactIdNow && c.dueAtMs === undefined) {
      delete this.contacts[r.contactId]; // gone: nothing more to check there
    }
  }
}

/** The check: offline lane (never the agent's queue), retried on HubSpot faults for a bounded time. */
const activities = () =>
  proxyActivities<ContactSyncActivities>({
    // The offline lane's queue, whichever lane the conversation runs on.
    taskQueue: offlineTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '60s',
    heartbeatTimeout: '20s',
    scheduleToCloseTimeout: '10m',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
    // Background work: after the agent's and the conversations' own tasks (the conversation's fairness key applies).
    priority: { priorityKey: TASK_PRIORITY.offlineSync },
  });

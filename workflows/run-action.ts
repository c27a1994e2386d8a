// One run of the "HubSpot: create or update contact" action, orchestrated from the workflow: look the
// contact up (with the config check folded in), decide (pure planContactSync), write the contact, write
// the summary note. Activities carry the plan out; nothing here talks to HubSpot directly.
//
// Time: an in-conversation run has one budget, actionTimeoutMs, for the whole run: each activity gets
// what is left of it (retries included), so the agent has its outcome in time whatever HubSpot does.
// An offline run retries HubSpot faults for the offline retry window instead.
import { ActivityFailure, ApplicationFailure, proxyActivities, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import type { ContactSyncActivities } from '../activities';
import type { ActionConfig } from '../src/action/config';
import { valueHash } from '../src/action/hash';
import { renderSummaryNote } from '../src/action/note';
import { planContactSync, resolveLookupEmail, type ContactLookup, type SyncOutcome } from '../src/action/plan';
import { agentTaskQueue, type FieldValues } from '../src/platform/definitions';

export interface RunActionInput {
  config: ActionConfig;
  workspaceId?: string;
  fields: FieldValues;
  summary?: string;
  /** Stable per (conversation, action): the note of this pair is found again by it. Never personal data. */
  conversationKey: string;
  /** Notes earlier runs of this action wrote; one is reused only while it is associated with this run's contact. */
  knownNoteIds: string[];
  /** An earlier run of this action ended without an answer: a note it wrote may exist unknown to us. */
  mayHaveWritten: boolean;
  /** ISO time used as the note's hs_timestamp. */
  timestamp: string;
  mode: 'in-conversation' | 'offline';
  /** In conversation: the workflow time by which the run must have its outcome. Offline: the retry window. */
  deadlineMs?: number;
  retryWindowMs: number;
}

export interface RunActionResult extends SyncOutcome {
  /** The account label for metrics: the account id when this worker knows it, 'unknown' otherwise. */
  accountLabel: string;
  /** What the run sent HubSpot, for the convergence check (workflow memory only: never in an outcome). */
  sent?: SentWrites;
}

/** What one run sent HubSpot, and whether a write may still land after the run (its answer never came). */
export interface SentWrites {
  accountId: string;
  /** The contact written to, when known. */
  contactId?: string;
  /** Contacts merged into it (HubSpot's hs_merged_object_ids): an earlier run may have written to one of those ids. */
  mergedFrom?: string[];
  /** The values of the run's last contact write (empty: none). */
  properties: Record<string, string>;
  /** A contact write of the run ended without an answer on some attempt: HubSpot may apply it late. */
  contactUncertain: boolean;
  /** The note the run wrote, and the hash of its body (valueHash), when it wrote one. */
  noteId?: string;
  noteBodyHash?: string;
  noteUncertain: boolean;
}

/** Below this much budget an activity is not started: its answer could not arrive in time. */
const MIN_STEP_MS = 100;

function activities(input: RunActionInput) {
  if (input.mode === 'offline') {
    return proxyActivities<ContactSyncActivities>({
      // One HubSpot call rarely takes more than a few seconds; a hung attempt is cut and retried.
      startToCloseTimeout: '60s',
      heartbeatTimeout: '20s',
      // HubSpot faults are retried for the configured window, so an outage delays a sync instead of losing it.
      scheduleToCloseTimeout: input.retryWindowMs,
      retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
    });
  }
  const left = Math.max(MIN_STEP_MS, (input.deadlineMs ?? Date.now()) - Date.now());
  return proxyActivities<ContactSyncActivities>({
    // The agent's lane: its own task queue, so the agent never waits behind queued offline syncs.
    taskQueue: agentTaskQueue(workflowInfo().taskQueue),
    // The agent waits: every attempt and every retry of this step fit in what is left of the run's budget.
    startToCloseTimeout: left,
    scheduleToCloseTimeout: left,
    heartbeatTimeout: Math.min(left, 5_000),
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s' },
  });
}

/** A readable reason out of an activity failure, for the outcome the operator sees. */
export function failureReason(err: unknown, mode: RunActionInput['mode']): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof TimeoutFailure) {
      const last = cause.cause?.message;
      const window = mode === 'in-conversation' ? "the in-conversation action's time budget" : 'the retry window';
      return `HubSpot did not complete ${err.activityType} within ${window} (${cause.timeoutType})${last ? `; last error: ${last}` : ''}`;
    }
    if (cause instanceof ApplicationFailure) return cause.message;
    return cause?.message ?? err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

const isConflict = (err: unknown) => err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ContactConflict';

export async function runContactSync(input: RunActionInput): Promise<RunActionResult> {
  const { fields, summary } = input;
  let config = input.config;
  const accountId = config.hubspotAccountId;
  let accountLabel = 'unknown';
  const first = resolveLookupEmail(config, fields);
  if (!first.ok) {
    // Missing or invalid email: no HubSpot call at all, and nothing to retry.
    return { result: 'skipped', propertiesWritten: [], reason: first.reason, accountLabel };
  }
  let email = first.email;
  const lane = input.mode === 'in-conversation' ? ('agent' as const) : ('offline' as const);
  const sent: SentWrites = { accountId, properties: {}, contactUncertain: false, noteUncertain: false };
  let writing: 'contact' | 'note' | undefined;
  const budgetLeft = () => (input.deadlineMs === undefined ? Infinity : input.deadlineMs - Date.now());
  const step = <T>(what: string, run: (act: ReturnType<typeof activities>, opts: { summary: string }) => Promise<T>): Promise<T> => {
    if (budgetLeft() < MIN_STEP_MS) {
      throw ApplicationFailure.nonRetryable(`The in-conversation action's time budget ran out before ${what}`, 'ActionBudgetExhausted');
    }
    return run(activities(input), { summary: `${what} · action ${config.id} · account ${accountId}` });
  };

  try {
    const lookup = () =>
      step('look up contact by email', (act, o) =>
        act.lookUpContactForAction.executeWithOptions(o, [{ accountId, workspaceId: input.workspaceId, config, email, lane, deadlineMs: input.deadlineMs }]),
      );
    let found = await lookup();
    accountLabel = found.accountLabel;
    if (found.kind === 'refused') return { result: 'failed', propertiesWritten: [], reason: found.reason, accountLabel };
    const seen = (f: typeof found) => {
      sent.contactId = f.kind === 'found' ? f.contactId : undefined;
      sent.mergedFrom = f.kind === 'found' ? f.mergedFrom : undefined;
    };
    seen(found);
    // A config saved through the configuration API is the one that counts, not the caller's copy: its
    // email mapping too, so the contact is looked up again when it names another email.
    if (found.savedConfig) {
      config = found.savedConfig;
      const saved = resolveLookupEmail(config, fields);
      if (!saved.ok) return { result: 'skipped', propertiesWritten: [], reason: saved.reason, accountLabel };
      if (saved.email !== email) {
        email = saved.email;
        found = await lookup();
        if (found.kind === 'refused') return { result: 'failed', propertiesWritten: [], reason: found.reason, accountLabel };
        seen(found);
      }
    }

    const contactOf = (f: typeof found): ContactLookup =>
      f.kind === 'found' ? { found: true, contactId: f.contactId, ours: f.ours, properties: {}, ...(f.current ? { current: f.current } : {}) } : { found: false };
    let plan = planContactSync({ config, fields, summary, lookup: contactOf(found) });
    let contactId = found.kind === 'found' ? found.contactId : undefined;
    let created = false;

    if (plan.contact.kind !== 'none') {
      const write = plan.contact;
      try {
        sent.properties = write.properties;
        writing = 'contact';
        const written = await step(`${write.kind} contact`, (act, o) => act.writeContactAsPlanned.executeWithOptions(o, [{ accountId, write, lane, deadlineMs: input.deadlineMs }]));
        writing = undefined;
        contactId = sent.contactId = written.contactId;
        created = written.created;
        sent.contactUncertain ||= written.uncertain === true;
      } catch (err) {
        // Someone else created a contact with this email between our lookup and our create:
        // look it up again and decide again, once, under the operator's rules for existing contacts.
        if (!isConflict(err)) throw err;
        writing = undefined; // HubSpot refused the create (409): nothing of it lands
        found = await lookup();
        if (found.kind === 'refused') return { result: 'failed', propertiesWritten: [], reason: found.reason, accountLabel, sent };
        plan = planContactSync({ config, fields, summary, lookup: contactOf(found) });
        seen(found);
        contactId = sent.contactId;
        sent.properties = {};
        if (plan.contact.kind !== 'none') {
          const again = plan.contact;
          sent.properties = again.properties;
          writing = 'contact';
          const written = await step(`${again.kind} contact (after conflict)`, (act, o) => act.writeContactAsPlanned.executeWithOptions(o, [{ accountId, write: again, lane, deadlineMs: input.deadlineMs }]));
          writing = undefined;
          contactId = sent.contactId = written.contactId;
          created = written.created;
          sent.contactUncertain ||= written.uncertain === true;
        }
      }
    }

    let noteId: string | undefined;
    if (plan.note && contactId && summary !== undefined) {
      const cid = contactId;
      sent.noteBodyHash = valueHash(renderSummaryNote(summary, input.conversationKey));
      writing = 'note';
      const note = await step('write summary note', (act, o) =>
        act.writeSummaryNote.executeWithOptions(o, [
          {
            accountId,
            conversationKey: input.conversationKey,
            contactId: cid,
            knownNoteIds: input.knownNoteIds,
            contactCreatedByThisRun: created,
            mayHaveWritten: input.mayHaveWritten,
            summary,
            timestamp: input.timestamp,
            lane,
            deadlineMs: input.deadlineMs,
          },
        ]),
      );
      writing = undefined;
      noteId = sent.noteId = note.noteId;
      sent.noteUncertain ||= note.uncertain === true;
    }

    return { ...plan.outcome, contactId: contactId ?? plan.outcome.contactId, noteId: noteId ?? plan.outcome.noteId, accountLabel, sent };
  } catch (err) {
    // A write step that failed may have sent a write HubSpot applies later.
    if (writing === 'contact') sent.contactUncertain = true;
    if (writing === 'note') sent.noteUncertain = true;
    // A failed action never fails the conversation: it is recorded, visible, and can be retried.
    return { result: 'failed', propertiesWritten: [], reason: failureReason(err, input.mode), accountLabel, sent };
  }
}

// One run of the "create or update contact" action: look the contact up (with the config check folded
// in), decide (planContactSync), write the contact, write the summary note. The steps are given by the
// caller: the workflow runs each as an activity (in-conversation runs, every step within the agent's
// budget), the offline-sync activity runs them in one attempt (fewer Temporal tasks per synced
// conversation). No I/O of its own and no clock: the workflow bundle runs this code too.
import type { ActionConfig } from './config';
import { valueHash } from './hash';
import { renderSummaryNote, type NoteProvenance } from './note';
import {
  timelineRecordFor,
  type CallDetails,
  type Channel,
  type TimelineObject,
  type TimelineRecord,
} from './timeline';
import type { CurrentValue } from './write-rules';
import { planContactSync, resolveLookupEmail, type ContactLookup, type ContactWrite, type SyncOutcome } from './plan';

/** What the lookup step answers: ids and "ours" only. */
export type LookupResult =
  | { kind: 'refused'; reason: string; accountLabel: string }
  | { kind: 'not-found'; accountLabel: string; savedConfig?: ActionConfig }
  | {
      kind: 'found';
      contactId: string;
      ours: boolean;
      accountLabel: string;
      savedConfig?: ActionConfig;
      /** Ids of contacts merged into this one (hs_merged_object_ids): what was written to them now lives here. */
      mergedFrom?: string[];
      /** Per mapped property with a fillIfEmpty or keepPersonEdits rule: whether it has a value, who set it (never the value). */
      current?: Record<string, CurrentValue>;
    };

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
  /** The HubSpot object the note is (a Call or a Communication for an action that logs engagements); absent: a note. */
  noteObject?: Exclude<TimelineObject, 'notes'>;
}

export interface ContactSyncRun {
  config: ActionConfig;
  fields: Record<string, string | null>;
  summary?: string;
  /** Stable per (conversation, action): the note of this pair is found again by it. Never personal data. */
  conversationKey: string;
  /** Notes earlier runs of this action wrote; one is reused only while it is associated with this run's contact. */
  knownNoteIds: string[];
  /** An earlier run of this action ended without an answer: a note it wrote may exist unknown to us. */
  mayHaveWritten: boolean;
  /** ISO time used as the note's hs_timestamp. */
  timestamp: string;
  /** The conversation's channel: with the action's logAs, it says whether the summary is a note, a Call or a Communication. */
  channel?: Channel;
  /** Voice: the call's details (callEnded). */
  call?: CallDetails;
  /** The conversation in the platform: the note links to it. */
  conversationUrl?: string;
}

export interface NoteStep {
  contactId: string;
  contactCreatedByThisRun: boolean;
  summary: string;
  /** What the summary is logged as (a note unless the action logs engagements). */
  record: TimelineRecord;
  /** Which action wrote it, when, and the link to the conversation. */
  provenance: NoteProvenance;
}

/**
 * What the note step sends to HubSpot's side, from the run and the step: the same whether the run is one
 * activity or, in older histories, the note step is an activity of its own. A note (the default) carries
 * no record.
 */
export function noteStepInput(run: ContactSyncRun, accountId: string, note: NoteStep) {
  return {
    accountId,
    conversationKey: run.conversationKey,
    contactId: note.contactId,
    knownNoteIds: run.knownNoteIds,
    contactCreatedByThisRun: note.contactCreatedByThisRun,
    mayHaveWritten: run.mayHaveWritten,
    summary: note.summary,
    timestamp: run.timestamp,
    ...(note.record.object !== 'notes' ? { record: note.record } : {}),
    provenance: note.provenance,
  };
}

/** What the body of the run's note says about itself. */
export function provenanceOf(
  config: Pick<ActionConfig, 'id' | 'name'>,
  input: Pick<ContactSyncRun, 'timestamp' | 'conversationUrl'>,
): NoteProvenance {
  return {
    actionId: config.id,
    actionName: config.name,
    writtenAt: input.timestamp,
    ...(input.conversationUrl ? { conversationUrl: input.conversationUrl } : {}),
  };
}

/** The steps of a run, as the caller carries them out. */
export interface ContactSyncSteps {
  lookUp(config: ActionConfig, email: string): Promise<LookupResult>;
  writeContact(
    write: Exclude<ContactWrite, { kind: 'none' }>,
    label: string,
  ): Promise<{ contactId: string; created: boolean; uncertain?: boolean }>;
  writeNote(note: NoteStep): Promise<{ noteId: string; created: boolean; uncertain?: boolean }>;
  /** HubSpot refused a create because someone else created the contact since the lookup (ContactConflict). */
  isConflict(err: unknown): boolean;
  /** The failed outcome's reason for an error that ends the run; throws the error instead when the caller retries it. */
  failed(err: unknown, sent: SentWrites): string;
}

export interface ContactSyncResult extends SyncOutcome {
  /** The account label for metrics: the account id when this worker knows it, 'unknown' otherwise. */
  accountLabel: string;
  /** What the run sent HubSpot, for the convergence check (workflow memory only: never in an outcome). */
  sent?: SentWrites;
}

/** The run: never throws for a HubSpot refusal (a failed outcome says why); steps.failed decides what is retried. */
export async function runContactSyncSteps(
  input: ContactSyncRun,
  steps: ContactSyncSteps,
  progress?: (sent: SentWrites) => void,
): Promise<ContactSyncResult> {
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
  const sent: SentWrites = { accountId, properties: {}, contactUncertain: false, noteUncertain: false };
  let writing: 'contact' | 'note' | undefined;
  const starting = (what: 'contact' | 'note') => {
    writing = what;
    progress?.(sent);
  };

  try {
    const lookup = () => steps.lookUp(config, email);
    let found = await lookup();
    accountLabel = found.accountLabel;
    if (found.kind === 'refused')
      return { result: 'failed', propertiesWritten: [], reason: found.reason, accountLabel };
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
        if (found.kind === 'refused')
          return { result: 'failed', propertiesWritten: [], reason: found.reason, accountLabel };
        seen(found);
      }
    }

    const contactOf = (f: typeof found): ContactLookup =>
      f.kind === 'found'
        ? {
            found: true,
            contactId: f.contactId,
            ours: f.ours,
            properties: {},
            ...(f.current ? { current: f.current } : {}),
          }
        : { found: false };
    let plan = planContactSync({ config, fields, summary, lookup: contactOf(found) });
    let contactId = found.kind === 'found' ? found.contactId : undefined;
    let created = false;

    if (plan.contact.kind !== 'none') {
      const write = plan.contact;
      try {
        sent.properties = write.properties;
        starting('contact');
        const written = await steps.writeContact(write, `${write.kind} contact`);
        writing = undefined;
        contactId = sent.contactId = written.contactId;
        created = written.created;
        sent.contactUncertain ||= written.uncertain === true;
      } catch (err) {
        // Someone else created a contact with this email between our lookup and our create:
        // look it up again and decide again, once, under the operator's rules for existing contacts.
        if (!steps.isConflict(err)) throw err;
        writing = undefined; // HubSpot refused the create (409): nothing of it lands
        found = await lookup();
        if (found.kind === 'refused')
          return { result: 'failed', propertiesWritten: [], reason: found.reason, accountLabel, sent };
        plan = planContactSync({ config, fields, summary, lookup: contactOf(found) });
        seen(found);
        contactId = sent.contactId;
        sent.properties = {};
        if (plan.contact.kind !== 'none') {
          const again = plan.contact;
          sent.properties = again.properties;
          starting('contact');
          const written = await steps.writeContact(again, `${again.kind} contact (after conflict)`);
          writing = undefined;
          contactId = sent.contactId = written.contactId;
          created = written.created;
          sent.contactUncertain ||= written.uncertain === true;
        }
      }
    }

    let noteId: string | undefined;
    // The config that counts (a saved one included) says whether the summary is a note or an engagement.
    const record = timelineRecordFor(config, input.channel, input.call);
    if (plan.note && contactId && summary !== undefined) {
      const provenance = provenanceOf(config, input);
      sent.noteBodyHash = valueHash(renderSummaryNote(summary, input.conversationKey, provenance));
      if (record.object !== 'notes') sent.noteObject = record.object;
      starting('note');
      const note = await steps.writeNote({ contactId, contactCreatedByThisRun: created, summary, record, provenance });
      writing = undefined;
      noteId = sent.noteId = note.noteId;
      sent.noteUncertain ||= note.uncertain === true;
    }

    const outcome =
      plan.note && record.object !== 'notes' ? engagementOutcome(plan.outcome, record.object) : plan.outcome;
    return {
      ...outcome,
      contactId: contactId ?? plan.outcome.contactId,
      noteId: noteId ?? plan.outcome.noteId,
      accountLabel,
      sent,
    };
  } catch (err) {
    // A write step that failed may have sent a write HubSpot applies later.
    if (writing === 'contact') sent.contactUncertain = true;
    if (writing === 'note') sent.noteUncertain = true;
    // A failed action never fails the conversation: it is recorded, visible, and can be retried.
    return { result: 'failed', propertiesWritten: [], reason: steps.failed(err, sent), accountLabel, sent };
  }
}

/** The plan's outcome when the summary went to a Call or a Communication: said so, in its reason too. */
function engagementOutcome(outcome: SyncOutcome, object: 'calls' | 'communications'): SyncOutcome {
  const loggedAs = object === 'calls' ? 'call' : 'communication';
  const what = object === 'calls' ? 'summary logged as a HubSpot call' : 'summary logged as a HubSpot communication';
  return {
    ...outcome,
    loggedAs,
    reason: outcome.reason
      .replace('summary note written', what)
      .replace('only the summary note was written', `only the ${what.replace('summary logged', 'summary was logged')}`),
  };
}

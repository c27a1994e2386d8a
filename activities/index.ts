// The HubSpot activities of the contact-sync action. They carry out what the workflow decided
// (planContactSync); each is safe to retry after a lost response, because HubSpot has no idempotency
// keys: a create that meets 409 resolves to the contact an earlier attempt created (HubSpot names it),
// and a note an earlier attempt wrote is found again through the contact's note associations (exact,
// unlike search, which trails writes by seconds).
//
// Every HubSpot call ends when the activity ends: its abort signal fires on cancellation and just
// before the attempt's own timeout, so an abandoned write never lands after its retry has started.
// Logs carry ids and outcomes only: never an email, a phone or a summary.
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { actionConfigSchema, type ActionConfig } from '../src/action/config';
import { FailureType, failureTypeOf } from '../src/action/failures';
import { validateFieldMappings } from '../src/action/mapping-validation';
import { valueHash } from '../src/action/hash';
import { failuresInRow, type FailurePoint } from '../src/action/limits';
import { AGENT_QUEUE_WAIT } from '../src/action/metrics';
import { noteReference, renderSummaryNote, type NoteProvenance } from '../src/action/note';
import { bodyProperty, timelineProperties, type TimelineRecord } from '../src/action/timeline';
import type { ContactWrite } from '../src/action/plan';
import {
  noteStepInput,
  runContactSyncSteps,
  type ContactSyncResult,
  type ContactSyncRun,
  type LookupResult,
  type SentWrites,
} from '../src/action/run';
import { propertiesToRead, setBySomeoneElse, type CurrentValue } from '../src/action/write-rules';
import type { AccountDirectory } from '../src/hubspot/directory';
import type { CallOptions, EngagementObject, HubSpotAccountPort, HubSpotPort } from '../src/hubspot/port';
import { isOurs, ownershipProperties, withOwnershipMarker, writtenByUs } from '../src/hubspot/ownership';
import type { ContactCheckResult, PropertyVersion } from '../src/action/convergence';
import { attempted, heartbeating, retryLater } from './attempt';
import { countingCalls, ReceiptWriter, type ConvergenceInput } from './receipts';
import type { ReceiptContext, ReceiptRecorder } from '../src/action/receipt';

/** Which lane of the account's pacing a call takes: the agent's (in-conversation) goes first. */
export type Lane = NonNullable<CallOptions['lane']>;
import { createLegacyActivities } from './legacy';
import { createConvergenceActivities } from './convergence';

/** A lost note create is looked for among this many of the contact's newest notes. */
const LOST_NOTE_CANDIDATES = 100;

export interface ActivityDeps {
  /** The HubSpot accounts (the adapter, HubSpotAccounts; in the fast tests an in-memory fake). */
  hubspot: HubSpotPort;
  /** Where saved action configs (configuration API) are read; absent: the conversation's snapshot counts. */
  directory?: AccountDirectory;
  /** Where each run leaves its receipt (the account store's); absent: no receipts are kept (docs/ACCOUNTS.md, "Receipts"). */
  receipts?: ReceiptRecorder;
}

export type { LookupResult };

type ContactWriteStep = Exclude<ContactWrite, { kind: 'none' }>;
type WriteResult = { contactId: string; created: boolean; uncertain?: boolean };
type NoteResult = { noteId: string; created: boolean; uncertain?: boolean };

/** The note a run writes, as the note step is given it. */
export interface SummaryNoteInput {
  accountId: string;
  conversationKey: string;
  contactId: string;
  knownNoteIds: string[];
  /** The contact was created by this run: no note of this conversation can be on it yet. */
  contactCreatedByThisRun: boolean;
  /** An earlier run of this action ended without an answer. */
  mayHaveWritten: boolean;
  summary: string;
  timestamp: string;
  /** What the summary is logged as; absent (runs scheduled before engagements): a note. */
  record?: TimelineRecord;
  /** Which action wrote it and when, and the conversation's link; absent (runs scheduled before): the body has no such line. */
  provenance?: NoteProvenance;
  lane?: Lane;
  /** In conversation: when the run's budget ends (workflow time). */
  deadlineMs?: number;
}

/** A run in one activity: the run's input, the conversation's workspace, its lane and (in conversation) its deadline. */
export interface ContactSyncActivityInput extends ContactSyncRun {
  workspaceId?: string;
  lane: Lane;
  /** In conversation: when the run's budget ends (workflow time). */
  deadlineMs?: number;
  /** Where the run came from, for its receipt; absent (runs scheduled before receipts): no receipt. */
  receipt?: ReceiptContext;
}

/** What a run's heartbeats and its retried failures carry: what it sent so far. */
export interface RunProgress {
  accountLabel: string;
  sent?: SentWrites;
  /** The contact an attempt set out to create (its answer may be lost): found again by the next attempt, it counts as created by this run. */
  createSent?: boolean;
  /**
   * The steps HubSpot answered, in their order: a retried attempt takes these answers instead of asking
   * again, and repeats only the step that failed (as when each step was an activity). Hashes, never values.
   */
  answered?: {
    lookups: Array<{ emailHash: string; result: LookupResult }>;
    writes: Array<{ kind: string; propertiesHash: string; result: WriteResult }>;
  };
  /** Where the attempt failed (steps answered, the failing step's calls), and how many attempts in a row failed there. */
  failedAt?: FailurePoint;
  /** HubSpot calls the run made so far, over its attempts (its receipt says how many). */
  hubspotCalls?: number;
  /**
   * An offline run whose HubSpot work is done but whose receipt could not be written: its result, which
   * the next attempt writes to the receipt and returns without running again (activities/receipts.ts).
   */
  result?: ContactSyncResult;
  /** How many attempts in a row found the receipts database not answering (the next one waits longer). */
  receiptTries?: number;
}

/**
 * What a run sent on this attempt and on an earlier one whose answer never came (an earlier attempt's
 * writes may still land: they count as unanswered). Every attempt plans from the same values.
 */
function withEarlierAttempt(now: SentWrites | undefined, before: SentWrites | undefined): SentWrites | undefined {
  if (!before) return now;
  const base: SentWrites = now ?? {
    accountId: before.accountId,
    properties: {},
    contactUncertain: false,
    noteUncertain: false,
  };
  const properties = Object.keys(base.properties).length > 0 ? base.properties : before.properties;
  return {
    ...base,
    contactId: base.contactId ?? before.contactId,
    ...((base.mergedFrom ?? before.mergedFrom) ? { mergedFrom: base.mergedFrom ?? before.mergedFrom } : {}),
    properties,
    contactUncertain: base.contactUncertain || Object.keys(before.properties).length > 0,
    ...((base.noteId ?? before.noteId) ? { noteId: base.noteId ?? before.noteId } : {}),
    ...((base.noteBodyHash ?? before.noteBodyHash) ? { noteBodyHash: base.noteBodyHash ?? before.noteBodyHash } : {}),
    noteUncertain: base.noteUncertain || before.noteBodyHash !== undefined,
  };
}

export function createActivities({ hubspot: port, directory, receipts }: ActivityDeps) {
  // Every HubSpot call is counted for the run that makes it (its receipt, docs/ACCOUNTS.md, "Receipts").
  const hubspot = countingCalls(port);
  const receiptWriter = receipts ? new ReceiptWriter(receipts, port) : undefined;
  /** The action config that counts: the one saved for the workspace, when there is one. */
  async function effectiveConfig(
    workspaceId: string | undefined,
    config: ActionConfig,
  ): Promise<{ config: ActionConfig; saved: boolean } | { refused: string }> {
    if (!workspaceId || !directory?.savedActionConfig) return { config, saved: false };
    const saved = await directory.savedActionConfig(workspaceId, config.id);
    if (!saved) return { config, saved: false };
    const parsed = actionConfigSchema.safeParse(saved.config);
    if (!parsed.success)
      return { refused: `The saved configuration of action ${config.id} is no longer valid; save it again` };
    return { config: parsed.data, saved: true };
  }

  /**
   * Checks that the account may be used by this conversation (its workspace owns it) and that the
   * action's mappings fit the account's live property schema (cached), then finds the contact by email
   * (primary or secondary, case-insensitive: HubSpot's own matching). Returns ids and "ours" only.
   */
  async function lookUp(
    input: { accountId: string; workspaceId?: string; config: ActionConfig; email: string },
    call: CallOptions,
  ): Promise<LookupResult> {
    const account = await hubspot.get(input.accountId);
    const accountLabel = account.id;
    const owner = account.connection.workspaceId;
    if (owner !== undefined && owner !== input.workspaceId) {
      log.warn('Refused a run: the HubSpot account belongs to another workspace', { accountId: account.id });
      return {
        kind: 'refused',
        reason: `HubSpot account ${account.id} is not connected to this conversation's workspace`,
        accountLabel,
      };
    }
    const effective = await effectiveConfig(input.workspaceId, input.config);
    if ('refused' in effective) return { kind: 'refused', reason: effective.refused, accountLabel };
    const config = effective.config;
    if (config.hubspotAccountId !== account.id) {
      return {
        kind: 'refused',
        reason: `The saved configuration of action ${config.id} names another HubSpot account`,
        accountLabel,
      };
    }
    const problems = validateFieldMappings(config, await account.contactPropertySchema(call));
    if (problems.length) {
      log.warn('Action field mappings do not fit the HubSpot account', {
        accountId: account.id,
        actionId: config.id,
        problems: problems.length,
      });
      return {
        kind: 'refused',
        reason: `The action's field mappings do not fit HubSpot account ${account.id}: ${problems.join('; ')}`,
        accountLabel,
      };
    }
    const savedConfig = effective.saved ? config : undefined;
    // Write rules other than overwrite need the current values (in the same read), keepPersonEdits their history too.
    const ruled = propertiesToRead(config.fieldMappings);
    const contact = await account.readContactByEmail(
      input.email,
      [...ownershipProperties(account.connection), 'hs_merged_object_ids', ...ruled.values],
      call,
      ruled.history,
    );
    if (!contact) {
      log.info('No contact for this email', { accountId: account.id });
      return { kind: 'not-found', accountLabel, ...(savedConfig ? { savedConfig } : {}) };
    }
    const ours = isOurs(account.connection, contact.properties);
    log.info('Contact found', { accountId: account.id, contactId: contact.id, ours });
    const mergedFrom = (contact.properties.hs_merged_object_ids ?? '')
      .split(';')
      .map((id) => id.trim())
      .filter(Boolean);
    const current = ruled.values.length
      ? currentValues(contact, ruled.values, ruled.history, writtenByUs(account.connection))
      : undefined;
    return {
      kind: 'found',
      contactId: contact.id,
      ours,
      accountLabel,
      ...(savedConfig ? { savedConfig } : {}),
      ...(mergedFrom.length ? { mergedFrom } : {}),
      ...(current ? { current } : {}),
    };
  }

  /** Creates or updates the contact as planned. A 409 on create resolves to the contact HubSpot names. `retried`: an earlier attempt ended without an answer. */
  async function writeContact(
    input: { accountId: string; write: ContactWriteStep },
    call: CallOptions,
    retried: boolean,
  ): Promise<WriteResult> {
    const uncertain = retried ? { uncertain: true as const } : {};
    const account = await hubspot.get(input.accountId);
    const { write } = input;
    if (write.kind === 'update') {
      await account.updateContact(write.contactId, write.properties, call);
      log.info('Contact updated', {
        accountId: account.id,
        contactId: write.contactId,
        properties: Object.keys(write.properties),
      });
      return { contactId: write.contactId, created: false, ...uncertain };
    }
    try {
      const created = await account.createContact(withOwnershipMarker(account.connection, write.properties), call);
      log.info('Contact created', {
        accountId: account.id,
        contactId: created.id,
        properties: Object.keys(write.properties),
      });
      return { contactId: created.id, created: true, ...uncertain };
    } catch (err) {
      if (failureTypeOf(err) !== FailureType.HubSpotConflict) throw err;
      // 409: the email exists, and HubSpot names the contact ("Existing ID: <id>").
      const existingId =
        ((err as ApplicationFailure).details?.[0] as string | undefined) ??
        (await account.readContactByEmail(write.properties.email ?? '', [], call))?.id;
      if (!existingId) throw err;
      const existing = await account.readContact(existingId, ownershipProperties(account.connection), call);
      if (existing && isOurs(account.connection, existing.properties)) {
        // Our own earlier attempt created it and its answer was lost: finish the job on that contact.
        const { email: _email, ...rest } = write.properties;
        if (Object.keys(rest).length) await account.updateContact(existing.id, rest, call);
        log.info('Contact created by an earlier attempt; completed it', {
          accountId: account.id,
          contactId: existing.id,
        });
        return { contactId: existing.id, created: true, ...uncertain };
      }
      log.warn('A contact with this email appeared since the lookup', { accountId: account.id, contactId: existingId });
      throw ApplicationFailure.create({
        message: `HubSpot account ${account.id}: a contact with this email (${existingId}) was created by someone else since the lookup`,
        type: FailureType.ContactConflict,
        nonRetryable: true,
        details: [existingId],
      });
    }
  }

  /**
   * One note per (conversation, action, contact): created once, then updated. A known note is reused
   * only while it is associated with this contact (a corrected email lands on another contact, whose
   * note is its own; a merged contact keeps its notes). A lost create is found through the contact's
   * note associations and the note's reference line, never through search.
   */
  async function writeNote(input: SummaryNoteInput, call: CallOptions, retried: boolean): Promise<NoteResult> {
    const uncertain = retried ? { uncertain: true as const } : {};
    const account = await hubspot.get(input.accountId);
    const body = renderSummaryNote(input.summary, input.conversationKey, input.provenance);
    const record = input.record;
    if (record && record.object !== 'notes') return writeEngagement(account, input, record, body, call, retried);
    // A contact this run created has no notes yet; otherwise known notes are checked against the
    // contact, and after a failed attempt or run a lost create is looked for.
    const mustLook =
      (input.knownNoteIds.length > 0 && !input.contactCreatedByThisRun) || retried || input.mayHaveWritten;
    if (mustLook) {
      const onContact = await account.noteIdsOfContact(input.contactId, call);
      const attached = new Set(onContact);
      const known = [...input.knownNoteIds].reverse().find((id) => attached.has(id));
      let reuse: string | undefined = known;
      if (!reuse && (retried || input.mayHaveWritten || input.knownNoteIds.length > 0)) {
        // An attempt may have created the note and lost the answer: look for our reference on the contact's notes.
        reuse = await findNoteByReference(
          account,
          onContact,
          input.knownNoteIds,
          noteReference(input.conversationKey),
          call,
        );
      }
      if (reuse) {
        try {
          await account.updateNote(reuse, body, call);
          log.info('Summary note updated', { accountId: account.id, noteId: reuse, contactId: input.contactId });
          return { noteId: reuse, created: false, ...uncertain };
        } catch (err) {
          if (failureTypeOf(err) !== FailureType.HubSpotNotFound) throw err;
          log.warn('The summary note was deleted meanwhile; writing a new one', {
            accountId: account.id,
            noteId: reuse,
          });
        }
      }
    }
    const created = await account.createNote({ body, timestamp: input.timestamp, contactId: input.contactId }, call);
    log.info('Summary note created', { accountId: account.id, noteId: created.id, contactId: input.contactId });
    return { noteId: created.id, created: true, ...uncertain };
  }

  /**
   * The note's twin for an action that logs engagements: one Call or Communication per (conversation,
   * action, contact), created once and then updated in place (its body, and a Call's details that came
   * since), found again after a lost answer through the contact's associations and the body's reference
   * line, never through search.
   */
  async function writeEngagement(
    account: HubSpotAccountPort,
    input: SummaryNoteInput,
    record: Exclude<TimelineRecord, { object: 'notes' }>,
    body: string,
    call: CallOptions,
    retried: boolean,
  ): Promise<NoteResult> {
    const uncertain = retried ? { uncertain: true as const } : {};
    const object: EngagementObject = record.object;
    const what = object === 'calls' ? 'Call' : 'Communication';
    const properties = timelineProperties(
      record,
      body,
      input.timestamp,
      input.provenance?.actionName ?? 'the contact-sync action',
    );
    const mustLook =
      (input.knownNoteIds.length > 0 && !input.contactCreatedByThisRun) || retried || input.mayHaveWritten;
    if (mustLook) {
      const onContact = await account.engagementIdsOfContact(object, input.contactId, call);
      const attached = new Set(onContact);
      let reuse = [...input.knownNoteIds].reverse().find((id) => attached.has(id));
      if (!reuse && (retried || input.mayHaveWritten || input.knownNoteIds.length > 0)) {
        const reference = noteReference(input.conversationKey);
        const skip = new Set(input.knownNoteIds);
        const candidates = onContact
          .filter((id) => !skip.has(id))
          .sort(newestFirst)
          .slice(0, LOST_NOTE_CANDIDATES);
        const read = candidates.length ? await account.readEngagements(object, candidates, false, call) : [];
        reuse = read
          .filter((e) => e.properties[bodyProperty(object)]?.includes(reference))
          .map((e) => e.id)
          .sort(newestFirst)[0];
      }
      if (reuse) {
        try {
          // The timeline keeps the first run's time: an update moves nothing on it.
          const { hs_timestamp: _kept, ...update } = properties;
          await account.updateEngagement(object, reuse, update, call);
          log.info(`Summary ${what} updated`, { accountId: account.id, id: reuse, contactId: input.contactId });
          return { noteId: reuse, created: false, ...uncertain };
        } catch (err) {
          if (failureTypeOf(err) !== FailureType.HubSpotNotFound) throw err;
          log.warn(`The summary ${what} was deleted meanwhile; writing a new one`, {
            accountId: account.id,
            id: reuse,
          });
        }
      }
    }
    const created = await account.createEngagement(object, properties, input.contactId, call);
    log.info(`Summary ${what} created`, { accountId: account.id, id: created.id, contactId: input.contactId });
    return { noteId: created.id, created: true, ...uncertain };
  }

  const activities = {
    /** The lookup step of an in-conversation run (and of runs recorded before the offline run was one activity). */
    async lookUpContactForAction(input: {
      accountId: string;
      workspaceId?: string;
      config: ActionConfig;
      email: string;
      lane?: Lane;
      deadlineMs?: number;
    }): Promise<LookupResult> {
      return heartbeating((aborted) => lookUp(input, { signal: aborted, lane: input.lane }), input.deadlineMs);
    },

    /** The contact write step of an in-conversation run. */
    async writeContactAsPlanned(input: {
      accountId: string;
      write: ContactWriteStep;
      lane?: Lane;
      deadlineMs?: number;
    }): Promise<WriteResult> {
      return heartbeating(
        (aborted) => writeContact(input, { signal: aborted, lane: input.lane }, attempted()),
        input.deadlineMs,
      );
    },

    /** The note step of an in-conversation run. */
    async writeSummaryNote(input: SummaryNoteInput): Promise<NoteResult> {
      return heartbeating(
        (aborted) => writeNote(input, { signal: aborted, lane: input.lane }, attempted()),
        input.deadlineMs,
      );
    },

    /**
     * A whole run in one activity (lookup, contact write, note: docs/TEMPORAL.md, "Tasks per synced
     * conversation"), in conversation on the agent's lane within its deadline, or offline. HubSpot's
     * refusals end it with a failed outcome; its faults (5xx, 429, timeouts, a lost worker) fail the
     * attempt, and Temporal retries the whole run (within the agent's budget, or the offline retry
     * window): each step is safe to repeat, and a retried attempt treats what the earlier one sent as
     * unanswered (it may land late). Heartbeats and a retried failure carry what was sent so far.
     */
    async runContactSync(input: ContactSyncActivityInput): Promise<ContactSyncResult> {
      if (input.lane === 'agent') recordAgentQueueWait();
      const retried = attempted();
      const before = retried ? (Context.current().info.heartbeatDetails as RunProgress | undefined) : undefined;
      const progress: RunProgress = {
        accountLabel: before?.accountLabel ?? 'unknown',
        ...(before?.sent ? { sent: before.sent } : {}),
        ...(before?.createSent ? { createSent: true } : {}),
        hubspotCalls: before?.hubspotCalls ?? 0,
      };
      const answered: NonNullable<RunProgress['answered']> = (progress.answered = { lookups: [], writes: [] });
      const earlier = before?.answered;
      const accountId = input.config.hubspotAccountId;
      // The calls made when the current step began: how far into its step a failing attempt got.
      let stepBegan = progress.hubspotCalls ?? 0;
      const stepAnswered = () => (stepBegan = progress.hubspotCalls ?? 0);
      // The calls so far travel in the heartbeats to the next attempt (and its receipt says how many).
      return countingCalls.countInto(progress, () =>
        heartbeating(
          async (aborted) => {
            const call: CallOptions = { signal: aborted, lane: input.lane };
            const result = await runContactSyncSteps(
              input,
              {
                lookUp: async (config, email) => {
                  const emailHash = valueHash(email);
                  const known = earlier?.lookups[answered.lookups.length];
                  if (known && known.emailHash === emailHash) {
                    answered.lookups.push(known);
                    stepAnswered();
                    return known.result;
                  }
                  const found = await lookUp({ accountId, workspaceId: input.workspaceId, config, email }, call);
                  progress.accountLabel = found.accountLabel;
                  answered.lookups.push({ emailHash, result: found });
                  stepAnswered();
                  // An earlier attempt sent the create and lost its answer: the contact it finds is the one
                  // this run created. Planned as a create again, the create meets 409 and completes that
                  // contact, as a retried create step does, and the outcome says "created".
                  if (before?.createSent && found.kind === 'found' && found.ours) {
                    return {
                      kind: 'not-found',
                      accountLabel: found.accountLabel,
                      ...(found.savedConfig ? { savedConfig: found.savedConfig } : {}),
                    };
                  }
                  return found;
                },
                writeContact: async (write) => {
                  const propertiesHash = valueHash(JSON.stringify(write.properties));
                  const known = earlier?.writes[answered.writes.length];
                  if (known && known.kind === write.kind && known.propertiesHash === propertiesHash) {
                    answered.writes.push(known);
                    stepAnswered();
                    return known.result;
                  }
                  if (write.kind === 'create' && !progress.createSent) {
                    progress.createSent = true;
                    Context.current().heartbeat(progress);
                  }
                  const written = await writeContact({ accountId, write }, call, retried);
                  answered.writes.push({ kind: write.kind, propertiesHash, result: written });
                  stepAnswered();
                  Context.current().heartbeat(progress);
                  return written;
                },
                writeNote: (note) => writeNote(noteStepInput(input, accountId, note), call, retried),
                isConflict: (err) => failureTypeOf(err) === FailureType.ContactConflict,
                failed: (err, sent) => {
                  if (err instanceof ApplicationFailure && err.nonRetryable) return err.message;
                  if (err instanceof CancelledFailure) throw err;
                  const message = err instanceof Error ? err.message : String(err);
                  // The agent's budget is over (every call ends with it): no retry can answer in time.
                  if (input.lane === 'agent' && aborted.aborted)
                    return `HubSpot did not complete the run within the in-conversation action's time budget; last error: ${message}`;
                  // A fault: this attempt fails and Temporal retries the run. The failure carries what was sent.
                  // The step's own backoff: failures at the same point count, the steps before it do not,
                  // and an attempt that got further into its step than the last one starts the count again.
                  const at = {
                    answered: answered.lookups.length + answered.writes.length,
                    calls: (progress.hubspotCalls ?? 0) - stepBegan,
                  };
                  const failures = failuresInRow(before?.failedAt, at);
                  const details: RunProgress = {
                    ...progress,
                    sent: withEarlierAttempt(sent, before?.sent),
                    failedAt: { ...at, failures },
                  };
                  throw retryLater(err, failures, input.lane === 'agent' ? 'agent' : 'offline', details);
                },
              },
              (sent) => {
                // Before each write: the next attempt (and the workflow, on a timeout) learns what may land.
                progress.sent = withEarlierAttempt({ ...sent, properties: { ...sent.properties } }, before?.sent);
                Context.current().heartbeat(progress);
              },
            );
            return {
              ...result,
              ...(result.sent || before?.sent ? { sent: withEarlierAttempt(result.sent, before?.sent) } : {}),
            };
          },
          input.deadlineMs,
          () => progress,
        ),
      );
    },

    ...createConvergenceActivities({ hubspot }),
    ...createLegacyActivities({ hubspot }),
  };
  return {
    ...activities,
    /** The run, with its receipt (one per run, written by every attempt: activities/receipts.ts). */
    runContactSync: (input: ContactSyncActivityInput): Promise<ContactSyncResult> =>
      receiptWriter ? receiptWriter.aroundRun(input, activities.runContactSync) : activities.runContactSync(input),
    /** The convergence check, with a receipt of each repair it made (trigger convergence-repair). */
    convergeContacts: (input: ConvergenceInput): Promise<ContactCheckResult[]> =>
      receiptWriter
        ? receiptWriter.aroundConvergence(input, activities.convergeContacts)
        : activities.convergeContacts(input),
  };
}

/**
 * How long this attempt of an in-conversation run waited in the agent's queue: from its scheduling (the
 * server's time) to now, its start on this worker (the SDK does not hand activities the server's start
 * time; worker and server clocks are assumed in sync, and a negative skew counts as 0).
 */
function recordAgentQueueWait(): void {
  const { info, metricMeter } = Context.current();
  metricMeter
    .createHistogram(
      AGENT_QUEUE_WAIT,
      'int',
      'ms',
      "In-conversation runs: the activity's wait from scheduled to started",
    )
    .record(Math.max(0, Date.now() - info.currentAttemptScheduledTimestampMs));
}

/** What the write rules need of the found contact: per property, whether it has a value and who set it since our last write. */
function currentValues(
  contact: { properties: Record<string, string | null>; history?: Record<string, PropertyVersion[]> },
  values: string[],
  history: string[],
  ours: (v: PropertyVersion) => boolean,
): Record<string, CurrentValue> {
  const withHistory = new Set(history);
  const out: Record<string, CurrentValue> = {};
  for (const name of values) {
    const value = contact.properties[name];
    const hasValue = typeof value === 'string' && value.trim() !== '';
    const by = withHistory.has(name) ? setBySomeoneElse(contact.history?.[name] ?? [], hasValue, ours) : undefined;
    out[name] = { hasValue, ...(by ? { setBySomeoneElse: by } : {}) };
  }
  return out;
}

/** The newest of the contact's notes (not already known) whose body carries our reference line. */
async function findNoteByReference(
  account: HubSpotAccountPort,
  noteIds: string[],
  known: string[],
  reference: string,
  options: CallOptions,
): Promise<string | undefined> {
  const skip = new Set(known);
  const candidates = noteIds
    .filter((id) => !skip.has(id))
    .sort(newestFirst)
    .slice(0, LOST_NOTE_CANDIDATES);
  if (candidates.length === 0) return undefined;
  const { results } = await account.readNotes(candidates, options);
  const mine = results.filter((n) => n.properties.hs_note_body?.includes(reference));
  return mine.map((n) => n.id).sort(newestFirst)[0];
}

/** HubSpot ids grow over time: the longer, then the larger, is the newer. */
const newestFirst = (a: string, b: string) =>
  a.length !== b.length ? b.length - a.length : a < b ? 1 : a > b ? -1 : 0;

export type ContactSyncActivities = ReturnType<typeof createActivities>;

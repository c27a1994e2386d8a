// One run of the action as the first released workflow orchestrated it (frozen with
// conversation-v1.ts): its activities keep their names and inputs (activities/legacy.ts).
import { ActivityFailure, ApplicationFailure, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type { LegacyContactSyncActivities } from '../../activities/legacy';
import type { ActionConfig } from '../../src/action/config';
import { planContactSync, resolveLookupEmail, type ContactLookup, type SyncOutcome } from '../../src/action/plan';
import type { FieldValues } from './contract-v1';

export interface RunActionInput {
  config: ActionConfig;
  fields: FieldValues;
  summary?: string;
  /** Stable per (conversation, action): the note of this pair is found again by it. Never personal data. */
  conversationKey: string;
  /** The note written by an earlier run of this pair, if this run knows it. */
  noteId?: string;
  /** ISO time used as the note's hs_timestamp. */
  timestamp: string;
  mode: 'in-conversation' | 'offline';
  /** Bound on the whole run's HubSpot retries. */
  retryWindowMs: number;
}

function activitiesFor(mode: RunActionInput['mode'], retryWindowMs: number) {
  return proxyActivities<LegacyContactSyncActivities>({
    // One HubSpot call rarely takes more than a few seconds; a hung connection is cut and retried.
    startToCloseTimeout: mode === 'offline' ? '60s' : '10s',
    // In conversation, the agent waits: the retries are bounded by its wait. Offline, HubSpot faults are
    // retried for the configured window, so an outage delays a sync instead of losing it.
    scheduleToCloseTimeout: retryWindowMs,
    retry:
      mode === 'offline'
        ? { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' }
        : { initialInterval: '300ms', backoffCoefficient: 2, maximumInterval: '3s' },
  });
}

/** A readable reason out of an activity failure, for the outcome the operator sees. */
function failureReason(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof TimeoutFailure) {
      // After retries run out of time, the cause of the timeout is the last attempt's failure.
      const last = cause.cause?.message;
      return `HubSpot did not complete ${err.activityType} within the retry window (${cause.timeoutType})${last ? `; last error: ${last}` : ''}`;
    }
    if (cause instanceof ApplicationFailure) return cause.message;
    return cause?.message ?? err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

export async function runContactSyncV1(input: RunActionInput): Promise<SyncOutcome> {
  const { config, fields, summary } = input;
  const email = resolveLookupEmail(config, fields);
  if (!email.ok) {
    // Missing or invalid email: no HubSpot call at all, and nothing to retry.
    return { result: 'skipped', propertiesWritten: [], reason: email.reason };
  }

  const act = activitiesFor(input.mode, input.retryWindowMs);
  const accountId = config.hubspotAccountId;
  const summaryNote = (what: string) => ({ summary: `${what} · action ${config.id} · account ${accountId}` });
  try {
    const check = await act.validateActionConfig.executeWithOptions(summaryNote('check field mappings'), [
      { accountId, config },
    ]);
    if (!check.ok) {
      return {
        result: 'failed',
        propertiesWritten: [],
        reason: `The action's field mappings do not fit HubSpot account ${accountId}: ${check.problems.join('; ')}`,
      };
    }

    const mappedProperties = config.fieldMappings.map((m) => m.hubspotProperty);
    const lookup = (): Promise<ContactLookup> =>
      act.lookupContact.executeWithOptions(summaryNote('look up contact by email'), [
        { accountId, email: email.email, properties: mappedProperties },
      ]);

    let found = await lookup();
    let plan = planContactSync({ config, fields, summary, lookup: found });
    let contactId = found.found ? found.contactId : undefined;
    let created = false;

    if (plan.contact.kind !== 'none') {
      try {
        const written = await act.writeContact.executeWithOptions(summaryNote(`${plan.contact.kind} contact`), [
          { accountId, idempotencyKey: `${input.conversationKey}:contact`, write: plan.contact },
        ]);
        contactId = written.contactId;
        created = written.created;
      } catch (err) {
        // Someone else created a contact with this email between our lookup and our create:
        // look it up again and decide again, once, under the operator's rules for existing contacts.
        if (!(
          err instanceof ActivityFailure &&
          err.cause instanceof ApplicationFailure &&
          err.cause.type === 'ContactConflict'
        ))
          throw err;
        found = await lookup();
        plan = planContactSync({ config, fields, summary, lookup: found });
        contactId = found.found ? found.contactId : undefined;
        if (plan.contact.kind !== 'none') {
          const written = await act.writeContact.executeWithOptions(
            summaryNote(`${plan.contact.kind} contact (after conflict)`),
            [{ accountId, idempotencyKey: `${input.conversationKey}:contact:retry`, write: plan.contact }],
          );
          contactId = written.contactId;
          created = written.created;
        }
      }
    }

    let noteId: string | undefined;
    if (plan.note && contactId && summary !== undefined) {
      const note = await act.upsertSummaryNote.executeWithOptions(summaryNote('upsert summary note'), [
        {
          accountId,
          idempotencyKey: `${input.conversationKey}:note`,
          conversationKey: input.conversationKey,
          contactId,
          noteId: input.noteId,
          contactCreatedByThisRun: created,
          summary,
          timestamp: input.timestamp,
        },
      ]);
      noteId = note.noteId;
    }

    return {
      ...plan.outcome,
      contactId: contactId ?? plan.outcome.contactId,
      noteId: noteId ?? plan.outcome.noteId,
    };
  } catch (err) {
    // A failed action never fails the conversation: it is recorded, visible, and can be retried.
    return { result: 'failed', propertiesWritten: [], reason: failureReason(err) };
  }
}

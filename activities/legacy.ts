// The activities of the first released workflow (workflows/legacy), under their original names and
// inputs: a conversation started before the current lifecycle still finishes its run on a new worker.
// They run on the same HubSpot adapter as the current ones and keep their guarantees.
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActionConfig } from '../src/action/config';
import { FailureType, failureTypeOf } from '../src/action/failures';
import { validateFieldMappings } from '../src/action/mapping-validation';
import { noteReference, renderSummaryNote } from '../src/action/note';
import type { ContactLookup, ContactWrite } from '../src/action/plan';
import type { HubSpotPort } from '../src/hubspot/port';
import { isOurs, ownershipProperties, withOwnershipMarker } from '../src/hubspot/ownership';
import { heartbeating } from './attempt';

export function createLegacyActivities({ hubspot }: { hubspot: HubSpotPort }) {
  return {
    async validateActionConfig(input: {
      accountId: string;
      config: ActionConfig;
    }): Promise<{ ok: true } | { ok: false; problems: string[] }> {
      return heartbeating(async (signal) => {
        const account = await hubspot.get(input.accountId);
        const problems = validateFieldMappings(input.config, await account.contactPropertySchema({ signal }));
        return problems.length ? { ok: false, problems } : { ok: true };
      });
    },

    async lookupContact(input: { accountId: string; email: string; properties: string[] }): Promise<ContactLookup> {
      return heartbeating(async (signal) => {
        const account = await hubspot.get(input.accountId);
        const contact = await account.readContactByEmail(input.email, ownershipProperties(account.connection), {
          signal,
        });
        if (!contact) return { found: false };
        // Ids and "ours" only: the mapped values never go into history.
        return {
          found: true,
          contactId: contact.id,
          ours: isOurs(account.connection, contact.properties),
          properties: {},
        };
      });
    },

    async writeContact(input: {
      accountId: string;
      idempotencyKey: string;
      write: Exclude<ContactWrite, { kind: 'none' }>;
    }): Promise<{ contactId: string; created: boolean }> {
      return heartbeating(async (signal) => {
        const account = await hubspot.get(input.accountId);
        const { write } = input;
        if (write.kind === 'update') {
          await account.updateContact(write.contactId, write.properties, { signal });
          return { contactId: write.contactId, created: false };
        }
        try {
          const created = await account.createContact(withOwnershipMarker(account.connection, write.properties), {
            signal,
          });
          return { contactId: created.id, created: true };
        } catch (err) {
          if (failureTypeOf(err) !== FailureType.HubSpotConflict) throw err;
          const existingId = (err as ApplicationFailure).details?.[0] as string | undefined;
          const existing = existingId
            ? await account.readContact(existingId, ownershipProperties(account.connection), { signal })
            : null;
          if (existing && isOurs(account.connection, existing.properties)) {
            const { email: _email, ...rest } = write.properties;
            if (Object.keys(rest).length) await account.updateContact(existing.id, rest, { signal });
            return { contactId: existing.id, created: true };
          }
          throw ApplicationFailure.create({
            message: `HubSpot account ${account.id}: a contact with this email${existingId ? ` (${existingId})` : ''} was created by someone else since the lookup`,
            type: FailureType.ContactConflict,
            nonRetryable: true,
            details: existingId ? [existingId] : [],
          });
        }
      });
    },

    async upsertSummaryNote(input: {
      accountId: string;
      idempotencyKey: string;
      conversationKey: string;
      contactId: string;
      noteId?: string;
      contactCreatedByThisRun?: boolean;
      summary: string;
      timestamp: string;
    }): Promise<{ noteId: string; created: boolean }> {
      return heartbeating(async (signal) => {
        const account = await hubspot.get(input.accountId);
        const body = renderSummaryNote(input.summary, input.conversationKey);
        const retried = Context.current().info.attempt > 1;
        if (input.noteId || retried || !input.contactCreatedByThisRun) {
          const onContact = await account.noteIdsOfContact(input.contactId, { signal });
          let reuse = input.noteId && onContact.includes(input.noteId) ? input.noteId : undefined;
          if (!reuse && onContact.length) {
            const reference = noteReference(input.conversationKey);
            const { results } = await account.readNotes(onContact.slice(-100), { signal });
            reuse = results.find((n) => n.properties.hs_note_body?.includes(reference))?.id;
          }
          if (reuse) {
            await account.updateNote(reuse, body, { signal });
            return { noteId: reuse, created: false };
          }
        }
        const created = await account.createNote(
          { body, timestamp: input.timestamp, contactId: input.contactId },
          { signal },
        );
        log.info('Summary note created', { accountId: account.id, noteId: created.id, contactId: input.contactId });
        return { noteId: created.id, created: true };
      });
    },
  };
}

export type LegacyContactSyncActivities = ReturnType<typeof createLegacyActivities>;

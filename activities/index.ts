// The HubSpot activities of the contact-sync action. They carry out what the workflow decided
// (planContactSync); each is safe to retry after a lost response, because HubSpot has no
// idempotency keys: a create that meets 409 resolves to the contact an earlier attempt created, and
// a note an earlier attempt wrote is found again by its reference and updated.
// Logs carry ids and outcomes only: never an email, a phone or a summary.
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActionConfig } from '../src/action/config';
import { validateFieldMappings } from '../src/action/mapping-validation';
import { noteReference, renderSummaryNote } from '../src/action/note';
import type { ContactLookup, ContactWrite } from '../src/action/plan';
import type { HubSpotAccount, HubSpotAccounts } from '../src/hubspot/accounts';

/** HUBSPOT_DEFINED association type: note to contact. */
export const NOTE_TO_CONTACT = 202;
/** The record-source properties HubSpot sets on objects created through the API. */
const SOURCE_PROPERTIES = ['hs_object_source', 'hs_object_source_id'];

export interface ActivityDeps {
  hubspot: HubSpotAccounts;
}

function isOurs(account: HubSpotAccount, properties: Record<string, string | null | undefined>): boolean {
  return properties.hs_object_source === 'INTEGRATION' && properties.hs_object_source_id === String(account.settings.appId);
}

const failureType = (err: unknown) => (err instanceof ApplicationFailure ? err.type : undefined);

export function createActivities({ hubspot }: ActivityDeps) {
  async function readContact(account: HubSpotAccount, idOrEmail: string, properties: string[], byEmail: boolean) {
    return account.call(byEmail ? 'contact lookup by email' : 'contact read', (c) =>
      c.crm.contacts.basicApi.getById(idOrEmail, [...new Set([...properties, ...SOURCE_PROPERTIES])], undefined, undefined, false, byEmail ? 'email' : undefined),
    );
  }

  return {
    /** Checks the action's field mappings against the account's live contact-property schema (cached). */
    async validateActionConfig(input: { accountId: string; config: ActionConfig }): Promise<{ ok: true } | { ok: false; problems: string[] }> {
      const account = hubspot.get(input.accountId);
      const problems = validateFieldMappings(input.config, await account.contactPropertySchema());
      if (problems.length) log.warn('Action field mappings do not fit the HubSpot account', { accountId: account.id, actionId: input.config.id, problems: problems.length });
      return problems.length ? { ok: false, problems } : { ok: true };
    },

    /** Finds the contact by email (primary or secondary, case-insensitive: HubSpot's own matching). */
    async lookupContact(input: { accountId: string; email: string; properties: string[] }): Promise<ContactLookup> {
      const account = hubspot.get(input.accountId);
      try {
        const contact = await readContact(account, input.email, input.properties, true);
        const ours = isOurs(account, contact.properties);
        log.info('Contact found', { accountId: account.id, contactId: contact.id, ours });
        return { found: true, contactId: contact.id, ours, properties: contact.properties };
      } catch (err) {
        if (failureType(err) === 'HubSpotNotFound') {
          log.info('No contact for this email', { accountId: account.id });
          return { found: false };
        }
        throw err;
      }
    },

    /** Creates or updates the contact as planned. */
    async writeContact(input: { accountId: string; idempotencyKey: string; write: Exclude<ContactWrite, { kind: 'none' }> }): Promise<{ contactId: string; created: boolean }> {
      const account = hubspot.get(input.accountId);
      const { write } = input;
      if (write.kind === 'update') {
        await account.call('contact update', (c) => c.crm.contacts.basicApi.update(write.contactId, { properties: write.properties }));
        log.info('Contact updated', { accountId: account.id, contactId: write.contactId, properties: Object.keys(write.properties), key: input.idempotencyKey });
        return { contactId: write.contactId, created: false };
      }
      try {
        const created = await account.call('contact create', (c) => c.crm.contacts.basicApi.create({ properties: write.properties, associations: [] }));
        log.info('Contact created', { accountId: account.id, contactId: created.id, properties: Object.keys(write.properties), key: input.idempotencyKey });
        return { contactId: created.id, created: true };
      } catch (err) {
        if (failureType(err) !== 'HubSpotConflict') throw err;
        // 409: the email exists. HubSpot names the contact ("Existing ID: <id>").
        const existingId = /Existing ID:\s*(\d+)/.exec((err as ApplicationFailure).message)?.[1] ?? (await existingIdOf(account, write.properties));
        const existing = await readContact(account, existingId, [], false);
        if (isOurs(account, existing.properties)) {
          // Our own earlier attempt created it and its response was lost: finish the job on that contact.
          const { email: _email, ...rest } = write.properties;
          if (Object.keys(rest).length) await account.call('contact update', (c) => c.crm.contacts.basicApi.update(existingId, { properties: rest }));
          log.info('Contact created by an earlier attempt; completed it', { accountId: account.id, contactId: existingId, key: input.idempotencyKey });
          return { contactId: existingId, created: true };
        }
        log.warn('A contact with this email appeared since the lookup', { accountId: account.id, contactId: existingId });
        throw ApplicationFailure.create({
          message: `HubSpot account ${account.id}: a contact with this email (${existingId}) was created by someone else since the lookup`,
          type: 'ContactConflict',
          nonRetryable: true,
          details: [existingId],
        });
      }
    },

    /** One note per (conversation, action): created once, then updated; found again after a lost response. */
    async upsertSummaryNote(input: {
      accountId: string;
      idempotencyKey: string;
      conversationKey: string;
      contactId: string;
      noteId?: string;
      /** The contact was created by this run: no note of this conversation can be on it yet. */
      contactCreatedByThisRun?: boolean;
      summary: string;
      timestamp: string;
    }): Promise<{ noteId: string; created: boolean }> {
      const account = hubspot.get(input.accountId);
      const body = renderSummaryNote(input.summary, input.conversationKey);
      const update = (noteId: string) => account.call('note update', (c) => c.crm.objects.notes.basicApi.update(noteId, { properties: { hs_note_body: body } }));

      if (input.noteId) {
        try {
          await update(input.noteId);
          log.info('Summary note updated', { accountId: account.id, noteId: input.noteId, contactId: input.contactId });
          return { noteId: input.noteId, created: false };
        } catch (err) {
          if (failureType(err) !== 'HubSpotNotFound') throw err;
          log.warn('The known summary note is gone; looking for another', { accountId: account.id, noteId: input.noteId });
        }
      }
      const reference = noteReference(input.conversationKey);
      // A first attempt on a contact this run created has nothing to find: save the search call (and
      // its tighter rate limit). A retried attempt searches, since the first may have written the note.
      const mayExist = !input.contactCreatedByThisRun || Context.current().info.attempt > 1;
      const found = !mayExist ? { results: [] as Array<{ id: string; properties: Record<string, string | null> }> } : await account.call(
        'note search',
        (c) =>
          c.crm.objects.notes.searchApi.doSearch({
            filterGroups: [
              {
                filters: [
                  { propertyName: 'associations.contact', operator: 'EQ', value: input.contactId },
                  { propertyName: 'hs_note_body', operator: 'CONTAINS_TOKEN', value: reference },
                ],
              },
            ],
            properties: ['hs_note_body'],
            sorts: ['hs_createdate'],
            limit: 10,
            after: '0',
          } as never),
        'search',
      );
      const existing = found.results.find((n) => n.properties.hs_note_body?.includes(reference));
      if (existing) {
        await update(existing.id);
        log.info('Summary note found by its reference and updated', { accountId: account.id, noteId: existing.id, contactId: input.contactId });
        return { noteId: existing.id, created: false };
      }
      const created = await account.call('note create', (c) =>
        c.crm.objects.notes.basicApi.create({
          properties: { hs_timestamp: input.timestamp, hs_note_body: body },
          associations: [{ to: { id: input.contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED' as never, associationTypeId: NOTE_TO_CONTACT }] }],
        }),
      );
      log.info('Summary note created', { accountId: account.id, noteId: created.id, contactId: input.contactId, key: input.idempotencyKey });
      return { noteId: created.id, created: true };
    },
  };
}

/** When a 409 carries no id, find the contact by the email being created. */
async function existingIdOf(account: HubSpotAccount, properties: Record<string, string>): Promise<string> {
  const email = properties.email;
  if (!email) throw ApplicationFailure.nonRetryable(`HubSpot account ${account.id}: 409 on create without an email to resolve it`, 'HubSpotConflict');
  const contact = await account.call('contact lookup by email', (c) => c.crm.contacts.basicApi.getById(email, ['email'], undefined, undefined, false, 'email'));
  return contact.id;
}

export type ContactSyncActivities = ReturnType<typeof createActivities>;

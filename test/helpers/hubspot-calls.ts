// HubSpot calls the worker never makes, which tests use to set up and inspect an account: functions
// over the adapter's one request path (HubSpotAccount.request: paced, on 2026-09, failures classified),
// so that they behave as the worker's own calls do. The activities' calls are in src/hubspot/port.ts.
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/models/AssociationSpec';
import { NOTE_TO_CONTACT, type CallOptions, type HubSpotAccount, type HubSpotObject } from '../../src/hubspot/accounts';
import { isApiException } from '../../src/hubspot/errors';
import { propertyValidationRulesSchema, type PropertyValidationRule } from '../../src/hubspot/transport';

const NOTE_PROPERTIES = ['hs_note_body', 'hs_timestamp'];

function toObject(r: { id: string; properties: Record<string, string | null> }): HubSpotObject {
  return { id: String(r.id), properties: { ...r.properties } };
}
const isStatus = (err: unknown, status: number) => isApiException(err) && err.code === status;
const notFoundIds = (r: object) =>
  ('errors' in r ? ((r as { errors?: Array<{ category: string; context?: { ids?: string[] } }> }).errors ?? []) : [])
    .filter((e) => e.category === 'OBJECT_NOT_FOUND')
    .flatMap((e) => e.context?.ids ?? []);

export interface SearchRequest {
  filterGroups: Array<{
    filters: Array<{ propertyName: string; operator: string; value?: string; values?: string[] }>;
  }>;
  properties?: string[];
  sorts?: string[];
  limit?: number;
  after?: string;
}
export interface SearchPage {
  total: number;
  results: HubSpotObject[];
  after?: string;
}
function searchBody(r: SearchRequest) {
  return {
    filterGroups: r.filterGroups,
    properties: r.properties ?? [],
    sorts: r.sorts ?? [],
    limit: r.limit ?? 10,
    after: r.after ?? '0',
  } as never;
}
function searchPage(r: {
  total: number;
  results: Array<{ id: string; properties: Record<string, string | null> }>;
  paging?: { next?: { after?: string } };
}): SearchPage {
  return { total: r.total, results: r.results.map(toObject), after: r.paging?.next?.after };
}

// ---- contacts

/** Archives (deletes) a contact; an unknown id is not an error. */
export function archiveContact(account: HubSpotAccount, id: string, o?: CallOptions): Promise<void> {
  return account.request('contact archive', 'general', (api) => api.contacts.basic.archive(id), o);
}

/** Merges objectIdToMerge into primaryId; returns the surviving contact. */
export function mergeContacts(
  account: HubSpotAccount,
  primaryId: string,
  objectIdToMerge: string,
  o?: CallOptions,
): Promise<HubSpotObject> {
  return account.request(
    'contact merge',
    'general',
    async (api) => toObject(await api.contacts.basic.merge({ primaryObjectId: primaryId, objectIdToMerge })),
    o,
  );
}

/** Up to 100 contacts by id (or by email with idProperty 'email'); ids HubSpot does not know are listed in missing. */
export function readContacts(
  account: HubSpotAccount,
  ids: string[],
  properties: string[],
  options: CallOptions & { idProperty?: string } = {},
): Promise<{ results: HubSpotObject[]; missing: string[] }> {
  return account.request(
    'contact batch read',
    'general',
    async (api) => {
      const r = await api.contacts.batch.read(
        {
          inputs: ids.map((id) => ({ id })),
          properties,
          propertiesWithHistory: [],
          ...(options.idProperty ? { idProperty: options.idProperty } : {}),
        },
        false,
      );
      return { results: r.results.map(toObject), missing: notFoundIds(r) };
    },
    options,
  );
}

export function createContacts(
  account: HubSpotAccount,
  inputs: Array<Record<string, string>>,
  o?: CallOptions,
): Promise<HubSpotObject[]> {
  return account.request(
    'contact batch create',
    'general',
    async (api) =>
      (
        await api.contacts.batch.create({ inputs: inputs.map((properties) => ({ properties, associations: [] })) })
      ).results.map(toObject),
    o,
  );
}

export function updateContacts(
  account: HubSpotAccount,
  inputs: Array<{ id: string; properties: Record<string, string> }>,
  o?: CallOptions,
): Promise<HubSpotObject[]> {
  return account.request(
    'contact batch update',
    'general',
    async (api) => (await api.contacts.batch.update({ inputs })).results.map(toObject),
    o,
  );
}

/** Creates or updates contacts by a unique property (e.g. email). */
export function upsertContacts(
  account: HubSpotAccount,
  inputs: Array<{ id: string; properties: Record<string, string> }>,
  idProperty: string,
  o?: CallOptions,
): Promise<HubSpotObject[]> {
  return account.request(
    'contact batch upsert',
    'general',
    async (api) =>
      (await api.contacts.batch.upsert({ inputs: inputs.map((i) => ({ ...i, idProperty })) })).results.map(toObject),
    o,
  );
}

/** Search (trails writes by seconds), on the account's search limit. */
export function searchContacts(account: HubSpotAccount, request: SearchRequest, o?: CallOptions): Promise<SearchPage> {
  return account.request(
    'contact search',
    'search',
    async (api) => searchPage(await api.contacts.search.doSearch(searchBody(request))),
    o,
  );
}

// ---- notes

/** A note by id, or null when it is gone or archived. */
export function readNote(account: HubSpotAccount, id: string, o?: CallOptions): Promise<HubSpotObject | null> {
  return account.request(
    'note read',
    'general',
    async (api) => {
      try {
        const r = await api.notes.basic.getById(id, NOTE_PROPERTIES, undefined, undefined, false);
        return r.archived ? null : toObject(r);
      } catch (err) {
        if (isStatus(err, 404)) return null;
        throw err;
      }
    },
    o,
  );
}

/** Notes created in one call, each associated with its contact; results in input order. */
export function createNotes(
  account: HubSpotAccount,
  inputs: Array<{ body: string; timestamp: string; contactId: string }>,
  o?: CallOptions,
): Promise<HubSpotObject[]> {
  return account.request(
    'note batch create',
    'general',
    async (api) =>
      (
        await api.notes.batch.create({
          inputs: inputs.map((n) => ({
            properties: { hs_note_body: n.body, hs_timestamp: n.timestamp },
            associations: [
              {
                to: { id: n.contactId },
                types: [
                  {
                    associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined,
                    associationTypeId: NOTE_TO_CONTACT,
                  },
                ],
              },
            ],
          })),
        })
      ).results.map(toObject),
    o,
  );
}

export function updateNotes(
  account: HubSpotAccount,
  inputs: Array<{ id: string; body: string }>,
  o?: CallOptions,
): Promise<HubSpotObject[]> {
  return account.request(
    'note batch update',
    'general',
    async (api) =>
      (
        await api.notes.batch.update({
          inputs: inputs.map((n) => ({ id: n.id, properties: { hs_note_body: n.body } })),
        })
      ).results.map(toObject),
    o,
  );
}

export function searchNotes(account: HubSpotAccount, request: SearchRequest, o?: CallOptions): Promise<SearchPage> {
  return account.request(
    'note search',
    'search',
    async (api) => searchPage(await api.notes.search.doSearch(searchBody(request))),
    o,
  );
}

// ---- properties

/** The validation rules of one contact property (format rules an operator set in the portal). */
export function contactPropertyValidationRules(
  account: HubSpotAccount,
  propertyName: string,
  o?: CallOptions,
): Promise<PropertyValidationRule[]> {
  return account.request(
    'contact property validation rules read',
    'general',
    async (api) => {
      try {
        const body = await api.json(
          'GET',
          `/crm/property-validations/2026-09/contacts/${encodeURIComponent(propertyName)}`,
        );
        return propertyValidationRulesSchema.parse(body ?? {}).results;
      } catch (err) {
        if (isStatus(err, 404)) return [];
        throw err;
      }
    },
    o,
  );
}

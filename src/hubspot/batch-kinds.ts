// The single-record calls of HubSpotAccount as batchable kinds (batcher.ts): for each, the batch
// endpoint, how its answer maps back to each input, and the single-record endpoint for a batch of one.
//
// HubSpot's batch answers do not promise input order. Creates carry an objectWriteTraceId per input
// and are matched by it when HubSpot echoes it, else by email (contacts) or note body, else by order
// when every input has a result; reads are matched by id (following merges through
// hs_merged_object_ids) or by email (primary or secondary); updates by id. An input the answer leaves
// unaccounted for is sent again alone (reads and updates are safe to repeat); an unmatched create is a
// retryable failure for its caller, whose retry resolves it (409 for a contact, the contact's note
// associations for a note).
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/models/AssociationSpec';
import { ApplicationFailure } from '@temporalio/common';
import type { PropertyVersion } from '../action/convergence';
import { FailureType } from '../action/failures';
import type { BatchKind, Outcome } from './batcher';
import { isApiException, quotedAccountId } from './errors';
import type { HubSpotApis } from './transport';

export interface HubSpotRecord {
  id: string;
  properties: Record<string, string | null>;
  /** The history of the properties a read asked it for (propertiesWithHistory), newest first. */
  history?: Record<string, PropertyVersion[]>;
}
/** A lookup by email: the properties to read, and those whose history to read too (none: no history asked). */
export interface ContactLookup {
  email: string;
  properties: string[];
  history?: string[];
}
export interface ContactRead {
  id: string;
  properties: string[];
}
export interface ContactUpdate {
  id: string;
  properties: Record<string, string>;
}
export interface NoteCreate {
  body: string;
  timestamp: string;
  contactId: string;
}
export interface NoteUpdate {
  id: string;
  body: string;
}

/** HubSpot's association type of a note to a contact. */
export const NOTE_TO_CONTACT = 202;
/** Pages of one contact's note associations read before giving up (each page up to HubSpot's page size). */
const MAX_ASSOCIATION_PAGES = 100;

/** One version as the official client gives it (ValueWithTimestamp, CRM objects 2026-09). */
export interface RawVersion {
  value: string;
  timestamp?: Date | string;
  sourceType: string;
  sourceId?: string;
  updatedByUserId?: number;
}
interface Raw {
  id: string;
  properties: Record<string, string | null>;
  propertiesWithHistory?: Record<string, RawVersion[]>;
  objectWriteTraceId?: string;
}
interface BatchError {
  category?: string;
  subCategory?: unknown;
  context?: Record<string, string[]>;
}

function toRecord(r: Raw): HubSpotRecord {
  return { id: String(r.id), properties: { ...r.properties } };
}

/**
 * The versions of each property a read returned, newest first. HubSpot lists them newest first; they are
 * sorted again by timestamp (stable: equal times keep HubSpot's order).
 */
export function historyOf(raw: Record<string, RawVersion[]> | undefined): Record<string, PropertyVersion[]> {
  const history: Record<string, PropertyVersion[]> = {};
  const at = (t: Date | string | undefined) => (t === undefined ? NaN : new Date(t).getTime());
  for (const [name, list] of Object.entries(raw ?? {})) {
    history[name] = list
      .map((v, i) => ({ v, i, t: at(v.timestamp) }))
      .sort((a, b) => (Number.isNaN(a.t) || Number.isNaN(b.t) || a.t === b.t ? a.i - b.i : b.t - a.t))
      .map(({ v }) => ({
        value: v.value,
        sourceType: v.sourceType,
        ...(v.sourceId !== undefined ? { sourceId: String(v.sourceId) } : {}),
        ...(v.updatedByUserId !== undefined ? { updatedByUserId: v.updatedByUserId } : {}),
      }));
  }
  return history;
}

/** A record with the history of the properties it was read with (an empty map when none was asked for). */
function toRecordWithHistory(r: Raw, asked: string[] | undefined): HubSpotRecord {
  return asked?.length ? { ...toRecord(r), history: historyOf(r.propertiesWithHistory) } : toRecord(r);
}
const isStatus = (err: unknown, status: number) => isApiException(err) && err.code === status;

/** One contact by id (or by email with idProperty 'email'); null when HubSpot has none, or it is archived. */
async function readContactOrNull(
  api: HubSpotApis,
  idOrEmail: string,
  properties: string[],
  idProperty?: 'email',
  history?: string[],
) {
  try {
    const r = await api.contacts.basic.getById(
      idOrEmail,
      properties,
      history?.length ? history : undefined,
      undefined,
      false,
      idProperty,
    );
    return r.archived ? null : toRecordWithHistory(r as Raw, history);
  } catch (err) {
    if (isStatus(err, 404)) return null;
    throw err;
  }
}
const errorsOf = (r: object): BatchError[] =>
  'errors' in r && Array.isArray(r.errors) ? (r.errors as BatchError[]) : [];
/** The inputs a 207 names as not found (context.ids, or fromObjectId for associations). */
function notFound(r: object, field: 'ids' | 'fromObjectId' = 'ids'): Set<string> {
  return new Set(
    errorsOf(r)
      .filter((e) => e.category === 'OBJECT_NOT_FOUND')
      .flatMap((e) => e.context?.[field] ?? []),
  );
}
const splitList = (v: string | null | undefined) =>
  (v ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
const union = (lists: string[][], extra: string[]) => [...new Set([...lists.flat(), ...extra])];

function notFoundFailure(accountId: string, operation: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `HubSpot account ${quotedAccountId(accountId)}: not found during ${operation} (404)`,
    FailureType.HubSpotNotFound,
  );
}

/**
 * The created record of each input: by the trace id HubSpot echoes, else by a property that is unique
 * within the batch, else by order when the answer has exactly one result per input.
 */
function matchCreated<I>(
  inputs: I[],
  results: Raw[],
  signature: (input: I) => string,
  signatureOf: (r: Raw) => string,
  operation: string,
): Array<Outcome<HubSpotRecord>> {
  const byTrace = new Map(
    results.filter((r) => r.objectWriteTraceId !== undefined).map((r) => [String(r.objectWriteTraceId), r]),
  );
  const bySignature = new Map(results.map((r) => [signatureOf(r), r]));
  const inOrder = results.length === inputs.length && byTrace.size === 0;
  return inputs.map((input, i) => {
    const r =
      byTrace.get(String(i)) ??
      (signature(input) ? bySignature.get(signature(input)) : undefined) ??
      (inOrder ? results[i] : undefined);
    if (r) return { value: toRecord(r) };
    return {
      error: ApplicationFailure.retryable(
        `HubSpot's answer to ${operation} did not name the record created for this input; retrying`,
        FailureType.HubSpotUnavailable,
      ),
    };
  });
}

/**
 * Lookups by email. With `history` (a keepPersonEdits rule), the read also asks HubSpot for those
 * properties' history (propertiesWithHistory); such lookups go to their own batcher, of at most 50.
 */
export function contactLookupByEmail(): BatchKind<ContactLookup, HubSpotRecord | null> {
  return {
    batchOperation: 'contact batch lookup by email',
    singleOperation: 'contact lookup by email',
    sameKey: 'share',
    key: (i) =>
      `${i.email.trim().toLowerCase()}\u0000${[...i.properties].sort().join(',')}\u0000${[...(i.history ?? [])].sort().join(',')}`,
    splits: false,
    one: (api, { email, properties, history }) => readContactOrNull(api, email, properties, 'email', history),
    async many(api, inputs) {
      const properties = union(
        inputs.map((i) => i.properties),
        ['email', 'hs_additional_emails'],
      );
      const history = union(
        inputs.map((i) => i.history ?? []),
        [],
      );
      const r = await api.contacts.batch.read(
        {
          inputs: inputs.map((i) => ({ id: i.email })),
          idProperty: 'email',
          properties,
          propertiesWithHistory: history,
        },
        false,
      );
      const byEmail = new Map<string, Raw>();
      for (const row of r.results as Raw[]) {
        for (const e of [row.properties.email, ...splitList(row.properties.hs_additional_emails)])
          if (e) byEmail.set(e.trim().toLowerCase(), row);
      }
      const missing = notFound(r);
      return inputs.map((i): Outcome<HubSpotRecord | null> => {
        const row = byEmail.get(i.email.trim().toLowerCase());
        if (row) return { value: toRecordWithHistory(row, i.history) };
        if (missing.has(i.email)) return { value: null };
        return { again: true };
      });
    },
  };
}

export function contactRead(): BatchKind<ContactRead, HubSpotRecord | null> {
  return {
    batchOperation: 'contact batch read',
    singleOperation: 'contact read',
    sameKey: 'share',
    key: (i) => `${i.id}\u0000${[...i.properties].sort().join(',')}`,
    splits: false,
    one: (api, { id, properties }) => readContactOrNull(api, id, properties),
    async many(api, inputs) {
      const properties = union(
        inputs.map((i) => i.properties),
        ['hs_merged_object_ids'],
      );
      const r = await api.contacts.batch.read(
        { inputs: inputs.map((i) => ({ id: i.id })), properties, propertiesWithHistory: [] },
        false,
      );
      const byId = new Map<string, Raw>();
      for (const row of r.results as Raw[]) {
        byId.set(String(row.id), row);
        // A merged-away id reads as the surviving record, which lists it.
        for (const old of splitList(row.properties.hs_merged_object_ids)) if (!byId.has(old)) byId.set(old, row);
      }
      const missing = notFound(r);
      return inputs.map((i): Outcome<HubSpotRecord | null> => {
        const row = byId.get(i.id);
        if (row) return { value: toRecord(row) };
        if (missing.has(i.id)) return { value: null };
        return { again: true };
      });
    },
  };
}

export function contactCreate(accountId: string): BatchKind<Record<string, string>, HubSpotRecord> {
  const email = (p: Record<string, string | null | undefined>) => (p.email ?? '').trim().toLowerCase();
  let unique = 0;
  return {
    batchOperation: 'contact batch create',
    singleOperation: 'contact create',
    sameKey: 'separate',
    // HubSpot refuses a batch with the same email twice: a second create of one email waits for the next batch.
    key: (p) => email(p) || `\u0000${++unique}`,
    splits: true,
    async one(api, properties) {
      return toRecord(await api.contacts.basic.create({ properties, associations: [] }));
    },
    async many(api, inputs) {
      const r = await api.contacts.batch.create({
        inputs: inputs.map((properties, i) => ({ properties, associations: [], objectWriteTraceId: String(i) })),
      });
      return matchCreated(inputs, r.results as Raw[], email, (row) => email(row.properties), 'contact batch create');
    },
    // A 409 names one existing contact: one lookup by email tells every input whose email exists (primary
    // or secondary), which gets HubSpot's own answer for it, a conflict naming that contact.
    async explainConflict(api, inputs) {
      const emails = inputs.map((p) => p.email ?? '').filter(Boolean);
      if (!emails.length) return inputs.map(() => undefined);
      const r = await api.contacts.batch.read(
        {
          inputs: emails.map((id) => ({ id })),
          idProperty: 'email',
          properties: ['email', 'hs_additional_emails'],
          propertiesWithHistory: [],
        },
        false,
      );
      const byEmail = new Map<string, string>();
      for (const row of r.results as Raw[]) {
        for (const e of [row.properties.email, ...splitList(row.properties.hs_additional_emails)])
          if (e) byEmail.set(e.trim().toLowerCase(), String(row.id));
      }
      return inputs.map((p) => {
        const existingId = byEmail.get(email(p));
        if (!existingId) return undefined;
        return {
          error: ApplicationFailure.create({
            message: `HubSpot account ${quotedAccountId(accountId)}: conflict during contact create (409, existing id ${existingId})`,
            type: FailureType.HubSpotConflict,
            nonRetryable: true,
            details: [existingId],
          }),
        };
      });
    },
  };
}

export function contactUpdate(accountId: string): BatchKind<ContactUpdate, HubSpotRecord> {
  return {
    batchOperation: 'contact batch update',
    singleOperation: 'contact update',
    sameKey: 'separate',
    key: (i) => i.id,
    splits: true,
    async one(api, { id, properties }) {
      return toRecord(await api.contacts.basic.update(id, { properties }));
    },
    async many(api, inputs) {
      const r = await api.contacts.batch.update({
        inputs: inputs.map((i, n) => ({ id: i.id, properties: i.properties, objectWriteTraceId: String(n) })),
      });
      return updated(accountId, 'contact update', inputs, r.results as Raw[], notFound(r));
    },
  };
}

/** Each update's record by id (or trace id); unknown ids: HubSpotNotFound; anything else is sent again alone. */
function updated<I extends { id: string }>(
  accountId: string,
  operation: string,
  inputs: I[],
  results: Raw[],
  missing: Set<string>,
): Array<Outcome<HubSpotRecord>> {
  const byId = new Map(results.map((r) => [String(r.id), r]));
  const byTrace = new Map(
    results.filter((r) => r.objectWriteTraceId !== undefined).map((r) => [String(r.objectWriteTraceId), r]),
  );
  return inputs.map((input, n) => {
    const row = byTrace.get(String(n)) ?? byId.get(input.id);
    if (row) return { value: toRecord(row) };
    if (missing.has(input.id)) return { error: notFoundFailure(accountId, operation) };
    return { again: true };
  });
}

const noteAssociation = (contactId: string) => [
  {
    to: { id: contactId },
    types: [
      {
        associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined,
        associationTypeId: NOTE_TO_CONTACT,
      },
    ],
  },
];

export function noteCreate(): BatchKind<NoteCreate, HubSpotRecord> {
  return {
    batchOperation: 'note batch create',
    singleOperation: 'note create',
    sameKey: 'separate',
    // Matched back by body when HubSpot does not echo the trace id: two equal bodies never share a batch.
    key: (n) => n.body,
    splits: true,
    async one(api, n) {
      return toRecord(
        await api.notes.basic.create({
          properties: { hs_note_body: n.body, hs_timestamp: n.timestamp },
          associations: noteAssociation(n.contactId),
        }),
      );
    },
    async many(api, inputs) {
      const r = await api.notes.batch.create({
        inputs: inputs.map((n, i) => ({
          properties: { hs_note_body: n.body, hs_timestamp: n.timestamp },
          associations: noteAssociation(n.contactId),
          objectWriteTraceId: String(i),
        })),
      });
      return matchCreated(
        inputs,
        r.results as Raw[],
        (n) => n.body,
        (row) => row.properties.hs_note_body ?? '',
        'note batch create',
      );
    },
  };
}

export function noteUpdate(accountId: string): BatchKind<NoteUpdate, HubSpotRecord> {
  return {
    batchOperation: 'note batch update',
    singleOperation: 'note update',
    sameKey: 'separate',
    key: (n) => n.id,
    splits: true,
    async one(api, n) {
      return toRecord(await api.notes.basic.update(n.id, { properties: { hs_note_body: n.body } }));
    },
    async many(api, inputs) {
      const r = await api.notes.batch.update({
        inputs: inputs.map((n, i) => ({
          id: n.id,
          properties: { hs_note_body: n.body },
          objectWriteTraceId: String(i),
        })),
      });
      return updated(accountId, 'note update', inputs, r.results as Raw[], notFound(r));
    },
  };
}

export function noteIdsOfContact(): BatchKind<string, string[]> {
  return {
    batchOperation: 'contact notes batch read',
    singleOperation: 'contact notes read',
    sameKey: 'share',
    key: (id) => id,
    splits: false,
    // One contact's notes: the 2026-09 batch association read with one input, page after page (its
    // `after` sent back with the id). HubSpot's 2026-09 Associations spec declares no per-record read
    // (GET …/contacts/{id}/associations/notes exists in 2026-03 and v4 only).
    async one(api, contactId) {
      const ids: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < MAX_ASSOCIATION_PAGES; page++) {
        const r = await api.associations.batch.getPage('contacts', 'notes', {
          inputs: [{ id: contactId, ...(after ? { after } : {}) }],
        });
        const row = r.results.find((x) => String(x._from.id) === contactId) ?? r.results[0];
        // A contact without notes, or one HubSpot does not know, is an error of the batch: it has none (more).
        if (!row) {
          if (notFound(r, 'fromObjectId').has(contactId) || !errorsOf(r).length) return ids;
          throw new Error(`HubSpot's association read named neither contact ${contactId} nor an error about it`);
        }
        for (const t of row.to) ids.push(String(t.toObjectId));
        after = row.paging?.next?.after;
        if (!after) return ids;
      }
      return ids;
    },
    async many(api, contactIds) {
      const r = await api.associations.batch.getPage('contacts', 'notes', { inputs: contactIds.map((id) => ({ id })) });
      const rows = new Map(r.results.map((row) => [String(row._from.id), row]));
      // A contact without notes, or one HubSpot does not know, is an error of the batch: it has none.
      const none = notFound(r, 'fromObjectId');
      return contactIds.map((id): Outcome<string[]> => {
        const row = rows.get(id);
        if (row && !row.paging?.next?.after) return { value: row.to.map((t) => String(t.toObjectId)) };
        if (!row && none.has(id)) return { value: [] };
        return { again: true }; // more than one page, or not in the answer: read alone, every page
      });
    },
  };
}

/** For the kinds' callers: the API type they are called with. */
export type { HubSpotApis };

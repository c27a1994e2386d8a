// HubSpot's Calls and Communications (engagement objects) and their associations with contacts, on the
// 2026-09 paths and the legacy v3/v4 ones: create (with associations), read, update, archive, batch read,
// and the contacts-to-engagements association batch read; the other operations the specs declare answer
// the emulator's own 501 (crm.ts, unservedObjectRoute). Shapes follow HubSpot's published specs
// Calls 2026-09 and Communications 2026-09 (CRM objects: SimplePublicObject, BatchResponseSimplePublicObject)
// and Associations 2026-09; the properties each accepts and their values follow HubSpot's Calls and
// Communications guides (docs/HUBSPOT_EMULATOR.md, "Calls and Communications").
import { DEFAULT_NOTE_PROPERTIES } from './properties';
import {
  appOf,
  batchInputs,
  batchReadInputs,
  batchReply,
  historyNames,
  HttpError,
  notFound,
  READ,
  refuse,
  requestedProperties,
  route,
  standardError,
  tooLong,
  viewWithHistory,
  WRITE,
  writtenView,
  type Ctx,
  type Json,
  type Problem,
  type Reply,
  type Route,
} from './crm';
import type { AccountState, StoredNote, WriteSource } from './store';

export type EngagementObject = 'calls' | 'communications';

/** The object type ids HubSpot also accepts in paths (0-48 calls, 0-18 communications). */
const TYPE_IDS: Record<string, EngagementObject> = {
  calls: 'calls',
  '0-48': 'calls',
  communications: 'communications',
  '0-18': 'communications',
};

/** The engagement object a path's `{objectType}` names, by name or by type id (Calls, Communications 2026-09 take either). */
export const engagementObjectOf = (type: string | undefined): EngagementObject | undefined =>
  type && Object.hasOwn(TYPE_IDS, type) ? TYPE_IDS[type] : undefined;

/** HUBSPOT_DEFINED association type ids: record to contact, and contact to record. */
const TO_CONTACT: Record<EngagementObject, number> = { calls: 194, communications: 81 };
const FROM_CONTACT: Record<EngagementObject, number> = { calls: 193, communications: 82 };

/** The properties each object accepts, and the values of its enumerations (HubSpot's Calls and Communications guides). */
const ENUMS: Record<EngagementObject, Record<string, string[]>> = {
  calls: {
    hs_call_direction: ['INBOUND', 'OUTBOUND'],
    hs_call_status: [
      'BUSY',
      'CALLING_CRM_USER',
      'CANCELED',
      'COMPLETED',
      'CONNECTING',
      'FAILED',
      'IN_PROGRESS',
      'MISSED',
      'NO_ANSWER',
      'QUEUED',
      'RINGING',
    ],
  },
  communications: {
    hs_communication_channel_type: ['SMS', 'WHATS_APP', 'LINKEDIN_MESSAGE'],
    hs_communication_logged_from: ['CRM'],
  },
};
const TEXT: Record<EngagementObject, string[]> = {
  calls: [
    'hs_timestamp',
    'hs_call_title',
    'hs_call_body',
    'hs_call_duration',
    'hs_call_recording_url',
    'hs_call_from_number',
    'hs_call_to_number',
    'hs_call_disposition',
    'hubspot_owner_id',
  ],
  communications: ['hs_timestamp', 'hs_communication_body', 'hubspot_owner_id'],
};
/**
 * The properties every read returns besides those asked for: the system ones, as for notes. Calls and
 * Communications 2026-09 say `properties` (the read's parameter, BatchReadInputSimplePublicObjectId's
 * field) names the properties to return; nothing there adds a body, a title, a channel or a timestamp.
 */
const DEFAULTS = DEFAULT_NOTE_PROPERTIES;
const singular = (o: EngagementObject) => (o === 'calls' ? 'call' : 'communication');

function checkedProperties(object: EngagementObject, props: unknown): Record<string, string> {
  if (typeof props !== 'object' || props === null)
    throw new HttpError(400, 'VALIDATION_ERROR', 'properties must be an object');
  const problems: Problem[] = [];
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(props as Json)) {
    const options = ENUMS[object][name];
    if (!options && !TEXT[object].includes(name)) {
      problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
      continue;
    }
    const value = raw === null || raw === undefined ? '' : String(raw);
    if (options && value !== '' && !options.includes(value)) {
      problems.push({
        name,
        error: 'INVALID_OPTION',
        message: `${value} was not one of the allowed options: [${options.join(', ')}]`,
      });
      continue;
    }
    const long = tooLong(name, value);
    if (long) problems.push(long);
    else out[name] = value;
  }
  if (out.hs_timestamp !== undefined && Number.isNaN(Date.parse(out.hs_timestamp)) && !/^\d+$/.test(out.hs_timestamp)) {
    problems.push({
      name: 'hs_timestamp',
      error: 'INVALID_DATE',
      message: out.hs_timestamp === '' ? 'hs_timestamp cannot be empty' : `${out.hs_timestamp} is not a valid datetime`,
    });
  }
  if (out.hs_call_duration !== undefined && out.hs_call_duration !== '' && !/^\d+$/.test(out.hs_call_duration)) {
    problems.push({
      name: 'hs_call_duration',
      error: 'INVALID_INTEGER',
      message: `${out.hs_call_duration} is not a valid number of milliseconds`,
    });
  }
  if (problems.length) throw refuse(problems);
  return out;
}

/** A create's properties and contacts, checked; nothing is written. */
function prepare(
  a: AccountState,
  object: EngagementObject,
  body: Json,
): { props: Record<string, string>; contacts: string[] } {
  const props = checkedProperties(object, body.properties);
  if (!props.hs_timestamp)
    throw refuse([{ name: 'hs_timestamp', error: 'REQUIRED_PROPERTY', message: 'hs_timestamp is required' }]);
  const contacts: string[] = [];
  const associations = Array.isArray(body.associations) ? (body.associations as Json[]) : [];
  for (const [i, assoc] of associations.entries()) {
    const to = String((assoc.to as Json | undefined)?.id ?? '');
    const types = Array.isArray(assoc.types) ? (assoc.types as Json[]) : [];
    const ok = types.some(
      (t) => t.associationCategory === 'HUBSPOT_DEFINED' && Number(t.associationTypeId) === TO_CONTACT[object],
    );
    if (!ok)
      throw new HttpError(
        400,
        'VALIDATION_ERROR',
        `associations[${i}]: unsupported association type: only HUBSPOT_DEFINED ${TO_CONTACT[object]} (${singular(object)} to contact) is emulated`,
      );
    const rid = a.resolveContactId(to);
    if (!a.contacts.has(rid))
      throw new HttpError(
        400,
        'VALIDATION_ERROR',
        `associations[${i}]: one or more association targets could not be found: CONTACT ${to}`,
      );
    if (!contacts.includes(rid)) contacts.push(rid);
  }
  return { props, contacts };
}

function insert(
  a: AccountState,
  object: EngagementObject,
  prepared: { props: Record<string, string>; contacts: string[] },
  source: WriteSource,
): StoredNote {
  const id = a.newId();
  const now = new Date().toISOString();
  a.recordVersions(id, prepared.props, source, now);
  const record: StoredNote = {
    id,
    properties: { ...prepared.props, hs_object_id: id, hs_createdate: now, hs_lastmodifieddate: now },
    createdAt: now,
    updatedAt: now,
    archived: false,
    associations: { contacts: prepared.contacts },
  };
  a.engagements[object].set(id, record);
  return record;
}

/** Applies a write; its values join the property history with the writer as their source. */
export function patchEngagement(
  a: AccountState,
  record: StoredNote,
  props: Record<string, string>,
  source: WriteSource,
): void {
  Object.assign(record.properties, props);
  const now = new Date().toISOString();
  a.recordVersions(record.id, props, source, now);
  record.properties.hs_lastmodifieddate = now;
  record.updatedAt = now;
}

/** Archives a Call or Communication: reads by id answer 404, and it leaves its contacts' associations. */
export function archiveEngagement(a: AccountState, object: EngagementObject, id: string): boolean {
  const record = a.engagements[object].get(id);
  if (!record) return false;
  a.engagements[object].delete(id);
  const now = new Date().toISOString();
  Object.assign(record, { archived: true, archivedAt: now, updatedAt: now, associations: { contacts: [] } });
  a.archivedEngagements[object].set(id, record);
  return true;
}

/** A contact archived (merged: `into` is the record it lives on as): its engagements follow, or lose the association. */
export function engagementsFollowContact(a: AccountState, contactId: string, into?: string): void {
  for (const object of ['calls', 'communications'] as const) {
    for (const record of a.engagements[object].values()) {
      if (!record.associations.contacts.includes(contactId)) continue;
      const moved = record.associations.contacts
        .map((cid) => (cid === contactId ? into : cid))
        .filter((cid): cid is string => cid !== undefined);
      record.associations.contacts = [...new Set(moved)];
    }
  }
}

/** Ids of the Calls or Communications associated with a contact (following merges), in id order. */
export function engagementIdsOf(a: AccountState, object: EngagementObject, contactId: string): string[] {
  const rid = a.resolveContactId(contactId);
  return [...a.engagements[object].values()]
    .filter((r) => r.associations.contacts.includes(rid))
    .map((r) => r.id)
    .sort((x, y) => Number(x) - Number(y));
}

export function engagementRoute(
  method: string,
  type: string | undefined,
  rest: string[],
  v: string,
): Route | undefined {
  const object = engagementObjectOf(type);
  if (!object) return undefined;
  const op = (name: string) => `${object}.${name}`;
  const defaults = DEFAULTS;
  if (rest.length === 0 && method === 'POST') {
    return route(op('create'), WRITE, v, (a, c) => {
      const prepared = prepare(a, object, c.body);
      return { status: 201, body: writtenView(insert(a, object, prepared, appOf(c)), prepared.props, defaults) };
    });
  }
  if (rest.length === 2 && rest[0] === 'batch' && rest[1] === 'read' && method === 'POST') {
    return route(op('batchRead'), READ, v, (a, c) => {
      const props = requestedProperties(
        Array.isArray(c.body.properties) ? (c.body.properties as string[]) : [],
        defaults,
      );
      const names = historyNames(c.body.propertiesWithHistory);
      const results: Json[] = [];
      const missing: string[] = [];
      const seen = new Set<string>();
      for (const input of batchReadInputs(c, names)) {
        const id = String(input.id ?? '');
        const record = a.engagements[object].get(id);
        if (!record) missing.push(id);
        else if (!seen.has(id)) {
          seen.add(id);
          results.push(viewWithHistory(a, record, props, names));
        }
      }
      return batchReply(results, missing, 200, singular(object).toUpperCase());
    });
  }
  if (rest.length === 1) {
    const id = decodeURIComponent(rest[0]!);
    if (method === 'GET') {
      return route(op('get'), READ, v, (a, c) => {
        const record =
          a.engagements[object].get(id) ??
          (c.query.get('archived') === 'true' ? a.archivedEngagements[object].get(id) : undefined);
        if (!record) throw notFound();
        return {
          status: 200,
          body: viewWithHistory(a, record, requestedProperties(c.query, defaults), historyNames(c.query)),
        };
      });
    }
    if (method === 'PATCH') {
      return route(op('update'), WRITE, v, (a, c) => {
        const record = a.engagements[object].get(id);
        if (!record) throw notFound();
        const props = checkedProperties(object, c.body.properties);
        patchEngagement(a, record, props, appOf(c));
        return { status: 200, body: writtenView(record, props, defaults) };
      });
    }
    if (method === 'DELETE') {
      return route(op('delete'), WRITE, v, (a) => {
        archiveEngagement(a, object, id);
        return { status: 204 };
      });
    }
  }
  return undefined;
}

/** POST …/associations/{2026-09,v4}/contacts/{calls,communications}/batch/read: as the notes' one (500 a page, no associations is an error of the batch). */
export function engagementAssociationRoute(object: EngagementObject, v: string): Route {
  const page = 500;
  return route(`associations.${object}.batchRead`, READ, v, (a: AccountState, c: Ctx): Reply => {
    const startedAt = new Date().toISOString();
    const results: Json[] = [];
    const errors: Json[] = [];
    for (const input of batchInputs(c, 1_000)) {
      const id = String(input.id ?? '');
      const after = Number(input.after ?? 0);
      if (!Number.isInteger(after) || after < 0)
        throw new HttpError(400, 'VALIDATION_ERROR', 'inputs: after must be a paging token this API gave');
      const rid = a.resolveContactId(id);
      if (!a.contacts.has(rid)) {
        errors.push(standardError('OBJECT_NOT_FOUND', `No contact with id ${id} exists.`, { fromObjectId: [id] }));
        continue;
      }
      const ids = engagementIdsOf(a, object, rid);
      if (!ids.length) {
        errors.push(
          standardError(
            'OBJECT_NOT_FOUND',
            `No ${singular(object)} is associated with contact ${id}.`,
            { fromObjectId: [id] },
            'crm.associations.NO_ASSOCIATIONS_FOUND',
          ),
        );
        continue;
      }
      const row: Json = {
        from: { id },
        to: ids.slice(after, after + page).map((toObjectId) => ({
          toObjectId,
          associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: FROM_CONTACT[object] }],
        })),
      };
      if (after + page < ids.length) row.paging = { next: { after: String(after + page) } };
      results.push(row);
    }
    const body: Json = { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() };
    if (errors.length) Object.assign(body, { numErrors: errors.length, errors });
    return { status: errors.length ? 207 : 200, body };
  });
}

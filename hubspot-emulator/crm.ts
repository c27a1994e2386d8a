// HubSpot's CRM routes for contacts, notes, their associations, contact properties and property
// validation rules, on the date-versioned paths (API version 2026-09) and the legacy numeric ones
// (/crm/v3, /crm/v4), with HubSpot's validation, conflict, archive, merge and error shapes. The
// answers follow the shapes of HubSpot's published 2026-09 specs (Contacts, Notes, Associations,
// Properties, Property Validations); src/hubspot/spec-shapes.ts states them and
// test/hubspot-conformance.test.ts holds these answers to them.
import { DEFAULT_CONTACT_PROPERTIES, DEFAULT_NOTE_PROPERTIES, MAX_VALUE_LENGTH, NOTE_PROPERTIES } from './properties';
import {
  engagementAssociationRoute,
  engagementRoute,
  engagementObjectOf,
  engagementsFollowContact,
} from './engagements';
import type { AccountState, PropertyValidationRule, StoredNote, StoredObject, WriteSource } from './store';

/** The date version of HubSpot's APIs the emulator serves beside the legacy v3/v4 paths. */
export const API_VERSION = '2026-09';

const MAX_BATCH = 100;
/**
 * A batch read that asks for property history reads at most this many records: the emulator's bound.
 * The 2026-09 specs (Contacts, Notes, Calls, Communications) say, on the list read's
 * `propertiesWithHistory` parameter, that asking for history lowers the most records one request reads,
 * without naming the number; the product reads 50 at a time with history (src/hubspot/accounts.ts).
 */
const MAX_HISTORY_BATCH = 50;
const MAX_ASSOCIATION_BATCH = 1_000;
const MAX_SEARCH_LIMIT = 200;
const MAX_ASSOCIATION_PAGE = 500;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;
/** Association type ids (HUBSPOT_DEFINED): note to contact, and contact to note. */
const NOTE_TO_CONTACT = 202;
const CONTACT_TO_NOTE = 201;

export type Json = Record<string, unknown>;
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: Json = {},
  ) {
    super(message);
  }
}

const iso = () => new Date().toISOString();

// ---- request routing ------------------------------------------------------------------------------

export interface Route {
  operation: string;
  scope: string;
  search?: boolean;
  /** A call that changes data. */
  write?: boolean;
  /** 'v3', 'v4' or '2026-09' */
  apiVersion: string;
  /** An operation HubSpot's specs declare that the emulator does not serve: it answers the emulator's 501. */
  unserved?: boolean;
  handle(account: AccountState, ctx: Ctx): Reply;
}
export interface Ctx {
  params: string[];
  query: URLSearchParams;
  body: Json;
  appId: number;
  /** Set by the route: write-validation rules apply from API version 2026-09 on. */
  apiVersion?: string;
}

export const READ = 'crm.objects.contacts.read';
export const WRITE = 'crm.objects.contacts.write';
const SCHEMA = 'crm.schemas.contacts.read';

export type Handler = (a: AccountState, c: Ctx) => Reply;
export function route(
  operation: string,
  scope: string,
  apiVersion: string,
  handle: Handler,
  extra: { search?: boolean; unserved?: boolean } = {},
): Route {
  return {
    operation,
    scope,
    apiVersion,
    write: scope === WRITE,
    ...extra,
    handle: (a, c) => handle(a, { ...c, apiVersion }),
  };
}

export function match(method: string, path: string): Route | undefined {
  const seg = path.replace(/\/+$/, '').split('/').slice(1);
  if (seg[0] !== 'crm') return undefined;
  const [, a, b] = seg;
  if (a === 'v3' && b === 'objects') return objectRoute(method, seg[3], seg.slice(4), 'v3');
  if (a === 'objects' && b === API_VERSION) return objectRoute(method, seg[3], seg.slice(4), API_VERSION);
  if (a === 'v3' && b === 'properties') return propertyRoute(method, seg[3], seg.slice(4), 'v3');
  if (a === 'properties' && b === API_VERSION) return propertyRoute(method, seg[3], seg.slice(4), API_VERSION);
  if (a === 'v4' && b === 'objects') {
    // GET /crm/v4/objects/contacts/{id}/associations/notes
    const rest = seg.slice(4);
    if (
      seg[3] === 'contacts' &&
      rest.length === 3 &&
      rest[1] === 'associations' &&
      rest[2] === 'notes' &&
      method === 'GET'
    ) {
      const id = decodeURIComponent(rest[0]!);
      return route('associations.list', READ, 'v4', (acc, c) => listNoteAssociations(acc, c, id));
    }
    return undefined;
  }
  if (a === 'v4' && b === 'associations') return associationRoute(method, seg.slice(3), 'v4');
  if (a === 'associations' && b === API_VERSION) return associationRoute(method, seg.slice(3), API_VERSION);
  if (a === 'property-validations' && b === API_VERSION) return validationRoute(method, seg[3], seg.slice(4));
  return undefined;
}

const isContacts = (type: string | undefined) => type === 'contacts' || type === '0-1';

/** The object a path's `{objectType}` names (by name or type id), among those the emulator knows. */
type KnownObject = 'contacts' | 'notes' | 'calls' | 'communications';
function knownObjectOf(type: string | undefined): KnownObject | undefined {
  if (isContacts(type)) return 'contacts';
  if (type === 'notes' || type === '0-46') return 'notes';
  return engagementObjectOf(type);
}
/** The spec file (docs/HUBSPOT_EMULATOR.md's short name) that declares each object's operations. */
const SPEC_OF: Record<KnownObject, string> = {
  contacts: 'Contacts 2026-09',
  notes: 'Notes 2026-09',
  calls: 'Calls 2026-09',
  communications: 'Communications 2026-09',
};
const BATCH_OPERATIONS: Record<string, string> = {
  archive: 'batchArchive',
  create: 'batchCreate',
  read: 'batchRead',
  update: 'batchUpdate',
  upsert: 'batchUpsert',
};

/**
 * An operation HubSpot's spec declares that the emulator does not serve: `501` with the emulator's own
 * category `EMULATOR_NOT_IMPLEMENTED`, never a `404 OBJECT_NOT_FOUND` that a caller would read as HubSpot
 * saying the record is gone. Not HubSpot's answer: a test that reaches it has found a gap in the emulator.
 */
function notImplemented(operation: string, scope: string, v: string, spec: string): Route {
  return route(
    operation,
    scope,
    v,
    () => {
      throw new HttpError(
        501,
        'EMULATOR_NOT_IMPLEMENTED',
        `${operation} is declared by HubSpot's ${spec} spec but not implemented in the emulator (this answer is the emulator's, not HubSpot's)`,
      );
    },
    { unserved: true },
  );
}

/**
 * The object-path operations the 2026-09 specs declare (the object's own file, and Associations 2026-09
 * for the association writes on object paths) that `objectRoute` does not serve.
 */
function unservedObjectRoute(object: KnownObject, method: string, rest: string[], v: string): Route | undefined {
  const spec = SPEC_OF[object];
  const op = (name: string, scope: string) => notImplemented(`${object}.${name}`, scope, v, spec);
  if (rest.length === 0 && method === 'GET') return op('list', READ);
  if (rest.length === 1 && method === 'POST') {
    if (rest[0] === 'search') return op('search', READ);
    if (rest[0] === 'gdpr-delete' && object === 'contacts') return op('gdprDelete', WRITE);
  }
  if (rest.length === 2 && rest[0] === 'batch' && method === 'POST') {
    const name = BATCH_OPERATIONS[rest[1]!];
    if (name) return op(name, rest[1] === 'read' ? READ : WRITE);
  }
  // Associations 2026-09: PUT/DELETE …/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId},
  // PUT …/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}.
  if (rest[1] === 'associations' && knownObjectOf(rest.at(-2))) {
    const spec = 'Associations 2026-09';
    if (rest.length === 4 && (method === 'PUT' || method === 'DELETE'))
      return notImplemented(`${object}.associations.${method === 'PUT' ? 'create' : 'archive'}`, WRITE, v, spec);
    if (rest.length === 5 && rest[2] === 'default' && method === 'PUT')
      return notImplemented(`${object}.associations.createDefault`, WRITE, v, spec);
  }
  return undefined;
}

function objectRoute(method: string, type: string | undefined, rest: string[], v: string): Route | undefined {
  const object = knownObjectOf(type);
  if (!object) return undefined;
  return servedObjectRoute(method, type, rest, v) ?? unservedObjectRoute(object, method, rest, v);
}

function servedObjectRoute(method: string, type: string | undefined, rest: string[], v: string): Route | undefined {
  if (isContacts(type)) {
    if (rest.length === 0 && method === 'POST') return route('contacts.create', WRITE, v, createContact);
    if (rest.length === 1 && rest[0] === 'search' && method === 'POST')
      return route('contacts.search', READ, v, (a, c) => search(a, c, 'contacts'), { search: true });
    if (rest.length === 1 && rest[0] === 'merge' && method === 'POST')
      return route('contacts.merge', WRITE, v, mergeContactsRoute);
    if (rest.length === 2 && rest[0] === 'batch' && method === 'POST') {
      const kind = rest[1];
      if (kind === 'read') return route('contacts.batchRead', READ, v, batchRead);
      if (kind === 'create') return route('contacts.batchCreate', WRITE, v, batchCreate);
      if (kind === 'update') return route('contacts.batchUpdate', WRITE, v, batchUpdate);
      if (kind === 'upsert') return route('contacts.batchUpsert', WRITE, v, batchUpsert);
      return undefined;
    }
    if (rest.length === 1) {
      const id = decodeURIComponent(rest[0]!);
      if (method === 'GET') return route('contacts.get', READ, v, (a, c) => getContact(a, c, id));
      if (method === 'PATCH') return route('contacts.update', WRITE, v, (a, c) => updateContact(a, c, id));
      if (method === 'DELETE') return route('contacts.delete', WRITE, v, (a) => deleteContactRoute(a, id));
    }
    // No GET …/contacts/{id}/associations/notes on 2026-09: HubSpot's 2026-09 Associations spec does not
    // declare it (2026-03 and v4 do); its batch read (…/associations/2026-09/contacts/notes/batch/read) is the way.
    return undefined;
  }
  if (engagementObjectOf(type)) return engagementRoute(method, type, rest, v);
  if (type === 'notes' || type === '0-46') {
    if (rest.length === 0 && method === 'POST') return route('notes.create', WRITE, v, createNote);
    if (rest.length === 1 && rest[0] === 'search' && method === 'POST')
      return route('notes.search', READ, v, (a, c) => search(a, c, 'notes'), { search: true });
    if (rest.length === 2 && rest[0] === 'batch' && method === 'POST') {
      const kind = rest[1];
      if (kind === 'read') return route('notes.batchRead', READ, v, batchReadNotes);
      if (kind === 'create') return route('notes.batchCreate', WRITE, v, batchCreateNotes);
      if (kind === 'update') return route('notes.batchUpdate', WRITE, v, batchUpdateNotes);
      return undefined;
    }
    if (rest.length === 1) {
      const id = decodeURIComponent(rest[0]!);
      if (method === 'GET') return route('notes.get', READ, v, (a, c) => getNote(a, c, id));
      if (method === 'PATCH') return route('notes.update', WRITE, v, (a, c) => updateNote(a, c, id));
      if (method === 'DELETE') return route('notes.delete', WRITE, v, (a) => deleteNoteRoute(a, id));
    }
  }
  return undefined;
}

function propertyRoute(method: string, type: string | undefined, rest: string[], v: string): Route | undefined {
  if (!isContacts(type) || method !== 'GET') return undefined;
  if (rest.length === 0) return route('properties.list', SCHEMA, v, listProperties);
  if (rest.length === 1) {
    const name = decodeURIComponent(rest[0]!);
    return route('properties.get', SCHEMA, v, (a) => getProperty(a, name));
  }
  return undefined;
}

/** Association batch operations Associations 2026-09 declares on `…/{fromObjectType}/{toObjectType}/batch/…`. */
const ASSOCIATION_BATCH_OPERATIONS: Record<string, string> = {
  archive: 'batchArchive',
  'associate/default': 'batchAssociateDefault',
  create: 'batchCreate',
  'labels/archive': 'batchArchiveLabels',
  read: 'batchRead',
};

function associationRoute(method: string, rest: string[], v: string): Route | undefined {
  const batchRead = method === 'POST' && rest[2] === 'batch' && rest[3] === 'read' && rest.length === 4;
  // POST …/associations/contacts/notes/batch/read
  if (batchRead && isContacts(rest[0]) && (rest[1] === 'notes' || rest[1] === '0-46'))
    return route('associations.batchRead', READ, v, batchReadNoteAssociations);
  // POST …/associations/contacts/{calls,communications}/batch/read (or their type ids)
  const engagement = engagementObjectOf(rest[1]);
  if (batchRead && isContacts(rest[0]) && engagement) return engagementAssociationRoute(engagement, v);
  // Another batch operation, or another pair of objects the emulator knows: declared, not served.
  const [from, to] = [knownObjectOf(rest[0]), knownObjectOf(rest[1])];
  const name = ASSOCIATION_BATCH_OPERATIONS[rest.slice(3).join('/')];
  if (method === 'POST' && from && to && rest[2] === 'batch' && name)
    return notImplemented(
      `associations.${from}.${to}.${name}`,
      name === 'batchRead' ? READ : WRITE,
      v,
      'Associations 2026-09',
    );
  return undefined;
}

function validationRoute(method: string, type: string | undefined, rest: string[]): Route | undefined {
  if (!isContacts(type) || method !== 'GET') return undefined;
  if (rest.length === 0) return route('propertyValidations.list', SCHEMA, API_VERSION, listPropertyValidations);
  if (rest.length === 1) {
    const name = decodeURIComponent(rest[0]!);
    return route('propertyValidations.get', SCHEMA, API_VERSION, (a) => getPropertyValidations(a, name));
  }
  return undefined;
}

// ---- validation ---------------------------------------------------------------------------------

export interface Problem {
  name: string;
  error: string;
  message: string;
  context?: Record<string, string[]>;
}

/**
 * HubSpot's 400 for property problems: every problem in the message ("Property values were not
 * valid: [...]") and in `errors[]` with its code and the property it concerns.
 */
export function refuse(problems: Problem[]): HttpError {
  const list = problems.map((p) => ({ isValid: false, message: p.message, error: p.error, name: p.name }));
  return new HttpError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(list)}`, {
    errors: problems.map((p) => ({
      message: p.message,
      code: p.error,
      context: { propertyName: [p.name], ...p.context },
    })),
  });
}

export function tooLong(name: string, value: string): Problem | undefined {
  if (value.length <= MAX_VALUE_LENGTH) return undefined;
  return {
    name,
    error: 'MAX_LENGTH_EXCEEDED',
    message: `The value of "${name}" is ${value.length} characters long; HubSpot stores at most ${MAX_VALUE_LENGTH}.`,
  };
}

const compiled = new WeakMap<PropertyValidationRule, RegExp | null>();
function ruleRegex(rule: PropertyValidationRule): RegExp | null {
  let re = compiled.get(rule);
  if (re === undefined) {
    try {
      re = rule.ruleArguments[0] ? new RegExp(rule.ruleArguments[0], rule.ruleArguments[1] ?? 'u') : null;
    } catch {
      re = null;
    }
    compiled.set(rule, re);
  }
  return re;
}

/** A property's format rules (the property validations API's); messages never quote the value. */
function formatProblems(a: AccountState, name: string, value: string): Problem[] {
  const rules = a.rules.propertyRules?.[name];
  if (!rules || value === '') return [];
  const out: Problem[] = [];
  for (const rule of rules) {
    const n = Number(rule.ruleArguments[0]);
    switch (rule.ruleType) {
      case 'MIN_LENGTH':
        if (value.length < n)
          out.push({ name, error: 'INVALID_MIN_LENGTH', message: `"${name}" must be at least ${n} characters long.` });
        break;
      case 'MAX_LENGTH':
        if (value.length > n)
          out.push({ name, error: 'INVALID_MAX_LENGTH', message: `"${name}" must be at most ${n} characters long.` });
        break;
      case 'REGEX': {
        const re = ruleRegex(rule);
        if (re && !re.test(value))
          out.push({
            name,
            error: 'INVALID_REGEX',
            message: `"${name}" does not have the format its validation rule requires.`,
          });
        break;
      }
      case 'ALPHANUMERIC': {
        const kind = rule.ruleArguments[0];
        if (kind === 'NUMERIC_ONLY' && !/^[0-9]+$/.test(value))
          out.push({ name, error: 'INVALID_NUMERIC', message: `"${name}": enter only numbers.` });
        if (kind === 'ALPHA_ONLY' && !/^[\p{L}\s]+$/u.test(value))
          out.push({ name, error: 'INVALID_ALPHA', message: `"${name}": enter only letters.` });
        if (kind === 'ALPHANUMERIC_ONLY' && !/^[\p{L}\p{N}\s]+$/u.test(value))
          out.push({ name, error: 'INVALID_ALPHANUMERIC', message: `"${name}": enter only letters and numbers.` });
        break;
      }
      default:
        break; // stored and readable, not enforced by the emulator
    }
  }
  return out;
}

const hasValue = (v: string | null | undefined) => v !== null && v !== undefined && v !== '';

/**
 * The 2026-09 write rules: required-on-create properties, and conditional-required ones (evaluated on
 * the record as the write would leave it, when the write touches the condition or a required property).
 */
function requiredProblems(
  a: AccountState,
  props: Record<string, string>,
  existing: StoredObject | undefined,
  creating: boolean,
): Problem[] {
  const out: Problem[] = [];
  const after = (name: string) => (name in props ? props[name] : existing?.properties[name]);
  if (creating) {
    const required = a.rules.requiredOnCreate ?? [];
    for (const name of required) {
      if (!hasValue(props[name])) {
        out.push({
          name,
          error: 'REQUIRED_PROPERTY',
          message: `"${name}" is required to create a contact in this portal.`,
          context: { requiredProperties: [...required] },
        });
      }
    }
  }
  for (const rule of a.rules.conditionalRequired ?? []) {
    const touched = rule.property in props || rule.requires.some((r) => r in props);
    const cond = after(rule.property);
    if (!touched || !hasValue(cond) || !rule.values.includes(cond!)) continue;
    for (const name of rule.requires) {
      if (!hasValue(after(name)) && !out.some((p) => p.name === name)) {
        out.push({
          name,
          error: 'CONDITIONALLY_REQUIRED_PROPERTY',
          message: `"${name}" is required when "${rule.property}" has the value a conditional rule names.`,
          context: { requiredProperties: [...rule.requires], conditionProperty: [rule.property] },
        });
      }
    }
  }
  return out;
}

function uniqueProblems(a: AccountState, props: Record<string, string>, exceptId: string | undefined): Problem[] {
  const out: Problem[] = [];
  for (const name of a.uniqueProperties) {
    const v = props[name];
    if (!v) continue;
    const holder = a.uniqueHolder(name, v);
    if (holder !== undefined && holder !== exceptId) {
      out.push({
        name,
        error: 'DUPLICATE_VALUE',
        message: `Another contact already has that value for "${name}", a property whose values must be unique.`,
      });
    }
  }
  return out;
}

/** The properties of a contact write, or HubSpot's 400 listing every problem with them. */
/** `creating`: the write creates a record (an update of an id that does not exist creates nothing). */
function checkContactWrite(
  a: AccountState,
  c: Ctx,
  raw: unknown,
  existing?: StoredObject,
  where = '',
  creating = !existing,
): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new HttpError(400, 'VALIDATION_ERROR', `Invalid input JSON on line 1: properties must be an object${where}`);
  const problems: Problem[] = [];
  const out: Record<string, string> = {};
  for (const [name, rawValue] of Object.entries(raw as Json)) {
    const value = rawValue === null || rawValue === undefined ? '' : String(rawValue);
    const def = a.properties.get(name);
    if (!def) {
      problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
      continue;
    }
    if (def.modificationMetadata.readOnlyValue || def.calculated) {
      problems.push({
        name,
        error: 'READ_ONLY_VALUE',
        message: `"${name}" is a read only property; its value cannot be set.`,
      });
      continue;
    }
    const long = tooLong(name, value);
    if (long) {
      problems.push(long);
      continue;
    }
    if (name === 'email' && value !== '' && !EMAIL.test(value)) {
      problems.push({ name, error: 'INVALID_EMAIL', message: `Email address ${value} is invalid` });
      continue;
    }
    if (def.type === 'enumeration' && value !== '') {
      const allowed = new Set(def.options.map((o) => o.value));
      const bad = value.split(';').filter((v) => !allowed.has(v));
      if (bad.length) {
        problems.push({
          name,
          error: 'INVALID_OPTION',
          message: `${bad[0]} was not one of the allowed options: [${[...allowed].join(', ')}]`,
        });
        continue;
      }
    }
    problems.push(...formatProblems(a, name, value));
    out[name] = value;
  }
  if (!problems.length && c.apiVersion === API_VERSION) problems.push(...requiredProblems(a, out, existing, creating));
  if (!problems.length) problems.push(...uniqueProblems(a, out, existing?.id));
  if (problems.length) throw refuse(problems);
  return out;
}

// ---- contacts -----------------------------------------------------------------------------------

export function requestedProperties(query: URLSearchParams | string[] | undefined, defaults: string[]): string[] {
  const asked = Array.isArray(query) ? query : (query?.getAll('properties') ?? []).flatMap((p) => p.split(','));
  return [...new Set([...defaults, ...asked.map((s) => s.trim()).filter(Boolean)])];
}

export function view(obj: StoredObject, props: string[]): Json {
  const properties: Record<string, string | null> = {};
  for (const p of props) properties[p] = obj.properties[p] ?? null;
  const out: Json = {
    id: obj.id,
    properties,
    createdAt: obj.createdAt,
    updatedAt: obj.updatedAt,
    archived: obj.archived,
  };
  if (obj.archivedAt) out.archivedAt = obj.archivedAt;
  return out;
}

/** The names a read asks history for: `propertiesWithHistory` (query, comma separated, or the body's list). */
export function historyNames(q: URLSearchParams | unknown): string[] {
  if (q instanceof URLSearchParams)
    return q
      .getAll('propertiesWithHistory')
      .flatMap((p) => p.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
  return Array.isArray(q) ? q.filter((n): n is string => typeof n === 'string' && n.length > 0) : [];
}

/** A record's view with `propertiesWithHistory` for the asked names that have versions (others are ignored, as HubSpot does). */
export function viewWithHistory(a: AccountState, obj: StoredObject, props: string[], names: string[]): Json {
  const out = view(obj, props);
  if (names.length) out.propertiesWithHistory = a.versions(obj.id, names);
  return out;
}

export const appOf = (c: Ctx): WriteSource => ({ appId: c.appId });

export const writtenView = (obj: StoredObject, props: Record<string, string>, defaults = DEFAULT_CONTACT_PROPERTIES) =>
  view(obj, [...new Set([...defaults, ...Object.keys(props)])]);

/** A live contact by record id (following merges), email, or another unique property. */
function findContact(a: AccountState, id: string, idProperty: string | null): StoredObject | undefined {
  if (idProperty === 'email') return a.contactByEmail(id);
  if (idProperty && idProperty !== 'hs_object_id') {
    const holder = a.uniqueHolder(idProperty, id);
    if (holder !== undefined) return a.contacts.get(holder);
    for (const c of a.contacts.values()) if (c.properties[idProperty] === id) return c;
    return undefined;
  }
  return a.contacts.get(a.resolveContactId(id));
}

export function notFound(what = 'resource'): HttpError {
  return new HttpError(404, 'OBJECT_NOT_FOUND', `${what} not found`);
}

function getContact(a: AccountState, c: Ctx, id: string): Reply {
  const props = requestedProperties(c.query, DEFAULT_CONTACT_PROPERTIES);
  const contact = findContact(a, id, c.query.get('idProperty'));
  const names = historyNames(c.query);
  if (contact) return { status: 200, body: viewWithHistory(a, contact, props, names) };
  if (c.query.get('archived') === 'true') {
    const archived = a.archivedContacts.get(a.resolveContactId(id));
    if (archived) return { status: 200, body: viewWithHistory(a, archived, props, names) };
  }
  throw notFound();
}

function conflictFor(a: AccountState, props: Record<string, string>, exceptId?: string): void {
  const email = props.email?.trim().toLowerCase();
  if (!email) return;
  const existing = a.emailIndex.get(email);
  if (existing && existing !== exceptId)
    throw new HttpError(409, 'CONFLICT', `Contact already exists. Existing ID: ${existing}`);
}

/** Applies a write to a contact; its values join the property history with the writer as their source. */
export function patchContact(
  a: AccountState,
  contact: StoredObject,
  props: Record<string, string>,
  source: WriteSource,
): void {
  a.searchContacts.willChange(contact.id, contact);
  a.unindexEmails(contact);
  a.unindexUnique(contact);
  Object.assign(contact.properties, props);
  const now = iso();
  a.recordVersions(contact.id, props, source, now);
  contact.properties.lastmodifieddate = now;
  contact.updatedAt = now;
  a.indexEmails(contact);
  a.indexUnique(contact);
  a.searchContacts.changed(contact.id, contact);
}

function createContact(a: AccountState, c: Ctx): Reply {
  const props = checkContactWrite(a, c, c.body.properties);
  conflictFor(a, props);
  const contact = a.insertContact(props, c.appId);
  return { status: 201, body: writtenView(contact, props) };
}

function updateContact(a: AccountState, c: Ctx, id: string): Reply {
  const contact = findContact(a, id, c.query.get('idProperty'));
  if (!contact) throw notFound();
  const props = checkContactWrite(a, c, c.body.properties, contact);
  conflictFor(a, props, contact.id);
  patchContact(a, contact, props, appOf(c));
  return { status: 200, body: writtenView(contact, props) };
}

export function batchInputs(c: Ctx, max = MAX_BATCH, when = ''): Json[] {
  const inputs = c.body.inputs;
  if (!Array.isArray(inputs))
    throw new HttpError(400, 'VALIDATION_ERROR', 'Invalid input JSON: inputs must be an array');
  if (inputs.length > max)
    throw new HttpError(
      400,
      'VALIDATION_ERROR',
      `Batch input limit exceeded: ${inputs.length} inputs, at most ${max}${when}`,
    );
  return inputs as Json[];
}

/** A batch read's inputs: at most 100, or 50 when it asks for property history (`names`). */
export function batchReadInputs(c: Ctx, names: string[]): Json[] {
  return names.length ? batchInputs(c, MAX_HISTORY_BATCH, ' with propertiesWithHistory') : batchInputs(c);
}

/**
 * One failing input of a batch, as the 2026-09 specs' StandardError has it: `status`, `category`,
 * `message`, `context`, `errors` and `links` all present (the last two empty: HubSpot's batch answers
 * carry no further detail for these).
 */
export function standardError(
  category: string,
  message: string,
  context: Record<string, string[]>,
  subCategory?: string,
): Json {
  return {
    status: 'error',
    category,
    ...(subCategory ? { subCategory } : {}),
    message,
    context,
    errors: [],
    links: {},
  };
}

/**
 * A batch answer (BatchResponseSimplePublicObject, 2026-09): `207` when some inputs failed, with one
 * OBJECT_NOT_FOUND error naming them all in `context.ids`, as HubSpot answers.
 */
export function batchReply(results: Json[], missing: string[], okStatus: number, objectType = 'CONTACT'): Reply {
  const startedAt = iso();
  const base = { status: 'COMPLETE', results, startedAt, completedAt: iso() };
  if (!missing.length) return { status: okStatus, body: base };
  const message = `Could not get some ${objectType} objects, they may be deleted or not exist. Check that ids are valid.`;
  return {
    status: 207,
    body: { ...base, numErrors: 1, errors: [standardError('OBJECT_NOT_FOUND', message, { ids: missing })] },
  };
}

function batchRead(a: AccountState, c: Ctx): Reply {
  const names = historyNames(c.body.propertiesWithHistory);
  const inputs = batchReadInputs(c, names);
  const idProperty = typeof c.body.idProperty === 'string' ? c.body.idProperty : null;
  const props = requestedProperties(
    Array.isArray(c.body.properties) ? (c.body.properties as string[]) : [],
    DEFAULT_CONTACT_PROPERTIES,
  );
  const results: Json[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const id = String(input.id ?? '');
    const contact = findContact(a, id, idProperty);
    if (!contact) missing.push(id);
    else if (!seen.has(contact.id)) {
      seen.add(contact.id);
      results.push(viewWithHistory(a, contact, props, names));
    }
  }
  return batchReply(results, missing, 200);
}

function batchCreate(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const all = inputs.map((input, i) => checkContactWrite(a, c, input.properties, undefined, ` (inputs[${i}])`));
  const emails = new Set<string>();
  const uniques = new Set<string>();
  for (const props of all) {
    conflictFor(a, props);
    const e = props.email?.toLowerCase();
    if (e && emails.has(e)) throw new HttpError(400, 'VALIDATION_ERROR', 'Duplicate emails found in the batch input');
    if (e) emails.add(e);
    for (const name of a.uniqueProperties) {
      const v = props[name];
      if (!v) continue;
      if (uniques.has(`${name}\u0000${v}`))
        throw refuse([
          {
            name,
            error: 'DUPLICATE_VALUE',
            message: `Two inputs give "${name}", a property whose values must be unique, the same value.`,
          },
        ]);
      uniques.add(`${name}\u0000${v}`);
    }
  }
  const results = all.map((props) => writtenView(a.insertContact(props, c.appId), props));
  return batchReply(results, [], 201);
}

function batchUpdate(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const idProperty = typeof c.body.idProperty === 'string' ? c.body.idProperty : null;
  const found = inputs.map((input, i) => {
    const id = String(input.id ?? '');
    const contact = findContact(a, id, (input.idProperty as string | undefined) ?? idProperty);
    return { id, contact, props: checkContactWrite(a, c, input.properties, contact, ` (inputs[${i}])`, false) };
  });
  const results: Json[] = [];
  const missing: string[] = [];
  // All or nothing on conflicts: every input is checked before any is applied.
  for (const p of found) if (p.contact) conflictFor(a, p.props, p.contact.id);
  for (const p of found) {
    if (!p.contact) {
      missing.push(p.id);
      continue;
    }
    patchContact(a, p.contact, p.props, appOf(c));
    results.push(writtenView(p.contact, p.props));
  }
  return batchReply(results, missing, 200);
}

function batchUpsert(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const planned = inputs.map((input, i) => {
    if (input.idProperty !== 'email')
      throw new HttpError(400, 'VALIDATION_ERROR', `inputs[${i}].idProperty must be a unique property such as email`);
    const id = String(input.id ?? '');
    if (!EMAIL.test(id))
      throw refuse([{ name: 'email', error: 'INVALID_EMAIL', message: `Email address ${id} is invalid` }]);
    const existing = a.contactByEmail(id);
    const props = checkContactWrite(
      a,
      c,
      existing ? input.properties : { ...(input.properties as Json), email: id },
      existing,
      ` (inputs[${i}])`,
    );
    return { id, existing, props };
  });
  const ids = planned.map((p) => p.id.toLowerCase());
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined)
    throw new HttpError(
      400,
      'VALIDATION_ERROR',
      'Duplicate IDs found in batch input: the same email appears more than once',
    );
  const results = planned.map(({ id, existing, props }) => {
    if (existing) {
      const { email: _e, ...rest } = props;
      patchContact(a, existing, rest, appOf(c));
      return { ...writtenView(existing, props), new: false };
    }
    return { ...writtenView(a.insertContact({ ...props, email: id }, c.appId), props), new: true };
  });
  return batchReply(results, [], 200);
}

// ---- archive and merge (the API's, and a person's in HubSpot's UI) -------------------------------

/** Archives a contact: reads by id answer 404, its email is free again, its note associations go. */
export function archiveContact(a: AccountState, id: string): boolean {
  const rid = a.resolveContactId(id);
  const contact = a.contacts.get(rid);
  if (!contact) return false;
  a.searchContacts.willChange(rid, contact);
  a.unindexEmails(contact);
  a.unindexUnique(contact);
  a.contacts.delete(rid);
  engagementsFollowContact(a, rid);
  const now = iso();
  contact.archived = true;
  contact.archivedAt = now;
  contact.updatedAt = now;
  a.archivedContacts.set(rid, contact);
  a.searchContacts.changed(rid, undefined);
  for (const noteId of [...(a.notesByContact.get(rid) ?? [])]) {
    const note = a.notes.get(noteId);
    if (!note) continue;
    a.searchNotes.willChange(noteId, note);
    note.associations.contacts = note.associations.contacts.filter((cid) => cid !== rid);
    a.searchNotes.changed(noteId, note);
  }
  a.notesByContact.delete(rid);
  return true;
}

/** Archives a note: reads by id answer 404, and it leaves its contacts' associations. */
export function archiveNote(a: AccountState, id: string): boolean {
  const note = a.notes.get(id);
  if (!note) return false;
  a.searchNotes.willChange(id, note);
  for (const cid of note.associations.contacts) a.unlinkNote(id, cid);
  a.notes.delete(id);
  const now = iso();
  note.archived = true;
  note.archivedAt = now;
  note.updatedAt = now;
  note.associations.contacts = [];
  a.archivedNotes.set(id, note);
  a.searchNotes.changed(id, undefined);
  return true;
}

const emailList = (v: string | null | undefined) =>
  (v ?? '')
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean);

/**
 * Merges two contacts as HubSpot does since its 2023 merge change: a new record with a new id; both
 * old ids read as it from then on. The primary's values win, the other fills the gaps; the other's
 * emails become secondary emails; notes of both are associated with the new record.
 */
export function mergeContacts(a: AccountState, primaryId: string, idToMerge: string): StoredObject {
  const pid = a.resolveContactId(primaryId);
  const mid = a.resolveContactId(idToMerge);
  const primary = a.contacts.get(pid);
  const merged = a.contacts.get(mid);
  if (!primary || !merged)
    throw new HttpError(404, 'OBJECT_NOT_FOUND', `Object not found: ${!primary ? primaryId : idToMerge}`);
  if (pid === mid) throw new HttpError(400, 'VALIDATION_ERROR', 'A contact cannot be merged with itself');
  const id = a.newId();
  const now = iso();
  a.searchContacts.willChange(pid, primary);
  a.searchContacts.willChange(mid, merged);
  a.searchContacts.willChange(id, undefined);
  for (const c of [primary, merged]) {
    a.unindexEmails(c);
    a.unindexUnique(c);
    a.contacts.delete(c.id);
    a.mergedInto.set(c.id, id);
  }
  const properties: Record<string, string | null> = {};
  for (const src of [merged, primary])
    for (const [k, v] of Object.entries(src.properties)) if (hasValue(v)) properties[k] = v;
  const email = primary.properties.email || merged.properties.email || null;
  const secondary: string[] = [];
  for (const e of [
    ...emailList(primary.properties.hs_additional_emails),
    ...emailList(merged.properties.email),
    ...emailList(merged.properties.hs_additional_emails),
  ]) {
    if (e.toLowerCase() !== email?.toLowerCase() && !secondary.some((s) => s.toLowerCase() === e.toLowerCase()))
      secondary.push(e);
  }
  const createdAt = primary.createdAt < merged.createdAt ? primary.createdAt : merged.createdAt;
  Object.assign(properties, {
    email,
    hs_additional_emails: secondary.length ? secondary.join(';') : null,
    hs_object_id: id,
    createdate: createdAt,
    lastmodifieddate: now,
    hs_merged_object_ids: [
      ...emailList(primary.properties.hs_merged_object_ids),
      ...emailList(merged.properties.hs_merged_object_ids),
      pid,
      mid,
    ].join(';'),
  });
  const contact: StoredObject = { id, properties, createdAt, updatedAt: now, archived: false };
  a.contacts.set(id, contact);
  // The merged record's history: the versions of both records, newest first (the primary's first on a tie).
  const versions = new Map<string, ReturnType<AccountState['versions']>[string]>();
  for (const src of [primary, merged]) {
    for (const [name, list] of a.history.get(src.id) ?? [])
      versions.set(name, [...(versions.get(name) ?? []), ...list.map((v) => ({ ...v }))]);
  }
  for (const list of versions.values())
    list.sort((x, y) => (x.timestamp < y.timestamp ? 1 : x.timestamp > y.timestamp ? -1 : 0));
  a.history.set(id, versions);
  a.indexEmails(contact);
  a.indexUnique(contact);
  for (const oldId of [pid, mid]) {
    for (const noteId of [...(a.notesByContact.get(oldId) ?? [])]) {
      const note = a.notes.get(noteId);
      if (!note) continue;
      a.searchNotes.willChange(noteId, note);
      note.associations.contacts = [...new Set(note.associations.contacts.map((cid) => (cid === oldId ? id : cid)))];
      a.searchNotes.changed(noteId, note);
      a.linkNote(noteId, id);
    }
    a.notesByContact.delete(oldId);
    engagementsFollowContact(a, oldId, id);
  }
  a.searchContacts.changed(pid, undefined);
  a.searchContacts.changed(mid, undefined);
  a.searchContacts.changed(id, contact);
  return contact;
}

function deleteContactRoute(a: AccountState, id: string): Reply {
  // HubSpot answers 204 whether or not the record existed.
  archiveContact(a, id);
  return { status: 204 };
}

function mergeContactsRoute(a: AccountState, c: Ctx): Reply {
  const primary = c.body.primaryObjectId;
  const other = c.body.objectIdToMerge;
  if (
    (typeof primary !== 'string' && typeof primary !== 'number') ||
    (typeof other !== 'string' && typeof other !== 'number')
  ) {
    throw new HttpError(
      400,
      'VALIDATION_ERROR',
      'Invalid input JSON: primaryObjectId and objectIdToMerge are required',
    );
  }
  const contact = mergeContacts(a, String(primary), String(other));
  return { status: 200, body: view(contact, DEFAULT_CONTACT_PROPERTIES) };
}

/** Note ids associated with a contact (following merges), in id order. */
export function noteIdsOf(a: AccountState, contactId: string): string[] {
  return [...(a.notesByContact.get(a.resolveContactId(contactId)) ?? [])].sort((x, y) => Number(x) - Number(y));
}

// ---- notes --------------------------------------------------------------------------------------

function noteView(note: StoredNote, props: string[], withAssociations: boolean): Json {
  const base = view(note, props);
  if (withAssociations && note.associations.contacts.length) {
    base.associations = {
      contacts: { results: note.associations.contacts.map((id) => ({ id, type: 'note_to_contact' })) },
    };
  }
  return base;
}

function noteProperties(a: AccountState, props: unknown): Record<string, string> {
  if (typeof props !== 'object' || props === null)
    throw new HttpError(400, 'VALIDATION_ERROR', 'properties must be an object');
  const problems: Problem[] = [];
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(props as Json)) {
    if (!NOTE_PROPERTIES.has(name)) {
      problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
      continue;
    }
    const value = raw === null || raw === undefined ? '' : String(raw);
    const long = tooLong(name, value);
    if (long) problems.push(long);
    else out[name] = value;
  }
  if (out.hs_timestamp !== undefined && Number.isNaN(Date.parse(out.hs_timestamp)) && !/^\d+$/.test(out.hs_timestamp)) {
    problems.push({
      name: 'hs_timestamp',
      error: 'INVALID_DATE',
      message: `${out.hs_timestamp} is not a valid datetime`,
    });
  }
  if (problems.length) throw refuse(problems);
  return out;
}

/** A note create's properties and associated contacts, checked; nothing is written. */
function prepareNote(a: AccountState, body: Json): { props: Record<string, string>; contacts: string[] } {
  const props = noteProperties(a, body.properties);
  if (!props.hs_timestamp)
    throw refuse([{ name: 'hs_timestamp', error: 'REQUIRED_PROPERTY', message: 'hs_timestamp is required' }]);
  const contacts: string[] = [];
  const associations = Array.isArray(body.associations) ? (body.associations as Json[]) : [];
  for (const [i, assoc] of associations.entries()) {
    const to = String((assoc.to as Json | undefined)?.id ?? '');
    const types = Array.isArray(assoc.types) ? (assoc.types as Json[]) : [];
    const ok = types.some(
      (t) => t.associationCategory === 'HUBSPOT_DEFINED' && Number(t.associationTypeId) === NOTE_TO_CONTACT,
    );
    if (!ok)
      throw new HttpError(
        400,
        'VALIDATION_ERROR',
        `associations[${i}]: unsupported association type: only HUBSPOT_DEFINED 202 (note to contact) is emulated`,
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

function insertNote(
  a: AccountState,
  prepared: { props: Record<string, string>; contacts: string[] },
  source: WriteSource,
): StoredNote {
  const id = a.newId();
  const now = iso();
  a.recordVersions(id, prepared.props, source, now);
  a.searchNotes.willChange(id, undefined);
  const note: StoredNote = {
    id,
    properties: { ...prepared.props, hs_object_id: id, hs_createdate: now, hs_lastmodifieddate: now },
    createdAt: now,
    updatedAt: now,
    archived: false,
    associations: { contacts: prepared.contacts },
  };
  a.notes.set(id, note);
  for (const cid of prepared.contacts) a.linkNote(id, cid);
  a.searchNotes.changed(id, note);
  return note;
}

/** Applies a write to a note; its values join the property history with the writer as their source. */
export function patchNote(a: AccountState, note: StoredNote, props: Record<string, string>, source: WriteSource): void {
  a.searchNotes.willChange(note.id, note);
  Object.assign(note.properties, props);
  const now = iso();
  a.recordVersions(note.id, props, source, now);
  note.properties.hs_lastmodifieddate = now;
  note.updatedAt = now;
  a.searchNotes.changed(note.id, note);
}

function createNote(a: AccountState, c: Ctx): Reply {
  const prepared = prepareNote(a, c.body);
  const note = insertNote(a, prepared, appOf(c));
  return { status: 201, body: writtenView(note, prepared.props, DEFAULT_NOTE_PROPERTIES) };
}

function wantsContacts(q: URLSearchParams | string[] | undefined): boolean {
  const list = Array.isArray(q) ? q : (q?.get('associations') ?? '').split(',');
  return list.includes('contacts') || list.includes('contact');
}

function getNote(a: AccountState, c: Ctx, id: string): Reply {
  const props = requestedProperties(c.query, DEFAULT_NOTE_PROPERTIES);
  const note = a.notes.get(id) ?? (c.query.get('archived') === 'true' ? a.archivedNotes.get(id) : undefined);
  if (!note) throw notFound();
  const body = noteView(note, props, wantsContacts(c.query));
  const names = historyNames(c.query);
  if (names.length) body.propertiesWithHistory = a.versions(note.id, names);
  return { status: 200, body };
}

function updateNote(a: AccountState, c: Ctx, id: string): Reply {
  const note = a.notes.get(id);
  if (!note) throw notFound();
  const props = noteProperties(a, c.body.properties);
  patchNote(a, note, props, appOf(c));
  return { status: 200, body: writtenView(note, props, DEFAULT_NOTE_PROPERTIES) };
}

function deleteNoteRoute(a: AccountState, id: string): Reply {
  archiveNote(a, id);
  return { status: 204 };
}

function batchCreateNotes(a: AccountState, c: Ctx): Reply {
  const prepared = batchInputs(c).map((input) => prepareNote(a, input));
  const results = prepared.map((p) => writtenView(insertNote(a, p, appOf(c)), p.props, DEFAULT_NOTE_PROPERTIES));
  return batchReply(results, [], 201, 'NOTE');
}

function batchReadNotes(a: AccountState, c: Ctx): Reply {
  const names = historyNames(c.body.propertiesWithHistory);
  const inputs = batchReadInputs(c, names);
  const props = requestedProperties(
    Array.isArray(c.body.properties) ? (c.body.properties as string[]) : [],
    DEFAULT_NOTE_PROPERTIES,
  );
  const results: Json[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const id = String(input.id ?? '');
    const note = a.notes.get(id);
    if (!note) missing.push(id);
    else if (!seen.has(id)) {
      seen.add(id);
      results.push(viewWithHistory(a, note, props, names));
    }
  }
  return batchReply(results, missing, 200, 'NOTE');
}

function batchUpdateNotes(a: AccountState, c: Ctx): Reply {
  const planned = batchInputs(c).map((input) => ({
    id: String(input.id ?? ''),
    props: noteProperties(a, input.properties),
  }));
  const results: Json[] = [];
  const missing: string[] = [];
  for (const p of planned) {
    const note = a.notes.get(p.id);
    if (!note) {
      missing.push(p.id);
      continue;
    }
    patchNote(a, note, p.props, appOf(c));
    results.push(writtenView(note, p.props, DEFAULT_NOTE_PROPERTIES));
  }
  return batchReply(results, missing, 200, 'NOTE');
}

// ---- associations (v4 and 2026-09 shapes; exact, not from the search index) -----------------------

/** MultiAssociatedObjectWithLabel: an unlabelled association has no `label` (a string when present). */
const contactToNote = (noteId: string) => ({
  toObjectId: noteId,
  associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: CONTACT_TO_NOTE }],
});

function listNoteAssociations(a: AccountState, c: Ctx, id: string): Reply {
  const rid = a.resolveContactId(id);
  if (!a.contacts.has(rid)) throw notFound('contact');
  const limit = c.query.get('limit') === null ? MAX_ASSOCIATION_PAGE : Number(c.query.get('limit'));
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ASSOCIATION_PAGE)
    throw new HttpError(400, 'VALIDATION_ERROR', `limit must be between 1 and ${MAX_ASSOCIATION_PAGE}`);
  const after = Number(c.query.get('after') ?? 0) || 0;
  const ids = noteIdsOf(a, rid);
  const body: Json = { results: ids.slice(after, after + limit).map(contactToNote) };
  if (after + limit < ids.length) body.paging = { next: { after: String(after + limit) } };
  return { status: 200, body };
}

/**
 * POST …/associations/{2026-09,v4}/contacts/notes/batch/read: per input `{ id, after? }`, at most
 * 500 notes (MAX_ASSOCIATION_PAGE), and `paging.next.after` while more remain (send it back with the same id).
 */
function batchReadNoteAssociations(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c, MAX_ASSOCIATION_BATCH);
  const startedAt = iso();
  const results: Json[] = [];
  const errors: Json[] = [];
  for (const input of inputs) {
    const id = String(input.id ?? '');
    const after = Number(input.after ?? 0);
    if (!Number.isInteger(after) || after < 0)
      throw new HttpError(400, 'VALIDATION_ERROR', `inputs: after must be a paging token this API gave`);
    const rid = a.resolveContactId(id);
    if (!a.contacts.has(rid)) {
      errors.push(standardError('OBJECT_NOT_FOUND', `No contact with id ${id} exists.`, { fromObjectId: [id] }));
      continue;
    }
    const ids = noteIdsOf(a, rid);
    if (!ids.length) {
      // HubSpot reports a record without associations as an error of the batch, not an empty result.
      errors.push(
        standardError(
          'OBJECT_NOT_FOUND',
          `No note is associated with contact ${id}.`,
          { fromObjectId: [id] },
          'crm.associations.NO_ASSOCIATIONS_FOUND',
        ),
      );
      continue;
    }
    const row: Json = { from: { id }, to: ids.slice(after, after + MAX_ASSOCIATION_PAGE).map(contactToNote) };
    if (after + MAX_ASSOCIATION_PAGE < ids.length)
      row.paging = { next: { after: String(after + MAX_ASSOCIATION_PAGE) } };
    results.push(row);
  }
  const body: Json = { status: 'COMPLETE', results, startedAt, completedAt: iso() };
  if (!errors.length) return { status: 200, body };
  return { status: 207, body: { ...body, numErrors: errors.length, errors } };
}

// ---- search (through the lagging index) ---------------------------------------------------------

interface Filter {
  propertyName?: string;
  operator?: string;
  value?: unknown;
  values?: unknown[];
}

const tokens = (s: string) =>
  s
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

function filterMatches(obj: StoredObject, f: Filter, kind: 'contacts' | 'notes', a: AccountState): boolean {
  const name = f.propertyName ?? '';
  if (kind === 'notes' && (name === 'associations.contact' || name === 'associations.contacts')) {
    const linked = (obj as StoredNote).associations.contacts;
    if (f.operator === 'EQ') return linked.includes(String(f.value));
    if (f.operator === 'IN') return (f.values ?? []).some((v) => linked.includes(String(v)));
    throw new HttpError(400, 'VALIDATION_ERROR', `operator ${f.operator} is not supported on ${name}`);
  }
  const raw = obj.properties[name];
  const has = raw !== null && raw !== undefined && raw !== '';
  const value = (raw ?? '').toLowerCase();
  const want = String(f.value ?? '').toLowerCase();
  switch (f.operator) {
    case 'EQ':
      if (kind === 'contacts' && name === 'email') return a.emailsOf(obj).includes(want);
      return has && value === want;
    case 'NEQ':
      return value !== want;
    case 'IN':
      return (f.values ?? []).map((v) => String(v).toLowerCase()).includes(value);
    case 'NOT_IN':
      return !(f.values ?? []).map((v) => String(v).toLowerCase()).includes(value);
    case 'HAS_PROPERTY':
      return has;
    case 'NOT_HAS_PROPERTY':
      return !has;
    case 'CONTAINS_TOKEN': {
      const pattern = new RegExp(`^${want.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      return tokens(raw ?? '').some((t) => pattern.test(t));
    }
    case 'NOT_CONTAINS_TOKEN':
      return !tokens(raw ?? '').includes(want);
    case 'GT':
    case 'GTE':
    case 'LT':
    case 'LTE': {
      const x = Number(raw);
      const y = Number(f.value);
      if (!has || Number.isNaN(x) || Number.isNaN(y)) return false;
      return f.operator === 'GT' ? x > y : f.operator === 'GTE' ? x >= y : f.operator === 'LT' ? x < y : x <= y;
    }
    default:
      throw new HttpError(400, 'VALIDATION_ERROR', `Unsupported filter operator: ${f.operator}`);
  }
}

function search(a: AccountState, c: Ctx, kind: 'contacts' | 'notes'): Reply {
  const groups = Array.isArray(c.body.filterGroups) ? (c.body.filterGroups as Array<{ filters?: Filter[] }>) : [];
  if (groups.length > 5) throw new HttpError(400, 'VALIDATION_ERROR', 'at most 5 filterGroups');
  const limit = c.body.limit === undefined ? 10 : Number(c.body.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT)
    throw new HttpError(400, 'VALIDATION_ERROR', `limit must be between 1 and ${MAX_SEARCH_LIMIT}`);
  const after = Number(c.body.after ?? 0) || 0;
  const index = kind === 'contacts' ? a.searchContacts : a.searchNotes;
  const live: Map<string, StoredObject> = kind === 'contacts' ? a.contacts : a.notes;
  const now = Date.now();
  index.sweep(now);
  const lagging = index.pendingCount > 0;
  // Candidate ids: the live ones a fast path finds, plus those whose not-yet-visible writes carry the key.
  const only = groups.length === 1 ? (groups[0]!.filters ?? []) : [];
  const byEmail = kind === 'contacts' && only.find((f) => f.propertyName === 'email' && f.operator === 'EQ');
  const byContact =
    kind === 'notes' &&
    only.find(
      (f) =>
        (f.propertyName === 'associations.contact' || f.propertyName === 'associations.contacts') &&
        f.operator === 'EQ',
    );
  let ids: Iterable<string>;
  if (byEmail) {
    const email = String(byEmail.value ?? '')
      .trim()
      .toLowerCase();
    const set = new Set<string>();
    const hit = a.emailIndex.get(email);
    if (hit) set.add(hit);
    if (lagging) for (const id of index.pendingWithKey(`e:${email}`)) set.add(id);
    ids = set;
  } else if (byContact) {
    const cid = String(byContact.value);
    const set = new Set<string>(a.notesByContact.get(cid) ?? []);
    if (lagging) for (const id of index.pendingWithKey(`c:${cid}`)) set.add(id);
    ids = set;
  } else if (lagging) {
    ids = new Set([...live.keys(), ...index.pendingIds()]);
  } else {
    ids = live.keys();
  }
  let hits: StoredObject[] = [];
  for (const id of ids) {
    const o = lagging ? index.visible(id, live.get(id), now) : live.get(id);
    if (
      o &&
      !o.archived &&
      (groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => filterMatches(o, f, kind, a))))
    )
      hits.push(o);
  }
  const sorts = Array.isArray(c.body.sorts)
    ? (c.body.sorts as Array<string | { propertyName: string; direction?: string }>)
    : [];
  const sort = sorts[0];
  if (sort) {
    const prop = typeof sort === 'string' ? sort.replace(/^-/, '') : sort.propertyName;
    const desc = typeof sort === 'string' ? sort.startsWith('-') : sort.direction === 'DESCENDING';
    hits = hits.sort(
      (x, y) => String(x.properties[prop] ?? '').localeCompare(String(y.properties[prop] ?? '')) * (desc ? -1 : 1),
    );
  } else {
    hits = hits.sort((x, y) => Number(x.id) - Number(y.id));
  }
  const props = requestedProperties(
    Array.isArray(c.body.properties) ? (c.body.properties as string[]) : [],
    kind === 'contacts' ? DEFAULT_CONTACT_PROPERTIES : DEFAULT_NOTE_PROPERTIES,
  );
  const page = hits.slice(after, after + limit);
  const body: Json = { total: hits.length, results: page.map((o) => view(o, props)) };
  if (after + limit < hits.length) body.paging = { next: { after: String(after + limit) } };
  return { status: 200, body };
}

// ---- properties and their validation rules ------------------------------------------------------

function listProperties(a: AccountState): Reply {
  return { status: 200, body: { results: [...a.properties.values()] } };
}

function getProperty(a: AccountState, name: string): Reply {
  const def = a.properties.get(name);
  if (!def) throw new HttpError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${name} for object type contacts`);
  return { status: 200, body: def };
}

/**
 * A property's rules as the property validations API lists them: its format rules only, each of the
 * 27 rule types the 2026-09 spec publishes. The portal's required-on-create and conditionally
 * required properties are not listed: HubSpot's API does not expose them there; they show only as a
 * 400 VALIDATION_ERROR to a write (changelog "CRM API write validation enforcement").
 */
export function validationRulesOf(a: AccountState, name: string): PropertyValidationRule[] {
  return (a.rules.propertyRules?.[name] ?? []).map((r) => ({ shouldApplyNormalization: false, ...r }));
}

function listPropertyValidations(a: AccountState): Reply {
  const names = new Set(Object.keys(a.rules.propertyRules ?? {}));
  const results = [...names]
    .filter((n) => a.properties.has(n))
    .sort()
    .map((propertyName) => ({ propertyName, propertyValidationRules: validationRulesOf(a, propertyName) }))
    .filter((r) => r.propertyValidationRules.length > 0);
  return { status: 200, body: { results } };
}

function getPropertyValidations(a: AccountState, name: string): Reply {
  if (!a.properties.has(name))
    throw new HttpError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${name} for object type contacts`);
  return { status: 200, body: { results: validationRulesOf(a, name) } };
}

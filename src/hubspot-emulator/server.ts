// The emulator's HTTP side: HubSpot's CRM v3 routes for contacts, notes and contact properties,
// with HubSpot's auth, validation, rate-limit and error shapes, plus fault injection and the
// /_emulator inspection API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { DEFAULT_CONTACT_PROPERTIES, DEFAULT_NOTE_PROPERTIES, NOTE_PROPERTIES } from './properties';
import {
  AccountState,
  prng,
  type EmulatorAccountSeed,
  type FaultKind,
  type FaultSpec,
  type RequestRecord,
  type StoredNote,
  type StoredObject,
} from './store';

const MAX_BATCH = 100;
const MAX_SEARCH_LIMIT = 200;
const REQUEST_LOG_SIZE = 10_000;
const DAILY_LIMIT = 1_000_000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;

type Json = Record<string, unknown>;
interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
class HttpError extends Error {
  constructor(readonly status: number, readonly category: string, message: string, readonly extra: Json = {}) {
    super(message);
  }
}

const iso = () => new Date().toISOString();

// ---- request routing ------------------------------------------------------------------------------

interface Route {
  operation: string;
  scope: string;
  search?: boolean;
  handle(account: AccountState, ctx: Ctx): Reply;
}
interface Ctx {
  params: string[];
  query: URLSearchParams;
  body: Json;
  appId: number;
}

const READ = 'crm.objects.contacts.read';
const WRITE = 'crm.objects.contacts.write';
const SCHEMA = 'crm.schemas.contacts.read';

function match(method: string, path: string): Route | undefined {
  const p = path.replace(/\/+$/, '');
  const seg = p.split('/').slice(1); // crm v3 objects contacts ...
  if (seg[0] !== 'crm' || seg[1] !== 'v3') return undefined;
  if (seg[2] === 'properties' && seg[3] === 'contacts' && method === 'GET') {
    if (seg.length === 4) return { operation: 'properties.list', scope: SCHEMA, handle: listProperties };
    if (seg.length === 5) return { operation: 'properties.get', scope: SCHEMA, handle: (a, c) => getProperty(a, decodeURIComponent(seg[4]!)) };
    return undefined;
  }
  if (seg[2] !== 'objects') return undefined;
  const type = seg[3];
  const rest = seg.slice(4);
  if (type === 'contacts') {
    if (rest.length === 0 && method === 'POST') return { operation: 'contacts.create', scope: WRITE, handle: createContact };
    if (rest.length === 1 && rest[0] === 'search' && method === 'POST') return { operation: 'contacts.search', scope: READ, search: true, handle: (a, c) => search(a, c, 'contacts') };
    if (rest.length === 2 && rest[0] === 'batch' && method === 'POST') {
      const kind = rest[1];
      if (kind === 'read') return { operation: 'contacts.batchRead', scope: READ, handle: batchRead };
      if (kind === 'create') return { operation: 'contacts.batchCreate', scope: WRITE, handle: batchCreate };
      if (kind === 'update') return { operation: 'contacts.batchUpdate', scope: WRITE, handle: batchUpdate };
      if (kind === 'upsert') return { operation: 'contacts.batchUpsert', scope: WRITE, handle: batchUpsert };
      return undefined;
    }
    if (rest.length === 1) {
      const id = decodeURIComponent(rest[0]!);
      if (method === 'GET') return { operation: 'contacts.get', scope: READ, handle: (a, c) => getContact(a, c, id) };
      if (method === 'PATCH') return { operation: 'contacts.update', scope: WRITE, handle: (a, c) => updateContact(a, c, id) };
    }
    return undefined;
  }
  if (type === 'notes') {
    if (rest.length === 0 && method === 'POST') return { operation: 'notes.create', scope: WRITE, handle: createNote };
    if (rest.length === 1 && rest[0] === 'search' && method === 'POST') return { operation: 'notes.search', scope: READ, search: true, handle: (a, c) => search(a, c, 'notes') };
    if (rest.length === 1) {
      const id = decodeURIComponent(rest[0]!);
      if (method === 'GET') return { operation: 'notes.get', scope: READ, handle: (a, c) => getNote(a, c, id) };
      if (method === 'PATCH') return { operation: 'notes.update', scope: WRITE, handle: (a, c) => updateNote(a, c, id) };
    }
  }
  return undefined;
}

// ---- contacts -----------------------------------------------------------------------------------

function requestedProperties(query: URLSearchParams | string[] | undefined, defaults: string[]): string[] {
  const asked = Array.isArray(query) ? query : (query?.getAll('properties') ?? []).flatMap((p) => p.split(','));
  return [...new Set([...defaults, ...asked.map((s) => s.trim()).filter(Boolean)])];
}

function view(obj: StoredObject, props: string[]): Json {
  const properties: Record<string, string | null> = {};
  for (const p of props) properties[p] = obj.properties[p] ?? null;
  return { id: obj.id, properties, createdAt: obj.createdAt, updatedAt: obj.updatedAt, archived: obj.archived };
}

function findContact(a: AccountState, id: string, idProperty: string | null): StoredObject | undefined {
  if (idProperty === 'email') return a.contactByEmail(id);
  if (idProperty && idProperty !== 'hs_object_id') {
    for (const c of a.contacts.values()) if (c.properties[idProperty] === id) return c;
    return undefined;
  }
  return a.contacts.get(id);
}

function notFound(what = 'resource'): HttpError {
  return new HttpError(404, 'OBJECT_NOT_FOUND', `${what} not found`);
}

function getContact(a: AccountState, c: Ctx, id: string): Reply {
  const contact = findContact(a, id, c.query.get('idProperty'));
  if (!contact || contact.archived) throw notFound();
  return { status: 200, body: view(contact, requestedProperties(c.query, DEFAULT_CONTACT_PROPERTIES)) };
}

/** HubSpot's validation of written contact properties: unknown, read-only, bad email, bad option. */
function validateContactProperties(a: AccountState, props: unknown, where = ''): Record<string, string> {
  if (typeof props !== 'object' || props === null || Array.isArray(props)) throw new HttpError(400, 'VALIDATION_ERROR', `Invalid input JSON on line 1: properties must be an object${where}`);
  const problems: Json[] = [];
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(props as Json)) {
    const value = raw === null || raw === undefined ? '' : String(raw);
    const def = a.properties.get(name);
    if (!def) {
      problems.push({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name });
      continue;
    }
    if (def.modificationMetadata.readOnlyValue || def.calculated) {
      problems.push({ isValid: false, message: `"${name}" is a read only property; its value cannot be set.`, error: 'READ_ONLY_VALUE', name });
      continue;
    }
    if (name === 'email' && value !== '' && !EMAIL.test(value)) {
      problems.push({ isValid: false, message: `Email address ${value} is invalid`, error: 'INVALID_EMAIL', name });
      continue;
    }
    if (def.type === 'enumeration' && value !== '') {
      const allowed = new Set(def.options.map((o) => o.value));
      const bad = value.split(';').filter((v) => !allowed.has(v));
      if (bad.length) {
        problems.push({ isValid: false, message: `${bad[0]} was not one of the allowed options: [${[...allowed].join(', ')}]`, error: 'INVALID_OPTION', name });
        continue;
      }
    }
    out[name] = value;
  }
  if (problems.length) {
    throw new HttpError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(problems)}`);
  }
  return out;
}

function conflictFor(a: AccountState, props: Record<string, string>, exceptId?: string): void {
  const email = props.email?.trim().toLowerCase();
  if (!email) return;
  const existing = a.emailIndex.get(email);
  if (existing && existing !== exceptId) throw new HttpError(409, 'CONFLICT', `Contact already exists. Existing ID: ${existing}`);
}

function insertContact(a: AccountState, props: Record<string, string>, appId: number): StoredObject {
  const id = a.newId();
  const now = iso();
  const contact: StoredObject = {
    id,
    properties: {
      ...props,
      hs_object_id: id,
      createdate: now,
      lastmodifieddate: now,
      hs_object_source: 'INTEGRATION',
      hs_object_source_id: String(appId),
      hs_object_source_label: 'INTEGRATION',
    },
    createdAt: now,
    updatedAt: now,
    archived: false,
  };
  a.contacts.set(id, contact);
  a.indexEmails(contact);
  return contact;
}

function patchContact(a: AccountState, contact: StoredObject, props: Record<string, string>): void {
  a.unindexEmails(contact);
  Object.assign(contact.properties, props);
  const now = iso();
  contact.properties.lastmodifieddate = now;
  contact.updatedAt = now;
  a.indexEmails(contact);
}

function createContact(a: AccountState, c: Ctx): Reply {
  const props = validateContactProperties(a, c.body.properties);
  conflictFor(a, props);
  const contact = insertContact(a, props, c.appId);
  return { status: 201, body: view(contact, [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...Object.keys(props)])]) };
}

function updateContact(a: AccountState, c: Ctx, id: string): Reply {
  const contact = findContact(a, id, c.query.get('idProperty'));
  if (!contact || contact.archived) throw notFound();
  const props = validateContactProperties(a, c.body.properties);
  conflictFor(a, props, contact.id);
  patchContact(a, contact, props);
  return { status: 200, body: view(contact, [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...Object.keys(props)])]) };
}

function batchInputs(c: Ctx): Json[] {
  const inputs = c.body.inputs;
  if (!Array.isArray(inputs)) throw new HttpError(400, 'VALIDATION_ERROR', 'Invalid input JSON: inputs must be an array');
  if (inputs.length > MAX_BATCH) throw new HttpError(400, 'VALIDATION_ERROR', `Batch input limit exceeded: ${inputs.length} inputs, at most ${MAX_BATCH}`);
  return inputs as Json[];
}

function batchReply(results: Json[], missing: string[], okStatus: number): Reply {
  const startedAt = iso();
  const base = { status: 'COMPLETE', results, startedAt, completedAt: iso() };
  if (!missing.length) return { status: okStatus, body: base };
  return {
    status: 207,
    body: {
      ...base,
      numErrors: 1,
      errors: [
        {
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          message: 'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
          context: { ids: missing },
        },
      ],
    },
  };
}

function batchRead(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const idProperty = typeof c.body.idProperty === 'string' ? c.body.idProperty : null;
  const props = requestedProperties(Array.isArray(c.body.properties) ? (c.body.properties as string[]) : [], DEFAULT_CONTACT_PROPERTIES);
  const results: Json[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const id = String(input.id ?? '');
    const contact = findContact(a, id, idProperty);
    if (!contact || contact.archived) missing.push(id);
    else if (!seen.has(contact.id)) {
      seen.add(contact.id);
      results.push(view(contact, props));
    }
  }
  return batchReply(results, missing, 200);
}

function batchCreate(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const all = inputs.map((input, i) => validateContactProperties(a, input.properties, ` (inputs[${i}])`));
  const emails = new Set<string>();
  for (const props of all) {
    conflictFor(a, props);
    const e = props.email?.toLowerCase();
    if (e && emails.has(e)) throw new HttpError(400, 'VALIDATION_ERROR', 'Duplicate emails found in the batch input');
    if (e) emails.add(e);
  }
  const results = all.map((props) => view(insertContact(a, props, c.appId), [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...Object.keys(props)])]));
  return batchReply(results, [], 201);
}

function batchUpdate(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const idProperty = typeof c.body.idProperty === 'string' ? c.body.idProperty : null;
  const planned = inputs.map((input, i) => ({ id: String(input.id ?? ''), props: validateContactProperties(a, input.properties, ` (inputs[${i}])`), idProperty: (input.idProperty as string | undefined) ?? idProperty }));
  const results: Json[] = [];
  const missing: string[] = [];
  const found = planned.map((p) => ({ ...p, contact: findContact(a, p.id, p.idProperty) }));
  // All or nothing on conflicts: every input is checked before any is applied.
  for (const p of found) if (p.contact && !p.contact.archived) conflictFor(a, p.props, p.contact.id);
  for (const p of found) {
    const contact = p.contact;
    if (!contact || contact.archived) {
      missing.push(p.id);
      continue;
    }
    patchContact(a, contact, p.props);
    results.push(view(contact, [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...Object.keys(p.props)])]));
  }
  return batchReply(results, missing, 200);
}

function batchUpsert(a: AccountState, c: Ctx): Reply {
  const inputs = batchInputs(c);
  const planned = inputs.map((input, i) => {
    if (input.idProperty !== 'email') throw new HttpError(400, 'VALIDATION_ERROR', `inputs[${i}].idProperty must be a unique property such as email`);
    const id = String(input.id ?? '');
    if (!EMAIL.test(id)) throw new HttpError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify([{ isValid: false, message: `Email address ${id} is invalid`, error: 'INVALID_EMAIL', name: 'email' }])}`);
    return { id, props: validateContactProperties(a, input.properties, ` (inputs[${i}])`) };
  });
  const ids = planned.map((p) => p.id.toLowerCase());
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new HttpError(400, 'VALIDATION_ERROR', 'Duplicate IDs found in batch input: the same email appears more than once');
  const results = planned.map(({ id, props }) => {
    const existing = a.contactByEmail(id);
    if (existing) {
      const { email: _e, ...rest } = props;
      patchContact(a, existing, rest);
      return { ...view(existing, [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...Object.keys(props)])]), new: false };
    }
    const created = insertContact(a, { ...props, email: id }, c.appId);
    return { ...view(created, [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...Object.keys(props)])]), new: true };
  });
  return batchReply(results, [], 200);
}

// ---- notes --------------------------------------------------------------------------------------

function noteView(note: StoredNote, props: string[], withAssociations: boolean): Json {
  const base = view(note, props);
  if (withAssociations && note.associations.contacts.length) {
    base.associations = { contacts: { results: note.associations.contacts.map((id) => ({ id, type: 'note_to_contact' })) } };
  }
  return base;
}

function noteProperties(props: unknown): Record<string, string> {
  if (typeof props !== 'object' || props === null) throw new HttpError(400, 'VALIDATION_ERROR', 'properties must be an object');
  const problems: Json[] = [];
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(props as Json)) {
    if (!NOTE_PROPERTIES.has(name)) problems.push({ isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name });
    else out[name] = raw === null || raw === undefined ? '' : String(raw);
  }
  if (out.hs_timestamp !== undefined && Number.isNaN(Date.parse(out.hs_timestamp)) && !/^\d+$/.test(out.hs_timestamp)) {
    problems.push({ isValid: false, message: `${out.hs_timestamp} is not a valid datetime`, error: 'INVALID_DATE', name: 'hs_timestamp' });
  }
  if (problems.length) throw new HttpError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(problems)}`);
  return out;
}

function createNote(a: AccountState, c: Ctx): Reply {
  const props = noteProperties(c.body.properties);
  if (!props.hs_timestamp) {
    throw new HttpError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify([{ isValid: false, message: 'hs_timestamp is required', error: 'REQUIRED_PROPERTY', name: 'hs_timestamp' }])}`);
  }
  const contacts: string[] = [];
  const associations = Array.isArray(c.body.associations) ? (c.body.associations as Json[]) : [];
  for (const [i, assoc] of associations.entries()) {
    const to = String((assoc.to as Json | undefined)?.id ?? '');
    const types = Array.isArray(assoc.types) ? (assoc.types as Json[]) : [];
    const ok = types.some((t) => t.associationCategory === 'HUBSPOT_DEFINED' && Number(t.associationTypeId) === 202);
    if (!ok) throw new HttpError(400, 'VALIDATION_ERROR', `associations[${i}]: unsupported association type: only HUBSPOT_DEFINED 202 (note to contact) is emulated`);
    const contact = a.contacts.get(to);
    if (!contact || contact.archived) throw new HttpError(400, 'VALIDATION_ERROR', `associations[${i}]: one or more association targets could not be found: CONTACT ${to}`);
    contacts.push(to);
  }
  const id = a.newId();
  const now = iso();
  const note: StoredNote = {
    id,
    properties: { ...props, hs_object_id: id, hs_createdate: now, hs_lastmodifieddate: now },
    createdAt: now,
    updatedAt: now,
    archived: false,
    associations: { contacts },
  };
  a.notes.set(id, note);
  for (const cid of contacts) {
    let set = a.notesByContact.get(cid);
    if (!set) a.notesByContact.set(cid, (set = new Set()));
    set.add(id);
  }
  return { status: 201, body: view(note, [...new Set([...DEFAULT_NOTE_PROPERTIES, ...Object.keys(props)])]) };
}

function getNote(a: AccountState, c: Ctx, id: string): Reply {
  const note = a.notes.get(id);
  if (!note || note.archived) throw notFound();
  const assoc = (c.query.get('associations') ?? '').split(',').includes('contacts') || (c.query.get('associations') ?? '').split(',').includes('contact');
  return { status: 200, body: noteView(note, requestedProperties(c.query, DEFAULT_NOTE_PROPERTIES), assoc) };
}

function updateNote(a: AccountState, c: Ctx, id: string): Reply {
  const note = a.notes.get(id);
  if (!note || note.archived) throw notFound();
  const props = noteProperties(c.body.properties);
  Object.assign(note.properties, props);
  const now = iso();
  note.properties.hs_lastmodifieddate = now;
  note.updatedAt = now;
  return { status: 200, body: view(note, [...new Set([...DEFAULT_NOTE_PROPERTIES, ...Object.keys(props)])]) };
}

// ---- search -------------------------------------------------------------------------------------

interface Filter {
  propertyName?: string;
  operator?: string;
  value?: unknown;
  values?: unknown[];
}

const tokens = (s: string) => s.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);

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
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) throw new HttpError(400, 'VALIDATION_ERROR', `limit must be between 1 and ${MAX_SEARCH_LIMIT}`);
  const after = Number(c.body.after ?? 0) || 0;
  let candidates: StoredObject[];
  // Fast paths for the lookups the product makes.
  const only = groups.length === 1 ? groups[0]!.filters ?? [] : [];
  const byEmail = kind === 'contacts' && only.find((f) => f.propertyName === 'email' && f.operator === 'EQ');
  const byContact = kind === 'notes' && only.find((f) => (f.propertyName === 'associations.contact' || f.propertyName === 'associations.contacts') && f.operator === 'EQ');
  if (byEmail) {
    const hit = a.contactByEmail(String(byEmail.value ?? ''));
    candidates = hit ? [hit] : [];
  } else if (byContact) {
    candidates = [...(a.notesByContact.get(String(byContact.value)) ?? [])].map((id) => a.notes.get(id)!).filter(Boolean);
  } else {
    candidates = [...(kind === 'contacts' ? a.contacts.values() : a.notes.values())];
  }
  let hits = candidates.filter((o) => !o.archived && (groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => filterMatches(o, f, kind, a)))));
  const sorts = Array.isArray(c.body.sorts) ? (c.body.sorts as Array<string | { propertyName: string; direction?: string }>) : [];
  const sort = sorts[0];
  if (sort) {
    const prop = typeof sort === 'string' ? sort.replace(/^-/, '') : sort.propertyName;
    const desc = typeof sort === 'string' ? sort.startsWith('-') : sort.direction === 'DESCENDING';
    hits = [...hits].sort((x, y) => String(x.properties[prop] ?? '').localeCompare(String(y.properties[prop] ?? '')) * (desc ? -1 : 1));
  } else {
    hits = [...hits].sort((x, y) => Number(x.id) - Number(y.id));
  }
  const props = requestedProperties(Array.isArray(c.body.properties) ? (c.body.properties as string[]) : [], kind === 'contacts' ? DEFAULT_CONTACT_PROPERTIES : DEFAULT_NOTE_PROPERTIES);
  const page = hits.slice(after, after + limit);
  const body: Json = { total: hits.length, results: page.map((o) => view(o, props)) };
  if (after + limit < hits.length) body.paging = { next: { after: String(after + limit) } };
  return { status: 200, body };
}

// ---- properties ---------------------------------------------------------------------------------

function listProperties(a: AccountState): Reply {
  return { status: 200, body: { results: [...a.properties.values()] } };
}

function getProperty(a: AccountState, name: string): Reply {
  const def = a.properties.get(name);
  if (!def) throw new HttpError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${name} for object type contacts`);
  return { status: 200, body: def };
}

// ---- the server ---------------------------------------------------------------------------------

export interface EmulatorServerOptions {
  port?: number;
  host?: string;
  accounts: EmulatorAccountSeed[];
  seed?: number;
  log?: (line: string) => void;
}

export class EmulatorServer {
  readonly accounts = new Map<string, AccountState>();
  private readonly byToken = new Map<string, AccountState>();
  private readonly log: RequestRecord[] = [];
  private logNext = 0;
  private readonly totals: Record<string, number> = {};
  private server?: Server;
  private readonly hanging = new Set<ServerResponse>();
  url = '';
  port = 0;

  constructor(private readonly options: EmulatorServerOptions) {
    this.resetAccounts();
  }

  resetAccounts(): void {
    this.accounts.clear();
    this.byToken.clear();
    this.log.length = 0;
    this.logNext = 0;
    for (const k of Object.keys(this.totals)) delete this.totals[k];
    for (const seed of this.options.accounts) this.addAccount(seed);
  }

  addAccount(seed: EmulatorAccountSeed): AccountState {
    if (this.accounts.has(seed.accountId)) throw new Error(`account ${seed.accountId} exists`);
    const state = new AccountState(seed);
    state.random = prng(this.options.seed ?? 1);
    this.accounts.set(seed.accountId, state);
    this.byToken.set(seed.token, state);
    return state;
  }

  account(accountId: string): AccountState {
    const a = this.accounts.get(accountId);
    if (!a) throw new Error(`the emulator has no account "${accountId}" (has: ${[...this.accounts.keys()].join(', ')})`);
    return a;
  }

  requests(accountId?: string): RequestRecord[] {
    const ordered = this.log.length < REQUEST_LOG_SIZE ? this.log : [...this.log.slice(this.logNext), ...this.log.slice(0, this.logNext)];
    return accountId ? ordered.filter((r) => r.accountId === accountId) : [...ordered];
  }

  requestCounts(accountId?: string): Record<string, number> {
    return { ...(accountId ? this.account(accountId).counts : this.totals) };
  }

  private record(r: RequestRecord, account?: AccountState): void {
    if (this.log.length < REQUEST_LOG_SIZE) this.log.push(r);
    else {
      this.log[this.logNext] = r;
      this.logNext = (this.logNext + 1) % REQUEST_LOG_SIZE;
    }
    this.totals[r.operation] = (this.totals[r.operation] ?? 0) + 1;
    account?.count(r.operation);
    if (r.fault && account) account.faultCounts[r.fault] = (account.faultCounts[r.fault] ?? 0) + 1;
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.send(res, 500, { status: 'error', message: `emulator error: ${(err as Error).message}`, correlationId: randomUUID(), category: 'INTERNAL_ERROR' });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as { port: number };
    this.port = addr.port;
    this.url = `http://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private rateHeaders(a: AccountState, now: number): Record<string, string> {
    const h: Record<string, string> = {
      'X-HubSpot-RateLimit-Daily': String(DAILY_LIMIT),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, DAILY_LIMIT - a.dailyUsed)),
    };
    if (a.general) {
      h['X-HubSpot-RateLimit-Interval-Milliseconds'] = '10000';
      h['X-HubSpot-RateLimit-Max'] = String(a.general.limit);
      h['X-HubSpot-RateLimit-Remaining'] = String(a.general.remaining(now));
    }
    if (a.search) {
      h['X-HubSpot-RateLimit-Secondly'] = String(a.search.limit);
      h['X-HubSpot-RateLimit-Secondly-Remaining'] = String(a.search.remaining(now));
    }
    return h;
  }

  private rateLimited(res: ServerResponse, a: AccountState, now: number, policy: 'TEN_SECONDLY_ROLLING' | 'SECONDLY', retryAfterMs: number): void {
    const message = policy === 'SECONDLY' ? 'You have reached your secondly limit.' : 'You have reached your ten_secondly_rolling limit.';
    this.send(
      res,
      429,
      { status: 'error', message, errorType: 'RATE_LIMIT', correlationId: randomUUID(), policyName: policy, category: 'RATE_LIMITS' },
      { ...this.rateHeaders(a, now), 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    );
  }

  /** The fault to inject on this call, if any: a queued one first, else a random draw. */
  private drawFault(a: AccountState, operation: string): FaultKind | { latencyMs: number } | undefined {
    const queued = a.failNext.get(operation);
    if (queued?.length) return queued.shift();
    const f = a.faults;
    if (!f || (f.operations && !f.operations.includes(operation))) return undefined;
    const r = a.random;
    if (f.rateLimitRate && r() < f.rateLimitRate) return '429';
    if (f.serverErrorRate && r() < f.serverErrorRate) return r() < 0.5 ? '500' : '503';
    if (f.timeoutRate && r() < f.timeoutRate) return 'timeout';
    if (f.lostResponseRate && r() < f.lostResponseRate) return 'lost-response';
    if (f.latencyMs) return { latencyMs: f.latencyMs + (f.latencyJitterMs ? r() * f.latencyJitterMs : 0) };
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_emulator')) return this.inspect(req, res, url, method);

    const route = match(method, url.pathname);
    const auth = req.headers.authorization ?? '';
    const account = auth.startsWith('Bearer ') ? this.byToken.get(auth.slice(7).trim()) : undefined;
    const operation = route?.operation ?? 'unknown';
    const record = (status: number, fault?: string) =>
      this.record({ at: Date.now(), accountId: account?.seed.accountId, operation, method, path: url.pathname, status, ...(fault ? { fault } : {}) }, account);

    if (!account) {
      await drain(req);
      record(401);
      return this.send(res, 401, {
        status: 'error',
        message: 'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
        correlationId: randomUUID(),
        category: 'INVALID_AUTHENTICATION',
      });
    }
    if (!route) {
      await drain(req);
      record(404);
      return this.send(res, 404, { status: 'error', message: `No route for ${method} ${url.pathname} in the emulator`, correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
    }
    if (!account.scopes.has(route.scope)) {
      await drain(req);
      record(403);
      return this.send(res, 403, {
        status: 'error',
        message: 'This app hasn\'t been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.',
        correlationId: randomUUID(),
        errors: [{ message: `One or more of the following scopes are required: [${route.scope}]`, context: { requiredGranularScopes: [route.scope] } }],
        links: { scopes: 'https://developers.hubspot.com/scopes' },
        category: 'MISSING_SCOPES',
      });
    }

    const now = Date.now();
    if (route.search && account.search && account.search.remaining(now) === 0) {
      await drain(req);
      record(429, 'rate-limit');
      return this.rateLimited(res, account, now, 'SECONDLY', account.search.resetInMs(now));
    }
    if (account.general && !account.general.take(now)) {
      await drain(req);
      record(429, 'rate-limit');
      return this.rateLimited(res, account, now, 'TEN_SECONDLY_ROLLING', account.general.resetInMs(now));
    }
    if (route.search) account.search?.take(now);
    account.dailyUsed++;

    const body = method === 'GET' ? {} : await readJson(req);
    const fault = this.drawFault(account, operation);
    if (typeof fault === 'object') await sleep(fault.latencyMs);
    else if (fault === '429') {
      record(429, 'injected-429');
      return this.rateLimited(res, account, now, 'TEN_SECONDLY_ROLLING', 1000);
    } else if (fault === '500' || fault === '503') {
      const status = Number(fault);
      record(status, `injected-${fault}`);
      return this.send(res, status, {
        status: 'error',
        message: status === 503 ? 'Service Unavailable' : 'internal error',
        correlationId: randomUUID(),
        category: status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR',
      });
    } else if (fault === 'timeout') {
      record(0, 'injected-timeout');
      this.hanging.add(res);
      // Held until the timeout passes, the client gives up, or the emulator closes.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, account.faults?.timeoutMs ?? 30_000);
        res.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.hanging.delete(res);
      res.destroy();
      return;
    }

    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      record(400);
      return this.send(res, 400, { status: 'error', message: 'Invalid input JSON on line 1', correlationId: randomUUID(), category: 'VALIDATION_ERROR' });
    }
    let reply: Reply;
    try {
      reply = route.handle(account, { params: [], query: url.searchParams, body, appId: account.seed.appId });
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      reply = { status: err.status, body: { status: 'error', message: err.message, correlationId: randomUUID(), category: err.category, ...err.extra } };
    }
    if (fault === 'lost-response') {
      // The write is applied; the answer never arrives.
      record(reply.status, 'injected-lost-response');
      res.socket?.destroy();
      return;
    }
    record(reply.status);
    this.send(res, reply.status, reply.body, { ...this.rateHeaders(account, Date.now()), ...reply.headers });
  }

  // ---- inspection API (no auth: tests, demos, benchmarks) ----
  private async inspect(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const seg = url.pathname.split('/').filter(Boolean).slice(1);
    const ok = (body: unknown, status = 200) => this.send(res, status, body);
    try {
      if (method === 'GET' && seg[0] === 'health') return ok({ status: 'ok', accounts: this.accounts.size });
      if (method === 'POST' && seg[0] === 'reset') {
        await drain(req);
        this.resetAccounts();
        return ok({ reset: true });
      }
      if (seg[0] === 'accounts' && seg.length === 1) {
        if (method === 'GET') return ok({ accounts: [...this.accounts.values()].map((a) => ({ accountId: a.seed.accountId, appId: a.seed.appId, contacts: a.contacts.size, notes: a.notes.size })) });
        if (method === 'POST') {
          const seed = (await readJson(req)) as unknown as EmulatorAccountSeed | undefined;
          if (!seed?.accountId || !seed.token || typeof seed.appId !== 'number') return ok({ message: 'an account seed needs accountId, token and a numeric appId' }, 400);
          this.addAccount(seed);
          return ok({ accountId: seed.accountId }, 201);
        }
      }
      if (seg[0] === 'accounts' && seg.length === 3) {
        const a = this.account(decodeURIComponent(seg[1]!));
        const what = seg[2];
        if (method === 'GET' && what === 'contacts') return ok({ results: [...a.contacts.values()] });
        if (method === 'GET' && what === 'notes') return ok({ results: [...a.notes.values()] });
        if (method === 'GET' && what === 'requests') return ok({ results: this.requests(a.seed.accountId) });
        if (method === 'GET' && what === 'request-counts') return ok(this.requestCounts(a.seed.accountId));
        if (method === 'GET' && what === 'fault-counts') return ok({ ...a.faultCounts });
        if (method === 'PUT' && what === 'faults') {
          const body = (await readJson(req)) as (FaultSpec & { seed?: number }) | null | undefined;
          a.faults = body ?? null;
          if (body?.seed !== undefined) a.random = prng(body.seed);
          return ok({ faults: a.faults });
        }
        if (method === 'POST' && what === 'fail-next') {
          const body = (await readJson(req)) as { operation?: string; kind?: FaultKind; count?: number } | undefined;
          if (!body?.operation || !body.kind) return ok({ message: 'fail-next needs operation and kind' }, 400);
          const q = a.failNext.get(body.operation) ?? [];
          for (let i = 0; i < (body.count ?? 1); i++) q.push(body.kind);
          a.failNext.set(body.operation, q);
          return ok({ queued: q.length });
        }
      }
      return ok({ message: `no inspection route ${method} ${url.pathname}` }, 404);
    } catch (err) {
      return ok({ message: (err as Error).message }, 400);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    /* discard */
  }
}

/** The request body as JSON; undefined when it is not JSON. An empty body is {}. */
async function readJson(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (!chunks.length) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return v === null ? (null as unknown as Json) : v;
  } catch {
    return undefined;
  }
}

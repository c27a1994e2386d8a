// The emulator's in-memory data, one AccountState per HubSpot account (portal): contacts with an
// email index (primary and secondary, case-insensitive), notes with their contact associations, the
// property schema, unique-value and validation rules, the lagging search index, rate-limit windows,
// injected faults and the request counts.
import { defineProperty, STANDARD_CONTACT_PROPERTIES, type PropertyDefinition, type PropertySeed } from './properties';
import { SearchIndex, searchLagOf, type SearchLag, type SearchLagOption } from './search-index';

/**
 * The rule types a property validation rule may have: the 27 values of the `ruleType` enum of HubSpot's
 * 2026-09 Property Validations spec (PublicPropertyValidationRule). A seed naming any other is refused.
 */
export const PROPERTY_RULE_TYPES = [
  'AFTER_DATETIME_DURATION',
  'AFTER_DURATION',
  'ALPHANUMERIC',
  'BEFORE_DATETIME_DURATION',
  'BEFORE_DURATION',
  'DAYS_OF_WEEK',
  'DECIMAL',
  'DOMAIN',
  'EMAIL',
  'EMAIL_ALLOWED_DOMAINS',
  'EMAIL_BLOCKED_DOMAINS',
  'END_DATE',
  'END_DATETIME',
  'FORMAT',
  'MAX_LENGTH',
  'MAX_NUMBER',
  'MIN_LENGTH',
  'MIN_NUMBER',
  'PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE',
  'REGEX',
  'SPECIAL_CHARACTERS',
  'START_DATE',
  'START_DATETIME',
  'URL',
  'URL_ALLOWED_DOMAINS',
  'URL_BLOCKED_DOMAINS',
  'WHITESPACE',
] as const;
export type PropertyRuleType = (typeof PROPERTY_RULE_TYPES)[number];

/** A property format rule, as the property validations API describes it. */
export interface PropertyValidationRule {
  /** Enforced: MIN_LENGTH [n], MAX_LENGTH [n], REGEX [pattern], ALPHANUMERIC ["ALPHA_ONLY" | "NUMERIC_ONLY" | "ALPHANUMERIC_ONLY"]; the others are listed only. */
  ruleType: PropertyRuleType;
  ruleArguments: string[];
  shouldApplyNormalization?: boolean;
}

/**
 * A portal's write-validation rules. Format rules apply to every API write (HubSpot enforces them on
 * integrations since July 2023) and are readable through the property validations API;
 * required-on-create and conditional-required rules apply to writes through API version 2026-09 and
 * show only in the 400 VALIDATION_ERROR that refuses such a write.
 */
export interface ValidationRules {
  /** Properties the portal's create form requires: a create without a value for one is refused. */
  requiredOnCreate?: string[];
  /** When `property` has one of `values`, every property of `requires` must have a value. */
  conditionalRequired?: Array<{ property: string; values: string[]; requires: string[] }>;
  /** Format rules per property name. */
  propertyRules?: Record<string, PropertyValidationRule[]>;
}

export interface EmulatorAccountSeed {
  accountId: string;
  token: string;
  appId: number;
  scopes?: string[];
  rateLimit?: { perTenSeconds?: number; searchPerSecond?: number };
  customProperties?: PropertySeed[];
  contacts?: Array<{ id?: string; properties: Record<string, string> }>;
  /** This account's search-index lag; default: the emulator's (`startHubSpotEmulator({ searchLagMs })`). */
  searchLagMs?: SearchLagOption;
  validationRules?: ValidationRules;
}

export interface FaultSpec {
  operations?: string[];
  latencyMs?: number;
  latencyJitterMs?: number;
  serverErrorRate?: number;
  rateLimitRate?: number;
  timeoutRate?: number;
  lostResponseRate?: number;
  /** How long a "timeout" fault holds the connection before dropping it. Default 30 s. */
  timeoutMs?: number;
  slowWriteRate?: number;
  /** How long a "slow-write" fault holds a call before applying it (whether or not the caller is still there). Default 10 s. */
  slowWriteMs?: number;
  /** Share of bulk writes (batch create, update, upsert) refused with 423 Locked, each starting a 2 s lock. */
  lockedRate?: number;
  /** The kinder variant for the random slow writes: a held write is dropped when its caller leaves first ("slow-write-if-connected"). */
  slowWriteIfConnected?: boolean;
}

/**
 * "slow-write": held, then applied when the hold ends, whether or not the caller is still connected
 * (HubSpot may apply a request it fully received). "slow-write-if-connected": the kinder variant, applied
 * only if the caller is still connected then.
 */
export type FaultKind =
  '429' | '500' | '503' | 'timeout' | 'lost-response' | 'slow-write' | 'slow-write-if-connected' | '423' | '477';

export const DEFAULT_SLOW_WRITE_MS = 10_000;
/** HubSpot's docs: a 423 lock on bulk writes lasts 2 seconds. */
export const LOCK_MS = 2_000;

/** A fault queued by failNext: a kind, or a kind with its hold (slow-write) or its Retry-After (477). */
export type QueuedFault = FaultKind | { kind: FaultKind; holdMs?: number; retryAfterSeconds?: number };

/** Refuses rules HubSpot cannot have: a format rule whose type is not one of the 27 published ones. */
export function checkValidationRules(rules: ValidationRules): ValidationRules {
  for (const [property, list] of Object.entries(rules.propertyRules ?? {})) {
    for (const rule of list) {
      if (!(PROPERTY_RULE_TYPES as readonly string[]).includes(rule.ruleType)) {
        throw new Error(
          `property "${property}": rule type "${rule.ruleType}" is not one HubSpot publishes (${PROPERTY_RULE_TYPES.length} exist); required-on-create and conditionally required properties are requiredOnCreate and conditionalRequired`,
        );
      }
    }
  }
  return rules;
}

/** What became of a call held by a fault: applied (and answered, or not for lost-response) or dropped. */
export interface FaultLogEntry {
  kind: 'slow-write' | 'slow-write-if-connected' | 'lost-response' | 'timeout';
  operation: string;
  method: string;
  path: string;
  /** When the call arrived and when the fault's hold ended (ms since the epoch). */
  at: number;
  endedAt: number;
  /** applied: the write was made (and answered, except for lost-response); dropped: the caller left first, nothing was written. */
  outcome: 'applied' | 'dropped';
  status?: number;
  /** The ids the write created or changed, when applied. */
  ids?: string[];
  /** A slow write applied after its caller had closed the connection: nobody saw its answer. */
  callerLeft?: boolean;
}

export interface StoredObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
}

/**
 * One version of a property value, as HubSpot's `propertiesWithHistory` lists it (the CRM objects
 * API 2026-09, schema ValueWithTimestamp: value, timestamp, sourceType, sourceId, sourceLabel,
 * updatedByUserId), newest first.
 */
export interface PropertyVersion {
  value: string;
  timestamp: string;
  sourceType: string;
  sourceId?: string;
  sourceLabel?: string;
  updatedByUserId?: number;
}

/** Who made a write: an app through the API (its app id), or a person in HubSpot's UI (a user id). */
export type WriteSource = { appId: number } | { userId: number };

/** The user a person's edits in the emulated UI are made by (seeded contacts, addContact, editContact). */
export const EMULATOR_USER_ID = 7_700_001;
/** Versions kept per property (the emulator's bound; HubSpot keeps a property's history longer). */
const MAX_VERSIONS = 50;

/** The version a write leaves: an app's is INTEGRATION with the app id; a person's is CRM_UI with the user. */
export function versionOf(value: string, source: WriteSource, timestamp: string): PropertyVersion {
  if ('appId' in source) return { value, timestamp, sourceType: 'INTEGRATION', sourceId: String(source.appId) };
  return {
    value,
    timestamp,
    sourceType: 'CRM_UI',
    sourceId: `userId:${source.userId}`,
    updatedByUserId: source.userId,
  };
}

export interface StoredNote extends StoredObject {
  associations: { contacts: string[] };
}

export interface RequestRecord {
  at: number;
  accountId?: string;
  operation: string;
  method: string;
  path: string;
  status: number;
  fault?: string;
  /** The API version of the path: 'v3', 'v4' (legacy) or '2026-09'. */
  apiVersion?: string;
}

export const ALL_SCOPES = ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.schemas.contacts.read'];
export const DEFAULT_RATE_LIMIT = { perTenSeconds: 190, searchPerSecond: 5 };

/** A small seeded PRNG (mulberry32) so fault runs reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Timestamps in a rolling window, as a ring: O(1) amortised per call. */
export class RollingWindow {
  private stamps: number[] = [];
  private head = 0;
  constructor(
    readonly limit: number,
    readonly spanMs: number,
  ) {}
  private trim(now: number) {
    while (this.head < this.stamps.length && this.stamps[this.head]! <= now - this.spanMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
  }
  remaining(now: number): number {
    this.trim(now);
    return Math.max(0, this.limit - (this.stamps.length - this.head));
  }
  /** Takes a slot; false when the window is full. */
  take(now: number): boolean {
    if (this.remaining(now) === 0) return false;
    this.stamps.push(now);
    return true;
  }
  /** ms until the oldest call leaves the window. */
  resetInMs(now: number): number {
    this.trim(now);
    return this.head < this.stamps.length ? Math.max(0, this.stamps[this.head]! + this.spanMs - now) : 0;
  }
}

const FAULT_LOG_SIZE = 1_000;

const snapshotContact = (o: StoredObject): StoredObject => ({ ...o, properties: { ...o.properties } });
const snapshotNote = (o: StoredObject): StoredObject =>
  ({
    ...o,
    properties: { ...o.properties },
    associations: { contacts: [...(o as StoredNote).associations.contacts] },
  }) as StoredNote;

export class AccountState {
  readonly properties = new Map<string, PropertyDefinition>();
  readonly contacts = new Map<string, StoredObject>();
  /** lowercased email (primary and secondary) -> contact id */
  readonly emailIndex = new Map<string, string>();
  readonly notes = new Map<string, StoredNote>();
  readonly notesByContact = new Map<string, Set<string>>();
  /** Archived (deleted) records, kept for `?archived=true` reads and inspection. */
  readonly archivedContacts = new Map<string, StoredObject>();
  readonly archivedNotes = new Map<string, StoredNote>();
  /** Calls and Communications (engagements.ts), live and archived, with their contact associations. */
  readonly engagements = { calls: new Map<string, StoredNote>(), communications: new Map<string, StoredNote>() };
  readonly archivedEngagements = {
    calls: new Map<string, StoredNote>(),
    communications: new Map<string, StoredNote>(),
  };
  /** id of a merged-away contact -> the id of the record it was merged into */
  readonly mergedInto = new Map<string, string>();
  /** Property versions of contacts and notes by record id: property name -> versions, newest first. */
  readonly history = new Map<string, Map<string, PropertyVersion[]>>();
  /** Custom properties with hasUniqueValue, and value -> contact id for each. */
  readonly uniqueProperties: string[] = [];
  readonly uniqueIndex = new Map<string, Map<string, string>>();
  private currentRules: ValidationRules = {};
  /** Operation -> until when (epoch ms) it answers 423 Locked, after a 423. */
  readonly locks = new Map<string, number>();
  /** Until when (epoch ms) every call answers 477 Migration in Progress. */
  migratingUntil = 0;
  readonly searchContacts: SearchIndex;
  readonly searchNotes: SearchIndex;
  readonly faultLog: FaultLogEntry[] = [];
  readonly scopes: Set<string>;
  general?: RollingWindow;
  search?: RollingWindow;
  faults: FaultSpec | null = null;
  random: () => number = prng(1);
  readonly failNext = new Map<string, QueuedFault[]>();
  readonly counts: Record<string, number> = {};
  /** Injected faults and real rate-limit refusals, by kind. */
  readonly faultCounts: Record<string, number> = {};
  dailyUsed = 0;
  /** Ids are per account (portal) and restart with it: a reset gives the seeds their ids again. */
  private nextId = 100_000_001;

  constructor(
    readonly seed: EmulatorAccountSeed,
    options: { searchLag?: SearchLag; seed?: number } = {},
  ) {
    this.scopes = new Set(seed.scopes ?? ALL_SCOPES);
    this.rules = structuredClone(seed.validationRules ?? {});
    const lagRandom = prng(((options.seed ?? 1) ^ 0x5bd1e995) >>> 0);
    // Seeds are indexed from the start: the lag applies from the first write on.
    this.searchContacts = new SearchIndex(
      { minMs: 0, maxMs: 0 },
      lagRandom,
      (c) => this.emailsOf(c).map((e) => `e:${e}`),
      snapshotContact,
    );
    this.searchNotes = new SearchIndex(
      { minMs: 0, maxMs: 0 },
      lagRandom,
      (n) => (n as StoredNote).associations.contacts.map((id) => `c:${id}`),
      snapshotNote,
    );
    const perTen = seed.rateLimit?.perTenSeconds ?? DEFAULT_RATE_LIMIT.perTenSeconds;
    const perSecond = seed.rateLimit?.searchPerSecond ?? DEFAULT_RATE_LIMIT.searchPerSecond;
    if (perTen && Number.isFinite(perTen)) this.general = new RollingWindow(perTen, 10_000);
    if (perSecond && Number.isFinite(perSecond)) this.search = new RollingWindow(perSecond, 1_000);
    for (const p of STANDARD_CONTACT_PROPERTIES) this.properties.set(p.name, defineProperty(p, true));
    for (const p of seed.customProperties ?? []) {
      this.properties.set(p.name, defineProperty({ groupName: 'custom', ...p }, false));
      if (p.hasUniqueValue) {
        this.uniqueProperties.push(p.name);
        this.uniqueIndex.set(p.name, new Map());
      }
    }
    for (const c of seed.contacts ?? []) this.addPersonContact(c.properties, c.id);
    this.setSearchLag(searchLagOf(seed.searchLagMs, options.searchLag));
  }

  get rules(): ValidationRules {
    return this.currentRules;
  }

  /** The portal's write rules; a format rule of a type HubSpot does not publish is refused. */
  set rules(rules: ValidationRules) {
    this.currentRules = checkValidationRules(rules);
  }

  setSearchLag(lag: SearchLag): void {
    // Shortening or ending the lag makes what was hidden visible now.
    if (lag.maxMs < this.searchContacts.lag.maxMs) this.flushSearch();
    this.searchContacts.lag = lag;
    this.searchNotes.lag = lag;
  }

  get searchLag(): SearchLag {
    return { ...this.searchContacts.lag };
  }

  flushSearch(): void {
    this.searchContacts.flush();
    this.searchNotes.flush();
  }

  logFault(entry: FaultLogEntry): void {
    if (this.faultLog.length >= FAULT_LOG_SIZE) this.faultLog.shift();
    this.faultLog.push(entry);
  }

  /** A contact id as it reads now: a merged-away id names the record it was merged into. */
  resolveContactId(id: string): string {
    let cur = id;
    for (let i = 0; i < 100; i++) {
      const next = this.mergedInto.get(cur);
      if (next === undefined) return cur;
      cur = next;
    }
    return cur;
  }

  /** The unique-value holder of a value, if another contact has it. */
  uniqueHolder(property: string, value: string): string | undefined {
    return this.uniqueIndex.get(property)?.get(value);
  }

  indexUnique(contact: StoredObject): void {
    for (const p of this.uniqueProperties) {
      const v = contact.properties[p];
      if (v) this.uniqueIndex.get(p)!.set(v, contact.id);
    }
  }

  unindexUnique(contact: StoredObject): void {
    for (const p of this.uniqueProperties) {
      const v = contact.properties[p];
      const idx = this.uniqueIndex.get(p)!;
      if (v && idx.get(v) === contact.id) idx.delete(v);
    }
  }

  linkNote(noteId: string, contactId: string): void {
    let set = this.notesByContact.get(contactId);
    if (!set) this.notesByContact.set(contactId, (set = new Set()));
    set.add(noteId);
  }

  unlinkNote(noteId: string, contactId: string): void {
    const set = this.notesByContact.get(contactId);
    set?.delete(noteId);
    if (set && set.size === 0) this.notesByContact.delete(contactId);
  }

  newId(): string {
    let id = String(this.nextId++);
    while (
      this.contacts.has(id) ||
      this.notes.has(id) ||
      this.archivedContacts.has(id) ||
      this.archivedNotes.has(id) ||
      this.mergedInto.has(id)
    )
      id = String(this.nextId++);
    return id;
  }

  /** A contact created by a person in HubSpot's UI: no app is its record source. */
  addPersonContact(properties: Record<string, string>, id = this.newId()): StoredObject {
    return this.insertContact(properties, undefined, id);
  }

  /** Records a write's values in the record's property history (newest first). */
  recordVersions(id: string, properties: Record<string, string | null>, source: WriteSource, timestamp: string): void {
    let byName = this.history.get(id);
    if (!byName) this.history.set(id, (byName = new Map()));
    for (const [name, value] of Object.entries(properties)) {
      if (value === null) continue;
      const list = byName.get(name) ?? [];
      list.unshift(versionOf(value, source, timestamp));
      if (list.length > MAX_VERSIONS) list.length = MAX_VERSIONS;
      byName.set(name, list);
    }
  }

  /** The versions of the named properties of a record that has any, newest first. */
  versions(id: string, names: string[]): Record<string, PropertyVersion[]> {
    const byName = this.history.get(id);
    const out: Record<string, PropertyVersion[]> = {};
    for (const name of names) {
      const list = byName?.get(name);
      if (list?.length) out[name] = list.map((v) => ({ ...v }));
    }
    return out;
  }

  /** Stores a new contact, indexed for email lookups, unique values and (after the lag) search; its record source is the app that created it, or HubSpot's UI. */
  insertContact(properties: Record<string, string>, appId?: number, id = this.newId()): StoredObject {
    this.searchContacts.willChange(id, undefined);
    const now = new Date().toISOString();
    const source =
      appId === undefined
        ? { hs_object_source: 'CRM_UI', hs_object_source_id: null, hs_object_source_label: 'CRM_UI' }
        : {
            hs_object_source: 'INTEGRATION',
            hs_object_source_id: String(appId),
            hs_object_source_label: 'INTEGRATION',
          };
    const contact: StoredObject = {
      id,
      properties: { ...properties, hs_object_id: id, createdate: now, lastmodifieddate: now, ...source },
      createdAt: now,
      updatedAt: now,
      archived: false,
    };
    this.contacts.set(id, contact);
    this.recordVersions(id, properties, appId === undefined ? { userId: EMULATOR_USER_ID } : { appId }, now);
    this.indexEmails(contact);
    this.indexUnique(contact);
    this.searchContacts.changed(id, contact);
    return contact;
  }

  emailsOf(contact: StoredObject): string[] {
    const list: string[] = [];
    if (contact.properties.email) list.push(contact.properties.email.toLowerCase());
    for (const e of (contact.properties.hs_additional_emails ?? '').split(';'))
      if (e.trim()) list.push(e.trim().toLowerCase());
    return list;
  }

  indexEmails(contact: StoredObject): void {
    for (const e of this.emailsOf(contact)) this.emailIndex.set(e, contact.id);
  }

  unindexEmails(contact: StoredObject): void {
    for (const e of this.emailsOf(contact)) if (this.emailIndex.get(e) === contact.id) this.emailIndex.delete(e);
  }

  contactByEmail(email: string): StoredObject | undefined {
    const id = this.emailIndex.get(email.trim().toLowerCase());
    return id ? this.contacts.get(id) : undefined;
  }

  count(operation: string): void {
    this.counts[operation] = (this.counts[operation] ?? 0) + 1;
  }
}

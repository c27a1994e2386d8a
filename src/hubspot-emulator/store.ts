// The emulator's in-memory data, one AccountState per HubSpot account (portal): contacts with an
// email index (primary and secondary, case-insensitive), notes with their contact associations, the
// property schema, rate-limit windows, injected faults and the request counts.
import { defineProperty, STANDARD_CONTACT_PROPERTIES, type PropertyDefinition, type PropertySeed } from './properties';

export interface EmulatorAccountSeed {
  accountId: string;
  token: string;
  appId: number;
  scopes?: string[];
  rateLimit?: { perTenSeconds?: number; searchPerSecond?: number };
  customProperties?: PropertySeed[];
  contacts?: Array<{ id?: string; properties: Record<string, string> }>;
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
}

export type FaultKind = '429' | '500' | '503' | 'timeout' | 'lost-response';

export interface StoredObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
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
  constructor(readonly limit: number, readonly spanMs: number) {}
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

export class AccountState {
  readonly properties = new Map<string, PropertyDefinition>();
  readonly contacts = new Map<string, StoredObject>();
  /** lowercased email (primary and secondary) -> contact id */
  readonly emailIndex = new Map<string, string>();
  readonly notes = new Map<string, StoredNote>();
  readonly notesByContact = new Map<string, Set<string>>();
  readonly scopes: Set<string>;
  general?: RollingWindow;
  search?: RollingWindow;
  faults: FaultSpec | null = null;
  random: () => number = prng(1);
  readonly failNext = new Map<string, FaultKind[]>();
  readonly counts: Record<string, number> = {};
  /** Injected faults and real rate-limit refusals, by kind. */
  readonly faultCounts: Record<string, number> = {};
  dailyUsed = 0;
  /** Ids are per account (portal) and restart with it: a reset gives the seeds their ids again. */
  private nextId = 100_000_001;

  constructor(readonly seed: EmulatorAccountSeed) {
    this.scopes = new Set(seed.scopes ?? ALL_SCOPES);
    const perTen = seed.rateLimit?.perTenSeconds ?? DEFAULT_RATE_LIMIT.perTenSeconds;
    const perSecond = seed.rateLimit?.searchPerSecond ?? DEFAULT_RATE_LIMIT.searchPerSecond;
    if (perTen && Number.isFinite(perTen)) this.general = new RollingWindow(perTen, 10_000);
    if (perSecond && Number.isFinite(perSecond)) this.search = new RollingWindow(perSecond, 1_000);
    for (const p of STANDARD_CONTACT_PROPERTIES) this.properties.set(p.name, defineProperty(p, true));
    for (const p of seed.customProperties ?? []) this.properties.set(p.name, defineProperty({ groupName: 'custom', ...p }, false));
    for (const c of seed.contacts ?? []) this.addPersonContact(c.properties, c.id);
  }

  newId(): string {
    let id = String(this.nextId++);
    while (this.contacts.has(id) || this.notes.has(id)) id = String(this.nextId++);
    return id;
  }

  /** A contact created by a person in HubSpot's UI: no app is its record source. */
  addPersonContact(properties: Record<string, string>, id = this.newId()): StoredObject {
    const now = new Date().toISOString();
    const contact: StoredObject = {
      id,
      properties: { ...properties, hs_object_id: id, createdate: now, lastmodifieddate: now, hs_object_source: 'CRM_UI', hs_object_source_id: null, hs_object_source_label: 'CRM_UI' },
      createdAt: now,
      updatedAt: now,
      archived: false,
    };
    this.contacts.set(id, contact);
    this.indexEmails(contact);
    return contact;
  }

  emailsOf(contact: StoredObject): string[] {
    const list: string[] = [];
    if (contact.properties.email) list.push(contact.properties.email.toLowerCase());
    for (const e of (contact.properties.hs_additional_emails ?? '').split(';')) if (e.trim()) list.push(e.trim().toLowerCase());
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

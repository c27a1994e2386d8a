// A local HubSpot emulator: a real HTTP server the official @hubspot/api-client talks to, unmodified,
// through `basePath`. See docs/HUBSPOT_EMULATOR.md.
import { archiveContact, archiveNote, mergeContacts, noteIdsOf, patchContact, patchNote } from './crm';
import { searchLagOf, type SearchLag, type SearchLagOption } from './search-index';
import { EmulatorServer } from './server';
import type { OAuthErrorShape, OAuthFaultKind } from './oauth';
import { EMULATOR_USER_ID, prng } from './store';
import type {
  EmulatorAccountSeed,
  FaultKind,
  FaultLogEntry,
  FaultSpec,
  PropertyVersion,
  RequestRecord,
  StoredNote,
  StoredObject,
  ValidationRules,
  WriteSource,
} from './store';

export type {
  EmulatorAccountSeed,
  FaultKind,
  FaultLogEntry,
  FaultSpec,
  PropertyValidationRule,
  PropertyVersion,
  RequestRecord,
  ValidationRules,
  WriteSource,
} from './store';
export { EMULATOR_USER_ID, PROPERTY_RULE_TYPES } from './store';
export type { OAuthErrorShape, OAuthFaultKind } from './oauth';
export { API_VERSION } from './crm';
export type { EngagementObject } from './engagements';
import type { EngagementObject } from './engagements';
export { DEFAULT_SEARCH_LAG, type SearchLag, type SearchLagOption } from './search-index';

export const DEMO_ACCOUNT: EmulatorAccountSeed = {
  accountId: 'demo',
  token: 'demo-token',
  appId: 1000001,
  customProperties: [
    { name: 'favorite_product', label: 'Favorite product', type: 'string', fieldType: 'text' },
    { name: 'conversation_summary', label: 'Last conversation summary', type: 'string', fieldType: 'textarea' },
    { name: 'whatsapp_number', label: 'WhatsApp number', type: 'string', fieldType: 'phonenumber' },
    { name: 'seats', label: 'Seats', type: 'number', fieldType: 'number' },
    { name: 'renewal_date', label: 'Renewal date', type: 'date', fieldType: 'date' },
    {
      name: 'interests',
      label: 'Interests',
      type: 'enumeration',
      fieldType: 'checkbox',
      options: ['pricing', 'support', 'integrations'],
    },
    {
      name: 'crm_segment',
      label: 'Segment (set by a workflow)',
      type: 'string',
      fieldType: 'text',
      readOnlyValue: true,
    },
    { name: 'lead_score_label', label: 'Lead score label', type: 'string', fieldType: 'text', calculated: true },
  ],
  contacts: [
    {
      properties: {
        email: 'maria.garcia@example.com',
        firstname: 'Maria',
        lastname: 'Garcia',
        phone: '+34 600 000 001',
        hs_additional_emails: 'maria@garcia-consulting.example',
      },
    },
    { properties: { email: 'li.wei@example.com', firstname: 'Li', lastname: 'Wei', company: 'Example Corp' } },
  ],
};

export interface HubSpotEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
  addAccount(seed: EmulatorAccountSeed): void;
  /**
   * What a client needs to reach a seeded account here: its id, token and app, this emulator as the base
   * path, and the portal id its OAuth installs report (the links into HubSpot that receipts carry).
   */
  connection(seed: Pick<EmulatorAccountSeed, 'accountId' | 'token' | 'appId'>): {
    accountId: string;
    token: string;
    appId: number;
    basePath: string;
    portalId: number;
  };
  /** Adds a contact as a person in HubSpot's UI would (record source CRM_UI, no app): "not ours" for any app. Returns its id. */
  addContact(accountId: string, properties: Record<string, string>): string;
  /**
   * A person editing a contact's properties in HubSpot's UI (history source CRM_UI, user EMULATOR_USER_ID,
   * or the `userId` given), or another integration writing them (`{ appId }`: INTEGRATION with that app id).
   */
  editContact(accountId: string, contactId: string, properties: Record<string, string>, by?: WriteSource): void;
  /** A person editing a note in HubSpot's UI (hs_note_body, …). */
  editNote(accountId: string, noteId: string, properties: Record<string, string>): void;
  /** A record's property history (contact or note), newest first, as propertiesWithHistory answers it. */
  propertyHistory(accountId: string, id: string, names: string[]): Record<string, PropertyVersion[]>;
  setFaults(accountId: string, faults: FaultSpec | null, seed?: number): void;
  /**
   * Queues faults for the next calls of an operation: `holdMs` is a slow write's hold ("slow-write" applies
   * it when the hold ends, caller or not; "slow-write-if-connected" only if the caller is still connected),
   * `retryAfterSeconds` a 477's migration.
   */
  failNext(
    accountId: string,
    operation: string,
    kind: FaultKind,
    count?: number,
    options?: { holdMs?: number; retryAfterSeconds?: number },
  ): void;
  /** Queues faults (429, 500, 503) for the next calls of the OAuth token API. */
  failNextOAuth(kind: OAuthFaultKind, count?: number): void;
  /** How the OAuth token API words its refusals: the 2026-03 spec's Error (default), v1's `status`, or RFC 6749's `error`. */
  setOAuthErrorShape(shape: OAuthErrorShape): void;
  /** What became of calls held or cut by slow-write, lost-response and timeout faults, oldest first (the last 1,000). */
  faultLog(accountId: string): FaultLogEntry[];
  /** Live contacts (archived and merged-away ones are not listed). */
  contacts(accountId: string): StoredObject[];
  /** Live notes, with their contact associations. */
  notes(accountId: string): StoredNote[];
  /** Contacts and notes archived (deleted) since the last reset. */
  archived(accountId: string): { contacts: StoredObject[]; notes: StoredNote[] };
  /** Live Calls or Communications, with their contact associations; `archived`: those archived since the last reset. */
  engagements(accountId: string, object: EngagementObject, archived?: boolean): StoredNote[];
  /** Archives a contact as a person in HubSpot's UI would; false if there was none. */
  deleteContact(accountId: string, contactId: string): boolean;
  deleteNote(accountId: string, noteId: string): boolean;
  /** Merges two contacts as a person in HubSpot's UI would; returns the id of the resulting record (a new id, as HubSpot gives). */
  mergeContacts(accountId: string, primaryId: string, idToMerge: string): string;
  /** The id a contact id reads as now (after merges); undefined when it names no live contact. */
  contactIdNow(accountId: string, contactId: string): string | undefined;
  /** Ids of the notes associated with a contact (following merges), exact. */
  noteAssociations(accountId: string, contactId: string): string[];
  /** Sets an account's search-index lag (0 turns it off); writes made before it was shortened become visible at once. */
  setSearchLag(accountId: string, lag: SearchLagOption): void;
  searchLag(accountId: string): SearchLag;
  /** Makes every write visible to search now, as if the index had caught up (one account, or all). */
  flushSearchIndex(accountId?: string): void;
  /** Replaces an account's write-validation rules (null: none), as the portal's admin would. */
  setValidationRules(accountId: string, rules: ValidationRules | null): void;
  requests(accountId?: string): RequestRecord[];
  requestCounts(accountId?: string): Record<string, number>;
  /** Faults injected (and real rate-limit refusals) by kind, since the last reset. */
  faultCounts(accountId: string): Record<string, number>;
  reset(): void;
}

export async function startHubSpotEmulator(
  opts: {
    port?: number;
    host?: string;
    accounts?: EmulatorAccountSeed[];
    seed?: number;
    log?: (line: string) => void;
    /** How far search trails writes; default DEFAULT_SEARCH_LAG (2–5 s per write). 0 turns the lag off. */
    searchLagMs?: SearchLagOption;
    /** OAuth access token lifetime in seconds (default 1800) and the OAuth apps (default the demo app): see oauth.ts. */
    accessTokenTtlSeconds?: number;
    /** How the OAuth token API words its refusals (default 'spec'): see oauth.ts. */
    oauthErrorShape?: OAuthErrorShape;
  } = {},
): Promise<HubSpotEmulator> {
  const server = new EmulatorServer({ ...opts, accounts: opts.accounts ?? [DEMO_ACCOUNT] });
  await server.listen();
  const copy = <T>(o: T): T => structuredClone(o);
  return {
    url: server.url,
    port: server.port,
    close: () => server.close(),
    addAccount: (seed) => void server.addAccount(seed),
    connection: (seed) => ({
      accountId: seed.accountId,
      token: seed.token,
      appId: seed.appId,
      basePath: server.url,
      portalId: server.oauth.portalId(seed.accountId),
    }),
    addContact: (accountId, properties) => server.account(accountId).addPersonContact(properties).id,
    editContact: (accountId, contactId, properties, by = { userId: EMULATOR_USER_ID }) => {
      const a = server.account(accountId);
      const contact = a.contacts.get(a.resolveContactId(contactId));
      if (!contact) throw new Error(`no live contact ${contactId} in account ${accountId}`);
      patchContact(a, contact, properties, by);
    },
    editNote: (accountId, noteId, properties) => {
      const a = server.account(accountId);
      const note = a.notes.get(noteId);
      if (!note) throw new Error(`no live note ${noteId} in account ${accountId}`);
      patchNote(a, note, properties, { userId: EMULATOR_USER_ID });
    },
    propertyHistory: (accountId, id, names) => {
      const a = server.account(accountId);
      return a.versions(a.resolveContactId(id), names);
    },
    setFaults: (accountId, faults, seed) => {
      const a = server.account(accountId);
      a.faults = faults;
      if (seed !== undefined) a.random = prng(seed);
    },
    failNext: (accountId, operation, kind, count = 1, options = {}) =>
      void server.queueFault(
        server.account(accountId),
        operation,
        kind,
        count,
        options.holdMs,
        options.retryAfterSeconds,
      ),
    failNextOAuth: (kind, count = 1) => void server.oauth.failNext(kind, count),
    setOAuthErrorShape: (shape) => void (server.oauth.errorShape = shape),
    faultLog: (accountId) => server.account(accountId).faultLog.map(copy),
    contacts: (accountId) => [...server.account(accountId).contacts.values()].map(copy),
    notes: (accountId) => [...server.account(accountId).notes.values()].map(copy),
    engagements: (accountId, object, archived = false) => {
      const a = server.account(accountId);
      return [...(archived ? a.archivedEngagements : a.engagements)[object].values()].map(copy);
    },
    archived: (accountId) => {
      const a = server.account(accountId);
      return { contacts: [...a.archivedContacts.values()].map(copy), notes: [...a.archivedNotes.values()].map(copy) };
    },
    deleteContact: (accountId, contactId) => archiveContact(server.account(accountId), contactId),
    deleteNote: (accountId, noteId) => archiveNote(server.account(accountId), noteId),
    mergeContacts: (accountId, primaryId, idToMerge) =>
      mergeContacts(server.account(accountId), primaryId, idToMerge).id,
    contactIdNow: (accountId, contactId) => {
      const a = server.account(accountId);
      const id = a.resolveContactId(contactId);
      return a.contacts.has(id) ? id : undefined;
    },
    noteAssociations: (accountId, contactId) => noteIdsOf(server.account(accountId), contactId),
    setSearchLag: (accountId, lag) => server.account(accountId).setSearchLag(searchLagOf(lag)),
    searchLag: (accountId) => server.account(accountId).searchLag,
    flushSearchIndex: (accountId) => {
      for (const a of accountId === undefined ? server.accounts.values() : [server.account(accountId)]) a.flushSearch();
    },
    setValidationRules: (accountId, rules) => void (server.account(accountId).rules = structuredClone(rules ?? {})),
    requests: (accountId) => server.requests(accountId),
    requestCounts: (accountId) => server.requestCounts(accountId),
    faultCounts: (accountId) => ({ ...server.account(accountId).faultCounts }),
    reset: () => server.resetAccounts(),
  };
}

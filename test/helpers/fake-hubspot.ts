// An in-memory HubSpot behind the activities' port (src/hubspot/port.ts), for the fast tests: the
// activities run over it in Temporal's MockActivityEnvironment, without servers or the emulator. It
// keeps what the activities rely on, as the adapter gives it over the real API (docs/HUBSPOT_API.md):
// a contact create whose email exists fails with HubSpotConflict naming the existing id; a contact an
// app creates carries that app as its record source (hs_object_source INTEGRATION, hs_object_source_id);
// an update of a record that is gone fails with HubSpotNotFound; ids grow over time; a note is found
// again through the contact's note associations. Faults are injected per call: a refusal before the
// call, an answer lost after it was applied, or a call that hangs until its signal ends it. Every call
// is recorded by name. The end-to-end suite (the adapter against the emulator) stays the authority.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../../src/action/failures';
import type { PropertyVersion } from '../../src/action/convergence';
import type { HubSpotPropertyDefinition } from '../../src/action/mapping-validation';
import type {
  AccountIdentity,
  CallOptions,
  EngagementObject,
  HubSpotAccountPort,
  HubSpotObject,
  HubSpotObjectWithHistory,
  HubSpotPort,
} from '../../src/hubspot/port';

type Call = keyof Omit<HubSpotAccountPort, 'id' | 'connection'>;

/** What happens to the next matching call: refused before it is applied, applied with its answer lost, or held until its signal fires. */
export type Fault = 'unavailable' | 'lost-answer' | 'hang';

interface StoredRecord {
  id: string;
  properties: Record<string, string>;
  history: Record<string, PropertyVersion[]>;
  archived?: boolean;
  /** Notes and engagements: the contact they are associated with. */
  contactId?: string;
}

const TEXT = (name: string): HubSpotPropertyDefinition => ({ name, type: 'string', fieldType: 'text' });
/** The contact properties a fresh portal has (the ones the tests map). */
export const DEFAULT_SCHEMA: HubSpotPropertyDefinition[] = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'company',
  'jobtitle',
  'hs_object_source',
  'hs_object_source_id',
  'hs_merged_object_ids',
].map(TEXT);

export class FakeAccount implements HubSpotAccountPort {
  readonly connection: AccountIdentity;
  readonly contacts = new Map<string, StoredRecord>();
  readonly notes = new Map<string, StoredRecord>();
  readonly engagements: Record<EngagementObject, Map<string, StoredRecord>> = {
    calls: new Map(),
    communications: new Map(),
  };
  /** Every call made, by method name, in order. */
  readonly calls: Call[] = [];
  schema: HubSpotPropertyDefinition[] = DEFAULT_SCHEMA;
  private nextId = 1001;
  private readonly faults: Array<{ call: Call; fault: Fault; times: number }> = [];
  private readonly before = new Map<Call, () => void>();
  /** When each hung call was ended by its signal (ms since the epoch). */
  readonly hangsEndedAt: number[] = [];

  constructor(
    readonly id: string,
    connection: Partial<AccountIdentity> = {},
  ) {
    this.connection = { appId: 4242, kind: 'private-app', ...connection };
  }

  /** The next `times` calls of `call` meet `fault`. */
  inject(call: Call, fault: Fault, times = 1): this {
    this.faults.push({ call, fault, times });
    return this;
  }

  /** Runs `fn` (once) just before the next call of `call` is applied: something else changes HubSpot meanwhile. */
  meanwhile(call: Call, fn: () => void): this {
    this.before.set(call, fn);
    return this;
  }

  // ---- seeding and reading back (what a person, another system or an earlier attempt left)

  /** A contact as someone put it there: by default a person (no record source of ours). */
  seedContact(
    properties: Record<string, string>,
    source: { ours?: boolean; sourceType?: string; sourceId?: string } = {},
  ): string {
    const ours = source.ours ?? false;
    const sourceType = source.sourceType ?? (ours ? 'INTEGRATION' : 'CRM_UI');
    const sourceId = source.sourceId ?? (ours ? String(this.connection.appId) : undefined);
    const id = this.newId();
    const record: StoredRecord = {
      id,
      properties: { hs_object_source: sourceType, ...(sourceId ? { hs_object_source_id: sourceId } : {}) },
      history: {},
    };
    this.write(record, properties, sourceType, sourceId);
    this.contacts.set(id, record);
    return id;
  }

  /** A person changes the contact in HubSpot's UI (recorded as such in the properties' history). */
  editAsPerson(contactId: string, properties: Record<string, string>): void {
    this.write(this.contacts.get(contactId)!, properties, 'CRM_UI', undefined);
  }

  /** A note associated with the contact. */
  seedNote(contactId: string, body: string): string {
    const id = this.newId();
    this.notes.set(id, {
      id,
      properties: { hs_note_body: body, hs_timestamp: new Date(0).toISOString() },
      history: {},
      contactId,
    });
    return id;
  }

  contactsWithEmail(email: string): StoredRecord[] {
    return [...this.contacts.values()].filter(
      (c) => !c.archived && c.properties.email?.toLowerCase() === email.toLowerCase(),
    );
  }

  notesOf(contactId: string): StoredRecord[] {
    return [...this.notes.values()].filter((n) => !n.archived && n.contactId === contactId);
  }

  // ---- the port

  async readContactByEmail(
    email: string,
    properties: string[],
    o?: CallOptions,
    history: string[] = [],
  ): Promise<HubSpotObject | null> {
    return this.call('readContactByEmail', o, () => {
      const found = this.contactsWithEmail(email)[0];
      return found ? this.view(found, properties, history) : null;
    });
  }

  async readContact(id: string, properties: string[], o?: CallOptions): Promise<HubSpotObject | null> {
    return this.call('readContact', o, () => {
      const found = this.contacts.get(id);
      return found && !found.archived ? this.view(found, properties) : null;
    });
  }

  async createContact(properties: Record<string, string>, o?: CallOptions): Promise<HubSpotObject> {
    return this.call('createContact', o, () => {
      const existing = properties.email ? this.contactsWithEmail(properties.email)[0] : undefined;
      if (existing) {
        throw ApplicationFailure.create({
          message: `HubSpot account "${this.id}": conflict during contact create (409, existing id ${existing.id})`,
          type: FailureType.HubSpotConflict,
          nonRetryable: true,
          details: [existing.id],
        });
      }
      const id = this.newId();
      const appId = String(this.connection.appId);
      const record: StoredRecord = {
        id,
        properties: { hs_object_source: 'INTEGRATION', hs_object_source_id: appId },
        history: {},
      };
      this.write(record, properties, 'INTEGRATION', appId);
      this.contacts.set(id, record);
      return this.view(record, Object.keys(properties));
    });
  }

  async updateContact(id: string, properties: Record<string, string>, o?: CallOptions): Promise<HubSpotObject> {
    return this.call('updateContact', o, () => {
      const record = this.live(this.contacts, id, 'contact update');
      this.write(record, properties, 'INTEGRATION', String(this.connection.appId));
      return this.view(record, Object.keys(properties));
    });
  }

  async readContactsWithHistory(
    ids: string[],
    properties: string[],
    o?: CallOptions,
  ): Promise<{ byId: Map<string, HubSpotObjectWithHistory>; missing: string[] }> {
    return this.call('readContactsWithHistory', o, () => {
      const byId = new Map<string, HubSpotObjectWithHistory>();
      const missing: string[] = [];
      for (const id of ids) {
        const record = this.contacts.get(id);
        if (record && !record.archived)
          byId.set(id, this.view(record, properties, properties) as HubSpotObjectWithHistory);
        else missing.push(id);
      }
      return { byId, missing };
    });
  }

  async createNote(
    input: { body: string; timestamp: string; contactId: string },
    o?: CallOptions,
  ): Promise<HubSpotObject> {
    return this.call('createNote', o, () => {
      const id = this.newId();
      const record: StoredRecord = { id, properties: {}, history: {}, contactId: input.contactId };
      this.write(
        record,
        { hs_note_body: input.body, hs_timestamp: input.timestamp },
        'INTEGRATION',
        String(this.connection.appId),
      );
      this.notes.set(id, record);
      return this.view(record, ['hs_note_body', 'hs_timestamp']);
    });
  }

  async updateNote(id: string, body: string, o?: CallOptions): Promise<HubSpotObject> {
    return this.call('updateNote', o, () => {
      const record = this.live(this.notes, id, 'note update');
      this.write(record, { hs_note_body: body }, 'INTEGRATION', String(this.connection.appId));
      return this.view(record, ['hs_note_body', 'hs_timestamp']);
    });
  }

  async archiveNote(id: string, o?: CallOptions): Promise<void> {
    return this.call('archiveNote', o, () => {
      const record = this.notes.get(id);
      if (record) record.archived = true;
    });
  }

  async readNotes(ids: string[], o?: CallOptions): Promise<{ results: HubSpotObject[]; missing: string[] }> {
    return this.call('readNotes', o, () => {
      const results = ids.flatMap((id) => {
        const record = this.notes.get(id);
        return record && !record.archived ? [this.view(record, ['hs_note_body', 'hs_timestamp'])] : [];
      });
      return { results, missing: ids.filter((id) => !results.some((r) => r.id === id)) };
    });
  }

  async readNotesWithHistory(ids: string[], history: boolean, o?: CallOptions): Promise<HubSpotObjectWithHistory[]> {
    return this.call('readNotesWithHistory', o, () =>
      ids.flatMap((id) => {
        const record = this.notes.get(id);
        return record && !record.archived
          ? [
              this.view(
                record,
                ['hs_note_body', 'hs_timestamp'],
                history ? ['hs_note_body'] : [],
              ) as HubSpotObjectWithHistory,
            ]
          : [];
      }),
    );
  }

  async noteIdsOfContact(contactId: string, o?: CallOptions): Promise<string[]> {
    return this.call('noteIdsOfContact', o, () => this.notesOf(contactId).map((n) => n.id));
  }

  async noteIdsOfContacts(contactIds: string[], o?: CallOptions): Promise<Map<string, string[]>> {
    return this.call(
      'noteIdsOfContacts',
      o,
      () => new Map(contactIds.map((id) => [id, this.notesOf(id).map((n) => n.id)])),
    );
  }

  async createEngagement(
    object: EngagementObject,
    properties: Record<string, string>,
    contactId: string,
    o?: CallOptions,
  ): Promise<HubSpotObject> {
    return this.call('createEngagement', o, () => {
      const id = this.newId();
      const record: StoredRecord = { id, properties: {}, history: {}, contactId };
      this.write(record, properties, 'INTEGRATION', String(this.connection.appId));
      this.engagements[object].set(id, record);
      return this.view(record, Object.keys(properties));
    });
  }

  async updateEngagement(
    object: EngagementObject,
    id: string,
    properties: Record<string, string>,
    o?: CallOptions,
  ): Promise<HubSpotObject> {
    return this.call('updateEngagement', o, () => {
      const record = this.live(this.engagements[object], id, `${object} update`);
      this.write(record, properties, 'INTEGRATION', String(this.connection.appId));
      return this.view(record, Object.keys(properties));
    });
  }

  async archiveEngagement(object: EngagementObject, id: string, o?: CallOptions): Promise<void> {
    return this.call('archiveEngagement', o, () => {
      const record = this.engagements[object].get(id);
      if (record) record.archived = true;
    });
  }

  async readEngagements(
    object: EngagementObject,
    ids: string[],
    history: boolean,
    o?: CallOptions,
  ): Promise<HubSpotObjectWithHistory[]> {
    return this.call('readEngagements', o, () =>
      ids.flatMap((id) => {
        const record = this.engagements[object].get(id);
        const body = object === 'calls' ? 'hs_call_body' : 'hs_communication_body';
        return record && !record.archived
          ? [this.view(record, [body, 'hs_timestamp'], history ? [body] : []) as HubSpotObjectWithHistory]
          : [];
      }),
    );
  }

  async engagementIdsOfContact(object: EngagementObject, contactId: string, o?: CallOptions): Promise<string[]> {
    return this.call('engagementIdsOfContact', o, () =>
      [...this.engagements[object].values()].filter((e) => !e.archived && e.contactId === contactId).map((e) => e.id),
    );
  }

  async contactPropertySchema(o?: CallOptions): Promise<HubSpotPropertyDefinition[]> {
    return this.call('contactPropertySchema', o, () => this.schema);
  }

  // ---- the machinery

  private newId(): string {
    return String(this.nextId++);
  }

  private live(records: Map<string, StoredRecord>, id: string, operation: string): StoredRecord {
    const record = records.get(id);
    if (!record || record.archived)
      throw ApplicationFailure.nonRetryable(
        `HubSpot account "${this.id}": not found during ${operation} (404)`,
        FailureType.HubSpotNotFound,
      );
    return record;
  }

  private write(
    record: StoredRecord,
    properties: Record<string, string>,
    sourceType: string,
    sourceId: string | undefined,
  ): void {
    for (const [name, value] of Object.entries(properties)) {
      record.properties[name] = value;
      (record.history[name] ??= []).unshift({ value, sourceType, ...(sourceId ? { sourceId } : {}) });
    }
  }

  private view(record: StoredRecord, properties: string[], history: string[] = []): HubSpotObject {
    const out: HubSpotObject = {
      id: record.id,
      properties: Object.fromEntries(properties.map((p) => [p, record.properties[p] ?? null])),
    };
    if (history.length) out.history = Object.fromEntries(history.map((p) => [p, [...(record.history[p] ?? [])]]));
    return out;
  }

  /** One call: recorded, ended by its signal, and met by the fault injected for it, if any. */
  private async call<T>(name: Call, o: CallOptions | undefined, apply: () => T): Promise<T> {
    this.calls.push(name);
    const signal = o?.signal;
    if (signal?.aborted) throw this.abandoned(signal);
    await Promise.resolve(); // an answer never comes back in the same turn
    const i = this.faults.findIndex((f) => f.call === name);
    const fault = i >= 0 ? this.faults[i]!.fault : undefined;
    if (i >= 0 && --this.faults[i]!.times === 0) this.faults.splice(i, 1);
    if (fault === 'hang') {
      if (!signal) throw new Error(`${name}: a hung call needs a signal to end it`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      this.hangsEndedAt.push(Date.now());
      throw this.abandoned(signal);
    }
    if (fault === 'unavailable') throw this.unavailable(name);
    const meanwhile = this.before.get(name);
    if (meanwhile) {
      this.before.delete(name);
      meanwhile();
    }
    const result = apply();
    if (fault === 'lost-answer') throw this.unavailable(name);
    return result;
  }

  private unavailable(name: string): ApplicationFailure {
    return ApplicationFailure.retryable(
      `HubSpot account "${this.id}": HubSpot is unavailable during ${name} (503); retrying`,
      FailureType.HubSpotUnavailable,
    );
  }

  private abandoned(signal: AbortSignal): unknown {
    const reason: unknown = signal.reason;
    if (reason instanceof CancelledFailure || reason instanceof ApplicationFailure) return reason;
    return ApplicationFailure.retryable(
      `HubSpot account "${this.id}": the call was abandoned by its caller (its time ran out or it was cancelled); the request was aborted`,
      FailureType.HubSpotCallAborted,
    );
  }
}

/** The accounts: get() answers as the adapter does for an account this worker does not know. */
export class FakeHubSpot implements HubSpotPort {
  private readonly accounts = new Map<string, FakeAccount>();

  constructor(...accounts: FakeAccount[]) {
    for (const a of accounts) this.accounts.set(a.id, a);
  }

  async get(accountId: string): Promise<FakeAccount> {
    const account = this.accounts.get(accountId);
    if (!account)
      throw ApplicationFailure.nonRetryable(
        `HubSpot account "${accountId}" is not connected to this worker`,
        FailureType.UnknownHubSpotAccount,
      );
    return account;
  }
}

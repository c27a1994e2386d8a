// The HubSpot accounts this worker may act for, and the calls the action makes on them: the adapter
// behind the activities' port (port.ts), plus the configuration check's reads. Accounts come
// from an AccountDirectory (the worker's static list, the account store, or both); tokens are fetched
// per call and stay here: never in workflow inputs, history, logs, metrics or failure messages.
//
// Every call: paced per account (pacer.ts); sent to the 2026-09 API through the official client's
// typed APIs (transport.ts); ended by the caller's signal or its own timeout, whichever comes first,
// with the pacing slot held until the request has really ended; failures classified in errors.ts.
// A 401 EXPIRED_AUTHENTICATION drops the token from the directory and retries once with a fresh one.
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/models/AssociationSpec';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { bodyProperty, TO_CONTACT_ASSOCIATION } from '../action/timeline';
import type { HubSpotPropertyDefinition } from '../action/mapping-validation';
import { FailureType } from '../action/failures';
import {
  AccountNeedsReconnect,
  type AccountDirectory,
  type HubSpotConnection,
  type LearnedRefusal,
  type ValidationRuleRefusal,
} from './directory';
import { classifyHubSpotError, errorBody, isApiException, quotedAccountId, redact } from './errors';
import { Pacer, type Lane } from './pacer';
import { Batcher } from './batcher';
import * as kinds from './batch-kinds';
import { staticDirectory, type HubSpotAccountSettings } from './static-directory';
import type {
  CallOptions,
  EngagementObject,
  HubSpotAccountPort,
  HubSpotObject,
  HubSpotObjectWithHistory,
  HubSpotPort,
} from './port';
import {
  CallTransport,
  HubSpotCallFailed,
  HubSpotCallTimedOut,
  HubSpotRequestAborted,
  hubspotApis,
  allPropertyValidationRulesSchema,
  rateLimitHeaders,
  type HubSpotApis,
  type PropertyValidationRule,
  type RateLimitAnswer,
} from './transport';

export type { HubSpotAccountSettings } from './static-directory';
export { staticDirectory } from './static-directory';
export type { PropertyValidationRule, RateLimitAnswer } from './transport';
export type { Lane } from './pacer';
export { HUBSPOT_API_VERSION } from './transport';
export type { CallOptions, EngagementObject, HubSpotObject, HubSpotObjectWithHistory } from './port';

/** HubSpot's batch read takes fewer records when it returns property history; 50 stays within it. */
const HISTORY_BATCH_MAX = 50;

export interface HubSpotAccountsOptions {
  /** How long a contact-property schema is trusted. Default 5 minutes. */
  propertySchemaTtlMs?: number;
  /** A single HTTP call is aborted (and its failure retried by Temporal) after this long. Default 15 s. */
  requestTimeoutMs?: number;
  /** Share of each configured rate limit this worker uses, leaving headroom. Default 0.9. */
  rateLimitShare?: number;
  /**
   * Single-record calls (lookups, reads, creates, updates, notes, note associations) go to HubSpot's
   * batch endpoints, up to 100 records a call (batcher.ts). Default true (the worker: HUBSPOT_BATCHING, src/environment/config.ts).
   */
  batching?: boolean;
  /** How long offline calls are collected into one batch. Default 25 ms (the worker: HUBSPOT_BATCH_WINDOW_MS). The agent's lane never waits. */
  batchWindowMs?: number;
  /** Share of the account's rate limit kept for the agent's lane (in-conversation runs); offline syncs take the rest. Default 0.2. */
  agentShare?: number;
}

export { NOTE_TO_CONTACT } from './batch-kinds';
const NOTE_PROPERTIES = ['hs_note_body', 'hs_timestamp'];
const singular = (object: EngagementObject) => (object === 'calls' ? 'call' : 'communication');
/** HubSpot's batch endpoints take at most 100 inputs. */
const BATCH_MAX = 100;
/** Longest wait for the directory to remember a portal rule's refusal before the failure is given. */
const REMEMBER_WAIT_MS = 2_000;

type Kind = 'general' | 'search';

function toObject(r: { id: string; properties: Record<string, string | null> }): HubSpotObject {
  return { id: String(r.id), properties: { ...r.properties } };
}

const isStatus = (err: unknown, status: number) => isApiException(err) && err.code === status;

/** What an account's pacing and batching hold right now, and HubSpot's latest rate-limit answer. */
export interface AccountGauges {
  /** Calls holding a pacing slot (an aborted call holds it until its request has closed). */
  callsInFlight: number;
  /** Calls waiting for a pacing slot. */
  callsWaiting: number;
  /** Single-record calls waiting for their batch to be sent. */
  callsBatching: number;
  /** HubSpot calls the batchers have made (batch calls, and single-record calls for batches of one). */
  batchCalls: number;
  /** HubSpot's X-HubSpot-RateLimit-* headers of the latest answer that carried them. */
  rateLimit?: RateLimitAnswer;
}

function withHistory(r: {
  id: string;
  properties: Record<string, string | null>;
  propertiesWithHistory?: Record<string, kinds.RawVersion[]>;
}): HubSpotObjectWithHistory {
  return { ...toObject(r), history: kinds.historyOf(r.propertiesWithHistory) };
}

export class HubSpotAccount implements HubSpotAccountPort {
  private readonly pacer: Pacer;
  private schema?: { at: number; value: Promise<HubSpotPropertyDefinition[]> };
  private current: HubSpotConnection;
  private lastRateLimit?: RateLimitAnswer;

  constructor(
    connection: HubSpotConnection,
    private readonly directory: AccountDirectory,
    private readonly options: Required<HubSpotAccountsOptions>,
  ) {
    this.current = connection;
    const share = (n: number | undefined) => (n ? Math.max(1, Math.floor(n * options.rateLimitShare)) : undefined);
    this.pacer = new Pacer({
      perTenSeconds: share(connection.rateLimitPerTenSeconds),
      searchPerSecond: share(connection.searchRateLimitPerSecond),
      agentShare: options.agentShare,
      rateLimitShare: options.rateLimitShare,
    });
    const transport = {
      send: <T>(operation: () => string, fn: (api: HubSpotApis) => Promise<T>, o: CallOptions) =>
        this.request(operation, 'general', fn, o),
      abandoned: (signal: AbortSignal) => this.abandoned(signal),
      pressure: () => this.pacer.pressure(),
    };
    const batcher = <I, R>(kind: import('./batcher').BatchKind<I, R>) =>
      new Batcher(kind, transport, { windowMs: options.batchWindowMs, max: BATCH_MAX });
    this.batchers = {
      lookup: batcher(kinds.contactLookupByEmail()),
      // HubSpot reads fewer records a call when it returns history: lookups that ask for it are batched apart, 50 at most.
      lookupWithHistory: new Batcher(kinds.contactLookupByEmail(), transport, {
        windowMs: options.batchWindowMs,
        max: HISTORY_BATCH_MAX,
      }),
      read: batcher(kinds.contactRead()),
      create: batcher(kinds.contactCreate(connection.accountId)),
      update: batcher(kinds.contactUpdate(connection.accountId)),
      noteCreate: batcher(kinds.noteCreate()),
      noteUpdate: batcher(kinds.noteUpdate(connection.accountId)),
      noteIds: batcher(kinds.noteIdsOfContact()),
    };
  }

  private readonly batchers: {
    lookup: Batcher<kinds.ContactLookup, HubSpotObject | null>;
    lookupWithHistory: Batcher<kinds.ContactLookup, HubSpotObject | null>;
    read: Batcher<kinds.ContactRead, HubSpotObject | null>;
    create: Batcher<Record<string, string>, HubSpotObject>;
    update: Batcher<kinds.ContactUpdate, HubSpotObject>;
    noteCreate: Batcher<kinds.NoteCreate, HubSpotObject>;
    noteUpdate: Batcher<kinds.NoteUpdate, HubSpotObject>;
    noteIds: Batcher<string, string[]>;
  };

  /** One single-record call: batched with others of its kind (or alone, when batching is off). */
  private load<I, R>(batcher: Batcher<I, R>, input: I, o: CallOptions = {}): Promise<R> {
    if (this.options.batching) return batcher.load(input, o);
    return this.request(batcher.kind.singleOperation, 'general', (api) => batcher.kind.one(api, input), o);
  }

  get id(): string {
    return this.current.accountId;
  }

  /** What the directory says of this account (no secret): app id, credential kind, workspace, status. */
  get connection(): HubSpotConnection {
    return this.current;
  }

  /** @internal the directory's newer view of the same account (same base path and limits). */
  refresh(connection: HubSpotConnection): void {
    this.current = connection;
  }

  /**
   * What the account's pacing and batching hold right now, and HubSpot's latest rate-limit answer: for
   * tests, benchmarks and diagnostics (nothing the activities decide on).
   */
  gauges(): AccountGauges {
    return {
      callsInFlight: this.pacer.inFlight,
      callsWaiting: this.pacer.waiting,
      callsBatching: Object.values(this.batchers).reduce((n, b) => n + b.waiting, 0),
      batchCalls: Object.values(this.batchers).reduce((n, b) => n + b.calls, 0),
      rateLimit: this.lastRateLimit,
    };
  }

  private get name(): string {
    return `HubSpot account ${quotedAccountId(this.id)}`;
  }

  private async token(): Promise<string> {
    try {
      return await this.directory.accessToken(this.id);
    } catch (err) {
      if (err instanceof AccountNeedsReconnect) throw needsReconnect(this.id);
      const e = err as { name?: unknown; message?: unknown };
      throw ApplicationFailure.retryable(
        `${this.name}: no access token could be had (${typeof e?.name === 'string' ? redact(e.name) : 'error'}: ${redact(typeof e?.message === 'string' ? e.message : String(err))}); retrying`,
        FailureType.HubSpotCredentialsUnavailable,
      );
    }
  }

  /**
   * One HubSpot call, the path every method takes: a fresh token, a pacing slot, the request under a
   * combined signal (caller's and per-call timeout); classified failures; one retry with a new token
   * after 401 EXPIRED_AUTHENTICATION. Public for calls the worker itself never makes (the test helpers
   * of test/helpers/hubspot-calls.ts): the activities see the port (port.ts) only.
   */
  async request<T>(
    operation: string | (() => string),
    kind: Kind,
    fn: (api: HubSpotApis) => Promise<T>,
    o: CallOptions = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.token();
      try {
        return await this.once(token, kind, fn, o.signal, o.lane);
      } catch (caught) {
        const { failure: err, exchange } = caught instanceof HubSpotCallFailed ? caught : new HubSpotCallFailed(caught);
        if (err instanceof ApplicationFailure || err instanceof CancelledFailure) throw err;
        if (
          attempt === 0 &&
          isStatus(err, 401) &&
          isApiException(err) &&
          errorBody(err, exchange?.raw).category === 'EXPIRED_AUTHENTICATION'
        ) {
          await this.directory.invalidate(this.id, token).catch((e: unknown) => {
            throw ApplicationFailure.retryable(
              `${this.name}: its expired token could not be dropped (${redact(String((e as { name?: unknown })?.name ?? 'error'))}); retrying`,
              FailureType.HubSpotCredentialsUnavailable,
            );
          });
          continue;
        }
        const name = typeof operation === 'string' ? operation : operation();
        const failure = classifyHubSpotError(err, this.id, name, { raw: exchange?.raw, secrets: [token] });
        await this.remember(name, failure);
        throw failure;
      }
    }
  }

  /**
   * A contact write refused by a portal's write-validation rule (required on create, conditionally
   * required): told to the directory before the failure is given, so that the configuration check can
   * warn of it. HubSpot's API exposes these rules only through such refusals. Best effort, and bounded:
   * the failure is given after REMEMBER_WAIT_MS at the latest, remembered or not.
   */
  private async remember(operation: string, failure: ApplicationFailure): Promise<void> {
    if (
      failure.type !== FailureType.HubSpotValidationError ||
      !this.directory.rememberRefusals ||
      !operation.startsWith('contact ')
    )
      return;
    const write = /create|upsert/.test(operation) ? 'create' : /update/.test(operation) ? 'update' : undefined;
    const details = failure.details?.[0] as { validationRules?: ValidationRuleRefusal[] } | undefined;
    if (!write || !details?.validationRules?.length) return;
    const refusals: LearnedRefusal[] = details.validationRules.map((r) => ({ ...r, write }));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.directory.rememberRefusals(this.id, refusals).catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, REMEMBER_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  private async once<T>(
    token: string,
    kind: Kind,
    fn: (api: HubSpotApis) => Promise<T>,
    callerSignal: AbortSignal | undefined,
    lane: Lane | undefined,
  ): Promise<T> {
    let release: () => void;
    try {
      release = await this.pacer.acquire(kind, callerSignal, lane);
    } catch {
      throw new HubSpotCallFailed(this.abandoned(callerSignal!));
    }
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
    const transport = new CallTransport(signal);
    try {
      return await fn(hubspotApis(this.current.basePath, token, transport));
    } catch (err) {
      if (err instanceof HubSpotRequestAborted) {
        if (callerSignal?.aborted) throw new HubSpotCallFailed(this.abandoned(callerSignal));
        throw new HubSpotCallFailed(new HubSpotCallTimedOut(this.options.requestTimeoutMs));
      }
      throw new HubSpotCallFailed(err, transport.exchange);
    } finally {
      const raw = transport.exchange.raw;
      const answer = raw ? rateLimitHeaders(raw.headers, Date.now()) : undefined;
      if (answer) {
        this.lastRateLimit = answer;
        // Other workers' calls on the same portal count against its limit too: follow HubSpot's count.
        this.pacer.observe(answer);
      }
      // The transport has settled: the answer is read, or the aborted request's socket is closed.
      release();
    }
  }

  /** The failure for a call its caller gave up on: the caller's own cancellation, or a retryable failure. */
  private abandoned(signal: AbortSignal): unknown {
    const reason: unknown = signal.reason;
    if (reason instanceof CancelledFailure || reason instanceof ApplicationFailure) return reason;
    return ApplicationFailure.retryable(
      `${this.name}: the call was abandoned by its caller (its time ran out or it was cancelled); the request was aborted`,
      FailureType.HubSpotCallAborted,
    );
  }

  // ---- contacts -----------------------------------------------------------------------------------

  /**
   * The contact with this email (primary or secondary, any case), or null. With `history`, the same read
   * also returns those properties' history (propertiesWithHistory), newest first, in `history`.
   */
  readContactByEmail(
    email: string,
    properties: string[],
    o?: CallOptions,
    history: string[] = [],
  ): Promise<HubSpotObject | null> {
    if (history.length) return this.load(this.batchers.lookupWithHistory, { email, properties, history }, o);
    return this.load(this.batchers.lookup, { email, properties }, o);
  }

  /** The contact by id, or null when it is gone. A merged-away id reads as the surviving contact: the id returned may differ. */
  readContact(id: string, properties: string[], o?: CallOptions): Promise<HubSpotObject | null> {
    return this.load(this.batchers.read, { id, properties }, o);
  }

  /** Creates a contact. 409: HubSpotConflict with details [existingId] (HubSpot's "Existing ID: <id>"). */
  createContact(properties: Record<string, string>, o?: CallOptions): Promise<HubSpotObject> {
    return this.load(this.batchers.create, properties, o);
  }

  /** 404: HubSpotNotFound. */
  updateContact(id: string, properties: Record<string, string>, o?: CallOptions): Promise<HubSpotObject> {
    return this.load(this.batchers.update, { id, properties }, o);
  }

  /**
   * Contacts by id, each with the history of the named properties (newest first), up to 50 a call. A
   * merged-away id reads as the record it was merged into (listed under the asked id); ids HubSpot does
   * not know are listed in missing.
   */
  readContactsWithHistory(
    ids: string[],
    properties: string[],
    o?: CallOptions,
  ): Promise<{ byId: Map<string, HubSpotObjectWithHistory>; missing: string[] }> {
    return this.request(
      'contact batch read with history',
      'general',
      async (api) => {
        const byId = new Map<string, HubSpotObjectWithHistory>();
        const missing: string[] = [];
        for (let i = 0; i < ids.length; i += HISTORY_BATCH_MAX) {
          const chunk = ids.slice(i, i + HISTORY_BATCH_MAX);
          const r = await api.contacts.batch.read(
            {
              inputs: chunk.map((id) => ({ id })),
              properties: [...new Set([...properties, 'hs_merged_object_ids'])],
              propertiesWithHistory: properties,
            },
            false,
          );
          const found = new Map<string, HubSpotObjectWithHistory>();
          for (const row of r.results) {
            const record = withHistory(row);
            found.set(record.id, record);
            for (const old of (row.properties.hs_merged_object_ids ?? '')
              .split(';')
              .map((x) => x.trim())
              .filter(Boolean))
              if (!found.has(old)) found.set(old, record);
          }
          for (const id of chunk) {
            const record = found.get(id);
            if (record) byId.set(id, record);
            else missing.push(id);
          }
        }
        return { byId, missing };
      },
      o,
    );
  }

  // ---- notes --------------------------------------------------------------------------------------

  /** Creates a note associated with the contact (HUBSPOT_DEFINED type 202, note to contact). */
  createNote(input: { body: string; timestamp: string; contactId: string }, o?: CallOptions): Promise<HubSpotObject> {
    return this.load(
      this.batchers.noteCreate,
      { body: input.body, timestamp: input.timestamp, contactId: input.contactId },
      o,
    );
  }

  /** 404: HubSpotNotFound. */
  updateNote(id: string, body: string, o?: CallOptions): Promise<HubSpotObject> {
    return this.load(this.batchers.noteUpdate, { id, body }, o);
  }

  archiveNote(id: string, o?: CallOptions): Promise<void> {
    return this.request('note archive', 'general', (api) => api.notes.basic.archive(id), o);
  }

  readNotes(ids: string[], o?: CallOptions): Promise<{ results: HubSpotObject[]; missing: string[] }> {
    return this.request(
      'note batch read',
      'general',
      async (api) => {
        const r = await api.notes.batch.read(
          { inputs: ids.map((id) => ({ id })), properties: NOTE_PROPERTIES, propertiesWithHistory: [] },
          false,
        );
        const missing = ('errors' in r ? (r.errors ?? []) : [])
          .filter((e) => e.category === 'OBJECT_NOT_FOUND')
          .flatMap((e) => e.context?.ids ?? []);
        return { results: r.results.map(toObject), missing };
      },
      o,
    );
  }

  /** Notes by id with their body, and the body's history (newest first) when asked; up to 50 a call with history, 100 without. */
  readNotesWithHistory(ids: string[], history: boolean, o?: CallOptions): Promise<HubSpotObjectWithHistory[]> {
    return this.request(
      'note batch read',
      'general',
      async (api) => {
        const out: HubSpotObjectWithHistory[] = [];
        const size = history ? HISTORY_BATCH_MAX : BATCH_MAX;
        for (let i = 0; i < ids.length; i += size) {
          const r = await api.notes.batch.read(
            {
              inputs: ids.slice(i, i + size).map((id) => ({ id })),
              properties: NOTE_PROPERTIES,
              propertiesWithHistory: history ? ['hs_note_body'] : [],
            },
            false,
          );
          out.push(...r.results.map(withHistory));
        }
        return out;
      },
      o,
    );
  }

  // ---- engagements (Calls and Communications) ------------------------------------------------------
  // Single-record calls, not batched: one engagement per synced conversation, written by actions that
  // opt in (docs/CONTACT_SYNC.md, "Engagements"). The client's generated paths (/crm/v3/objects/calls,
  // …/communications) go to 2026-09 through the transport, like every other call.

  /** Creates a Call or a Communication associated with the contact (HUBSPOT_DEFINED 194 call to contact, 81 communication to contact). */
  createEngagement(
    object: EngagementObject,
    properties: Record<string, string>,
    contactId: string,
    o?: CallOptions,
  ): Promise<HubSpotObject> {
    const associations = [
      {
        to: { id: contactId },
        types: [
          {
            associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined,
            associationTypeId: TO_CONTACT_ASSOCIATION[object],
          },
        ],
      },
    ];
    return this.request(
      `${singular(object)} create`,
      'general',
      async (api) => toObject(await api[object].basic.create({ properties, associations })),
      o,
    );
  }

  /** 404: HubSpotNotFound. */
  updateEngagement(
    object: EngagementObject,
    id: string,
    properties: Record<string, string>,
    o?: CallOptions,
  ): Promise<HubSpotObject> {
    return this.request(
      `${singular(object)} update`,
      'general',
      async (api) => toObject(await api[object].basic.update(id, { properties })),
      o,
    );
  }

  archiveEngagement(object: EngagementObject, id: string, o?: CallOptions): Promise<void> {
    return this.request(`${singular(object)} archive`, 'general', (api) => api[object].basic.archive(id), o);
  }

  /** Engagements by id with their body (and its history, newest first, when asked); ids HubSpot does not know are left out. */
  readEngagements(
    object: EngagementObject,
    ids: string[],
    history: boolean,
    o?: CallOptions,
  ): Promise<HubSpotObjectWithHistory[]> {
    const body = bodyProperty(object);
    return this.request(
      `${singular(object)} batch read`,
      'general',
      async (api) => {
        const out: HubSpotObjectWithHistory[] = [];
        const size = history ? HISTORY_BATCH_MAX : BATCH_MAX;
        for (let i = 0; i < ids.length; i += size) {
          const r = await api[object].batch.read(
            {
              inputs: ids.slice(i, i + size).map((id) => ({ id })),
              properties: [body, 'hs_timestamp'],
              propertiesWithHistory: history ? [body] : [],
            },
            false,
          );
          out.push(...r.results.map(withHistory));
        }
        return out;
      },
      o,
    );
  }

  /** The ids of the contact's Calls or Communications, read from the association itself (one page of up to 500). */
  async engagementIdsOfContact(object: EngagementObject, contactId: string, o?: CallOptions): Promise<string[]> {
    return (await this.engagementIdsOfContacts(object, [contactId], o)).get(contactId) ?? [];
  }

  /** The engagement ids of up to 100 contacts in one call (one page each); a contact HubSpot does not know has none. */
  private engagementIdsOfContacts(
    object: EngagementObject,
    contactIds: string[],
    o?: CallOptions,
  ): Promise<Map<string, string[]>> {
    return this.request(
      `contact ${object} batch read`,
      'general',
      async (api) => {
        const r = await api.associations.batch.getPage('contacts', object, {
          inputs: contactIds.map((id) => ({ id })),
        });
        const out = new Map<string, string[]>(contactIds.map((id) => [id, []]));
        for (const row of r.results)
          out.set(
            String(row._from.id),
            row.to.map((t) => String(t.toObjectId)),
          );
        return out;
      },
      o,
    );
  }

  // ---- associations (exact, unlike search) --------------------------------------------------------

  /** The ids of the notes associated with the contact, read from the association itself (every page). */
  noteIdsOfContact(contactId: string, o?: CallOptions): Promise<string[]> {
    return this.load(this.batchers.noteIds, contactId, o);
  }

  /** The note ids of up to 100 contacts in one call; a contact HubSpot does not know has none. */
  noteIdsOfContacts(contactIds: string[], o?: CallOptions): Promise<Map<string, string[]>> {
    return this.request(
      'contact notes batch read',
      'general',
      async (api) => {
        const r = await api.associations.batch.getPage('contacts', 'notes', {
          inputs: contactIds.map((id) => ({ id })),
        });
        const out = new Map<string, string[]>(contactIds.map((id) => [id, []]));
        for (const row of r.results)
          out.set(
            String(row._from.id),
            row.to.map((t) => String(t.toObjectId)),
          );
        return out;
      },
      o,
    );
  }

  // ---- properties ---------------------------------------------------------------------------------

  /** The account's contact-property schema, cached for the configured time (a failure is never cached). */
  contactPropertySchema(o: CallOptions = {}): Promise<HubSpotPropertyDefinition[]> {
    const now = Date.now();
    if (!this.schema || now - this.schema.at > this.options.propertySchemaTtlMs) {
      // Shared by every caller: bounded by its own timeout only, so one caller giving up fails no other.
      const value = this.request(
        'contact properties read',
        'general',
        async (api) =>
          (await api.properties.core.getAll('contacts', false)).results as unknown as HubSpotPropertyDefinition[],
        { lane: o.lane },
      );
      this.schema = { at: now, value };
      value.catch(() => {
        if (this.schema?.value === value) this.schema = undefined;
      });
    }
    const shared = this.schema.value;
    const signal = o.signal;
    if (!signal) return shared;
    if (signal.aborted) return Promise.reject(this.abandoned(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(this.abandoned(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Every contact property of the portal that carries validation rules, with its rules. */
  contactValidationRules(o?: CallOptions): Promise<Record<string, PropertyValidationRule[]>> {
    return this.request(
      'contact property validation rules read',
      'general',
      async (api) => {
        const body = await api.json('GET', '/crm/property-validations/2026-09/contacts');
        const parsed = allPropertyValidationRulesSchema.parse(body ?? {});
        return Object.fromEntries(parsed.results.map((r) => [r.propertyName, r.propertyValidationRules]));
      },
      o,
    );
  }
}

function needsReconnect(accountId: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `HubSpot account ${quotedAccountId(accountId)} needs to be reconnected: its authorisation was revoked or expired; an operator must connect it again`,
    FailureType.HubSpotAccountNeedsReconnect,
  );
}

export class HubSpotAccounts implements HubSpotPort {
  private readonly accounts = new Map<string, HubSpotAccount>();
  private readonly directory: AccountDirectory;
  private readonly options: Required<HubSpotAccountsOptions>;

  /** From a directory, or (for the worker's static list) from account settings. */
  constructor(directory: AccountDirectory | HubSpotAccountSettings[], options: HubSpotAccountsOptions = {}) {
    this.directory = Array.isArray(directory) ? staticDirectory(directory) : directory;
    this.options = {
      propertySchemaTtlMs: options.propertySchemaTtlMs ?? 5 * 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      rateLimitShare: options.rateLimitShare ?? 0.9,
      batching: options.batching ?? true,
      batchWindowMs: options.batchWindowMs ?? 25,
      agentShare: options.agentShare ?? 0.2,
    };
  }

  /**
   * The account, or a non-retryable failure: UnknownHubSpotAccount (naming only the asked id) or
   * HubSpotAccountNeedsReconnect. One HubSpotAccount (one pacer) per account for the worker's life.
   */
  async get(accountId: string): Promise<HubSpotAccount> {
    let connection: HubSpotConnection | undefined;
    try {
      connection = await this.directory.connection(accountId);
    } catch (err) {
      const e = err as { name?: unknown };
      throw ApplicationFailure.retryable(
        `HubSpot account ${quotedAccountId(accountId)}: the account directory could not be read (${typeof e?.name === 'string' ? redact(e.name) : 'error'}); retrying`,
        FailureType.HubSpotCredentialsUnavailable,
      );
    }
    if (!connection) {
      throw ApplicationFailure.nonRetryable(
        `HubSpot account ${quotedAccountId(accountId)} is not connected to this worker`,
        FailureType.UnknownHubSpotAccount,
      );
    }
    if (connection.status === 'needs-reconnect') throw needsReconnect(accountId);
    const known = this.accounts.get(accountId);
    const same =
      known &&
      known.connection.basePath === connection.basePath &&
      known.connection.rateLimitPerTenSeconds === connection.rateLimitPerTenSeconds &&
      known.connection.searchRateLimitPerSecond === connection.searchRateLimitPerSecond;
    if (known && same) {
      known.refresh(connection);
      return known;
    }
    const account = new HubSpotAccount(connection, this.directory, this.options);
    this.accounts.set(accountId, account);
    return account;
  }

  accountIds(): Promise<string[]> {
    return this.directory.accountIds();
  }
}

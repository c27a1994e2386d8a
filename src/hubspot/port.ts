// The port the activities see: exactly the HubSpot calls an action run, its engagements and the
// convergence check make, and what they read of an account's connection. The adapter (accounts.ts,
// `HubSpotAccounts`) implements it against HubSpot's API; the fast tests implement it in memory
// (test/helpers/fake-hubspot.ts). A call the activities do not make does not belong here.
import type { PropertyVersion } from '../action/convergence';
import type { HubSpotPropertyDefinition } from '../action/mapping-validation';
import type { TimelineObject } from '../action/timeline';
import type { HubSpotConnection } from './directory';
import type { Lane } from './pacer';

export type { Lane } from './pacer';

export interface CallOptions {
  /** Ends the call (and its wait for a pacing slot): the activity's cancellation or the run's budget. */
  signal?: AbortSignal;
  /** 'agent' for an in-conversation run: its calls take the account's next slots before offline syncs'. Default 'offline'. */
  lane?: Lane;
}

export interface HubSpotObject {
  id: string;
  properties: Record<string, string | null>;
  /** The history of the properties a read asked it for, newest first (readContactByEmail with history). */
  history?: Record<string, PropertyVersion[]>;
}

/** A record with the history of some of its properties (HubSpot's propertiesWithHistory), newest first. */
export interface HubSpotObjectWithHistory extends HubSpotObject {
  history: Record<string, PropertyVersion[]>;
}

/** The engagement objects a run may log a conversation as. */
export type EngagementObject = Exclude<TimelineObject, 'notes'>;

/** What the activities read of an account's connection: who owns it and how "ours" is told (ownership.ts). */
export type AccountIdentity = Pick<
  HubSpotConnection,
  'appId' | 'kind' | 'ownershipMarker' | 'workspaceId' | 'portalId'
>;

/** The HubSpot accounts the activities may act for. */
export interface HubSpotPort {
  /**
   * The account, or a non-retryable failure: UnknownHubSpotAccount (naming only the asked id) or
   * HubSpotAccountNeedsReconnect; a retryable HubSpotCredentialsUnavailable when the directory cannot be read.
   */
  get(accountId: string): Promise<HubSpotAccountPort>;
}

/**
 * One HubSpot account's calls. Failures are Temporal ApplicationFailures typed as in errors.ts
 * (HubSpotConflict with details [existingId] on a contact create whose email exists, HubSpotNotFound
 * on an update of a record that is gone, …); a call ends when its signal fires.
 */
export interface HubSpotAccountPort {
  /** The account id action configs name. */
  readonly id: string;
  readonly connection: AccountIdentity;

  // ---- contacts
  /** The contact with this email (primary or secondary, any case), or null; with `history`, those properties' history too. */
  readContactByEmail(
    email: string,
    properties: string[],
    o?: CallOptions,
    history?: string[],
  ): Promise<HubSpotObject | null>;
  /** The contact by id, or null when it is gone. A merged-away id reads as the surviving contact. */
  readContact(id: string, properties: string[], o?: CallOptions): Promise<HubSpotObject | null>;
  /** 409: HubSpotConflict with details [existingId]. */
  createContact(properties: Record<string, string>, o?: CallOptions): Promise<HubSpotObject>;
  /** 404: HubSpotNotFound. */
  updateContact(id: string, properties: Record<string, string>, o?: CallOptions): Promise<HubSpotObject>;
  /** Contacts by id with the history of the named properties; a merged-away id is listed under the asked id. */
  readContactsWithHistory(
    ids: string[],
    properties: string[],
    o?: CallOptions,
  ): Promise<{ byId: Map<string, HubSpotObjectWithHistory>; missing: string[] }>;

  // ---- notes
  /** Creates a note associated with the contact. */
  createNote(input: { body: string; timestamp: string; contactId: string }, o?: CallOptions): Promise<HubSpotObject>;
  /** 404: HubSpotNotFound. */
  updateNote(id: string, body: string, o?: CallOptions): Promise<HubSpotObject>;
  archiveNote(id: string, o?: CallOptions): Promise<void>;
  /** Notes by id (body and timestamp); ids HubSpot does not know are listed in missing. */
  readNotes(ids: string[], o?: CallOptions): Promise<{ results: HubSpotObject[]; missing: string[] }>;
  /** Notes by id with their body, and its history when asked; unknown ids are left out. */
  readNotesWithHistory(ids: string[], history: boolean, o?: CallOptions): Promise<HubSpotObjectWithHistory[]>;
  /** The ids of the notes associated with the contact, from the association itself (exact, unlike search). */
  noteIdsOfContact(contactId: string, o?: CallOptions): Promise<string[]>;
  /** The note ids of several contacts; a contact HubSpot does not know has none. */
  noteIdsOfContacts(contactIds: string[], o?: CallOptions): Promise<Map<string, string[]>>;

  // ---- engagements (Calls and Communications)
  /** Creates a Call or a Communication associated with the contact. */
  createEngagement(
    object: EngagementObject,
    properties: Record<string, string>,
    contactId: string,
    o?: CallOptions,
  ): Promise<HubSpotObject>;
  /** 404: HubSpotNotFound. */
  updateEngagement(
    object: EngagementObject,
    id: string,
    properties: Record<string, string>,
    o?: CallOptions,
  ): Promise<HubSpotObject>;
  archiveEngagement(object: EngagementObject, id: string, o?: CallOptions): Promise<void>;
  /** Engagements by id with their body (and its history when asked); unknown ids are left out. */
  readEngagements(
    object: EngagementObject,
    ids: string[],
    history: boolean,
    o?: CallOptions,
  ): Promise<HubSpotObjectWithHistory[]>;
  /** The ids of the contact's Calls or Communications, from the association itself. */
  engagementIdsOfContact(object: EngagementObject, contactId: string, o?: CallOptions): Promise<string[]>;

  // ---- properties
  /** The account's contact-property schema (cached by the adapter). */
  contactPropertySchema(o?: CallOptions): Promise<HubSpotPropertyDefinition[]>;
}

// "Created by this system" and "written by this system": how the worker recognises its own contacts and
// its own writes in an account. Rules about the account's connection (its app id, credential kind and
// ownership marker), pure: the activities apply them to what they read (docs/CONTACT_SYNC.md).
import type { PropertyVersion } from '../action/convergence';
import type { AccountIdentity } from './port';

/** The record-source properties HubSpot sets on objects created through the API. */
export const SOURCE_PROPERTIES = ['hs_object_source', 'hs_object_source_id'];

/**
 * "Created by this system": HubSpot records the app that created a contact as its source; where an
 * operator chose a marker property instead (the account's ownershipMarker), that property says it.
 */
export function isOurs(
  connection: Pick<AccountIdentity, 'appId' | 'ownershipMarker'>,
  properties: Record<string, string | null | undefined>,
): boolean {
  const marker = connection.ownershipMarker;
  if (marker) return properties[marker.property] === marker.value;
  return properties.hs_object_source === 'INTEGRATION' && properties.hs_object_source_id === String(connection.appId);
}

/** The properties a lookup reads to tell "ours": the record source, or the account's marker property. */
export function ownershipProperties(connection: Pick<AccountIdentity, 'ownershipMarker'>): string[] {
  const marker = connection.ownershipMarker;
  return marker ? [...SOURCE_PROPERTIES, marker.property] : SOURCE_PROPERTIES;
}

/** What a create writes: the planned values, and the account's marker property when it has one. */
export function withOwnershipMarker(
  connection: Pick<AccountIdentity, 'ownershipMarker'>,
  properties: Record<string, string>,
): Record<string, string> {
  const marker = connection.ownershipMarker;
  return marker ? { ...properties, [marker.property]: marker.value } : properties;
}

/**
 * "Written by this system": an integration write whose source is our app. A service key has no app id
 * HubSpot documents as the source of its writes, so any integration write counts as possibly ours; the
 * value rule (one of our unanswered writes) still has to hold before anything is written again.
 */
export function writtenByUs(connection: Pick<AccountIdentity, 'appId' | 'kind'>): (v: PropertyVersion) => boolean {
  const { kind, appId } = connection;
  return (v) => v.sourceType === 'INTEGRATION' && (kind === 'service-key' || v.sourceId === String(appId));
}

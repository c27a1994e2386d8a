// What a run logs on the contact's timeline, and with which HubSpot properties: a note (the default), or,
// for an action that logs engagements, a Call for a voice conversation and a Communication for a
// WhatsApp, SMS or LinkedIn conversation (docs/CONTACT_SYNC.md, "Engagements"). Web chat has no HubSpot
// channel type: it stays a note. Imported by workflow code: pure.
import type { ActionConfig } from './config';

/** The channels a conversation may be on (the platform contract's `channel`, the workflow's own input check). */
export const CHANNELS = ['chat', 'whatsapp', 'sms', 'linkedin', 'voice'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The call of a voice conversation, as the platform reports it with callEnded. No personal data: no phone numbers. */
export interface CallDetails {
  direction: 'inbound' | 'outbound';
  /** How long the call lasted. */
  durationMs?: number;
  /** How the call ended; default completed. */
  status?: 'completed' | 'no-answer' | 'busy' | 'failed' | 'canceled';
  /** Where the platform keeps the recording (https). */
  recordingUrl?: string;
}

/** The HubSpot object a run's timeline record is (its CRM object type name). */
export type TimelineObject = 'notes' | 'calls' | 'communications';

/** HubSpot's communication channel types (Communications API, hs_communication_channel_type). */
export type CommunicationChannel = 'WHATS_APP' | 'SMS' | 'LINKEDIN_MESSAGE';

export type TimelineRecord =
  | { object: 'notes' }
  | { object: 'calls'; call?: CallDetails }
  | { object: 'communications'; channel: CommunicationChannel };

const COMMUNICATION_CHANNELS: Partial<Record<Channel, CommunicationChannel>> = {
  whatsapp: 'WHATS_APP',
  sms: 'SMS',
  linkedin: 'LINKEDIN_MESSAGE',
};

/** What this action logs for a conversation on this channel. */
export function timelineRecordFor(
  config: Pick<ActionConfig, 'logAs'>,
  channel: Channel | undefined,
  call?: CallDetails,
): TimelineRecord {
  if (config.logAs !== 'engagement' || channel === undefined) return { object: 'notes' };
  if (channel === 'voice') return { object: 'calls', ...(call ? { call } : {}) };
  const type = COMMUNICATION_CHANNELS[channel];
  return type ? { object: 'communications', channel: type } : { object: 'notes' };
}

/** The property holding the record's body (the rendered summary and its reference line). */
export function bodyProperty(object: TimelineObject): string {
  return object === 'notes' ? 'hs_note_body' : object === 'calls' ? 'hs_call_body' : 'hs_communication_body';
}

/** HUBSPOT_DEFINED association type ids, record to contact (HubSpot's association type id table). */
export const TO_CONTACT_ASSOCIATION: Record<TimelineObject, number> = { notes: 202, calls: 194, communications: 81 };

const CALL_STATUS: Record<NonNullable<CallDetails['status']>, string> = {
  completed: 'COMPLETED',
  'no-answer': 'NO_ANSWER',
  busy: 'BUSY',
  failed: 'FAILED',
  canceled: 'CANCELED',
};

/**
 * Every property a create or an update of the record writes: the body and the timestamp, and the
 * engagement's own (a Call's title, direction, duration, status and recording; a Communication's
 * channel). An update writes them all again, so a late callEnded's details reach the Call too.
 */
export function timelineProperties(
  record: TimelineRecord,
  body: string,
  timestamp: string,
  actionName: string,
): Record<string, string> {
  const props: Record<string, string> = { [bodyProperty(record.object)]: body, hs_timestamp: timestamp };
  if (record.object === 'calls') {
    const call = record.call;
    props.hs_call_title = `Call logged by ${actionName}`.slice(0, 200);
    props.hs_call_status = CALL_STATUS[call?.status ?? 'completed'];
    if (call) {
      props.hs_call_direction = call.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND';
      if (call.durationMs !== undefined) props.hs_call_duration = String(call.durationMs);
      if (call.recordingUrl) props.hs_call_recording_url = call.recordingUrl;
    }
  } else if (record.object === 'communications') {
    props.hs_communication_channel_type = record.channel;
    props.hs_communication_logged_from = 'CRM';
  }
  return props;
}

// Decide, then do: what one run of the action writes is a pure function of the config, the field
// values, the summary and what the contact lookup returned (the decision table in docs/CONTACT_SYNC.md). Activities only carry
// the plan out. Imported by workflow code: no I/O, no clock.
import type { ActionConfig } from './config';
import { HUBSPOT_TEXT_LIMIT, truncateText } from './limits';
import { emailField, SUMMARY_FIELD } from './names';
import { applyWriteRules, describeLeft, type CurrentValue, type PropertyLeft } from './write-rules';

export type ContactLookup =
  | { found: false }
  | {
      found: true;
      contactId: string;
      ours: boolean;
      properties: Record<string, string | null>;
      /** Per mapped property with a fillIfEmpty or keepPersonEdits rule: what HubSpot holds (never the value). */
      current?: Record<string, CurrentValue>;
    };

export type SyncResult = 'created' | 'updated' | 'note_only' | 'skipped' | 'failed';

export interface SyncOutcome {
  result: SyncResult;
  contactId?: string;
  noteId?: string;
  /** The summary was logged as this engagement, noteId its id (docs/CONTACT_SYNC.md, "Engagements"). Absent: a note. */
  loggedAs?: 'call' | 'communication';
  /** HubSpot properties written by this run. */
  propertiesWritten: string[];
  /** Mapped properties with a value that their write rule left as HubSpot holds them, and why (names only). Absent: none. */
  propertiesLeft?: PropertyLeft[];
  /** Human-readable: why this outcome. No personal data. */
  reason: string;
}

export type ContactWrite =
  | { kind: 'create'; properties: Record<string, string> }
  | { kind: 'update'; contactId: string; properties: Record<string, string> }
  | { kind: 'none' };

export interface ContactSyncPlan {
  contact: ContactWrite;
  /** Write (create or update) the summary note. */
  note: boolean;
  /** The outcome if every write succeeds. */
  outcome: SyncOutcome;
}

export interface PlanInput {
  config: ActionConfig;
  fields: Record<string, string | null | undefined>;
  summary?: string;
  lookup: ContactLookup;
}

// Deliberately simple: HubSpot is the authority on email validity; this refuses what can never be one.
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]{2,}$/;

const present = (v: string | null | undefined): v is string => typeof v === 'string' && v.trim() !== '';

/** The email to look the contact up by, or why the run is skipped (no HubSpot call at all). */
export function resolveLookupEmail(
  config: ActionConfig,
  fields: Record<string, string | null | undefined>,
): { ok: true; email: string } | { ok: false; reason: string } {
  const field = emailField(config);
  const value = fields[field];
  if (!present(value))
    return { ok: false, reason: `No email: the field "${field}" mapped to HubSpot's email is empty` };
  const email = value.trim();
  if (email.length > 254 || !EMAIL.test(email))
    return { ok: false, reason: `The value of "${field}" is not a valid email address` };
  return { ok: true, email };
}

/**
 * Every mapped, non-empty value, as HubSpot properties. Empty, whitespace and null are never sent; a
 * value longer than HubSpot's limit is cut to it with a visible marker (HubSpot would refuse it whole).
 */
export function mappedProperties(
  config: ActionConfig,
  fields: PlanInput['fields'],
  summary: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of config.fieldMappings) {
    const value = row.astraField === SUMMARY_FIELD ? (summary ?? fields[SUMMARY_FIELD]) : fields[row.astraField];
    if (present(value))
      out[row.hubspotProperty] =
        row.hubspotProperty.toLowerCase() === 'email' ? value.trim() : truncateText(value, HUBSPOT_TEXT_LIMIT);
  }
  return out;
}

export function planContactSync({ config, fields, summary, lookup }: PlanInput): ContactSyncPlan {
  const hasSummary = present(summary);
  const properties = mappedProperties(config, fields, summary);
  const noteReason = hasSummary ? '; summary note written' : '; no summary, so no note';

  if (!lookup.found) {
    if (!config.allowCreate) {
      return {
        contact: { kind: 'none' },
        note: false,
        outcome: {
          result: 'skipped',
          propertiesWritten: [],
          reason: 'No contact has this email and creating contacts is not allowed',
        },
      };
    }
    return {
      contact: { kind: 'create', properties },
      note: hasSummary,
      outcome: {
        result: 'created',
        propertiesWritten: Object.keys(properties),
        reason: `Created a new contact${noteReason}`,
      },
    };
  }

  // The lookup email is never rewritten: the contact may have been found by a secondary email.
  const mapped = Object.fromEntries(Object.entries(properties).filter(([name]) => name.toLowerCase() !== 'email'));
  const ours = lookup.ours && config.allowCreate;
  if (ours || config.allowUpdateExisting) {
    const why = ours ? 'a contact this system created' : 'an existing contact (updating existing fields is allowed)';
    // The decision table allows the update; each property's write rule decides whether it is written.
    const { write: update, left } = applyWriteRules(config.fieldMappings, mapped, lookup.current);
    const leftOut = left.length ? { propertiesLeft: left } : {};
    const leftReason = left.length ? `; left by their write rules: ${describeLeft(left)}` : '';
    if (Object.keys(update).length === 0) {
      return {
        contact: { kind: 'none' },
        note: hasSummary,
        outcome: {
          result: hasSummary ? 'updated' : 'skipped',
          contactId: lookup.contactId,
          propertiesWritten: [],
          ...leftOut,
          reason: `Found ${why}; ${left.length ? 'no mapped value written' : 'no mapped value to write'}${leftReason}${noteReason}`,
        },
      };
    }
    return {
      contact: { kind: 'update', contactId: lookup.contactId, properties: update },
      note: hasSummary,
      outcome: {
        result: 'updated',
        contactId: lookup.contactId,
        propertiesWritten: Object.keys(update),
        ...leftOut,
        reason: `Updated ${why}${leftReason}${noteReason}`,
      },
    };
  }
  return {
    contact: { kind: 'none' },
    note: hasSummary,
    outcome: {
      result: hasSummary ? 'note_only' : 'skipped',
      contactId: lookup.contactId,
      propertiesWritten: [],
      reason: hasSummary
        ? 'Found an existing contact this system did not create; updating existing fields is not allowed, so only the summary note was written'
        : 'Found an existing contact this system did not create; updating existing fields is not allowed and there is no summary',
    },
  };
}

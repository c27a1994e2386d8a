// Write rules per mapped field (docs/CONTACT_SYNC.md, "Write rules"): whether a mapped value is written
// to a contact that already exists, decided from what the lookup read of that property: whether HubSpot
// holds a value, and who set it since this system last wrote it (HubSpot's property history). The
// decision table (plan.ts) still says whether the contact may be written at all; these rules decide per
// property. Imported by workflow code: no I/O, and never a property value (names and verdicts only).
import type { FieldMapping, WriteRule } from './config';
import { DEFAULT_WRITE_RULE } from './names';
import type { PropertyVersion } from './convergence';

/** Who set a value, as far as HubSpot's history tells. */
export type Setter = 'person' | 'another-integration' | 'other-source';

/** What the lookup learned of one mapped property of the found contact. Never its value. */
export interface CurrentValue {
  /** HubSpot holds a non-empty value. */
  hasValue: boolean;
  /**
   * Read for keepPersonEdits only: someone other than this system set the current value after this
   * system's last write of it (or this system never wrote it): who. Absent: no one did.
   */
  setBySomeoneElse?: Setter;
}

export type LeftReason =
  'has-a-value' | 'set-by-a-person' | 'set-by-another-integration' | 'set-by-another-source' | 'not-read';

/** A mapped property left as HubSpot holds it, by its write rule, and why. */
export interface PropertyLeft {
  property: string;
  rule: WriteRule;
  why: LeftReason;
}

const PERSON_SOURCES = new Set(['CRM_UI', 'MOBILE_IOS', 'MOBILE_ANDROID']);
const INTEGRATION_SOURCES = new Set(['INTEGRATION', 'API']);

/**
 * Who made one version: a person in HubSpot's apps (CRM_UI and the mobile apps; HubSpot names the user
 * as `userId:<id>` in sourceId), an integration (INTEGRATION, API: another app or key), or anything else
 * HubSpot records (imports, forms, workflows, HubSpot itself).
 */
export function setterOf(v: PropertyVersion): Setter {
  if (PERSON_SOURCES.has(v.sourceType)) return 'person';
  if (INTEGRATION_SOURCES.has(v.sourceType)) return 'another-integration';
  return 'other-source';
}

/**
 * Who, other than this system, set the property after this system's last write of it (versions newest
 * first, as HubSpot lists them): the newest such version's setter. Undefined when this system's write
 * is the newest, or the property has no history and no value. A value with no write of this system in
 * its history was set by someone else; a value whose history HubSpot did not list is treated the same
 * (nothing says it is ours).
 */
export function setBySomeoneElse(
  versions: PropertyVersion[],
  hasValue: boolean,
  ours: (v: PropertyVersion) => boolean,
): Setter | undefined {
  const lastOurs = versions.findIndex(ours);
  const since = lastOurs < 0 ? versions : versions.slice(0, lastOurs);
  const newest = since[0];
  if (newest) return setterOf(newest);
  return lastOurs < 0 && hasValue ? 'other-source' : undefined;
}

/** The rule of a mapping row: DEFAULT_WRITE_RULE (`overwrite`) when it names none. */
export const ruleOf = (row: Pick<FieldMapping, 'writeRule'>): WriteRule => row.writeRule ?? DEFAULT_WRITE_RULE;

/** The properties whose current value the lookup must read (fillIfEmpty, keepPersonEdits), and those whose history it must read (keepPersonEdits). */
export function propertiesToRead(rows: FieldMapping[]): { values: string[]; history: string[] } {
  const ruled = rows.filter((r) => ruleOf(r) !== 'overwrite' && r.hubspotProperty.toLowerCase() !== 'email');
  return {
    values: [...new Set(ruled.map((r) => r.hubspotProperty))],
    history: [...new Set(ruled.filter((r) => ruleOf(r) === 'keepPersonEdits').map((r) => r.hubspotProperty))],
  };
}

const LEFT_BY: Record<Setter, LeftReason> = {
  person: 'set-by-a-person',
  'another-integration': 'set-by-another-integration',
  'other-source': 'set-by-another-source',
};

/** Whether a rule lets a value be written over what the contact holds. */
export function ruleVerdict(
  rule: WriteRule,
  current: CurrentValue | undefined,
): { write: true } | { write: false; why: LeftReason } {
  if (rule === 'overwrite') return { write: true };
  // Not read (a lookup made before the rule was set): nothing says the value may be written.
  if (!current) return { write: false, why: 'not-read' };
  if (rule === 'fillIfEmpty') return current.hasValue ? { write: false, why: 'has-a-value' } : { write: true };
  return current.setBySomeoneElse ? { write: false, why: LEFT_BY[current.setBySomeoneElse] } : { write: true };
}

/** The update split by the rules: what is written, and what is left and why (in mapping order). */
export function applyWriteRules(
  rows: FieldMapping[],
  update: Record<string, string>,
  current: Record<string, CurrentValue> | undefined,
): { write: Record<string, string>; left: PropertyLeft[] } {
  const write: Record<string, string> = {};
  const left: PropertyLeft[] = [];
  const ruleByProperty = new Map(rows.map((r) => [r.hubspotProperty, ruleOf(r)]));
  for (const [property, value] of Object.entries(update)) {
    const rule = ruleByProperty.get(property) ?? DEFAULT_WRITE_RULE;
    const verdict = ruleVerdict(rule, current?.[property]);
    if (verdict.write) write[property] = value;
    else left.push({ property, rule, why: verdict.why });
  }
  return { write, left };
}

const WHY_TEXT: Record<LeftReason, string> = {
  'has-a-value': 'HubSpot has a value',
  'set-by-a-person': "set by a person since this system's last write",
  'set-by-another-integration': "set by another integration since this system's last write",
  'set-by-another-source': "set by another source (an import, a form, a workflow) since this system's last write",
  'not-read': 'its current value was not read',
};

/** The outcome's words for what was left: property names and reasons, never values. */
export function describeLeft(left: PropertyLeft[]): string {
  return left.map((l) => `${l.property} (${l.rule}: ${WHY_TEXT[l.why]})`).join(', ');
}

// The workflow's own checks of what it receives. The platform client validates every input with the
// contract's zod schemas first; these small deterministic checks only keep a caller that bypasses it
// from breaking a conversation. They stay loose on purpose: a tightened client rule must never change
// what a running conversation accepted when its history was recorded.
import { FIELDS_BUDGET_BYTES, fieldValuesBytes, truncateSummary } from '../src/action/limits';
import { fnv64Hex } from '../src/action/hash';
import { MAX_FIELDS, type CallDetails, type FieldValues } from '../src/platform/definitions';

export interface Values {
  fields?: FieldValues;
  summary?: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The longest field value (characters, as the platform client counts them: code points). */
const MAX_VALUE_CHARACTERS = 65_536;

function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fields and summary of a signal or update: shapes checked, the summary cut to HubSpot's limit. */
export function checkValues(raw: unknown, required = false): Checked<Values> {
  if (raw === undefined || raw === null)
    return required ? { ok: false, reason: '(root): expected an object' } : { ok: true, value: {} };
  if (!isRecord(raw)) return { ok: false, reason: '(root): expected an object' };
  const value: Values = {};
  if (raw.fields !== undefined) {
    if (!isRecord(raw.fields)) return { ok: false, reason: 'fields: expected an object of field values' };
    const entries = Object.entries(raw.fields);
    if (entries.length > MAX_FIELDS) return { ok: false, reason: `fields: at most ${MAX_FIELDS} fields` };
    for (const [key, v] of entries) {
      if (key.length === 0 || key.length > 100)
        return { ok: false, reason: 'fields: a field name must have 1 to 100 characters' };
      if (v !== null && typeof v !== 'string') return { ok: false, reason: `fields.${key}: expected text or null` };
      if (typeof v === 'string' && v.length > MAX_VALUE_CHARACTERS && codePoints(v) > MAX_VALUE_CHARACTERS) {
        return { ok: false, reason: `fields.${key}: at most ${MAX_VALUE_CHARACTERS} characters` };
      }
    }
    value.fields = raw.fields as FieldValues;
  }
  if (raw.summary !== undefined) {
    if (typeof raw.summary !== 'string') return { ok: false, reason: 'summary: expected text' };
    value.summary = truncateSummary(raw.summary);
  }
  return { ok: true, value };
}

/** Why merging these fields would take the conversation past its field count or size budget, if it would. */
export function overBudget(current: FieldValues, incoming: FieldValues | undefined): string | undefined {
  if (!incoming) return undefined;
  const merged = { ...current, ...incoming };
  const count = Object.keys(merged).length;
  if (count > MAX_FIELDS)
    return `fields: this would bring the conversation to ${count} distinct fields; at most ${MAX_FIELDS}`;
  const bytes = fieldValuesBytes(merged);
  if (bytes > FIELDS_BUDGET_BYTES)
    return `fields: this would bring the conversation's field values to ${Math.ceil(bytes / 1024)} KiB; at most ${FIELDS_BUDGET_BYTES / 1024} KiB`;
  return undefined;
}

/**
 * Why a signal, update or query may not act on a conversation of workspace `owner`, or undefined when it
 * may. `bound`: the conversation was started after callers named their workspace (a caller naming none
 * is refused); before that, a caller naming none is one of that time and is accepted. A conversation
 * started without a workspace has no owner to check against. The message never names the owner.
 */
export function checkCallerWorkspace(raw: unknown, owner: string | undefined, bound: boolean): string | undefined {
  if (!isRecord(raw))
    return bound && owner !== undefined
      ? "(root): expected an object naming the caller's workspace (workspaceId)"
      : undefined;
  const given = raw.workspaceId;
  if (given !== undefined && typeof given !== 'string') return "workspaceId: expected the id of the caller's workspace";
  if (owner === undefined || given === owner) return undefined;
  if (given === undefined) return bound ? 'workspaceId: the caller must name its workspace' : undefined;
  return 'the conversation belongs to another workspace';
}

export function checkActionId(raw: unknown): Checked<string> {
  if (!isRecord(raw)) return { ok: false, reason: '(root): expected an object' };
  if (typeof raw.actionId !== 'string' || raw.actionId.length === 0 || raw.actionId.length > 200) {
    return { ok: false, reason: 'actionId: expected the id of an action of this conversation' };
  }
  return { ok: true, value: raw.actionId };
}

/** Who wrote a message, and its optional platform id. */
export function checkMessageSender(raw: unknown): Checked<'customer' | 'agent'> {
  if (!isRecord(raw)) return { ok: false, reason: '(root): expected an object' };
  if (raw.from !== 'customer' && raw.from !== 'agent')
    return { ok: false, reason: 'from: expected "customer" or "agent"' };
  const id = raw.messageId;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > 200))
    return { ok: false, reason: 'messageId: expected text of 1 to 200 characters' };
  return { ok: true, value: raw.from };
}

/** A stable fingerprint of the values a run of this action would write: identical values cost no HubSpot call. */
export function syncFingerprint(
  mappedFields: string[],
  fields: FieldValues,
  summary: string | undefined,
  call?: CallDetails,
): string {
  const values: unknown[] = [mappedFields.map((f) => [f, fields[f] ?? null]), summary ?? null];
  // Call details count only when given: the fingerprint of every other run is the one it always was.
  if (call) values.push([call.direction, call.durationMs ?? null, call.status ?? null, call.recordingUrl ?? null]);
  const canonical = JSON.stringify(values);
  return `${fnv64Hex(canonical)}:${canonical.length}`;
}

const CALL_STATUSES = ['completed', 'no-answer', 'busy', 'failed', 'canceled'];

/** The call details of a callEnded signal, when it has any (the platform client validated them; loose on purpose). */
export function checkCallDetails(raw: unknown): Checked<CallDetails | undefined> {
  if (!isRecord(raw) || raw.call === undefined) return { ok: true, value: undefined };
  const c = raw.call;
  if (!isRecord(c)) return { ok: false, reason: 'call: expected an object' };
  if (c.direction !== 'inbound' && c.direction !== 'outbound')
    return { ok: false, reason: 'call.direction: expected "inbound" or "outbound"' };
  if (
    c.durationMs !== undefined &&
    (typeof c.durationMs !== 'number' ||
      !Number.isInteger(c.durationMs) ||
      c.durationMs < 0 ||
      c.durationMs > 24 * 3600_000)
  ) {
    return { ok: false, reason: 'call.durationMs: expected whole milliseconds, at most 24 hours' };
  }
  if (c.status !== undefined && !CALL_STATUSES.includes(c.status as string))
    return { ok: false, reason: `call.status: expected one of ${CALL_STATUSES.join(', ')}` };
  if (
    c.recordingUrl !== undefined &&
    (typeof c.recordingUrl !== 'string' || !/^https:\/\/\S+$/.test(c.recordingUrl) || c.recordingUrl.length > 2_000)
  ) {
    return { ok: false, reason: 'call.recordingUrl: expected an https URL' };
  }
  const value: CallDetails = { direction: c.direction };
  if (c.durationMs !== undefined) value.durationMs = c.durationMs as number;
  if (c.status !== undefined) value.status = c.status as CallDetails['status'];
  if (c.recordingUrl !== undefined) value.recordingUrl = c.recordingUrl as string;
  return { ok: true, value };
}

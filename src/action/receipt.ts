// A sync receipt: what one run of the action did, as the workspace's operator reads it (docs/ACCOUNTS.md,
// "Receipts"). Ids, names, counts and times only: never a property value, an email, a phone or a
// summary. Built by the activities from a run's outcome, kept by the account store (src/account-store/
// receipts.ts), read through the configuration API. No I/O here.
import type { SyncOutcome, SyncResult } from './plan';
import type { LeftReason } from './write-rules';

export const RECEIPT_TRIGGERS = [
  'in-conversation',
  'offline',
  'follow-up',
  'operator-retry',
  'convergence-repair',
] as const;
export type ReceiptTrigger = (typeof RECEIPT_TRIGGERS)[number];

export const RECEIPT_OUTCOMES = [
  'created',
  'updated',
  'note_only',
  'skipped',
  'failed',
] as const satisfies readonly SyncResult[];

/** The HubSpot record the summary went to. */
export type ReceiptRecordObject = 'note' | 'call' | 'communication';

/** What a receipt and the activity's write of it share. */
interface ReceiptRun {
  /** The run's key (receiptKey): a retried attempt writes the same one. */
  id: string;
  workspaceId: string;
  actionId: string;
  conversationId: string;
  trigger: ReceiptTrigger;
  outcome: SyncResult;
  reason: string;
  propertiesWritten: string[];
  hubspotCalls: number;
  /** The attempt that wrote it (Temporal's attempt number): an older attempt never overwrites a newer one's receipt. */
  attempts: number;
  /** False while the run has not reported its outcome (under way, or its worker stopped: Temporal retries it). */
  finished: boolean;
}

export interface Receipt extends ReceiptRun {
  hubspot: {
    accountId: string;
    portalId?: number;
    contactId?: string;
    contactUrl?: string;
    record?: { object: ReceiptRecordObject; id: string; url?: string };
  };
  propertiesLeft: Array<{ name: string; why: LeftReason | string }>;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/** What the activity tells the store about a run: the receipt without its links (derived) and its times as ms. */
export interface ReceiptWrite extends ReceiptRun {
  accountId: string;
  portalId?: number;
  contactId?: string;
  record?: { object: ReceiptRecordObject; id: string };
  propertiesLeft: Array<{ name: string; why: string }>;
  startedAtMs: number;
  finishedAtMs: number;
  /** The Temporal execution that ran it (kept for engineers, never shown by the API). */
  workflowId?: string;
  workflowRunId?: string;
}

/** Where runs leave their receipts (the account store's receipts; absent: none are kept). */
export interface ReceiptRecorder {
  /** An attempt starts: the run has a receipt from now on ("not finished"), unless it has one already. */
  started(write: ReceiptWrite): Promise<void>;
  /** An attempt ended: its outcome replaces what an earlier attempt of the same run recorded. */
  finished(write: ReceiptWrite): Promise<void>;
}

/** What the workflow tells the run's activity for its receipt (never personal data). */
export interface ReceiptContext {
  trigger: ReceiptTrigger;
  conversationId: string;
}

/** The reason a receipt of a run that has not reported its outcome shows. */
export const UNFINISHED_REASON =
  'Not finished: the run is under way, or the worker running it stopped before it could report (Temporal retries it)';

/** A stable receipt id from the run's key: the same for every attempt of one run, never guessable from outside. */
export function receiptId(runKey: string, hash: (text: string) => string): string {
  return `rcpt_${hash(runKey).slice(0, 32)}`;
}

/** HubSpot's contact record page (the form given by HubSpot's app URLs: /contacts/<portal>/record/0-1/<id>). */
export function contactRecordUrl(portalId: number | undefined, contactId: string | undefined): string | undefined {
  if (portalId === undefined || !contactId) return undefined;
  return `https://app.hubspot.com/contacts/${portalId}/record/0-1/${encodeURIComponent(contactId)}`;
}

/**
 * The note's (call's, communication's) link. HubSpot documents no record page of its own for an
 * engagement: it is shown on the timeline of the records it is associated with, so the link is the
 * contact's record page (the receipt carries the engagement's id beside it).
 */
export function engagementRecordUrl(portalId: number | undefined, contactId: string | undefined): string | undefined {
  return contactRecordUrl(portalId, contactId);
}

/** The record object a run's outcome names: a note unless it logged a Call or a Communication. */
export function recordOf(outcome: Pick<SyncOutcome, 'noteId' | 'loggedAs'>): ReceiptWrite['record'] {
  if (!outcome.noteId) return undefined;
  return { object: outcome.loggedAs ?? 'note', id: outcome.noteId };
}

const EMAIL_LIKE = /[^\s@<>()[\]\\,;:"']+@[^\s@<>()[\]\\,;:"']+\.[A-Za-z]{2,}/g;
/** International phone numbers (+ then at least 7 digits): ids and dates never start with +. */
const PHONE_LIKE = /\+\d[\d\s().-]{5,}\d/g;

/**
 * A reason as a receipt keeps it: at most 1,000 characters, with anything that looks like an email or a
 * phone number masked. Reasons are written without personal data; this holds when HubSpot's own error
 * message (quoted in a failed run's reason) echoes a value back.
 */
export function receiptReason(reason: string): string {
  const masked = reason.replace(EMAIL_LIKE, '<email>').replace(PHONE_LIKE, '<phone>');
  return masked.length > 1000 ? `${masked.slice(0, 999)}…` : masked;
}

// The summary note's body (and a Call's or a Communication's): HTML with the summary escaped, cut to
// HubSpot's size limit with a visible marker, a line that says which action wrote it and when, with a
// link back to the conversation in the platform when there is one, and a reference line that lets a
// retry find the record an earlier attempt wrote (HubSpot has no idempotency keys). Besides the summary,
// the body holds ids, the operator's action name, a time and the platform's link: no personal data.
// Imported by workflow code: pure.

import { fnv64Hex } from './hash';
import { HUBSPOT_TEXT_LIMIT, TRUNCATION_MARKER } from './limits';

/** HubSpot's limit on hs_note_body (characters). */
export const NOTE_BODY_LIMIT = HUBSPOT_TEXT_LIMIT;
export { TRUNCATION_MARKER };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** A stable, searchable token for (conversation, action): letters and digits only, so HubSpot's search tokenizer keeps it whole. */
export function noteReference(conversationKey: string): string {
  return `syncref${fnv64Hex(conversationKey)}`;
}

/** What the body says about itself: the action that wrote it, when, and where the conversation is. */
export interface NoteProvenance {
  actionId: string;
  actionName: string;
  /** ISO time of the run that wrote this content. */
  writtenAt: string;
  /** The conversation in the platform (https, validated by the platform contract). */
  conversationUrl?: string;
}

/** Only an https link is ever rendered (the contract validates it; this keeps a bypassing caller's value out). */
const safeLink = (url: string | undefined) =>
  url && /^https:\/\/[^\s"'<>]+$/.test(url) && url.length <= 2_000 ? url : undefined;

function provenanceLine(p: NoteProvenance): string {
  const link = safeLink(p.conversationUrl);
  const name = escapeHtml(p.actionName.slice(0, 200));
  const id = escapeHtml(p.actionId.slice(0, 200));
  return `Written by the action ${name} (${id}) at ${escapeHtml(p.writtenAt.slice(0, 40))}${link ? ` · <a href="${escapeHtml(link)}">Open the conversation</a>` : ''}<br>`;
}

/** The note body for a summary. Always at most NOTE_BODY_LIMIT characters. */
export function renderSummaryNote(summary: string, conversationKey: string, provenance?: NoteProvenance): string {
  const head = '<p><strong>Conversation summary</strong></p><p>';
  const tail = `</p><p style="color:#7c98b6;font-size:11px">${provenance ? provenanceLine(provenance) : ''}Reference: ${noteReference(conversationKey)}</p>`;
  const budget = NOTE_BODY_LIMIT - head.length - tail.length;
  const render = (text: string) => escapeHtml(text).replace(/\r?\n/g, '<br>');
  let body = render(summary);
  if (body.length > budget) {
    // Cut the source text (never in the middle of an escape sequence) until the rendering fits with the marker.
    const marker = escapeHtml(TRUNCATION_MARKER);
    let keep = Math.min(summary.length, budget);
    while (keep > 0 && render(summary.slice(0, keep)).length + marker.length > budget) {
      keep -= Math.max(1, Math.ceil((render(summary.slice(0, keep)).length + marker.length - budget) / 6));
    }
    // Never split a surrogate pair.
    if (keep > 0 && /[\uD800-\uDBFF]/.test(summary.charAt(keep - 1))) keep--;
    body = render(summary.slice(0, Math.max(0, keep))) + marker;
  }
  return head + body + tail;
}

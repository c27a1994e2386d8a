// The summary note's body: HTML with the summary escaped, cut to HubSpot's size limit with a visible
// marker, and a reference line that lets a retry find the note an earlier attempt wrote (HubSpot has
// no idempotency keys). The reference is built from workflow and action ids only: no personal data.
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

/** The note body for a summary. Always at most NOTE_BODY_LIMIT characters. */
export function renderSummaryNote(summary: string, conversationKey: string): string {
  const head = '<p><strong>Conversation summary</strong></p><p>';
  const tail = `</p><p style="color:#7c98b6;font-size:11px">Reference: ${noteReference(conversationKey)}</p>`;
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

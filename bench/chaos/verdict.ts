// The chaos run's verdict: every conversation checked against the emulator's store (live records,
// merged-away ids mapped to the record they read as now) and its final state, the counters
// docs/BENCHMARKS.md ("Chaos run") defines, and where the slowest conversations' time went. The summary
// is checked where the action logs it: a note, or a Call or Communication for actions that log engagements.
import type { EmulatorAccountSeed, HubSpotEmulator } from '../../hubspot-emulator';
import type { StoredNote } from '../../hubspot-emulator/store';
import type { DataConverter, ProtoFailure } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/data-converter-helpers';
import { escapeHtml, noteReference } from '../../src/action/note';
import { bodyProperty, type TimelineObject } from '../../src/action/timeline';
import type { ConversationClient } from '../../src/platform/client';
import { conversationWorkflowId } from '../../src/platform/contract';
import { contactsWithEmail, timelineObjectOf, type Plan } from './plan';

export interface ChaosTally {
  conversations: number;
  byRow: Record<string, number>;
  behaviours: Record<string, number>;
  synced: number;
  lost: string[];
  duplicateContacts: number;
  duplicateNotes: number;
  wrongContactNotes: string[];
  /** Calls and Communications beyond one per (conversation, action, contact); itemised in `duplicates`. */
  duplicateEngagements: number;
  wrongContactEngagements: string[];
  /** (conversation, action, contact) engagements found once, on their contact, with the latest summary. */
  engagements: { calls: number; communications: number };
  wrongProperties: string[];
  wrongOutcomes: string[];
  duplicateSyncs: string[];
  notCompleted: string[];
  /** Problems itemised for the duplicate counters (which conversation, which email or note). */
  duplicates: string[];
  /** The conversations that took longest from the first signal to the end of their (follow-up) sync. */
  slowest: string[];
  offlineOutcomes: Record<string, number>;
  inConversationOutcomes: Record<string, number>;
  hubspotCalls: number;
  faults: Record<string, number>;
  /**
   * Writes HubSpot held past the worker's per-call timeout and then applied anyway (the emulator's
   * default slow write), out of all write calls; `held` counts every held call, reads included.
   */
  slowWrites: { held: number; heldWrites: number; appliedLate: number; dropped: number; writeCalls: number };
  /** A property holding an older value this conversation wrote instead of its newest one. */
  staleValues: string[];
  /** What the conversations' convergence checks did, summed (docs/CONTACT_SYNC.md, "Convergence"). */
  convergence: {
    conversationsChecked: number;
    checks: number;
    duplicateNotesArchived: number;
    valuesRewritten: number;
    noteBodiesRewritten: number;
    valuesLeftAlone: number;
    failedChecks: number;
  };
  searchLag: string;
  /**
   * Receipts against runs (production-like runs: the workers keep receipts in the account store): one
   * receipt per run of each conversation, none missing, none doubled, none left unfinished. Absent when
   * the workers keep no receipts.
   */
  receipts?: ReceiptTally;
  workerKills: number;
  workerStarts: number;
  serverRestarts: number;
  databaseRestarts: number;
  seconds: number;
}

/** A tally with nothing counted yet. */
export function emptyTally(conversations: number, searchLag: string): ChaosTally {
  return {
    conversations,
    byRow: {},
    behaviours: {},
    synced: 0,
    lost: [],
    duplicateContacts: 0,
    duplicateNotes: 0,
    wrongContactNotes: [],
    duplicateEngagements: 0,
    wrongContactEngagements: [],
    engagements: { calls: 0, communications: 0 },
    wrongProperties: [],
    wrongOutcomes: [],
    duplicateSyncs: [],
    notCompleted: [],
    duplicates: [],
    slowest: [],
    offlineOutcomes: {},
    inConversationOutcomes: {},
    hubspotCalls: 0,
    faults: {},
    slowWrites: { held: 0, heldWrites: 0, appliedLate: 0, dropped: 0, writeCalls: 0 },
    staleValues: [],
    convergence: {
      conversationsChecked: 0,
      checks: 0,
      duplicateNotesArchived: 0,
      valuesRewritten: 0,
      noteBodiesRewritten: 0,
      valuesLeftAlone: 0,
      failedChecks: 0,
    },
    searchLag,
    workerKills: 0,
    workerStarts: 0,
    serverRestarts: 0,
    databaseRestarts: 0,
    seconds: 0,
  };
}

/**
 * The check, from the emulator's store: the HubSpot calls (beyond `callsBefore`) and faults, every
 * conversation, and stray contacts of the worker's app.
 */
export function checkStore(
  em: HubSpotEmulator,
  accounts: EmulatorAccountSeed[],
  plans: Plan[],
  tally: ChaosTally,
  callsBefore: number,
): void {
  for (const a of accounts) {
    const counts = em.requestCounts(a.accountId);
    tally.hubspotCalls += Object.values(counts).reduce((x, y) => x + y, 0);
    for (const [k, v] of Object.entries(em.faultCounts(a.accountId))) tally.faults[k] = (tally.faults[k] ?? 0) + v;
    for (const [op, n] of Object.entries(counts)) if (WRITE_OPERATION.test(op)) tally.slowWrites.writeCalls += n;
    for (const f of em.faultLog(a.accountId)) {
      if (!f.kind.startsWith('slow-write')) continue;
      tally.slowWrites.held++;
      if (!WRITE_OPERATION.test(f.operation)) continue;
      tally.slowWrites.heldWrites++;
      if (f.outcome === 'applied' && f.callerLeft) tally.slowWrites.appliedLate++;
      if (f.outcome === 'dropped') tally.slowWrites.dropped++;
    }
  }
  tally.hubspotCalls -= callsBefore;
  const count = (k: string, n = 1) => (tally.behaviours[k] = (tally.behaviours[k] ?? 0) + n);
  const recordsByAccount = new Map<string, TimelineRecords>(
    accounts.map((a) => [
      a.accountId,
      {
        notes: em.notes(a.accountId),
        calls: em.engagements(a.accountId, 'calls'),
        communications: em.engagements(a.accountId, 'communications'),
      },
    ]),
  );
  for (const p of plans) checkConversation(em, p, tally, recordsByAccount.get(p.accountId)!, count);
  // HubSpot (and the emulator) refuse a second contact with an email, so a stray create shows as a
  // contact of this worker's app that holds none of the run's emails.
  const known = new Set(plans.flatMap((p) => [p.email, ...(p.correction ? [p.correction.typoEmail] : [])]));
  for (const a of accounts) {
    for (const c of em.contacts(a.accountId)) {
      if (c.properties.hs_object_source !== 'INTEGRATION' || c.properties.hs_object_source_id !== String(a.appId))
        continue;
      const emails = [c.properties.email ?? '', ...(c.properties.hs_additional_emails ?? '').split(';')]
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean);
      if (!emails.some((e) => known.has(e))) {
        tally.duplicateContacts++;
        tally.duplicates.push(
          `account ${a.accountId}: contact ${c.id} was created by the worker but holds none of the run's emails`,
        );
      }
    }
  }
}

/** A failure's message; with encryption on, failure messages are encrypted in the history: decoded with the run's keys. */
export async function failureMessage(
  failure: ProtoFailure | null | undefined,
  workflowId: string,
  dataConverter?: DataConverter,
): Promise<string> {
  if (!failure) return '';
  if (!dataConverter) return failure.message ?? '';
  const decoded = await decodeOptionalFailureToOptionalError(loadDataConverter(dataConverter), failure, {
    type: 'activity',
    namespace: 'default',
    workflowId,
    isLocal: false,
  }).catch((err: Error) => err);
  return decoded?.message ?? failure.message ?? '';
}

/** The three slowest conversations (first signal to the end of their last sync), and where the slowest one's time went. */
export async function slowest(
  plans: Plan[],
  platform: ConversationClient,
  dataConverter?: DataConverter,
): Promise<string[]> {
  const lines: string[] = [];
  const slowestPlans: Plan[] = [];
  const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}`);
  lines.push(
    ...[...plans]
      .sort(
        (a, b) =>
          (b.times.followUp ?? b.times.synced ?? Infinity) -
          (b.times.start ?? 0) -
          ((a.times.followUp ?? a.times.synced ?? Infinity) - (a.times.start ?? 0)),
      )
      .slice(0, 3)
      .map((p) => {
        const runs = (p.result ?? p.state)?.outcomes.offline?.length ?? 0;
        slowestPlans.push(p);
        return `${p.conversation.conversationId} (${p.row}, ${p.conversation.channel}${p.live ? ', in-conversation' : ''}): started ${s(p.times.start)} s, end sent ${s(p.times.end)} s, synced ${s(p.times.synced)} s, follow-up ${s(p.times.followUp)} s, completed ${s(p.times.completed)} s; ${runs} offline run(s)`;
      }),
  );
  // Where the slowest conversation's time went: its activities' attempts and failures, from its history.
  const slowestPlan = slowestPlans[0];
  if (!slowestPlan) return lines;
  const history = await platform
    .handle(slowestPlan.conversation)
    .fetchHistory()
    .catch(() => undefined);
  const t0 = Number(history?.events?.[0]?.eventTime?.seconds ?? 0) * 1000;
  const workflowId = platform.handle(slowestPlan.conversation).workflowId;
  const message = (failure: ProtoFailure | null | undefined) => failureMessage(failure, workflowId, dataConverter);
  const scheduled = new Map<string, string>();
  for (const e of history?.events ?? []) {
    const at = `${((Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6) - t0) / 1000).toFixed(1)} s`;
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    const st = e.activityTaskStartedEventAttributes;
    if (st && (st.attempt ?? 1) > 1)
      lines.push(
        `    ${at}: ${scheduled.get(String(st.scheduledEventId)) ?? '?'} attempt ${st.attempt} started; last failure: ${(await message(st.lastFailure)).slice(0, 160)}`,
      );
    if (e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes)
      lines.push(`    ${at}: workflow task ${e.workflowTaskTimedOutEventAttributes ? 'timed out' : 'failed'}`);
    const a =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (!a) continue;
    const name = scheduled.get(String(a.scheduledEventId)) ?? '?';
    const failure = e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
    lines.push(`    ${at}: ${name} ${failure ? `ended: ${(await message(failure)).slice(0, 160)}` : 'completed'}`);
  }
  return lines;
}

const GOOD: ReadonlyArray<string> = ['created', 'updated', 'note_only'];

/** The emulator's operations that write (contacts, notes and engagements, single and batch). */
const WRITE_OPERATION = /^(contacts|notes|calls|communications)\.(create|update|batchCreate|batchUpdate|batchUpsert)$/;

/** An account's live notes, Calls and Communications. */
type TimelineRecords = Record<TimelineObject, StoredNote[]>;
const RECORD_NAME: Record<TimelineObject, string> = { notes: 'note', calls: 'Call', communications: 'Communication' };

/** Checks one conversation against the emulator's store and adds what it finds to the tally. */
function checkConversation(
  em: HubSpotEmulator,
  p: Plan,
  tally: ChaosTally,
  records: TimelineRecords,
  count: (k: string, n?: number) => void,
): void {
  const id = p.conversation.conversationId;
  const object = timelineObjectOf(p);
  const tag = `${id} (${p.row}${p.voice ? ', voice' : ''}${object === 'notes' ? '' : `, ${RECORD_NAME[object]}s`})`;
  let isLost = false;
  const lost = (what: string) => {
    isLost = true;
    tally.lost.push(`${tag}: ${what}`);
  };
  const wrongProperty = (what: string) => tally.wrongProperties.push(`${tag}: ${what}`);
  const wrongContact = (what: string) =>
    (object === 'notes' ? tally.wrongContactNotes : tally.wrongContactEngagements).push(`${tag}: ${what}`);
  const acc = p.accountId;
  const now = (contactId: string) => em.contactIdNow(acc, contactId);

  tally.byRow[p.row] = (tally.byRow[p.row] ?? 0) + 1;
  if (p.correction) count('email corrections');
  if (p.merge?.into) count(`contact merges (${p.merge.when})`);
  if (p.merge?.skipped) count('merges skipped (no contact yet)');
  if (p.voice && p.duplicateEnd) count('callEnded twice back to back');
  if (p.repeatsSent) count(p.voice ? 'callEnded again after the sync' : 'identical values again after the sync');
  if (p.lateSent) count('late summaries (follow-up)');
  if (p.postEndSkipped) count('post-end steps skipped (retention nearly over)');
  if (p.lateOpenedNew) count('late summaries that reached a completed conversation (opened a new one)');
  if (object !== 'notes') count(`logged as ${RECORD_NAME[object]}s`);
  for (const ask of p.liveAsks) {
    const r = ask.run?.result ?? 'refused';
    tally.inConversationOutcomes[r] = (tally.inConversationOutcomes[r] ?? 0) + 1;
  }

  const final = p.result ?? p.state ?? p.seen;
  const converged = final?.convergence;
  if (converged) {
    tally.convergence.conversationsChecked++;
    for (const k of [
      'checks',
      'duplicateNotesArchived',
      'valuesRewritten',
      'noteBodiesRewritten',
      'valuesLeftAlone',
      'failedChecks',
    ] as const)
      tally.convergence[k] += converged[k];
  }
  if (!p.completed)
    tally.notCompleted.push(`${tag}: did not complete after its retention (${p.notCompletedReason ?? 'no result'})`);
  const runs = (final?.outcomes.offline ?? []).filter((r) => r.trigger === 'offline');
  for (const r of runs) tally.offlineOutcomes[r.result] = (tally.offlineOutcomes[r.result] ?? 0) + 1;
  const last = runs.at(-1);

  // ---- lost: a sync (or follow-up) the platform asked for that never reached HubSpot ----
  if (p.waitLost) lost(p.lateOpenedNew ? `${p.waitLost}: ${p.lateOpenedNew}` : p.waitLost);
  if (!last) {
    if (!p.waitLost) lost('no offline outcome');
    return;
  }
  if (last.result === 'failed') lost(`the offline sync failed: ${last.reason}`);
  const wantRuns = (p.runsAtFirstEnd ?? 1) + (p.lateSent ? 1 : 0);
  if (runs.length < wantRuns && !p.waitLost)
    lost(`${runs.length} offline run(s), expected ${wantRuns} (the follow-up never ran)`);
  // ---- syncs of values already synced: a duplicate callEnded or identical values must cost nothing ----
  if (runs.length > wantRuns)
    tally.duplicateSyncs.push(
      `${tag}: ${runs.length} offline runs, expected ${wantRuns} (${p.repeatsSent} repeat(s) after the end, ${p.duplicateEnd ? 'callEnded twice back to back' : 'no duplicate callEnded'})`,
    );
  if (p.voice && p.runsAtFirstEnd !== undefined && p.runsAtFirstEnd !== 1)
    tally.duplicateSyncs.push(`${tag}: ${p.runsAtFirstEnd} offline runs at the end of the call, expected 1`);

  // ---- outcomes as the table says ----
  const lastLive = [...p.liveAsks].reverse().find((a) => a.run)?.run;
  const contactBefore = lastLive?.result === 'created' || lastLive?.result === 'updated';
  const expectedAt = (position: number): string[] => {
    switch (p.row) {
      case 'new-create':
        // A text conversation may end (3-second wait) while a slow in-conversation run is still creating
        // the contact: both runs then meet over the create, and both report created (docs/CONTACT_SYNC.md).
        return position === 0 && (!contactBefore || !p.voice) ? ['created', 'updated'] : ['updated'];
      case 'ours-create':
      case 'theirs-update':
        return ['updated'];
      case 'theirs-no-update':
      case 'ours-no-rights':
        return [p.summary ? 'note_only' : 'skipped'];
      default:
        return ['skipped'];
    }
  };
  let outcomesRight = true;
  runs.forEach((r, n) => {
    if (r.result === 'failed' && n === runs.length - 1) return; // counted as lost
    if (!expectedAt(n).includes(r.result)) {
      outcomesRight = false;
      tally.wrongOutcomes.push(
        `${tag}: offline run ${n + 1}/${runs.length}: ${r.result}, expected ${expectedAt(n).join(' or ')} (${r.reason})`,
      );
    }
  });

  // ---- contacts: one per email, the operator's rules on every property ----
  const expectContact = p.row !== 'new-no-create' && p.row !== 'no-email';
  const emails = [p.email, ...(p.correction ? [p.correction.typoEmail] : [])];
  for (const e of emails) {
    const n = contactsWithEmail(em, acc, e).length;
    if (n > 1) {
      tally.duplicateContacts += n - 1;
      tally.duplicates.push(`${tag}: ${n} contacts hold ${e === p.email ? 'the email' : 'the mistyped email'}`);
    }
  }
  const contact = contactsWithEmail(em, acc, p.email)[0];
  if (!expectContact) {
    if (contact) wrongProperty('a contact was created where the rules forbid it');
  } else if (!contact) {
    if (!isLost) lost('no contact holds the email');
  } else {
    if (p.existingId && now(p.existingId) !== contact.id)
      wrongProperty(
        `the email is on contact ${contact.id}, not on the existing contact (now ${now(p.existingId) ?? 'gone'})`,
      );
    const updates = p.row === 'new-create' || p.row === 'ours-create' || p.row === 'theirs-update';
    const firstname = updates ? `F${p.i}-final` : 'Original';
    if (contact.properties.firstname !== firstname) {
      if (updates && runs.at(-1)?.result === 'failed') {
        // already counted as lost
      } else {
        wrongProperty(`firstname "${contact.properties.firstname}", expected "${firstname}"`);
        // An older value this conversation sent (its first message's) over its newest: a late write of ours.
        if (contact.properties.firstname === `F${p.i}`) {
          // What HubSpot's history says happened, and what the conversation's checks did: for the diagnosis.
          const versions = (em.propertyHistory(acc, contact.id, ['firstname']).firstname ?? []).map(
            (v) => `${v.value} (${v.sourceType} ${v.timestamp.slice(11, 23)})`,
          );
          const c = final?.convergence;
          const checks = c
            ? `${c.checks} checks, ${c.valuesRewritten} rewritten, ${c.valuesLeftAlone} left alone, ${c.pending} pending`
            : 'no convergence check';
          tally.staleValues.push(
            `${tag}: firstname holds the conversation's older value "F${p.i}", not "${firstname}"; history, newest first: ${versions.join(', ')}; ${checks}`,
          );
        }
      }
    }
    if (contact.properties.email?.toLowerCase() !== p.email) wrongProperty('the primary email changed');
    if (p.existingId && contact.properties.phone !== '+1 555 0100')
      wrongProperty('the phone was blanked out or changed');
  }
  if (p.correction && p.liveAsks[0]?.run?.result === 'created') {
    const first = contactsWithEmail(em, acc, p.correction.typoEmail)[0];
    if (!first) wrongProperty('the contact of the mistyped email vanished');
    else if (first.properties.firstname !== `F${p.i}`)
      wrongProperty(
        `the contact of the mistyped email was changed after the correction (firstname "${first.properties.firstname}")`,
      );
  }

  // ---- notes (or Calls, Communications): one per (conversation, action, contact), on the right contact,
  // with the latest summary; nothing logged as another kind of record ----
  const workflowId = conversationWorkflowId(p.conversation.workspaceId, id);
  const contactOfEmail = (e: string) => contactsWithEmail(em, acc, e)[0]?.id;
  const name = RECORD_NAME[object];
  const body = (r: StoredNote) => r.properties[bodyProperty(object)] ?? '';
  const checkNotes = (
    actionId: string,
    targets: Array<{ contactId?: string; required: boolean; contains?: string; lacks?: string; earlier?: boolean }>,
  ): StoredNote[] => {
    const ref = noteReference(`${workflowId}:${p.firstRunId}:${actionId}`);
    for (const other of ['notes', 'calls', 'communications'] as const) {
      const stray =
        other === object
          ? 0
          : records[other].filter((r) => (r.properties[bodyProperty(other)] ?? '').includes(ref)).length;
      if (stray) wrongProperty(`action ${actionId} logged ${stray} ${RECORD_NAME[other]}(s), expected a ${name}`);
    }
    const mine = records[object].filter((n) => body(n).includes(ref));
    const byContact = new Map<string, StoredNote[]>();
    for (const n of mine) {
      const on = [...new Set(n.associations.contacts.map((c) => now(c) ?? `${c} (gone)`))];
      if (on.length === 0) wrongContact(`${name} ${n.id} of action ${actionId} is on no contact`);
      for (const c of on) byContact.set(c, [...(byContact.get(c) ?? []), n]);
    }
    const allowed = new Set(targets.map((t) => t.contactId).filter((c): c is string => Boolean(c)));
    for (const [c, list] of byContact) {
      if (list.length > 1) {
        if (object === 'notes') tally.duplicateNotes += list.length - 1;
        else tally.duplicateEngagements += list.length - 1;
        tally.duplicates.push(`${tag}: ${list.length} ${actionId} ${name}s on contact ${c}`);
      }
      if (!allowed.has(c))
        wrongContact(`a ${name} of action ${actionId} is on contact ${c}, which no run of it landed on`);
    }
    const found: StoredNote[] = [];
    for (const t of targets) {
      if (!t.contactId) continue;
      const list = byContact.get(t.contactId) ?? [];
      if (list.length === 0) {
        if (t.required && !isLost) lost(`no ${actionId} ${name} on contact ${t.contactId}`);
        continue;
      }
      const text = body(list.at(-1)!);
      if (t.lacks && text.includes(escapeHtml(t.lacks)))
        wrongContact(
          `the ${actionId} ${name} of the earlier contact ${t.contactId} was rewritten with content written after the email correction`,
        );
      else if (t.contains && !text.includes(escapeHtml(t.contains))) {
        if (t.earlier) wrongContact(`the ${actionId} ${name} of the earlier contact ${t.contactId} was changed`);
        else if (!isLost) lost(`the ${actionId} ${name} on contact ${t.contactId} lacks the latest summary`);
      } else if (list.length === 1) {
        found.push(list[0]!);
        if (object !== 'notes') tally.engagements[object]++;
      }
    }
    return found;
  };
  // Offline: the note of the contact holding the email, with the latest summary (the late one if sent).
  const latest = p.lateSent ? p.late : p.summary;
  const offlineRecords = checkNotes('offline', [
    {
      contactId: expectContact ? contactOfEmail(p.email) : undefined,
      required: Boolean(latest) && last.result !== 'failed' && last.result !== 'skipped',
      contains: latest,
    },
  ]);
  // The offline Call carries the call's details (given with callEnded), through every update.
  if (object === 'calls' && p.call)
    for (const r of offlineRecords) {
      const want = { hs_call_direction: p.call.direction.toUpperCase(), hs_call_duration: String(p.call.durationMs) };
      for (const [k, v] of Object.entries(want))
        if (r.properties[k] !== v) wrongProperty(`Call ${r.id}: ${k} "${r.properties[k] ?? ''}", expected "${v}"`);
    }
  if (p.live) {
    // In conversation: each run's note on the contact holding the email that run carried; after a
    // correction, the earlier contact's note keeps the draft and never gets the later summary.
    const targets = p.liveAsks.map((ask, n) => {
      const r = ask.run?.result;
      const later = p.liveAsks
        .slice(n + 1)
        .find((a) => a.email.toLowerCase() !== ask.email.toLowerCase() && a.run && a.summary);
      return {
        contactId: r === 'failed' || GOOD.includes(r ?? '') ? contactOfEmail(ask.email) : undefined,
        required: Boolean(ask.summary) && GOOD.includes(r ?? ''),
        contains: ask.summary,
        lacks: later?.summary,
        earlier: Boolean(later),
      };
    });
    // Two runs on the same contact share its note: the later summary is the one it must hold.
    const lastOn = new Map<string, (typeof targets)[number]>();
    for (const t of targets) if (t.contactId) lastOn.set(t.contactId, t);
    checkNotes('live', [...lastOn.values()]);
  }
  if (!isLost && outcomesRight) tally.synced++;
}

export function printTally(t: ChaosTally, log: (l: string) => void): void {
  const faultTotal = Object.values(t.faults).reduce((x, y) => x + y, 0);
  log('');
  log(
    `conversations             ${t.conversations} (${Object.entries(t.byRow)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
  );
  log(
    `behaviours                ${Object.entries(t.behaviours)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  log(`synced                    ${t.synced}`);
  log(`lost                      ${t.lost.length}`);
  log(`duplicate contacts        ${t.duplicateContacts}`);
  log(`duplicate notes           ${t.duplicateNotes}`);
  log(`notes on the wrong contact ${t.wrongContactNotes.length}`);
  log(
    `engagements               Calls ${t.engagements.calls}, Communications ${t.engagements.communications}; duplicates ${t.duplicateEngagements}, on the wrong contact ${t.wrongContactEngagements.length}`,
  );
  log(`wrong properties          ${t.wrongProperties.length} (stale values ${t.staleValues.length})`);
  log(`wrong outcomes            ${t.wrongOutcomes.length}`);
  log(`syncs of unchanged values ${t.duplicateSyncs.length}`);
  log(`not completed             ${t.notCompleted.length}`);
  log(`offline outcomes          ${JSON.stringify(t.offlineOutcomes)}`);
  log(`in-conversation           ${JSON.stringify(t.inConversationOutcomes)}`);
  log(
    `HubSpot calls             ${t.hubspotCalls}; faults ${faultTotal} (${((100 * faultTotal) / Math.max(1, t.hubspotCalls)).toFixed(1)}%): ${JSON.stringify(t.faults)}`,
  );
  const share = (100 * t.slowWrites.heldWrites) / Math.max(1, t.slowWrites.writeCalls);
  log(
    `slow writes               ${t.slowWrites.heldWrites} of ${t.slowWrites.writeCalls} write calls (${share.toFixed(1)}%) held past the per-call timeout: ${t.slowWrites.appliedLate} applied after the worker had given up, ${t.slowWrites.dropped} dropped (${t.slowWrites.held} held calls, reads included)`,
  );
  const c = t.convergence;
  log(
    `convergence repairs       ${c.duplicateNotesArchived} duplicate notes archived, ${c.valuesRewritten} stale values written again, ${c.noteBodiesRewritten} note bodies written again; ${c.valuesLeftAlone} values left alone; ${c.checks} contacts checked in ${c.conversationsChecked} conversations; ${c.failedChecks} checks failed`,
  );
  if (t.receipts) {
    const r = t.receipts;
    log(
      `receipts                  ${r.receipts} for ${r.runs} runs: ${r.missing.length} missing, ${r.doubled.length} doubled, ${r.unfinished.length} unfinished; ${r.repairs} convergence repairs; ${r.notCompared} conversations not compared`,
    );
  } else log('receipts                  not kept (the workers have no account store)');
  log(`search-index lag          ${t.searchLag}`);
  log(
    `worker SIGKILLs           ${t.workerKills} (starts ${t.workerStarts}); Temporal server restarts ${t.serverRestarts}; PostgreSQL restarts ${t.databaseRestarts}`,
  );
  log(`wall time                 ${t.seconds.toFixed(1)} s`);
  log('slowest conversations (seconds since the run started):');
  for (const l of t.slowest) log(`  ${l}`);
  for (const l of [
    ...t.lost,
    ...t.duplicates,
    ...t.wrongContactNotes,
    ...t.wrongContactEngagements,
    ...t.staleValues,
    ...t.wrongProperties,
    ...t.wrongOutcomes,
    ...t.duplicateSyncs,
    ...t.notCompleted,
  ].slice(0, 30))
    log(`  ${l}`);
}

/** True when the run found nothing lost, duplicated or wrong. */
export function clean(t: ChaosTally): boolean {
  return (
    t.lost.length === 0 &&
    t.duplicateContacts === 0 &&
    t.duplicateNotes === 0 &&
    t.wrongContactNotes.length === 0 &&
    t.duplicateEngagements === 0 &&
    t.wrongContactEngagements.length === 0 &&
    t.wrongProperties.length === 0 &&
    t.wrongOutcomes.length === 0 &&
    t.duplicateSyncs.length === 0 &&
    t.notCompleted.length === 0 &&
    t.staleValues.length === 0 &&
    t.synced === t.conversations
  );
}

export interface ReceiptTally {
  runs: number;
  receipts: number;
  /** Convergence repairs' receipts (not runs of the action). */
  repairs: number;
  missing: string[];
  doubled: string[];
  unfinished: string[];
  /** Conversations not compared (a new session under the same id, or more runs than the state keeps). */
  notCompared: number;
}

/** The receipts of one conversation, as the account store counts them. */
export interface ConversationReceipts {
  conversationId: string;
  /** Receipts of runs (convergence repairs excluded). */
  runs: number;
  unfinished: number;
  repairs: number;
}

/** Runs that start no activity leave no receipt: an in-conversation run whose budget was over before it started. */
const NO_ACTIVITY = /time budget ran out before the run started/;

/** Receipts against each conversation's runs (its outcomes, as its final state or result lists them). */
export function checkReceipts(plans: Plan[], counted: ConversationReceipts[]): ReceiptTally {
  const byId = new Map(counted.map((c) => [c.conversationId, c]));
  const t: ReceiptTally = {
    runs: 0,
    receipts: 0,
    repairs: 0,
    missing: [],
    doubled: [],
    unfinished: [],
    notCompared: 0,
  };
  for (const c of counted) {
    t.receipts += c.runs;
    t.repairs += c.repairs;
  }
  for (const p of plans) {
    const id = p.conversation.conversationId;
    const outcomes = Object.values((p.result ?? p.state)?.outcomes ?? {});
    if (p.lateOpenedNew || outcomes.some((runs) => runs.length >= 20) || !(p.result ?? p.state)) {
      t.notCompared++;
      continue;
    }
    const runs = outcomes.flat().filter((r) => !NO_ACTIVITY.test(r.reason)).length;
    t.runs += runs;
    const got = byId.get(id) ?? { conversationId: id, runs: 0, unfinished: 0, repairs: 0 };
    if (got.runs < runs) t.missing.push(`${id}: ${runs} runs, ${got.runs} receipts`);
    if (got.runs > runs) t.doubled.push(`${id}: ${runs} runs, ${got.runs} receipts`);
    if (got.unfinished > 0) t.unfinished.push(`${id}: ${got.unfinished} receipts never finished`);
  }
  return t;
}

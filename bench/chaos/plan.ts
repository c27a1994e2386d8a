// The chaos run's options and plan: every row of the decision table, text and voice, offline and in
// conversation, every behaviour (email corrections, merges, repeated ends, late summaries), on every account;
// every other round of the rows logs engagements (a voice conversation as a Call, WhatsApp as a Communication).
import type { EmulatorAccountSeed, HubSpotEmulator } from '../../hubspot-emulator';
import { prng, type StoredObject } from '../../hubspot-emulator/store';
import type { ActionConfigInput } from '../../src/action/config';
import type { CallDetails, TimelineObject } from '../../src/action/timeline';
import type { Conversation } from '../../src/platform/client';
import type { ActionRun, ConversationResult, ConversationState } from '../../src/platform/contract';
import { BENCH_WORKSPACE, benchAction } from '../rig/action';

/** The worker's per-call HubSpot timeout (HubSpotAccountsOptions.requestTimeoutMs, its default in src/hubspot/accounts.ts). */
export const WORKER_REQUEST_TIMEOUT_MS = 15_000;

export interface ChaosOptions {
  conversations: number;
  accounts: number;
  faultRate: number;
  /** Share of HubSpot calls held for slowWriteMs, then applied whether or not the worker is still connected. */
  slowWriteRate: number;
  slowWriteMs: number;
  kills: number;
  serverRestart: boolean;
  concurrency: number;
  /** The conversations' retention after the end (conversation option retentionMs). */
  retentionMs: number;
  seed: number;
  /**
   * The production-like setting (production.ts): Temporal server 1.32 on PostgreSQL instead of the CLI
   * dev server, the accounts in the account store on the same PostgreSQL, payload encryption on.
   */
  productionLike?: boolean;
  /** Worker processes (a SIGKILL hits one of them, in turn). Default 1. */
  workers?: number;
  /** Kill PostgreSQL (immediate shutdown) and start it again once, mid-run (production-like only). */
  databaseRestart?: boolean;
  /** How long to wait for a sync (or a follow-up) before it counts as lost. Default 5 minutes. */
  syncDeadlineMs?: number;
  log: (line: string) => void;
}

/** The rows of the decision table (docs/CONTACT_SYNC.md), as the chaos run exercises them. */
export type Row =
  'new-create' | 'new-no-create' | 'ours-create' | 'theirs-update' | 'theirs-no-update' | 'ours-no-rights' | 'no-email';
const ROWS: Row[] = [
  'new-create',
  'new-no-create',
  'ours-create',
  'theirs-update',
  'theirs-no-update',
  'ours-no-rights',
  'no-email',
];
const EXISTING_ROWS: Row[] = ['ours-create', 'theirs-update', 'theirs-no-update', 'ours-no-rights'];

/** One in-conversation run as the platform asked for it: the email it carried and the summary. */
export interface LiveAsk {
  email: string;
  summary?: string;
  run?: ActionRun;
  refused?: string;
}

export interface Plan {
  i: number;
  row: Row;
  conversation: Conversation;
  accountId: string;
  email: string;
  summary?: string;
  live: boolean;
  voice: boolean;
  /** Its actions log engagements (logAs `engagement`): a voice conversation as a Call, WhatsApp as a Communication, chat as a note. */
  engagement: boolean;
  /** Voice: the call details sent with every callEnded. */
  call?: CallDetails;
  /** Contact id of the existing contact, for the rows that have one. */
  existingId?: string;
  /** The customer first typed a wrong email, then corrected it between two in-conversation runs. */
  correction?: { typoEmail: string; draft: string };
  /** Voice: callEnded twice back to back, and once more after the sync. */
  duplicateEnd: boolean;
  /** Text: the same values again after the sync. */
  repeatAfterEnd: boolean;
  /** A summary sent after the end: one follow-up sync into the same note. */
  late?: string;
  /** A person merges the conversation's contact with a duplicate record. */
  merge?: { when: 'before-end' | 'after-sync'; duplicateId: string; from?: string; into?: string; skipped?: string };
  // ---- what happened ----
  liveAsks: LiveAsk[];
  firstRunId?: string;
  /** Offline runs recorded when the conversation had first ended (text may end early and sync twice). */
  runsAtFirstEnd?: number;
  repeatsSent: number;
  lateSent: boolean;
  /** Set when the late summary's signal started a new run instead of reaching the dormant one. */
  lateOpenedNew?: string;
  postEndSkipped?: string;
  waitLost?: string;
  /** The latest state seen while driving it (its retainedUntil says when it should complete). */
  seen?: ConversationState;
  state?: ConversationState;
  result?: ConversationResult;
  completed: boolean;
  notCompletedReason?: string;
  /** Wall-clock marks (ms since the run started): first signal, end sent, end seen, follow-up seen, completed. */
  times: { start?: number; end?: number; synced?: number; followUp?: number; completed?: number };
}

function action(id: string, accountId: string, row: Row, offlineSync: boolean, engagement: boolean): ActionConfigInput {
  const allowCreate = row === 'new-create' || row === 'ours-create' || row === 'no-email';
  return {
    ...benchAction(id, accountId, { allowCreate, allowUpdateExisting: row === 'theirs-update' }, offlineSync),
    ...(engagement ? { logAs: 'engagement' as const } : {}),
  };
}

/** What a conversation's actions log on the contact's timeline (src/action/timeline.ts timelineRecordFor). */
export function timelineObjectOf(p: Pick<Plan, 'engagement' | 'conversation'>): TimelineObject {
  if (!p.engagement) return 'notes';
  const channel = p.conversation.channel;
  return channel === 'voice' ? 'calls' : channel === 'whatsapp' ? 'communications' : 'notes';
}

/** Live contacts holding an email, as primary or secondary (HubSpot's matching: case-insensitive). */
export function contactsWithEmail(emulator: HubSpotEmulator, accountId: string, email: string): StoredObject[] {
  const e = email.toLowerCase();
  return emulator.contacts(accountId).filter(
    (c) =>
      c.properties.email?.toLowerCase() === e ||
      (c.properties.hs_additional_emails ?? '')
        .split(';')
        .map((x) => x.trim().toLowerCase())
        .includes(e),
  );
}

/** The plan: every row of the table, text and voice, offline and in-conversation, every behaviour, on every account. */
export function makePlans(opts: ChaosOptions, accounts: EmulatorAccountSeed[], runTag: string): Plan[] {
  const random = prng(opts.seed);
  const plans: Plan[] = [];
  for (let i = 0; i < opts.conversations; i++) {
    const row = ROWS[i % ROWS.length]!;
    const accountId = accounts[Math.floor(i / ROWS.length) % accounts.length]!.accountId;
    // Every third round of the rows, the rows that may create correct the email between two
    // in-conversation runs; those are voice calls, so that the call (not a 3-second wait) decides the end.
    const correcting = (row === 'new-create' || row === 'ours-create') && Math.floor(i / ROWS.length) % 3 === 0;
    const voice = correcting || random() < 0.4;
    const live = correcting || (row !== 'no-email' && random() < 0.3);
    const email = `chaos.${opts.seed}.${i}@example.com`;
    const summary = i % 5 === 4 ? undefined : `Conversation ${i} <b>summary</b> & next steps`;
    const late = summary && random() < 0.5 ? `Late note on conversation ${i}: <i>call back</i> & confirm` : undefined;
    const mergeDraw = random();
    const mergeWhenDraw = random();
    const merge =
      !correcting && (EXISTING_ROWS.includes(row) ? mergeDraw < 0.3 : row === 'new-create' && mergeDraw < 0.3)
        ? {
            when: (row === 'new-create' || mergeWhenDraw < 0.5 ? 'after-sync' : 'before-end') as
              'after-sync' | 'before-end',
            duplicateId: '',
          }
        : undefined;
    const repeatDraw = random();
    // Every other round of the rows logs engagements: no random draw, so the rest of the plan is the same
    // for a seed with or without them.
    const engagement = Math.floor(i / ROWS.length) % 2 === 1;
    const actions = [
      action('offline', accountId, row, true, engagement),
      ...(live ? [action('live', accountId, row, false, engagement)] : []),
    ];
    plans.push({
      i,
      row,
      accountId,
      email,
      summary,
      live,
      voice,
      engagement,
      ...(voice
        ? {
            call: {
              direction: i % 2 === 0 ? ('inbound' as const) : ('outbound' as const),
              durationMs: 60_000 + i * 1_000,
              recordingUrl: `https://recordings.example.com/chaos/${opts.seed}/${i}.mp3`,
            },
          }
        : {}),
      ...(correcting
        ? {
            correction: {
              typoEmail: `chaos.${opts.seed}.${i}@exmaple.com`,
              draft: `Draft ${i}, written before the email was corrected`,
            },
          }
        : {}),
      duplicateEnd: voice && repeatDraw < 0.5,
      repeatAfterEnd: !voice && repeatDraw < 0.5,
      ...(late ? { late } : {}),
      ...(merge ? { merge } : {}),
      liveAsks: [],
      repeatsSent: 0,
      lateSent: false,
      completed: false,
      times: {},
      conversation: {
        conversationId: `chaos-${opts.seed}-${runTag}-${i}`,
        // Two tenants side by side: every guarantee is checked with a second workspace present.
        workspaceId: `${BENCH_WORKSPACE}-${i % 2 === 0 ? 'a' : 'b'}`,
        channel: voice ? 'voice' : random() < 0.5 ? 'chat' : 'whatsapp',
        actions,
        options: { inactivityTimeoutMs: 3_000, actionTimeoutMs: 120_000, retentionMs: opts.retentionMs },
      },
    });
  }
  return plans;
}

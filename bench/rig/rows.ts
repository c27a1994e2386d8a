// The conversations the worker benchmarks drive: unique ids and emails per run, and the three rows of
// the decision table scenarios 1, 2 and 4 mix (a new contact created, an existing one updated, note only).
import type { ActionConfigInput } from '../../src/action/config';
import type { Conversation } from '../../src/platform/client';
import { BENCH_WORKSPACE, benchAction } from './action';
import type { AccountId, Kind, Rig, Rules } from './rig';

const tag = Date.now().toString(36);
let convSeq = 0;
/** A new run id, unique in this process and across runs: `<prefix>-<time>-<n>`. */
export const nextRun = (prefix: string): string => `${prefix}-${tag}-${++convSeq}`;

export const action = (id: string, accountId: AccountId, rules: Rules, offlineSync: boolean): ActionConfigInput =>
  benchAction(id, accountId, rules, offlineSync);

export type SyncRow = 'created' | 'updated' | 'note_only';
const SYNC_ROWS: SyncRow[] = ['created', 'updated', 'note_only'];

export interface Planned {
  row: SyncRow;
  email: string;
  conversation: Conversation;
  summary: string;
}

/**
 * n text conversations of a kind, the three rows in turn; for the real worker the existing contacts of
 * the `updated` and `note_only` rows are added to the emulator.
 */
export function plan(
  rig: Rig,
  kind: Kind,
  prefix: string,
  accountId: AccountId,
  n: number,
  opts: { offline: boolean; timerMs: number },
): Planned[] {
  const run = nextRun(`${prefix}-${kind}`);
  return Array.from({ length: n }, (_, i) => {
    const row = SYNC_ROWS[i % SYNC_ROWS.length]!;
    const email = `${run}.${i}@bench.example`;
    if (kind === 'real' && row !== 'created')
      rig.emulator.addContact(accountId, { email, firstname: 'Original', phone: '+1 555 0100' });
    const rules = { allowCreate: true, allowUpdateExisting: row !== 'note_only' };
    return {
      row,
      email,
      summary: `Conversation ${i}: asked about pricing; wants a demo next week.`,
      conversation: {
        conversationId: `${run}-${i}`,
        workspaceId: BENCH_WORKSPACE,
        channel: 'chat',
        actions: [action(opts.offline ? 'offline' : 'live', accountId, rules, opts.offline)],
        // A short retention: the workflow completes right after its sync, so result() is the sync's end.
        options: { inactivityTimeoutMs: opts.timerMs, retentionMs: 1 },
      },
    };
  });
}

// HubSpot calls per conversation for every row of docs/CONTACT_SYNC.md's table ("HubSpot calls per
// case"), each as an offline sync and as an in-conversation action run twice (the second run knows the
// note id), against the documented counts, with engagements off (a note, on web chat) and on (logAs
// engagement: the same rows as a voice conversation logged as a Call, and as a WhatsApp conversation
// logged as a Communication). Scenario 3 of docs/BENCHMARKS.md.
//
//   npm run bench:calls [-- --row-samples K] [--timer-ms T] [--engagements off|on|both] [--quick] [--no-wait]
//                         [--eager-activities] [--dev-server]
//
// K conversations per row and column (3; --quick 1), offline ones with a T ms inactivity wait (1,000);
// --engagements picks the rows (both by default: 8 note rows, 16 engagement rows); the calls are the
// emulator's request counts on a dedicated account; the rig: bench/rig/rig.ts.
// Before measuring it waits while the chaos run, the test suite or an earlier benchmark runs
// (--no-wait skips that).
import type { Conversation } from '../src/platform/client';
import { flag, num, runMain } from './rig/options';
import { fmt, out, progress, table } from './rig/report';
import { callCounts, delta, terminateAll, total, type Rig, type Rules } from './rig/rig';
import { action, nextRun } from './rig/rows';
import { runScenario } from './rig/scenario';
import { SYNC_RUN_DEFAULTS } from './rig/sync-run';
import { BENCH_WORKSPACE } from './rig/action';

const ROW_SAMPLES = Math.floor(num('row-samples', 3, 1, 1));
const TIMER_MS = Math.floor(num('timer-ms', 1_000, 1_000, 100));
const ENGAGEMENTS = flag('engagements') ?? 'both';
if (!['off', 'on', 'both'].includes(ENGAGEMENTS))
  throw new Error(`--engagements ${ENGAGEMENTS}: expected off, on or both`);

interface TableRow {
  name: string;
  existing: boolean;
  rules: Rules;
  email: boolean;
  summary: boolean;
  docFirst: number;
  docLater: number | undefined;
  expect: string;
  /** An action that logs engagements (logAs engagement): a voice conversation (a Call) or a WhatsApp one (a Communication). */
  engagement?: 'voice' | 'whatsapp';
}
const SPEC_ROWS: TableRow[] = [
  {
    name: 'email missing or invalid',
    existing: false,
    rules: { allowCreate: true, allowUpdateExisting: true },
    email: false,
    summary: true,
    docFirst: 0,
    docLater: 0,
    expect: 'skipped',
  },
  {
    name: 'not found, allowCreate OFF',
    existing: false,
    rules: { allowCreate: false, allowUpdateExisting: true },
    email: true,
    summary: true,
    docFirst: 1,
    docLater: 1,
    expect: 'skipped',
  },
  {
    name: 'not found, allowCreate ON, no summary',
    existing: false,
    rules: { allowCreate: true, allowUpdateExisting: false },
    email: true,
    summary: false,
    docFirst: 2,
    docLater: undefined,
    expect: 'created',
  },
  {
    name: 'not found, allowCreate ON, summary',
    existing: false,
    rules: { allowCreate: true, allowUpdateExisting: false },
    email: true,
    summary: true,
    docFirst: 3,
    docLater: undefined,
    expect: 'created',
  },
  {
    name: 'found, update allowed, no summary',
    existing: true,
    rules: { allowCreate: true, allowUpdateExisting: true },
    email: true,
    summary: false,
    docFirst: 2,
    docLater: 2,
    expect: 'updated',
  },
  {
    name: 'found, update allowed, summary',
    existing: true,
    rules: { allowCreate: true, allowUpdateExisting: true },
    email: true,
    summary: true,
    docFirst: 3,
    docLater: 4,
    expect: 'updated',
  },
  {
    name: 'found, update not allowed, summary',
    existing: true,
    rules: { allowCreate: true, allowUpdateExisting: false },
    email: true,
    summary: true,
    docFirst: 2,
    docLater: 3,
    expect: 'note_only',
  },
  {
    name: 'found, update not allowed, no summary',
    existing: true,
    rules: { allowCreate: true, allowUpdateExisting: false },
    email: true,
    summary: false,
    docFirst: 1,
    docLater: 1,
    expect: 'skipped',
  },
];

/**
 * The rows measured: the table's rows logged as a note (engagements off), and the same rows for an action
 * that logs engagements (on): the Call or Communication takes the note's place, call for call
 * (docs/CONTACT_SYNC.md, "Engagements"), so the documented counts are the same.
 */
const ROWS: TableRow[] = [
  ...(ENGAGEMENTS === 'on' ? [] : SPEC_ROWS),
  ...(ENGAGEMENTS === 'off'
    ? []
    : (['voice', 'whatsapp'] as const).flatMap((channel) =>
        SPEC_ROWS.map((r) => ({
          ...r,
          name: `engagements, ${channel === 'voice' ? 'voice (Call)' : 'WhatsApp (Communication)'}: ${r.name}`,
          engagement: channel,
        })),
      )),
];

const SHORT: Record<string, string> = {
  'contacts.get': 'lookup',
  'contacts.create': 'create',
  'contacts.update': 'update',
  'notes.search': 'note search',
  'notes.create': 'note create',
  'notes.update': 'note update',
  'calls.create': 'call create',
  'calls.update': 'call update',
  'communications.create': 'communication create',
  'communications.update': 'communication update',
  'associations.calls.batchRead': 'contact calls',
  'associations.communications.batchRead': 'contact communications',
  'properties.list': 'properties',
};
const describeCounts = (d: Record<string, number>, k: number) =>
  Object.entries(d)
    .filter(([op]) => op !== 'properties.list')
    .map(([op, v]) => `${SHORT[op] ?? op}${v / k === 1 ? '' : ` ×${fmt(v / k, 2)}`}`)
    .join(', ') || '–';

async function scenarioCalls(rig: Rig): Promise<void> {
  out(
    `\n## 3. HubSpot calls per conversation, per row of docs/CONTACT_SYNC.md ("HubSpot calls per case"); ${ROW_SAMPLES} conversation(s) per row and column`,
  );
  const platform = rig.platform.real;
  await (await rig.hubspot.get('calls')).contactPropertySchema(); // the schema cache is warm: properties.list is counted apart
  const schemaCalls0 = callCounts(rig, 'calls')['properties.list'] ?? 0;
  const rows: string[][] = [];
  let mismatches = 0;
  /** Per mode (engagements off, on): calls per conversation summed over its rows, and the rows counted. */
  const modes = new Map<string, { rows: number; offline: number; first: number; second: number; secondRows: number }>();
  for (const row of ROWS) {
    const make = (offline: boolean) =>
      Array.from({ length: ROW_SAMPLES }, (_, i) => {
        const run = nextRun('calls');
        const email = `${run}.${i}@bench.example`;
        if (row.existing) rig.emulator.addContact('calls', { email, firstname: 'Original', phone: '+1 555 0100' });
        const fields: Record<string, string> = row.email ? { email, first_name: `New${i}` } : { first_name: `New${i}` };
        const base = action(offline ? 'offline' : 'live', 'calls', row.rules, offline);
        const conversation: Conversation = {
          conversationId: run,
          workspaceId: BENCH_WORKSPACE,
          channel: row.engagement ?? 'chat',
          actions: [row.engagement ? { ...base, logAs: 'engagement' } : base],
          options: { inactivityTimeoutMs: offline ? TIMER_MS : 3_600_000, retentionMs: 1 },
        };
        return { conversation, fields, summary: row.summary ? `Summary ${i}: wants a demo.` : undefined };
      });
    // Offline sync: a whole synced conversation (first run of the action).
    const offline = make(true);
    let c0 = callCounts(rig, 'calls');
    const offlineResults = await Promise.all(
      offline.map(async (o) => {
        await platform.recordMessage(o.conversation, { from: 'customer', fields: o.fields });
        if (o.summary) await platform.updateFields(o.conversation, { summary: o.summary });
        if (o.conversation.channel === 'voice')
          await platform.endCall(o.conversation, { call: { direction: 'inbound', durationMs: 90_000 } });
        const r = await platform.result(o.conversation);
        return r.outcomes.offline?.at(-1)?.result;
      }),
    );
    const dOffline = delta(callCounts(rig, 'calls'), c0);
    // In conversation: the same action run twice; the second run knows the note id from the first.
    const live = make(false);
    await Promise.all(live.map((o) => platform.recordMessage(o.conversation, { from: 'customer', fields: o.fields })));
    c0 = callCounts(rig, 'calls');
    const first = await Promise.all(
      live.map((o) => platform.runAction(o.conversation, { actionId: 'live', fields: o.fields, summary: o.summary })),
    );
    const c1 = callCounts(rig, 'calls');
    const second = await Promise.all(
      live.map((o) =>
        platform.runAction(o.conversation, {
          actionId: 'live',
          fields: { ...o.fields, first_name: `${o.fields.first_name}-2` },
          summary: o.summary && `${o.summary} (later)`,
        }),
      ),
    );
    const dFirst = delta(c1, c0);
    const dSecond = delta(callCounts(rig, 'calls'), c1);
    await terminateAll(
      rig,
      'real',
      live.map((o) => o.conversation),
    );
    const per = (d: Record<string, number>) => total(d, ['properties.list']) / ROW_SAMPLES;
    const outcomes = [...new Set([...offlineResults, ...first.map((r) => r.result)])].join('/');
    const ok =
      // Offline syncs of conversations that end together share batched calls (up to 100 records a call):
      // at most the documented count each. In conversation the agent's lane never batches: exactly it.
      per(dOffline) <= row.docFirst &&
      per(dFirst) === row.docFirst &&
      (row.docLater === undefined || per(dSecond) === row.docLater) &&
      offlineResults.every((r) => r === row.expect) &&
      first.every((r) => r.result === row.expect);
    if (!ok) mismatches++;
    const mode = row.engagement ? `on (${row.engagement === 'voice' ? 'Call' : 'Communication'})` : 'off (note)';
    const m = modes.get(mode) ?? { rows: 0, offline: 0, first: 0, second: 0, secondRows: 0 };
    m.rows++;
    m.offline += per(dOffline);
    m.first += per(dFirst);
    if (row.docLater !== undefined) {
      m.second += per(dSecond);
      m.secondRows++;
    }
    modes.set(mode, m);
    progress(
      `${row.name}: offline ${per(dOffline)}, in-conversation ${per(dFirst)} then ${per(dSecond)} (doc ${row.docFirst}/${row.docLater ?? '—'}); outcome ${outcomes}`,
    );
    rows.push([
      row.name,
      String(row.docFirst),
      fmt(per(dOffline), 2),
      fmt(per(dFirst), 2),
      describeCounts(dFirst, ROW_SAMPLES),
      row.docLater === undefined ? '—' : String(row.docLater),
      fmt(per(dSecond), 2),
      describeCounts(dSecond, ROW_SAMPLES),
      outcomes,
      ok ? 'yes' : 'NO',
    ]);
  }
  const schemaCalls = (callCounts(rig, 'calls')['properties.list'] ?? 0) - schemaCalls0;
  out(
    table(
      [
        'case',
        'doc: first run',
        'offline sync',
        'in-conv. 1st',
        'calls (1st)',
        'doc: later',
        'in-conv. 2nd',
        'calls (2nd, note id known)',
        'outcome',
        'matches',
      ],
      rows,
      1,
    ),
  );
  out(
    `Measured as emulator requestCounts deltas on a dedicated account, per conversation; "offline sync" = a synced conversation (the offline action's first run; the ${ROW_SAMPLES} of a row end together, so their lookups, contact writes and note writes share batches: at most the documented count, which "matches" checks; Calls and Communications are single-record writes). ` +
      `properties.list (schema cache, warmed before) during the rows: ${schemaCalls}. Rows that do not match the doc: ${mismatches}. ` +
      `"doc: later —": the doc says later runs find the contact; the measured 2nd run is then "found, ours".`,
  );
  out(
    table(
      ['engagements', 'rows', 'offline sync', 'in-conv. 1st', 'in-conv. 2nd (rows with a documented later count)'],
      [...modes].map(([mode, m]) => [
        mode,
        String(m.rows),
        fmt(m.offline / m.rows, 2),
        fmt(m.first / m.rows, 2),
        fmt(m.second / Math.max(1, m.secondRows), 2),
      ]),
      1,
    ),
  );
  out('HubSpot calls per conversation, the mean over the rows of the table (each row counts once).');
}

async function main(): Promise<void> {
  await runScenario({
    file: __filename,
    title: 'Calls per row bench',
    settings: `${ROW_SAMPLES} conversation(s) per row and column, engagements ${ENGAGEMENTS}`,
    number: 3,
    warmUp: { ...SYNC_RUN_DEFAULTS, timerMs: TIMER_MS },
    run: scenarioCalls,
  });
}

runMain(main);

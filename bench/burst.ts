// Burst: N conversations of one HubSpot portal end at once (a campaign's calls all hang up), and the
// worker syncs them under the portal's rate limit, while an agent runs an in-conversation action
// every second on the same portal, and a second portal's conversations end in the middle of it.
//
//   npm run bench:burst [-- --conversations N] [--agent-every-ms 1000] [--batch-window-ms W] [--no-batching]
//                          [--layer both|activity|workflow] [--agent-lead-ms 10000] [--limit-per-ten-seconds L]
//                          [--other-conversations M] [--workflow-task-slots 40] [--no-noop] [--dev-server] [--quick] [--no-wait]
//
// N is 5,000 (--quick: 500). Before measuring it waits while the chaos run, the test suite or an
// earlier benchmark runs (--no-wait skips that).
//
// Two layers, one after the other (--layer both, the default):
//  - activity: the HubSpot activities themselves (createActivities, run in Temporal's activity test
//    context, MockActivityEnvironment), each conversation's offline sync as the workflow would run it:
//    lookUpContactForAction, writeContactAsPlanned (create), writeSummaryNote; all N at once. It
//    measures the HubSpot side (batching, pacing, lanes) without the Temporal server's own limits.
//  - workflow: the whole path, below.
//
// The workflow path runs on Temporal server 1.32 (SQLite in memory, matching.enableFairness on; with
// --dev-server the Temporal CLI dev server, server 1.29.1), the HubSpot emulator in this process: the
// campaign's portal (100 calls per 10 s, or L with --limit-per-ten-seconds, 5 searches per second) and a
// second portal of its own (100 calls per 10 s, 5 searches per second); the worker configured with the
// same limits and pacing at its default 90% share, 20% of it kept for the agent's lane. The same burst
// runs twice on that server, driven by the platform client (src/platform/client.ts), which gives both the
// same workflow options (priority and fairness key included): first by the no-op workflow of the same
// shape (bench/rig/noop-workflow.ts, its own task queue and bundle: the Temporal floor; --no-noop skips
// it), then by the real worker (createConversationWorker: conversationWorkflow + the HubSpot activities).
// Each conversation is a voice call with an offline "create or update contact" action (a new contact, a
// summary note): set up first (one message with the caller's email and name), then every call ends with
// callEnded (the summary), as fast as the client can send them; when half the campaign's calls have
// ended, the second portal's M calls (100) end too.
//
// Printed, per layer: HubSpot calls per synced conversation (every call the campaign's portal answered
// while the burst drained, the agent's included, since the agent's batches carry queued offline records
// too, over the conversations synced: the campaign's and the agent's), drain time (the first callEnded,
// or the start of the activities, to the last summary note in HubSpot; for the no-op workflow, to its
// last offline no-op activity), the physical floor (those calls over the portal's limit) and the ratio of
// the two, the drain against the no-op workflow's, the agent's in-conversation action time beyond
// HubSpot's own (p50/p99: the action's wall time minus the time its HTTP exchanges with HubSpot took;
// the agent starts --agent-lead-ms, default 10 s, before the burst, as agents at work would, and only
// the actions started during the burst count), the second portal's time from each call's callEnded to
// its summary note in HubSpot (p50/p99), and the 429s HubSpot answered (both portals).
// Progress goes to stderr; each layer's figures, then as the last line of stdout (the last layer run):
//   burst: calls/conv C, drain S s, floor F s, ratio R, agent p99 P ms, other portal p99 Q ms, 429s N
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../hubspot-emulator';
import { actionConfigSchema } from '../src/action/config';
import { HubSpotAccount, HubSpotAccounts } from '../src/hubspot/accounts';
import { CallTransport } from '../src/hubspot/transport';
import { ConversationClient, type Conversation } from '../src/platform/client';
import { conversationWorkflowId } from '../src/platform/contract';
import { createConversationWorker, workflowsPath } from '../src/worker/worker';
import { BENCH_WORKSPACE, benchAction } from './rig/action';
import { waitForOtherBenchmarks } from './rig/machine';
import { flag, has, num, printedHelp, runMain } from './rig/options';
import { pool } from './rig/pool';
import { percentile, progressWith } from './rig/report';
import type { NoopActivities } from './rig/noop-workflow';
import { NoopWorker } from './rig/noop-worker';
import { bundle, startBenchServer } from './rig/temporal';
import { timeByWorkflow, type TimeByWorkflow } from './rig/timing';

const N = Math.floor(num('conversations', 5_000, 500, 1));
const AGENT_EVERY_MS = num('agent-every-ms', 1_000, 1_000, 50);
const WINDOW_MS = flag('batch-window-ms') === undefined ? undefined : num('batch-window-ms', 25);
const BATCHING = !has('no-batching');
const LAYER = flag('layer') ?? 'both';
if (!['both', 'activity', 'workflow'].includes(LAYER)) throw new Error(`--layer ${LAYER}: both, activity or workflow`);
const LIMIT = { perTenSeconds: Math.floor(num('limit-per-ten-seconds', 100, 100, 1)), searchPerSecond: 5 };
/** The second portal: its own limits, its conversations ending in the middle of the burst. */
const OTHER_LIMIT = { perTenSeconds: 100, searchPerSecond: 5 };
const OTHER_N = Math.floor(num('other-conversations', 100, 100, 0));
const NOOP = !has('no-noop');
const SETUP_IN_FLIGHT = 64;
/** The agents are at work before the campaign's calls end (their recent use sizes their reserve). */
const AGENT_LEAD_MS = num('agent-lead-ms', 10_000, 10_000, 0);
/**
 * Workflow tasks a worker runs at once (the SDK's default, 40, as the production worker runs). A worker
 * that takes many more than it can run queues them in its own memory, first in first out, where the
 * server's priority no longer applies.
 */
const WORKFLOW_TASK_SLOTS = Math.floor(num('workflow-task-slots', 40, 40, 1));
const END_IN_FLIGHT = 128;
const ACCOUNT = 'burst';
const SEED: EmulatorAccountSeed = { accountId: ACCOUNT, token: 'burst-token', appId: 7_100_001, rateLimit: LIMIT };
const OTHER = 'burst-other';
const OTHER_SEED: EmulatorAccountSeed = {
  accountId: OTHER,
  token: 'burst-other-token',
  appId: 7_100_002,
  rateLimit: OTHER_LIMIT,
};

const progress = progressWith('[burst] ');
/** Only the agent's actions are timed. */
const agentOnly = (workflowId: string) => workflowId.includes('-agent-');

/** HubSpot's own time per workflow: the wall time of each HTTP exchange (not the pacing or batching wait). */
const httpTime: TimeByWorkflow = new Map();
/** The agent's time in the account's methods per workflow (HTTP plus batching and pacing waits). */
const methodTime: TimeByWorkflow = new Map();
function timeAgentCalls(): void {
  timeByWorkflow(CallTransport.prototype, 'send', httpTime, agentOnly);
  for (const name of [
    'readContactByEmail',
    'readContact',
    'createContact',
    'updateContact',
    'createNote',
    'updateNote',
    'noteIdsOfContact',
    'readNotes',
    'contactPropertySchema',
  ]) {
    timeByWorkflow(HubSpotAccount.prototype, name, methodTime, agentOnly);
  }
}

/** The portals' accounts as the worker configures them: each portal's limits, batching as asked. */
function burstAccounts(emulator: HubSpotEmulator): HubSpotAccounts {
  return new HubSpotAccounts(
    [SEED, OTHER_SEED].map((a) => ({
      accountId: a.accountId,
      token: a.token,
      appId: a.appId,
      basePath: emulator.url,
      rateLimitPerTenSeconds: a.rateLimit!.perTenSeconds,
      searchRateLimitPerSecond: a.rateLimit!.searchPerSecond,
    })),
    { batching: BATCHING, ...(WINDOW_MS !== undefined ? { batchWindowMs: WINDOW_MS } : {}) },
  );
}

interface Figures {
  layer: string;
  notes: string[];
  perConv: number;
  drain: number;
  floor: number;
  agentP99: number;
  /** The second portal's p99 from callEnded to its summary note (NaN where not measured). */
  otherP99: number;
  refused: number;
}

function summaryLine(f: Figures): string {
  const other = Number.isFinite(f.otherP99) ? `${f.otherP99.toFixed(0)} ms` : 'n/a';
  return `burst: calls/conv ${f.perConv.toFixed(4)}, drain ${f.drain.toFixed(1)} s, floor ${f.floor.toFixed(1)} s, ratio ${(f.drain / f.floor).toFixed(2)}, agent p99 ${f.agentP99.toFixed(0)} ms, other portal p99 ${other}, 429s ${f.refused}`;
}

/** A mark in what HubSpot answered: the calls by operation, and how many requests it has logged. */
interface Mark {
  counts: Record<string, number>;
  seen: number;
}
const mark = (emulator: HubSpotEmulator): Mark => ({
  counts: emulator.requestCounts(ACCOUNT),
  seen: emulator.requests(ACCOUNT).length,
});

/** What the burst left in HubSpot between two marks: calls by operation, 429s, notes, contacts. */
function inHubSpot(emulator: HubSpotEmulator, from: Mark, to: Mark) {
  const byOp: Record<string, number> = {};
  for (const [op, n] of Object.entries(to.counts))
    if (n - (from.counts[op] ?? 0) > 0) byOp[op] = n - (from.counts[op] ?? 0);
  const contacts = emulator.contacts(ACCOUNT).filter((c) => c.properties.email?.startsWith('caller.'));
  return {
    byOp,
    refused: emulator
      .requests(ACCOUNT)
      .slice(from.seen, to.seen)
      .filter((r) => r.status === 429).length,
    synced: emulator
      .notes(ACCOUNT)
      .filter((n) => (n.properties.hs_note_body ?? '').includes('asked about the campaign offer')).length,
    contacts: contacts.length,
    emails: new Set(contacts.map((c) => c.properties.email)).size,
  };
}

/**
 * The end of the drain: what HubSpot answered from `from` until now (the agent's last actions may go on
 * a little longer) and how many of those calls the agent's actions during the burst made; the store
 * (notes, contacts) is read when the result is asked for, after the agent has stopped.
 */
function drainEnd(emulator: HubSpotEmulator, from: Mark, agentWorkflows: Set<string>) {
  const to = mark(emulator);
  const agentCalls = [...agentWorkflows].reduce((a, wf) => a + (httpTime.get(wf)?.calls ?? 0), 0);
  return () => ({ ...inHubSpot(emulator, from, to), agentCalls });
}

function figures(
  layer: string,
  o: {
    n: number;
    drain: number;
    byOp: Record<string, number>;
    agentCalls: number;
    refused: number;
    synced: number;
    contacts: number;
    emails: number;
    agentSamples: Array<{ total: number; hubspot: number; inAccount: number; result: string }>;
    /** The second portal's times from callEnded to the summary note in HubSpot, ms. */
    other?: number[];
    /** 429s the second portal answered. */
    otherRefused?: number;
    /** The same burst's drain by the no-op workflow, s. */
    noopDrain?: number;
    extra?: string[];
  },
): Figures {
  // The agent's batches carry queued offline records too: the calls are counted together, per
  // conversation synced (the campaign's and the agent's), and the floor is all of them over the limit.
  const allCalls = Object.values(o.byOp).reduce((a, b) => a + b, 0);
  const syncCalls = allCalls - o.agentCalls;
  const conversations = o.n + o.agentSamples.length;
  const floor = allCalls / (LIMIT.perTenSeconds / 10);
  const beyond = o.agentSamples.map((s) => s.total - s.hubspot);
  const perConv = allCalls / conversations;
  const q = (v: number[], p: number) => percentile(v, p).toFixed(0);
  const notes = [
    `### ${layer}: ${o.n} conversations of one portal end at once (limit ${LIMIT.perTenSeconds} per 10 s, ${LIMIT.searchPerSecond} searches/s), batching ${BATCHING ? 'on' : 'off'}`,
    ...(o.extra ?? []),
    `synced: ${o.synced}/${o.n} summary notes, ${o.contacts} contacts for ${o.emails} emails (duplicates: ${o.contacts - o.emails})`,
    `HubSpot calls while draining: ${allCalls} (${Object.entries(o.byOp)
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}), of which ${o.agentCalls} made by the agent's actions (their batches carry queued offline records too) and ${syncCalls} by the offline syncs alone; fewest possible for the campaign ${3 * Math.ceil(o.n / 100)}`,
    `calls per synced conversation: ${perConv.toFixed(4)} (${allCalls} calls / ${conversations} conversations: ${o.n} of the campaign, ${o.agentSamples.length} of the agent; target <= 0.05${LIMIT.perTenSeconds <= 20 ? ', at 20 calls per 10 s <= 0.035' : ''})`,
    `drain: ${o.drain.toFixed(1)} s; physical floor (${allCalls} calls / ${LIMIT.perTenSeconds / 10} per s): ${floor.toFixed(1)} s; ratio ${(o.drain / floor).toFixed(2)} (target <= 1.5${LIMIT.perTenSeconds <= 20 ? '; at 20 calls per 10 s <= 1.2' : ''})`,
    ...(o.noopDrain !== undefined
      ? [
          `drain against the no-op workflow's (the same burst, same server, same run): ${o.drain.toFixed(1)} s / ${o.noopDrain.toFixed(1)} s = ${(o.drain / o.noopDrain).toFixed(2)}× (target <= 1.3×)`,
        ]
      : []),
    `agent: ${o.agentSamples.length} in-conversation actions during the burst (${o.agentSamples.filter((s) => s.result === 'created').length} created a contact); beyond HubSpot's own time p50 ${q(beyond, 50)} ms, p99 ${q(beyond, 99)} ms (target p99 <= 1000 ms); total p50 ${q(
      o.agentSamples.map((s) => s.total),
      50,
    )} ms, p99 ${q(
      o.agentSamples.map((s) => s.total),
      99,
    )} ms`,
    `agent, where the time beyond HubSpot went: waiting in the HubSpot adapter (batching, pacing) p50 ${q(
      o.agentSamples.map((s) => s.inAccount - s.hubspot),
      50,
    )} ms, p99 ${q(
      o.agentSamples.map((s) => s.inAccount - s.hubspot),
      99,
    )} ms; outside it p50 ${q(
      o.agentSamples.map((s) => s.total - s.inAccount),
      50,
    )} ms, p99 ${q(
      o.agentSamples.map((s) => s.total - s.inAccount),
      99,
    )} ms`,
    ...(o.other ? [otherLine(o.other)] : []),
    `429s: ${o.refused + (o.otherRefused ?? 0)}${o.otherRefused !== undefined ? ` (campaign's portal ${o.refused}, second portal ${o.otherRefused})` : ''} (target 0)`,
  ];
  return {
    layer,
    notes,
    perConv,
    drain: o.drain,
    floor,
    agentP99: percentile(beyond, 99),
    otherP99: o.other ? percentile(o.other, 99) : NaN,
    refused: o.refused + (o.otherRefused ?? 0),
  };
}

/** The second portal's line: its conversations' time from callEnded to the summary note. */
function otherLine(times: number[]): string {
  return `second portal: ${times.length} calls ended when half the campaign's had; callEnded to summary note in HubSpot p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (target p99 <= 5000 ms)`;
}

/** The activity layer: the HubSpot activities of N offline syncs at once, and the agent's every second. */
async function activityLayer(): Promise<Figures> {
  const emulator = await startHubSpotEmulator({ port: 0, accounts: [SEED], seed: 7 });
  try {
    const hubspot = burstAccounts(emulator);
    const activities = createActivities({ hubspot });
    const offlineConfig = actionConfigSchema.parse(
      benchAction('offline', ACCOUNT, { allowCreate: true, allowUpdateExisting: true }, true),
    );
    const liveConfig = actionConfigSchema.parse(
      benchAction('live', ACCOUNT, { allowCreate: true, allowUpdateExisting: true }, false),
    );
    const run = `a${Date.now().toString(36)}`;
    await (await hubspot.get(ACCOUNT)).contactPropertySchema();
    /** One conversation's action, as the workflow runs it: lookup, create, note; each an activity attempt. */
    const sync = async (
      id: string,
      email: string,
      name: string,
      summary: string,
      lane: 'agent' | 'offline',
      config: typeof offlineConfig,
    ): Promise<string> => {
      const now = Date.now();
      const env = () =>
        new MockActivityEnvironment(
          {
            workflowExecution: { workflowId: `conversation-${id}`, runId: id },
            startToCloseTimeoutMs: 60_000,
            scheduleToCloseTimeoutMs: 0,
            scheduledTimestampMs: now,
            currentAttemptScheduledTimestampMs: now,
            attempt: 1,
            heartbeatTimeoutMs: 20_000,
          },
          { logger: new DefaultLogger('ERROR') },
        );
      const found = (await env().run(activities.lookUpContactForAction, {
        accountId: ACCOUNT,
        config,
        email,
        lane,
      })) as { kind: string };
      if (found.kind !== 'not-found') return found.kind;
      const written = (await env().run(activities.writeContactAsPlanned, {
        accountId: ACCOUNT,
        write: { kind: 'create', properties: { email, firstname: name } } as never,
        lane,
      })) as { contactId: string };
      await env().run(activities.writeSummaryNote, {
        accountId: ACCOUNT,
        conversationKey: id,
        contactId: written.contactId,
        knownNoteIds: [],
        contactCreatedByThisRun: true,
        mayHaveWritten: false,
        summary,
        timestamp: new Date().toISOString(),
        lane,
      });
      return 'created';
    };
    let t0 = Infinity;
    const duringBurst = new Set<string>();
    let synced = 0;
    let draining = true;
    const agentSamples: Array<{ total: number; hubspot: number; inAccount: number; result: string; calls: number }> =
      [];
    const agentLoop = (async () => {
      const pending: Promise<void>[] = [];
      for (let i = 0; draining; i++) {
        const id = `${run}-agent-${i}`;
        pending.push(
          (async () => {
            const s = performance.now();
            if (s >= t0) duringBurst.add(`conversation-${id}`);
            const result = await sync(
              id,
              `agent.${run}.${i}@burst.example`,
              `Agent${i}`,
              `Agent action ${i}`,
              'agent',
              liveConfig,
            );
            const total = performance.now() - s;
            const wf = `conversation-${id}`;
            // Only the actions run during the burst count.
            if (s >= t0)
              agentSamples.push({
                total,
                hubspot: httpTime.get(wf)?.ms ?? 0,
                calls: httpTime.get(wf)?.calls ?? 0,
                inAccount: methodTime.get(wf)?.ms ?? 0,
                result,
              });
          })(),
        );
        await sleep(AGENT_EVERY_MS);
      }
      await Promise.all(pending);
    })();
    progress(`activity layer: the agent at work for ${AGENT_LEAD_MS} ms before the burst`);
    await sleep(AGENT_LEAD_MS);
    const mark0 = mark(emulator);
    progress(`activity layer: ${N} offline syncs start now`);
    t0 = performance.now();
    const ticker = setInterval(
      () => progress(`activity layer: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${synced}/${N} synced`),
      2_000,
    );
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        sync(
          `${run}-call-${i}`,
          `caller.${run}.${i}@burst.example`,
          `Caller${i}`,
          `Call ${i}: asked about the campaign offer; call back next week.`,
          'offline',
          offlineConfig,
        ).then(
          () => void synced++,
          (err: unknown) => void failures.push(String(err)),
        ),
      ),
    );
    const drain = (performance.now() - t0) / 1000;
    draining = false;
    clearInterval(ticker);
    const hubspotSide = drainEnd(emulator, mark0, duringBurst);
    await agentLoop;
    if (failures.length)
      progress(`${failures.length} syncs failed (an activity failure Temporal would retry), e.g. ${failures[0]}`);
    return figures('Activity layer', {
      n: N,
      drain,
      ...hubspotSide(),
      agentSamples,
      extra: failures.length ? [`activity failures (retried by Temporal in the real worker): ${failures.length}`] : [],
    });
  } finally {
    await emulator.close();
  }
}

async function main(): Promise<void> {
  if (printedHelp(__filename)) return;
  await waitForOtherBenchmarks();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  timeAgentCalls();
  const results: Figures[] = [];
  if (LAYER !== 'workflow') results.push(await activityLayer());
  if (LAYER !== 'activity') results.push(await workflowLayer());
  const out: string[] = [];
  for (const f of results) out.push(...f.notes, '', `${f.layer}: ${summaryLine(f)}`, '');
  out.push(summaryLine(results.at(-1)!));
  process.stdout.write(`${out.join('\n')}\n`);
}

/** What one run of the burst on the workflow path measured. */
interface PathRun {
  drain: number;
  signalsSeconds: number;
  agentSamples: Array<{ total: number; hubspot: number; calls: number; result: string; inAccount: number }>;
  /** The second portal's calls: callEnded to the summary note (or the no-op's offline activity), ms. */
  other: number[];
  hubspotSide: ReturnType<typeof drainEnd>;
  otherRefused: number;
}

/**
 * One run of the burst through `platform` (the real worker's task queue or the no-op's): the calls and
 * the agent's conversations set up, the agent at work, the campaign's calls ended, the second portal's
 * when half of them have; `campaignDone` counts the campaign's synced calls, `otherDoneAt(i)` is when the
 * second portal's call i was synced (performance.now()), or undefined.
 */
async function burstOnPath(o: {
  kind: 'real' | 'noop';
  platform: ConversationClient;
  emulator: HubSpotEmulator;
  run: string;
  campaignDone: () => number;
  otherDoneAt: (i: number) => number | undefined;
}): Promise<PathRun> {
  const { platform, emulator, run } = o;
  const voiceCall = (id: string, accountId: string): Conversation => ({
    conversationId: id,
    workspaceId: BENCH_WORKSPACE,
    channel: 'voice',
    actions: [benchAction('offline', accountId, { allowCreate: true, allowUpdateExisting: true }, true)],
    options: { inactivityTimeoutMs: 3_600_000, retentionMs: 1 },
  });
  const calls = Array.from({ length: N }, (_, i) => voiceCall(`${run}-call-${i}`, ACCOUNT));
  const others = Array.from({ length: OTHER_N }, (_, i) => voiceCall(`${run}-other-${i}`, OTHER));
  const agents: Conversation[] = Array.from({ length: 600 }, (_, i) => ({
    conversationId: `${run}-agent-${i}`,
    workspaceId: BENCH_WORKSPACE,
    channel: 'chat',
    actions: [benchAction('live', ACCOUNT, { allowCreate: true, allowUpdateExisting: true }, false)],
    options: { inactivityTimeoutMs: 3_600_000, retentionMs: 1 },
  }));
  const label = o.kind === 'real' ? 'real' : 'no-op';

  let t = performance.now();
  let done = 0;
  const ticker = setInterval(() => progress(`${label}: setup: ${done}/${N + OTHER_N} calls in progress`), 5_000);
  await pool(
    [
      ...calls.map((c, i) => [c, `caller.${run}.${i}@burst.example`, `Caller${i}`] as const),
      ...others.map((c, i) => [c, `other.${run}.${i}@other.example`, `Other${i}`] as const),
    ],
    SETUP_IN_FLIGHT,
    async ([c, email, name]) => {
      await platform.recordMessage(c, { from: 'customer', fields: { email, first_name: name } });
      done++;
    },
  );
  clearInterval(ticker);
  progress(
    `${label}: setup: ${N} campaign calls and ${OTHER_N} of the second portal open in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const agentCount = Math.min(agents.length, Math.ceil((N / 100) * 3 * 1.6 + 30 + AGENT_LEAD_MS / AGENT_EVERY_MS));
  await pool(agents.slice(0, agentCount), SETUP_IN_FLIGHT, async (c, i) => {
    await platform.recordMessage(c, { from: 'customer', fields: { email: `agent.${run}.${i}@burst.example` } });
  });
  await sleep(2_000);

  // The agent: one in-conversation action per interval, on the same portal, from before the burst until the sync has drained.
  let t0 = Infinity;
  const duringBurst = new Set<string>();
  const agentSamples: PathRun['agentSamples'] = [];
  let draining = true;
  const agentLoop = (async () => {
    let k = 0;
    const pending: Promise<void>[] = [];
    while (draining && k < agentCount) {
      const c = agents[k]!;
      const i = k++;
      pending.push(
        (async () => {
          const wf = conversationWorkflowId(c.workspaceId, c.conversationId);
          const s = performance.now();
          if (s >= t0) duringBurst.add(wf);
          const r = await platform.runAction(c, {
            actionId: 'live',
            fields: { email: `agent.${run}.${i}@burst.example`, first_name: `Agent${i}` },
            summary: `Agent action ${i}`,
          });
          const total = performance.now() - s;
          const h = httpTime.get(wf) ?? { ms: 0, calls: 0 };
          if (s >= t0)
            agentSamples.push({
              total,
              hubspot: h.ms,
              calls: h.calls,
              result: r.result,
              inAccount: methodTime.get(wf)?.ms ?? 0,
            });
        })().catch((err: unknown) => {
          progress(`${label}: agent action ${i} failed: ${String(err)}`);
        }),
      );
      await sleep(AGENT_EVERY_MS);
    }
    await Promise.all(pending);
  })();
  progress(`${label}: the agent at work for ${AGENT_LEAD_MS} ms before the burst`);
  await sleep(AGENT_LEAD_MS);
  const mark0 = mark(emulator);
  const otherRefused0 = emulator.requests(OTHER).filter((r) => r.status === 429).length;
  progress(`${label}: burst: ${N} calls end now; the second portal's ${OTHER_N} when ${Math.ceil(N / 2)} have`);
  t0 = performance.now();
  let ended = 0;
  const otherEndedAt: number[] = [];
  let othersSent: Promise<unknown> | undefined;
  const endOthers = () =>
    pool(others, END_IN_FLIGHT, async (c, i) => {
      otherEndedAt[i] = performance.now();
      await platform.endCall(c, { summary: `Other portal call ${i}: wants a quote for the spring order.` });
    });
  const endTicker = setInterval(() => {
    const otherSynced = others.filter((_, i) => o.otherDoneAt(i) !== undefined).length;
    progress(
      `${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s: ${ended}/${N} ended, ${o.campaignDone()} synced; second portal ${otherEndedAt.filter(Boolean).length}/${OTHER_N} ended, ${otherSynced} synced`,
    );
  }, 2_000);
  let signalsDone = 0;
  void pool(calls, END_IN_FLIGHT, async (c, i) => {
    await platform.endCall(c, { summary: `Call ${i}: asked about the campaign offer; call back next week.` });
    ended++;
    if (ended === Math.ceil(N / 2)) othersSent = endOthers();
  }).then(() => (signalsDone = performance.now()));
  // Synced: every call's summary note is in HubSpot (the sync's last write), the second portal's too.
  let tEnd = 0;
  const deadline = t0 + Math.max(600_000, N * 200);
  for (;;) {
    const synced = o.campaignDone();
    if (synced >= N && tEnd === 0) tEnd = performance.now();
    const othersDone = othersSent !== undefined && others.every((_, i) => o.otherDoneAt(i) !== undefined);
    if (tEnd > 0 && (othersDone || OTHER_N === 0)) break;
    if (performance.now() > deadline) {
      progress(`${label}: gave up: ${synced}/${N} synced after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      if (tEnd === 0) tEnd = performance.now();
      break;
    }
    await sleep(100);
  }
  draining = false;
  clearInterval(endTicker);
  const hubspotSide = drainEnd(emulator, mark0, duringBurst);
  const otherRefused = emulator.requests(OTHER).filter((r) => r.status === 429).length - otherRefused0;
  await agentLoop;
  await othersSent;
  const other = others.flatMap((_, i) => {
    const at = o.otherDoneAt(i);
    return at !== undefined && otherEndedAt[i] !== undefined ? [at - otherEndedAt[i]!] : [];
  });
  return {
    drain: (tEnd - t0) / 1000,
    signalsSeconds: (signalsDone - t0) / 1000,
    agentSamples,
    other,
    hubspotSide,
    otherRefused,
  };
}

/** The whole path: the same burst by the no-op workflow, then by the real worker, on one Temporal server. */
async function workflowLayer(): Promise<Figures> {
  progress(
    `${N} conversations, agent action every ${AGENT_EVERY_MS} ms, batching ${BATCHING ? `on (window ${WINDOW_MS ?? 'default'} ms)` : 'off'}; the campaign's portal ${LIMIT.perTenSeconds} calls per 10 s`,
  );
  const server = await startBenchServer({ log: progress });
  progress(`${server.label} on ${server.address}`);
  const emulator = await startHubSpotEmulator({ port: 0, accounts: [SEED, OTHER_SEED], seed: 7 });
  const hubspot = burstAccounts(emulator);
  const [workflowBundle, noopBundle] = await Promise.all([
    bundle(workflowsPath),
    bundle(require.resolve('./rig/noop-workflow')),
  ]);
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const stamp = Date.now().toString(36);
  const cache = N + OTHER_N + 700;
  let noopDrain: number | undefined;
  let noopRun: PathRun | undefined;
  try {
    if (NOOP) {
      // The no-op workflow: its offline activity records when each conversation's offline run is over.
      const noopTaskQueue = 'bench-burst-noop';
      const offlineDone = new Map<string, number>();
      const activities: NoopActivities = {
        async noop(input) {
          if (input.kind === 'offline') offlineDone.set(input.conversationId, performance.now());
        },
      };
      const noopWorker = await NoopWorker.create({
        connection: server.nativeConnection,
        namespace: server.namespace,
        taskQueue: noopTaskQueue,
        workflowBundle: noopBundle,
        activities,
        tuning: { maxCachedWorkflows: cache, maxConcurrentWorkflowTaskExecutions: WORKFLOW_TASK_SLOTS },
      });
      const run = `n${stamp}`;
      let campaign = 0;
      const counted = new Set<string>();
      noopRun = await noopWorker.runUntil(() =>
        burstOnPath({
          kind: 'noop',
          platform: new ConversationClient({ client, taskQueue: noopTaskQueue }),
          emulator,
          run,
          campaignDone: () => {
            for (const id of offlineDone.keys())
              if (!counted.has(id) && id.startsWith(`${run}-call-`)) (counted.add(id), campaign++);
            return campaign;
          },
          otherDoneAt: (i) => offlineDone.get(`${run}-other-${i}`),
        }),
      );
      noopDrain = noopRun.drain;
      const noopAgent = noopRun.agentSamples.map((s) => s.total);
      process.stdout.write(
        [
          `### Workflow path, no-op workflow (the Temporal floor; ${server.label}): the same burst, ${N} calls + ${OTHER_N} of the second portal`,
          `callEnded signals sent in ${noopRun.signalsSeconds.toFixed(1)} s (${END_IN_FLIGHT} in flight)`,
          `no-op drain: ${noopRun.drain.toFixed(1)} s (the first callEnded to the last offline no-op activity)`,
          `agent: ${noopAgent.length} runAction updates during the burst, total p50 ${percentile(noopAgent, 50).toFixed(0)} ms, p99 ${percentile(noopAgent, 99).toFixed(0)} ms`,
          otherLine(noopRun.other).replace('summary note in HubSpot', 'offline no-op activity'),
          '',
        ].join('\n') + '\n',
      );
    }

    const taskQueue = 'bench-burst';
    const worker = await createConversationWorker({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue,
      hubspot,
      workflowBundle,
      // Activities wait in the account's batcher and pacer: enough slots for every conversation's to wait there.
      tuning: {
        maxConcurrentActivityTaskExecutions: N + OTHER_N + 200,
        maxCachedWorkflows: cache,
        maxConcurrentWorkflowTaskExecutions: WORKFLOW_TASK_SLOTS,
      },
    });
    // Warm: the accounts' property schemas are cached, the pacers have heard HubSpot once.
    for (const id of [ACCOUNT, OTHER]) await (await hubspot.get(id)).contactPropertySchema();
    const run = `b${stamp}`;
    const campaignNotes = () =>
      emulator
        .notes(ACCOUNT)
        .filter((n) => (n.properties.hs_note_body ?? '').includes('asked about the campaign offer')).length;
    const otherSyncedAt = new Map<number, number>();
    let otherSeen = 0;
    const otherDoneAt = (i: number) => {
      const notes = emulator.notes(OTHER);
      for (; otherSeen < notes.length; otherSeen++) {
        const m = /Other portal call (\d+):/.exec(notes[otherSeen]!.properties.hs_note_body ?? '');
        if (m && !otherSyncedAt.has(Number(m[1]))) otherSyncedAt.set(Number(m[1]), performance.now());
      }
      return otherSyncedAt.get(i);
    };
    const real = await worker.runUntil(() =>
      burstOnPath({
        kind: 'real',
        platform: new ConversationClient({ client, taskQueue }),
        emulator,
        run,
        campaignDone: campaignNotes,
        otherDoneAt,
      }),
    );
    return figures(`Workflow path (real worker, ${server.label})`, {
      n: N,
      drain: real.drain,
      ...real.hubspotSide(),
      agentSamples: real.agentSamples,
      other: real.other,
      otherRefused: real.otherRefused,
      ...(noopDrain !== undefined ? { noopDrain } : {}),
      extra: [`callEnded signals sent in ${real.signalsSeconds.toFixed(1)} s (${END_IN_FLIGHT} in flight)`],
    });
  } finally {
    await server.teardown().catch(() => undefined);
    await emulator.close();
  }
}

runMain(main, '');

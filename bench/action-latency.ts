// In-conversation action latency (runAction, update-with-start): sequential, C in flight, and cold (the
// update starts the workflow); p50/p99 total, and the part that is not HubSpot time; the real worker at
// 0 ms and at L ms added HubSpot latency, against the no-op workflow. Scenario 2 of docs/BENCHMARKS.md.
//
//   npm run bench:latency [-- --actions M] [--action-concurrency C] [--latency-ms L] [--jitter-ms J]
//        [--quick] [--no-wait] [--eager-activities] [--dev-server]
//
// M actions per mode (200; --quick 20; cold M/2), C in flight for "concurrent" (10; --quick 5), the
// rows created / updated / note only in turn; the rig: bench/rig/rig.ts. Before measuring it waits
// while the chaos run, the test suite or an earlier benchmark runs (--no-wait skips that).
// --eager-activities turns on the server's eager activity execution (off by default, as here).
import { performance } from 'node:perf_hooks';
import { conversationWorkflowId, type ActionRun } from '../src/platform/contract';
import { num, runMain } from './rig/options';
import { pool } from './rig/pool';
import { fmt, mean, out, percentile, progress, table } from './rig/report';
import { setLatency, terminateAll, type Kind, type Rig } from './rig/rig';
import { plan } from './rig/rows';
import { runScenario } from './rig/scenario';
import { SYNC_RUN_DEFAULTS } from './rig/sync-run';

const M = Math.floor(num('actions', 200, 20, 2));
const ACTION_CONCURRENCY = Math.floor(num('action-concurrency', 10, 5, 1));
const LATENCY = num('latency-ms', 150, 150, 1);
const JITTER = num('jitter-ms', 50, 50, 0);
const MEAN_LATENCY = LATENCY + JITTER / 2;

type LatencyMode = 'sequential' | 'concurrent' | 'cold';
interface LatencySample {
  total: number;
  hubspotMs: number;
  calls: number;
}

async function latencyRun(
  rig: Rig,
  kind: Kind,
  mode: LatencyMode,
  m: number,
  latencyMs: number,
): Promise<{ samples: LatencySample[]; wrong: number; firstWrong?: string }> {
  const planned = plan(rig, kind, `lat-${mode}`, 'lat', m, { offline: false, timerMs: 3_600_000 });
  const platform = rig.platform[kind];
  const label = `${kind} ${mode} @${latencyMs} ms`;
  if (mode !== 'cold') {
    // The conversations exist (a message first); runAction then finds them (update-with-start, USE_EXISTING).
    await pool(planned, 32, async (p) => {
      await platform.recordMessage(p.conversation, { from: 'customer', fields: { email: p.email } });
      await platform.getState(p.conversation);
    });
  }
  const samples: LatencySample[] = [];
  let wrong = 0;
  let firstWrong: string | undefined;
  const t0 = performance.now();
  const ticker = setInterval(
    () => progress(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${samples.length}/${m} actions`),
    5_000,
  );
  try {
    await pool(planned, mode === 'concurrent' ? ACTION_CONCURRENCY : 1, async (p, i) => {
      const wf = conversationWorkflowId(p.conversation.workspaceId, p.conversation.conversationId);
      rig.hubspotTime.delete(wf);
      const t = performance.now();
      const run: ActionRun = await platform.runAction(p.conversation, {
        actionId: 'live',
        fields: { email: p.email, first_name: `First${i}` },
        summary: p.summary,
      });
      const dt = performance.now() - t;
      const hs = rig.hubspotTime.get(wf) ?? { ms: 0, calls: 0 };
      rig.hubspotTime.delete(wf);
      samples.push({ total: dt, hubspotMs: hs.ms, calls: hs.calls });
      if (kind === 'real' && run.result !== p.row) {
        wrong++;
        firstWrong ??= `${p.conversation.conversationId}: ${run.result} (${run.reason}), expected ${p.row}`;
      }
    });
  } finally {
    clearInterval(ticker);
  }
  const totals = samples.map((s) => s.total);
  progress(
    `${label}: ${m} actions, p50 ${fmt(percentile(totals, 50), 1)} ms, p99 ${fmt(percentile(totals, 99), 1)} ms${wrong ? `; ${wrong} WRONG, e.g. ${firstWrong}` : ''}`,
  );
  await terminateAll(
    rig,
    kind,
    planned.map((p) => p.conversation),
  );
  return { samples, wrong, firstWrong };
}

async function scenarioLatency(rig: Rig): Promise<void> {
  out(
    `\n## 2. In-conversation action latency (runAction = update-with-start; M=${M} per mode, cold M/2; ${ACTION_CONCURRENCY} in flight for "concurrent")`,
  );
  const modes: Array<{ mode: LatencyMode; m: number }> = [
    { mode: 'sequential', m: M },
    { mode: 'concurrent', m: M },
    { mode: 'cold', m: Math.max(2, Math.floor(M / 2)) },
  ];
  const rows: string[][] = [];
  for (const { mode, m } of modes) {
    progress(`scenario 2, ${mode}: no-op, real @0 ms, real @${LATENCY} ms`);
    const noop = await latencyRun(rig, 'noop', mode, m, 0);
    setLatency(rig, 'lat', 0, JITTER);
    const real0 = await latencyRun(rig, 'real', mode, m, 0);
    setLatency(rig, 'lat', LATENCY, JITTER);
    const realL = await latencyRun(rig, 'real', mode, m, LATENCY);
    setLatency(rig, 'lat', 0, JITTER);
    const noopP50 = percentile(
      noop.samples.map((s) => s.total),
      50,
    );
    const line = (
      name: string,
      latency: string,
      r: { samples: LatencySample[]; wrong: number },
      latencyMs: number | undefined,
    ) => {
      const totals = r.samples.map((s) => s.total);
      const byCount =
        latencyMs === undefined ? [] : r.samples.map((s) => s.total - s.calls * (latencyMs ? MEAN_LATENCY : 0));
      const byTime = latencyMs === undefined ? [] : r.samples.map((s) => s.total - s.hubspotMs);
      rows.push([
        mode,
        name,
        latency,
        String(r.samples.length),
        fmt(percentile(totals, 50), 1),
        fmt(percentile(totals, 99), 1),
        latencyMs === undefined ? '' : fmt(mean(r.samples.map((s) => s.calls)), 2),
        latencyMs === undefined ? '' : fmt(mean(r.samples.map((s) => s.hubspotMs)), 1),
        latencyMs === undefined ? '' : fmt(percentile(byCount, 50), 1),
        latencyMs === undefined ? '' : fmt(percentile(byCount, 99), 1),
        latencyMs === undefined ? '' : fmt(percentile(byTime, 50), 1),
        latencyMs === undefined ? '' : fmt(percentile(byTime, 99), 1),
        `${fmt(percentile(totals, 50) / noopP50, 2)}×`,
        String(r.wrong),
      ]);
    };
    line('no-op (1 no-op activity)', '–', noop, undefined);
    line('real', '0 ms', real0, 0);
    line('real', `${LATENCY}+0..${JITTER} ms`, realL, LATENCY);
  }
  out(
    table(
      [
        'mode',
        'workflow',
        'HubSpot latency',
        'n',
        'total p50 ms',
        'p99 ms',
        'calls/action',
        'HubSpot ms/action',
        'non-HubSpot p50 (A)',
        'p99 (A)',
        'non-HubSpot p50 (B)',
        'p99 (B)',
        'p50 / no-op p50',
        'wrong',
      ],
      rows,
      3,
    ),
  );
  out(
    `non-HubSpot (A) = total − calls × ${MEAN_LATENCY} ms (the emulator's mean added latency; at 0 ms: the total itself); ` +
      `(B) = total − HubSpot wall time measured around each HubSpot request of that workflow (HubSpotAccount.request) (pacing, client serialisation, HTTP and emulator included). ` +
      `sequential/concurrent: the conversation exists (a message first); cold: the update starts the workflow. Rows mixed: created / updated / note only.`,
  );
}

async function main(): Promise<void> {
  await runScenario({
    file: __filename,
    title: 'Action latency bench',
    settings: `M=${M}, ${ACTION_CONCURRENCY} in flight, latency ${LATENCY}+0..${JITTER} ms`,
    number: 2,
    warmUp: SYNC_RUN_DEFAULTS,
    run: scenarioLatency,
  });
}

runMain(main);

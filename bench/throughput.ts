// Conversations synced per second, end to end (first signal to the last result()), the real worker vs
// the no-op workflow (the Temporal floor), with the emulator at 0 ms and at L ms added latency (ABBA
// order: no-op, real, real, no-op). Scenario 1 of docs/BENCHMARKS.md.
//
//   npm run bench:throughput [-- --conversations N] [--latency-ms L] [--jitter-ms J] [--timer-ms T]
//        [--batch B] [--quick] [--no-wait] [--eager-activities] [--dev-server]
//
// N text conversations (300; --quick 40) with one offline action and a T ms inactivity wait (1,000),
// signalled B at a time (50; --quick 20), the rows created / updated / note only in turn; the rig:
// bench/rig/rig.ts. Before measuring it waits while the chaos run, the test suite or an earlier
// benchmark runs (--no-wait skips that), and it says under the table how much CPU other processes used.
import { setTimeout as sleep } from 'node:timers/promises';
import { num, runMain } from './rig/options';
import { fmt, mean, out, percentile, progress, table } from './rig/report';
import { setLatency, type Kind, type Rig } from './rig/rig';
import { runScenario } from './rig/scenario';
import { throughputRun, type ThroughputRun } from './rig/sync-run';

const N = Math.floor(num('conversations', 300, 40, 3));
const LATENCY = num('latency-ms', 150, 150, 1);
const JITTER = num('jitter-ms', 50, 50, 0);
const TIMER_MS = Math.floor(num('timer-ms', 1_000, 1_000, 100));
const BATCH = Math.floor(num('batch', 50, 20, 1));

async function scenarioThroughput(rig: Rig): Promise<void> {
  out(
    `\n## 1. Conversations synced per second (N=${N}, text, one offline action, inactivity ${TIMER_MS} ms, signals in batches of ${BATCH})`,
  );
  const runs: ThroughputRun[] = [];
  for (const latencyMs of [0, LATENCY]) {
    setLatency(rig, 'tp', latencyMs, JITTER);
    progress(
      `scenario 1 at ${latencyMs} ms HubSpot latency${latencyMs ? ` (+0..${JITTER} ms jitter)` : ''}: no-op, real, real, no-op`,
    );
    for (const kind of ['noop', 'real', 'real', 'noop'] as const)
      runs.push(await throughputRun(rig, kind, N, latencyMs, { timerMs: TIMER_MS, batch: BATCH }));
    await sleep(1_000);
  }
  setLatency(rig, 'tp', 0, JITTER);
  const rows: string[][] = [];
  for (const latencyMs of [0, LATENCY]) {
    const pick = (k: Kind) => runs.filter((r) => r.kind === k && r.latencyMs === latencyMs);
    const noop = pick('noop');
    const real = pick('real');
    const rate = (rs: ThroughputRun[]) => mean(rs.map((r) => r.perSecond));
    const range = (rs: ThroughputRun[]) =>
      `${fmt(Math.min(...rs.map((r) => r.perSecond)), 1)}–${fmt(Math.max(...rs.map((r) => r.perSecond)), 1)}`;
    for (const [name, rs] of [
      ['no-op (Temporal floor)', noop],
      ['real worker', real],
    ] as const) {
      const after = rs.flatMap((r) => r.afterTimer);
      rows.push([
        name,
        latencyMs ? `${latencyMs}+0..${JITTER} ms` : '0 ms',
        String(rs.reduce((a, r) => a + r.n, 0)),
        fmt(rate(rs), 1),
        range(rs),
        name.startsWith('real') ? `${fmt(rate(real) / rate(noop), 2)}×` : '',
        fmt(mean(rs.map((r) => r.seconds)), 2),
        fmt(percentile(after, 50)),
        fmt(percentile(after, 99)),
        fmt(mean(rs.map((r) => r.calls / r.n)), 2),
        `${fmt(mean(rs.map((r) => r.cpuSelf)) * 100)}%`,
        `${fmt(mean(rs.map((r) => r.cpuServer)) * 100)}%`,
        String(rs.reduce((a, r) => a + r.wrong, 0)),
      ]);
    }
  }
  out(
    table(
      [
        'workflow',
        'HubSpot latency',
        'conv.',
        'synced/s',
        'range',
        'real/no-op',
        's per run',
        'after-timer p50 ms',
        'p99 ms',
        'HubSpot calls/conv',
        'bench CPU',
        'server CPU',
        'wrong',
      ],
      rows,
      2,
    ),
  );
  out(
    `synced/s: N / (first signal → last result()), mean of 2 runs (ABBA order); "after-timer": result() time − last signal − the ${TIMER_MS} ms inactivity timer, ` +
      `per conversation. CPU: share of one core (bench = this process: worker, emulator, client), 2 cores in all.`,
  );
}

async function main(): Promise<void> {
  await runScenario({
    file: __filename,
    title: 'Throughput bench',
    settings: `N=${N}, latency ${LATENCY}+0..${JITTER} ms`,
    number: 1,
    warmUp: { timerMs: TIMER_MS, batch: BATCH },
    run: scenarioThroughput,
  });
}

runMain(main);

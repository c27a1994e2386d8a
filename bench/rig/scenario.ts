// The main of a benchmark on the rig: waits for other heavy runs, starts the rig, warms it up, runs one
// scenario, and says under it how long it took, how much CPU other processes used meanwhile and how
// many slow workflow tasks the worker reported. Progress goes to stderr, tables to stdout.
// The Temporal server is server 1.32 with fairness on (`--dev-server`: the Temporal CLI dev server; the
// line under the header names the one that ran). `--eager-activities` turns on the server's eager
// activity execution (off by default, as here).
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { foreignMeter, waitForOtherBenchmarks, watchOtherHeavy } from './machine';
import { has, printedHelp, QUICK } from './options';
import { fmt, out, progress } from './report';
import { installRuntime, slowWorkflowTaskCount, startRig, stopRig, type Rig } from './rig';
import { warmUp, type SyncRunOptions } from './sync-run';

export interface Scenario {
  /** The script's __filename (its opening comment is its --help). */
  file: string;
  /** The first words of the header line, e.g. "Throughput bench". */
  title: string;
  /** The sizes and settings it runs with, for the header line. */
  settings: string;
  /** Its number in docs/BENCHMARKS.md. */
  number: number;
  /** The warm-up's conversations. */
  warmUp: SyncRunOptions;
  run: (rig: Rig) => Promise<void>;
}

/** Off by default (the servers' default): every activity task then goes through matching. */
const EAGER_ACTIVITIES = has('eager-activities');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

export async function runScenario(s: Scenario): Promise<void> {
  if (printedHelp(s.file)) return;
  installRuntime();
  await waitForOtherBenchmarks();
  const started = performance.now();
  out(
    `${s.title}${QUICK ? ' (--quick)' : ''}: node ${process.version}, ${load()} load, ${s.settings}, worker log level WARN, no payload codec, ` +
      `eager activity execution ${EAGER_ACTIVITIES ? 'on' : 'off (server default)'}`,
  );
  const rig = await startRig(EAGER_ACTIVITIES);
  out(`Temporal: ${rig.server.label}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping`);
      void stopRig(rig).finally(() => process.exit(130));
    });
  }
  try {
    await warmUp(rig, s.warmUp);
    const foreign = foreignMeter(rig.serverPid);
    const slow0 = slowWorkflowTaskCount();
    const stopWatching = watchOtherHeavy();
    const t = performance.now();
    let seen: string[] = [];
    try {
      await s.run(rig);
    } finally {
      seen = stopWatching();
    }
    out(
      `(scenario ${s.number}: ${((performance.now() - t) / 1000).toFixed(0)} s; other processes used ${fmt(foreign() * 100)}% of one core meanwhile; ` +
        `worker warnings "workflow task duration exceeded 5 s": ${slowWorkflowTaskCount() - slow0}` +
        `${seen.length ? `; ALSO RUNNING: ${seen.join(', ')}: numbers disturbed` : ''})`,
    );
  } finally {
    progress('stopping workers and the Temporal server');
    await stopRig(rig);
  }
  out(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${load()}`);
}

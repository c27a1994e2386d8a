// The machine under the benchmarks: CPU and RSS of processes (from /proc), the CPU other processes use,
// and other heavy runs (the chaos run, the test suite, the other benchmarks), which a benchmark waits
// for before it measures.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { has } from './options';
import { progress } from './report';

/** The fields of /proc/<pid>/stat after the command name (field 3 is the first). */
function statFields(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user+system) of a process, from /proc. */
export function procCpu(pid: number | undefined): number | undefined {
  const f = pid ? statFields(pid) : undefined;
  return f ? (Number(f[11]) + Number(f[12])) / 100 : undefined;
}

export function procRss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of a child of this process whose command line matches `pattern` (the Temporal server it started). */
export function childPid(pattern: RegExp): number | undefined {
  try {
    const lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split(
      '\n',
    );
    const line = lines.find((l) => pattern.test(l));
    return line ? Number(line.trim().split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Measures the CPU of this process (worker + emulator + driver) and of the Temporal server over a span. */
export function cpuMeter(serverPid: number | undefined) {
  const c0 = process.cpuUsage();
  const s0 = procCpu(serverPid);
  const t0 = performance.now();
  return () => {
    const secs = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const s1 = procCpu(serverPid);
    return {
      self: (c.user + c.system) / 1e6 / secs,
      server: s0 !== undefined && s1 !== undefined ? (s1 - s0) / secs : NaN,
    };
  };
}

/** Busy CPU seconds of the whole machine, from /proc/stat. */
function machineBusy(): number | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const totalJiffies = f.reduce((a, b) => a + b, 0);
    return (totalJiffies - (f[3] ?? 0) - (f[4] ?? 0)) / 100;
  } catch {
    return undefined;
  }
}

/** CPU used by other processes (not this one, not the Temporal server) over a span, in cores. */
export function foreignMeter(serverPid: number | undefined) {
  const b0 = machineBusy();
  const c0 = process.cpuUsage();
  const s0 = procCpu(serverPid) ?? 0;
  const t0 = performance.now();
  return () => {
    const b1 = machineBusy();
    if (b0 === undefined || b1 === undefined) return NaN;
    const c = process.cpuUsage(c0);
    const mine = (c.user + c.system) / 1e6 + ((procCpu(serverPid) ?? 0) - s0);
    return Math.max(0, (b1 - b0 - mine) / ((performance.now() - t0) / 1000));
  };
}

/** Heavy work on this 2-core machine, by script: the chaos run, the test suite and every benchmark. */
const HEAVY =
  /(?:^|[\s/])((?:bench\/(?:chaos|throughput|action-latency|calls-per-row|rate-limit|memory|burst|hubspot-emulator))\.ts|test\/all\.ts)(?:\s|$)/;
/** Runs that never wait for others: a benchmark waits for them whenever they run. */
const NEVER_WAIT = new Set(['bench/chaos.ts', 'test/all.ts']);

interface Run {
  script: string;
  /** Start time of the process, in clock ticks since boot. */
  start: number;
}

/** Heavy runs on the machine other than this one (its own processes, from npm down, are left out). */
function heavyRuns(): { mine: number; others: Run[] } {
  const ancestors = new Set<number>();
  for (let pid = process.pid; pid > 1 && !ancestors.has(pid); pid = Number(statFields(pid)?.[1] ?? 0))
    ancestors.add(pid);
  let mine = Infinity;
  const others: Run[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    let args: string;
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    const m = HEAVY.exec(args);
    const start = m ? Number(statFields(pid)?.[19]) : NaN;
    if (!m || !Number.isFinite(start)) continue;
    if (ancestors.has(pid)) mine = Math.min(mine, start);
    else others.push({ script: m[1]!, start });
  }
  return { mine, others };
}

/** The other heavy runs going on now, by script. */
export function otherHeavyRunning(): string[] {
  return [...new Set(heavyRuns().others.map((r) => r.script))];
}

/**
 * Waits while the chaos run, the test suite or a benchmark started before this one runs (a benchmark
 * does not wait for one started after it, so that two never wait for each other). `--no-wait` skips it.
 */
export async function waitForOtherBenchmarks(): Promise<void> {
  if (has('no-wait')) return;
  const blocking = () => {
    const { mine, others } = heavyRuns();
    return [...new Set(others.filter((r) => NEVER_WAIT.has(r.script) || r.start < mine).map((r) => r.script))];
  };
  const start = Date.now();
  let said = 0;
  for (let others = blocking(); others.length; others = blocking()) {
    if (Date.now() - said > 30_000) {
      progress(`waiting: ${others.join(', ')} running (${Math.round((Date.now() - start) / 1000)} s so far)`);
      said = Date.now();
    }
    await sleep(5_000);
  }
}

/** Notes every other heavy run seen (every 5 s) until stopped; returns the scripts seen. */
export function watchOtherHeavy(): () => string[] {
  const seen = new Set<string>();
  const watch = setInterval(() => otherHeavyRunning().forEach((o) => seen.add(o)), 5_000);
  return () => {
    clearInterval(watch);
    return [...seen];
  };
}

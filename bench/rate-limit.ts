// An account rate limit: the emulator and the worker both set to 100 calls per 10 s and 5 searches/s
// (the worker paces at 90%), a backlog of conversations at once; the share of the limit used, the
// busiest windows, and the 429s received. Scenario 4 of docs/BENCHMARKS.md.
//
//   npm run bench:rate-limit [-- --rate-seconds S] [--latency-ms L] [--jitter-ms J] [--timer-ms T]
//        [--batch B] [--workers W] [--limit-per-ten-seconds L] [--conversations N] [--quick] [--no-wait]
//        [--eager-activities] [--dev-server]
//
// --workers 2: a second worker (src/worker/main.ts as a separate process, production mode, the same
// task queue, the account configured with the same whole limit) shares the backlog with the rig's own
// worker; the targets are the same: at least 90% of the limit used, no 429. --limit-per-ten-seconds sets
// the account's limit (100), on the emulator and in every worker; --conversations the backlog (by default
// sized for single-record calls: with batching on, a backlog that keeps the limit busy needs a lower limit
// or more conversations, for example --limit-per-ten-seconds 20 --conversations 600).
//
// Enough conversations for a backlog of ~S + 20 s (S 30; --quick 15), measured over the first S s of
// calls, HubSpot latency L ms + 0..J (150 + 0..50), a T ms inactivity wait (1,000), B signalled at once
// (50; --quick 20); the rig: bench/rig/rig.ts. Before measuring it waits while the chaos run, the test
// suite or an earlier benchmark runs (--no-wait skips that).
import { performance } from 'node:perf_hooks';
import { flag, num, runMain } from './rig/options';
import { pool } from './rig/pool';
import { fmt, mean, out, progress, table } from './rig/report';
import { WorkerSupervisor } from './chaos/processes';
import { RATE_LIMIT, setLatency, workerProcessEnv, type Rig } from './rig/rig';
import { plan } from './rig/rows';
import { runScenario } from './rig/scenario';

const RATE_SECONDS = num('rate-seconds', 30, 15, 10);
const LATENCY = num('latency-ms', 150, 150, 1);
const JITTER = num('jitter-ms', 50, 50, 0);
const TIMER_MS = Math.floor(num('timer-ms', 1_000, 1_000, 100));
const BATCH = Math.floor(num('batch', 50, 20, 1));
const WORKERS = Math.floor(num('workers', 1, 1, 1));

async function scenarioRateLimit(rig: Rig): Promise<void> {
  // The other workers: separate processes on the same task queue, each configured with the account's whole limit.
  const others = Array.from({ length: WORKERS - 1 }, () => new WorkerSupervisor(workerProcessEnv(rig), progress));
  try {
    for (const w of others) w.start();
    for (const w of others) await w.waitForOutput(/polling task queue/);
    if (others.length) progress(`${others.length} more worker process(es) polling the task queue`);
    await measureRateLimit(rig);
  } finally {
    for (const w of others) await w.stop();
  }
}

async function measureRateLimit(rig: Rig): Promise<void> {
  // Calls per conversation of the mixed rows: created 3, updated 4, note only 3.
  const callsPerConversation = 10 / 3;
  const pacedPerSecond = Math.floor(RATE_LIMIT.perTenSeconds * 0.9) / 10;
  const n =
    flag('conversations') !== undefined
      ? Math.ceil(num('conversations', 0, 0, 3) / 3) * 3
      : Math.ceil(((RATE_SECONDS + 20) * pacedPerSecond) / callsPerConversation / 3) * 3;
  out(
    `\n## 4. Account rate limit: emulator ${RATE_LIMIT.perTenSeconds} calls/10 s and ${RATE_LIMIT.searchPerSecond} searches/s, ${WORKERS === 1 ? 'worker' : `${WORKERS} workers (separate processes), each`} configured the same (paces at 90%); ` +
      `${n} conversations at once (${flag('conversations') !== undefined ? '--conversations' : `a backlog for ~${RATE_SECONDS + 20} s of single-record calls`}), HubSpot latency ${LATENCY}+0..${JITTER} ms; measured over the first ${RATE_SECONDS} s of calls`,
  );
  setLatency(rig, 'limited', LATENCY, JITTER);
  const platform = rig.platform.real;
  const planned = plan(rig, 'real', 'rate', 'limited', n, { offline: true, timerMs: TIMER_MS });
  const faults0 = rig.emulator.faultCounts('limited')['rate-limit'] ?? 0;
  const since = Date.now();
  const t0 = performance.now();
  let ended = 0;
  const outcomes: Record<string, number> = {};
  const ticker = setInterval(() => {
    const log = rig.emulator.requests('limited').filter((r) => r.at >= since);
    const last10 = log.filter((r) => r.at > Date.now() - 10_000 && r.status !== 429).length;
    progress(
      `rate limit: ${((performance.now() - t0) / 1000).toFixed(0)} s, ${ended}/${n} conversations ended, ${log.length} HubSpot calls, ${last10} accepted in the last 10 s, ` +
        `${(rig.emulator.faultCounts('limited')['rate-limit'] ?? 0) - faults0} refused (429)`,
    );
  }, 5_000);
  try {
    await pool(planned, BATCH, async (p, i) => {
      await platform.recordMessage(p.conversation, {
        from: 'customer',
        fields: { email: p.email, first_name: `First${i}` },
      });
      await platform.updateFields(p.conversation, { summary: p.summary });
    });
    await Promise.all(
      planned.map(async (p) => {
        const r = await platform.result(p.conversation);
        const got = r.outcomes.offline?.at(-1)?.result ?? 'none';
        outcomes[got === p.row ? got : `${got} (expected ${p.row})`] =
          (outcomes[got === p.row ? got : `${got} (expected ${p.row})`] ?? 0) + 1;
        ended++;
      }),
    );
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - t0) / 1000;
  setLatency(rig, 'limited', 0, JITTER);
  const log = rig.emulator.requests('limited').filter((r) => r.at >= since);
  const accepted = log.filter((r) => r.status !== 429).map((r) => r.at);
  const refused = (rig.emulator.faultCounts('limited')['rate-limit'] ?? 0) - faults0;
  const first = Math.min(...accepted);
  const lastAt = Math.max(...accepted);
  const windowMs = Math.min(RATE_SECONDS * 1000, lastAt - first);
  const inWindow = accepted.filter((a) => a < first + windowMs).length;
  // Every rolling 10 s window that starts within the measured span and ends inside it (100 ms steps):
  // the pacer sends in waves (a full window, then what frees up), so a single window would be arbitrary.
  const sortedAccepted = [...accepted].sort((a, b) => a - b);
  const countIn = (from: number, to: number) => sortedAccepted.filter((a) => a >= from && a < to).length;
  const rolling: number[] = [];
  for (let t = first; t + 10_000 <= first + windowMs; t += 100) rolling.push(countIn(t, t + 10_000));
  const per10 = rolling.length ? mean(rolling) : (inWindow / windowMs) * 10_000;
  // Busiest rolling 10 s and 1 s (searches) over the whole run, by the emulator's log times.
  const busiest = (times: number[], span: number) => {
    const s = [...times].sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; i < s.length; i++) {
      while (s[i]! - s[j]! >= span) j++;
      best = Math.max(best, i - j + 1);
    }
    return best;
  };
  const searches = log.filter((r) => r.status !== 429 && r.operation.endsWith('.search')).map((r) => r.at);
  const t = table(
    [
      'workers',
      'limit /10 s',
      'each worker paces at',
      'window s',
      'calls in window',
      'calls per 10 s',
      'share of limit',
      'rolling 10 s min–max',
      'busiest 10 s (run)',
      'searches/s max (limit)',
      '429 received',
      'conversations',
      'outcomes',
      'conv/s',
      'total s',
    ],
    [
      [
        String(WORKERS),
        String(RATE_LIMIT.perTenSeconds),
        `${Math.floor(RATE_LIMIT.perTenSeconds * 0.9)}/10 s, ${Math.floor(RATE_LIMIT.searchPerSecond * 0.9)}/s search`,
        fmt(windowMs / 1000, 1),
        String(inWindow),
        fmt(per10, 1),
        `${fmt((per10 / RATE_LIMIT.perTenSeconds) * 100, 1)}%`,
        rolling.length ? `${Math.min(...rolling)}–${Math.max(...rolling)}` : '–',
        String(busiest(accepted, 10_000)),
        `${busiest(searches, 1_000)} (${RATE_LIMIT.searchPerSecond})`,
        String(refused),
        String(n),
        Object.entries(outcomes)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        fmt(n / seconds, 2),
        fmt(seconds, 1),
      ],
    ],
    3,
  );
  out(t);
  const perSecond: number[] = [];
  for (const a of sortedAccepted)
    perSecond[Math.floor((a - first) / 1000)] = (perSecond[Math.floor((a - first) / 1000)] ?? 0) + 1;
  out(`accepted calls per second from the first call: ${Array.from(perSecond, (v) => v ?? 0).join(' ')}`);
  out(
    `calls = HubSpot requests the emulator accepted (429s excluded), timed by the emulator's request log (stamped when the answer is sent, i.e. after the added latency); ` +
      `calls per 10 s = mean over every rolling 10 s window (100 ms steps) inside the first ${fmt(windowMs / 1000, 1)} s after the first call. ` +
      `Total HubSpot calls ${log.length} for ${n} conversations (${fmt(log.length / n, 2)} per conversation).`,
  );
  out(
    `rate limit: workers ${WORKERS}, ${fmt(per10, 1)} calls per 10 s, share ${fmt((per10 / RATE_LIMIT.perTenSeconds) * 100, 1)}% (target >= 90% with two workers), busiest 10 s ${busiest(accepted, 10_000)}, 429s ${refused} (target 0)`,
  );
}

async function main(): Promise<void> {
  await runScenario({
    file: __filename,
    title: 'Rate limit bench',
    settings: `${RATE_LIMIT.perTenSeconds} calls/10 s and ${RATE_LIMIT.searchPerSecond} searches/s, ${WORKERS} worker process(es), measured over ${RATE_SECONDS} s, latency ${LATENCY}+0..${JITTER} ms`,
    number: 4,
    warmUp: { timerMs: TIMER_MS, batch: BATCH },
    run: scenarioRateLimit,
  });
}

runMain(main);

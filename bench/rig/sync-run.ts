// A timed run of synced conversations (scenario 1's unit, and the warm-up of every benchmark on the rig):
// n text conversations with one offline action, signalled in batches, each to its sync's end.
import { performance } from 'node:perf_hooks';
import type { ConversationResult } from '../../src/platform/contract';
import { cpuMeter } from './machine';
import { QUICK } from './options';
import { fmt, percentile, progress } from './report';
import { ACCOUNTS, callCounts, delta, total, type Kind, type Rig } from './rig';
import { plan } from './rows';

export interface SyncRunOptions {
  /** The conversations' inactivity timeout. */
  timerMs: number;
  /** Conversations signalled at once. */
  batch: number;
}
/** The defaults of --timer-ms and --batch, for the warm-up of the benchmarks that take neither. */
export const SYNC_RUN_DEFAULTS: SyncRunOptions = { timerMs: 1_000, batch: QUICK ? 20 : 50 };

export interface ThroughputRun {
  kind: Kind;
  latencyMs: number;
  n: number;
  seconds: number;
  perSecond: number;
  signalSeconds: number;
  /** result() time minus the last signal minus the inactivity timer, per conversation. */
  afterTimer: number[];
  wrong: number;
  firstWrong?: string;
  calls: number;
  cpuSelf: number;
  cpuServer: number;
}

export async function throughputRun(
  rig: Rig,
  kind: Kind,
  n: number,
  latencyMs: number,
  opts: SyncRunOptions,
): Promise<ThroughputRun> {
  const planned = plan(rig, kind, 'tp', 'tp', n, { offline: true, timerMs: opts.timerMs });
  const platform = rig.platform[kind];
  const counts0 = callCounts(rig, 'tp');
  const cpu = cpuMeter(rig.serverPid);
  const signalledAt: number[] = [];
  const endedAt: number[] = [];
  const results: Promise<void>[] = [];
  let wrong = 0;
  let firstWrong: string | undefined;
  let signalled = 0;
  const t0 = performance.now();
  let signalEnd = t0;
  const label = `${kind} @${latencyMs} ms`;
  const ticker = setInterval(
    () =>
      progress(
        `${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${signalled}/${n} signalled, ${endedAt.filter(Boolean).length} ended`,
      ),
    2_000,
  );
  try {
    for (let b = 0; b < planned.length; b += opts.batch) {
      await Promise.all(
        planned.slice(b, b + opts.batch).map(async (p, j) => {
          const i = b + j;
          await platform.recordMessage(p.conversation, {
            from: 'customer',
            fields: { email: p.email, first_name: `First${i}` },
          });
          await platform.updateFields(p.conversation, { summary: p.summary });
          signalledAt[i] = performance.now();
          signalled++;
          results.push(
            platform.result(p.conversation).then((r: ConversationResult) => {
              endedAt[i] = performance.now();
              if (kind === 'real') {
                const got = r.outcomes.offline?.at(-1);
                if (got?.result !== p.row) {
                  wrong++;
                  firstWrong ??= `${p.conversation.conversationId}: ${got?.result} (${got?.reason}), expected ${p.row}`;
                }
              }
            }),
          );
        }),
      );
    }
    signalEnd = performance.now();
    await Promise.all(results);
  } finally {
    clearInterval(ticker);
  }
  const t1 = Math.max(...endedAt);
  const c = cpu();
  const seconds = (t1 - t0) / 1000;
  const r: ThroughputRun = {
    kind,
    latencyMs,
    n,
    seconds,
    perSecond: n / seconds,
    signalSeconds: (signalEnd - t0) / 1000,
    afterTimer: planned.map((_, i) => endedAt[i]! - signalledAt[i]! - opts.timerMs),
    wrong,
    firstWrong,
    calls: total(delta(callCounts(rig, 'tp'), counts0)),
    cpuSelf: c.self,
    cpuServer: c.server,
  };
  progress(
    `${label}: ${n} conversations in ${seconds.toFixed(2)} s = ${r.perSecond.toFixed(1)}/s (signals sent in ${r.signalSeconds.toFixed(2)} s; ` +
      `after-timer p50 ${fmt(percentile(r.afterTimer, 50))} ms; CPU bench ${fmt(c.self * 100)}%, server ${fmt(c.server * 100)}%)` +
      (wrong ? `; ${wrong} WRONG outcomes, e.g. ${firstWrong}` : ''),
  );
  return r;
}

/** Warm-up: both workers, both bundles, the emulator, the schema cache of every account. */
export async function warmUp(rig: Rig, opts: SyncRunOptions): Promise<void> {
  progress('warm-up');
  for (const id of ACCOUNTS) await (await rig.hubspot.get(id)).contactPropertySchema();
  await throughputRun(rig, 'noop', 20, 0, opts);
  await throughputRun(rig, 'real', 20, 0, opts);
}

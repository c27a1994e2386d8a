// Worker memory with many open conversations: the process's RSS and heap with N open conversations
// (10,000; --quick 300), the real worker then the no-op workflow, on fresh workers; and (5b) the live
// heap per cached workflow, from heap snapshots of the workflow threads (K open each: 300; --quick 50).
// Scenario 5 of docs/BENCHMARKS.md.
//
//   npm run bench:memory [-- --open N] [--heap-sample K] [--quick] [--no-wait] [--eager-activities] [--dev-server]
//
// Text conversations, one message each, a 1-hour inactivity wait; the rig: bench/rig/rig.ts. Before
// measuring it waits while the chaos run, the test suite or an earlier benchmark runs (--no-wait skips
// that).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { temporal } from '@temporalio/proto';
import type { Conversation } from '../src/platform/client';
import { gc, liveHeap } from './rig/heap';
import { procRss } from './rig/machine';
import { num, runMain } from './rig/options';
import { pool } from './rig/pool';
import { BENCH_WORKSPACE } from './rig/action';
import { fmt, kb, mb, out, progress, table } from './rig/report';
import { QUEUE, restartWorkers, slowWorkflowTaskCount, threadsOf, type Kind, type Rig } from './rig/rig';
import { action, nextRun } from './rig/rows';
import { runScenario } from './rig/scenario';
import { SYNC_RUN_DEFAULTS } from './rig/sync-run';

const OPEN = Math.floor(num('open', 10_000, 300, 1));
const HEAP_SAMPLE = Math.floor(num('heap-sample', 300, 50, 1));
const OPEN_IN_FLIGHT = 64;

interface MemPoint {
  rss: number;
  heapUsed: number;
  external: number;
  serverRss?: number;
}
async function memNow(rig: Rig): Promise<MemPoint> {
  gc();
  await sleep(500);
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, serverRss: procRss(rig.serverPid) };
}

/** Workflow tasks waiting on a kind's (normal) task queue, as the server reports it (approximate). */
async function workflowBacklog(rig: Rig, kind: Kind): Promise<number> {
  try {
    const r = await rig.server.connection.workflowService.describeTaskQueue({
      namespace: rig.server.namespace,
      taskQueue: { name: QUEUE[kind], kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      reportStats: true,
    });
    return Number(r.stats?.approximateBacklogCount ?? 0);
  } catch {
    return -1;
  }
}

async function openConversations(
  rig: Rig,
  kind: Kind,
  n: number,
): Promise<{ seconds: number; cached: number; settleSeconds: number; settled: boolean }> {
  const platform = rig.platform[kind];
  const run = nextRun(`open-${kind}`);
  let started = 0;
  const t0 = performance.now();
  const ticker = setInterval(() => {
    const s = rig.workers[kind].getStatus();
    progress(
      `${kind}: ${((performance.now() - t0) / 1000).toFixed(0)} s, ${started}/${n} open conversations started (${fmt(started / ((performance.now() - t0) / 1000))}/s), ` +
        `cached workflows ${s.numCachedWorkflows}, RSS ${mb(process.memoryUsage().rss)}`,
    );
  }, 5_000);
  const items = Array.from({ length: n }, (_, i) => i);
  try {
    await pool(items, OPEN_IN_FLIGHT, async (i) => {
      const conversation: Conversation = {
        conversationId: `${run}-${i}`,
        workspaceId: BENCH_WORKSPACE,
        channel: 'whatsapp',
        actions: [action('offline', 'mem', { allowCreate: true, allowUpdateExisting: true }, true)],
        options: { inactivityTimeoutMs: 3_600_000 },
      };
      await platform.recordMessage(conversation, {
        from: 'customer',
        fields: { email: `${run}.${i}@bench.example`, first_name: `First${i}` },
      });
      started++;
    });
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - t0) / 1000;
  // Wait until the worker has processed every first workflow task: no backlog on the task queue and
  // no activation in flight, 3 s in a row.
  const ts = performance.now();
  let idle = 0;
  let lastSay = ts;
  while (idle < 3 && performance.now() - ts < 900_000) {
    await sleep(1_000);
    const s = rig.workers[kind].getStatus();
    const backlog = await workflowBacklog(rig, kind);
    idle = s.numInFlightWorkflowActivations === 0 && backlog === 0 ? idle + 1 : 0;
    if (performance.now() - lastSay > 5_000) {
      lastSay = performance.now();
      progress(
        `${kind}: settling, ${((performance.now() - ts) / 1000).toFixed(0)} s: backlog ${backlog}, in flight ${s.numInFlightWorkflowActivations}, cached ${s.numCachedWorkflows}, RSS ${mb(process.memoryUsage().rss)}`,
      );
    }
  }
  if (idle < 3) progress(`${kind}: NOT settled after 900 s`);
  return {
    seconds,
    cached: rig.workers[kind].getStatus().numCachedWorkflows,
    settleSeconds: (performance.now() - ts) / 1000,
    settled: idle >= 3,
  };
}

/** Fresh workers (empty caches), warmed (first activations, JIT) with short conversations that end by
 * themselves (no actions: nothing to sync) and so leave the cache again. */
async function freshWarmWorkers(rig: Rig): Promise<void> {
  await restartWorkers(rig);
  for (const kind of ['real', 'noop'] as const) {
    await pool(
      Array.from({ length: 50 }, (_, i) => i),
      16,
      async (i) => {
        const conversation: Conversation = {
          conversationId: `${nextRun(`warm-${kind}`)}-${i}`,
          workspaceId: BENCH_WORKSPACE,
          channel: 'chat',
          actions: [],
          options: { inactivityTimeoutMs: 200, retentionMs: 1 },
        };
        await rig.platform[kind].recordMessage(conversation, { from: 'customer' });
        await rig.platform[kind].result(conversation);
      },
    );
  }
  await sleep(2_000);
}

async function scenarioMemory(rig: Rig): Promise<void> {
  // The SDK keeps a worker's compiled options on it; the conversation worker holds two workers (its main one caches the workflows).
  type WithOptions = {
    options?: { maxCachedWorkflows?: number };
    main?: { options?: { maxCachedWorkflows?: number } };
  };
  const realWorker = rig.workers.real as unknown as WithOptions;
  const maxCached = realWorker.main?.options?.maxCachedWorkflows ?? realWorker.options?.maxCachedWorkflows;
  out(
    `\n## 5. Worker process memory with ${fmt(OPEN)} open conversations (text, one message each, inactivity 1 h), real then no-op, on fresh workers; ` +
      `maxCachedWorkflows ${maxCached ?? '?'} per worker (the SDK default for a ${fmt(v8.getHeapStatistics().heap_size_limit / 2 ** 20)} MiB heap limit)`,
  );
  progress('scenario 5: restarting both workers (empty caches)');
  await freshWarmWorkers(rig);
  const before = await memNow(rig);
  progress(
    `baseline: RSS ${mb(before.rss)}, heap ${mb(before.heapUsed)}, Temporal server RSS ${before.serverRss ? mb(before.serverRss) : '?'}`,
  );
  let slow0 = slowWorkflowTaskCount();
  const real = { ...(await openConversations(rig, 'real', OPEN)), slow: 0 };
  real.slow = slowWorkflowTaskCount() - slow0;
  const afterReal = await memNow(rig);
  progress(`after ${OPEN} real: RSS ${mb(afterReal.rss)}, heap ${mb(afterReal.heapUsed)}, cached ${real.cached}`);
  slow0 = slowWorkflowTaskCount();
  const noop = { ...(await openConversations(rig, 'noop', OPEN)), slow: 0 };
  noop.slow = slowWorkflowTaskCount() - slow0;
  const afterNoop = await memNow(rig);
  progress(`after ${OPEN} no-op: RSS ${mb(afterNoop.rss)}, heap ${mb(afterNoop.heapUsed)}, cached ${noop.cached}`);
  const line = (name: string, r: typeof real, a: MemPoint, b: MemPoint): string[] => [
    name,
    fmt(OPEN),
    fmt(r.seconds, 1),
    fmt(OPEN / r.seconds, 0),
    `${fmt(r.seconds + r.settleSeconds, 1)}${r.settled ? '' : ' (NOT settled)'}`,
    String(r.slow),
    `${r.cached} / ${maxCached ?? '?'}`,
    mb(b.rss),
    mb(a.rss),
    mb(a.rss - b.rss),
    mb(b.heapUsed),
    mb(a.heapUsed),
    mb(a.heapUsed - b.heapUsed),
    kb((a.rss - b.rss) / OPEN),
    kb((a.rss - b.rss) / Math.max(1, Math.min(OPEN, r.cached))),
    a.serverRss !== undefined && b.serverRss !== undefined ? mb(a.serverRss - b.serverRss) : '?',
  ];
  const t = table(
    [
      'workflow',
      'open',
      'start s',
      'starts/s',
      'all first tasks done s',
      'WFTs > 5 s',
      'cached / max',
      'RSS before',
      'RSS after',
      'Δ RSS',
      'heap before',
      'heap after',
      'Δ heap',
      'Δ RSS per open',
      'Δ RSS per cached',
      'Δ Temporal server RSS',
    ],
    [line('real', real, afterReal, before), line('no-op', noop, afterNoop, afterReal)],
    1,
  );
  out(t);
  out(
    `The worker runs in this process with the emulator and the client: RSS is the whole process, after a GC of the main isolate (the workflow ` +
      `threads cannot be made to collect without a heap snapshot, which inflates RSS, so their garbage is in it). "heap" is the main isolate only; workflows run in the SDK's ` +
      `workflow threads (one per worker, their own V8 isolates), whose heap is in RSS but not in "heap". "all first tasks done": from the first start until the worker has run every ` +
      `conversation's first workflow task (task queue backlog 0, nothing in flight). "WFTs > 5 s": core's "Workflow task duration exceeded 5 seconds" warnings. ` +
      `Cache: open conversations beyond maxCachedWorkflows are evicted and replayed from history when their next task comes, so memory is bounded by the cache, not by open conversations. ` +
      `The no-op row is measured on top of the real one (its own worker and cache). Real ${real.settleSeconds.toFixed(0)} s / no-op ${noop.settleSeconds.toFixed(0)} s to settle after the last start.`,
  );

  // 5b. Live heap per cached workflow, from heap snapshots of each worker's workflow thread (fresh workers).
  const k = Math.min(HEAP_SAMPLE, OPEN, maxCached ?? HEAP_SAMPLE);
  progress(
    `scenario 5b: live heap of the workflow threads, fresh workers, ${k} open conversations each (heap snapshots)`,
  );
  await freshWarmWorkers(rig);
  const rows: string[][] = [];
  const heapBefore: Record<Kind, { bytes: number; ms: number }> = {
    real: await liveHeap(threadsOf(rig.workers.real)),
    noop: await liveHeap(threadsOf(rig.workers.noop)),
  };
  for (const kind of ['real', 'noop'] as const) {
    const opened = await openConversations(rig, kind, k);
    const after = await liveHeap(threadsOf(rig.workers[kind]));
    const b = heapBefore[kind];
    progress(
      `${kind}: workflow thread live heap ${mb(b.bytes)} → ${mb(after.bytes)} with ${opened.cached} cached (snapshots ${fmt(b.ms)} + ${fmt(after.ms)} ms)`,
    );
    rows.push([
      kind === 'real' ? 'real' : 'no-op',
      String(opened.cached),
      mb(b.bytes),
      mb(after.bytes),
      mb(after.bytes - b.bytes),
      kb((after.bytes - b.bytes) / Math.max(1, opened.cached)),
    ]);
  }
  const t2 = table(
    ['workflow', 'cached workflows', 'thread heap, empty cache', 'with them', 'Δ', 'live heap per cached workflow'],
    rows,
    1,
  );
  out('');
  out(t2);
  out(
    `5b: the V8 heap of each worker's workflow thread after a full GC (sum of self sizes in a heap snapshot), on fresh warmed workers, ` +
      `before and after ${k} open conversations of that kind; per cached workflow = Δ / cached. Native memory (core's Rust side, buffers) is not in it.`,
  );
}

async function main(): Promise<void> {
  await runScenario({
    file: __filename,
    title: 'Memory bench',
    settings: `open ${OPEN}, heap sample ${HEAP_SAMPLE}`,
    number: 5,
    warmUp: SYNC_RUN_DEFAULTS,
    run: scenarioMemory,
  });
}

runMain(main);

// Memory of the workflow threads: a full GC of this process's main isolate, the SDK's workflow threads
// (recorded as they start), and their live V8 heap read from heap snapshots.
//
// Importing this module patches node:worker_threads' Worker so that every thread started afterwards is
// recorded: import it before any SDK Worker is created.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Worker as ThreadWorker } from 'node:worker_threads';

/** A full GC of the main isolate (a no-op where --expose-gc cannot be set). */
export const gc: () => void = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
})();

// The SDK runs workflows in worker threads (one per Worker, each its own V8 isolate). Record them, so
// that a memory measurement can force a full GC in them too (a heap snapshot collects garbage first).
const workflowThreads = new Set<ThreadWorker>();
{
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const NodeWorker = wt.Worker;
  wt.Worker = class extends NodeWorker {
    constructor(...args: ConstructorParameters<typeof NodeWorker>) {
      super(...args);
      workflowThreads.add(this);
      this.once('exit', () => workflowThreads.delete(this));
    }
  } as typeof NodeWorker;
}

/** Creates something that starts workflow threads (an SDK worker) and returns it with the threads it started. */
export async function withNewThreads<T>(create: () => Promise<T>): Promise<{ value: T; threads: ThreadWorker[] }> {
  const before = new Set(workflowThreads);
  const value = await create();
  return { value, threads: [...workflowThreads].filter((t) => !before.has(t)) };
}

/**
 * Live V8 heap of workflow threads: a heap snapshot (which collects garbage first) streamed and read
 * for the sum of its nodes' self sizes. Costly (seconds per 100 MB of heap) and it leaves the process
 * RSS inflated, so it is only taken where no RSS measurement follows.
 */
export async function liveHeap(threads: ThreadWorker[]): Promise<{ bytes: number; ms: number }> {
  const t = performance.now();
  let bytes = 0;
  for (const thread of threads) {
    const stream = await thread.getHeapSnapshot();
    let head = '';
    let inNodes = false;
    let fieldCount = 0;
    let selfIndex = 0;
    let field = 0;
    let cur = 0;
    let inNumber = false;
    let done = false;
    const scan = (buf: Buffer, from: number) => {
      for (let i = from; i < buf.length; i++) {
        const c = buf[i]!;
        if (c >= 48 && c <= 57) {
          cur = cur * 10 + (c - 48);
          inNumber = true;
        } else if (c === 44 || c === 93) {
          if (inNumber) {
            if (field === selfIndex) bytes += cur;
            field = (field + 1) % fieldCount;
            cur = 0;
            inNumber = false;
          }
          if (c === 93) {
            done = true;
            return;
          }
        }
      }
    };
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      if (!inNodes) {
        // The header (meta) is small; a chunk can be hundreds of MB, so only its start becomes a string.
        const before = head.length;
        head += buf.subarray(0, Math.min(buf.length, 1 << 20)).toString('latin1');
        const at = head.indexOf('"nodes":[');
        if (at < 0) continue;
        const fields = JSON.parse(/"node_fields":(\[[^\]]*\])/.exec(head)![1]!) as string[];
        fieldCount = fields.length;
        selfIndex = fields.indexOf('self_size');
        inNodes = true;
        scan(buf, at + '"nodes":['.length - before);
      } else scan(buf, 0);
      if (done) break;
    }
    stream.destroy();
  }
  return { bytes, ms: performance.now() - t };
}

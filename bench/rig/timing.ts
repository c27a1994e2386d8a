// HubSpot time per conversation: the wall time of calls made from activities, summed by the activity's
// workflow id.
import { performance } from 'node:perf_hooks';
import { Context } from '@temporalio/activity';

/** Wall time and number of calls, by workflow id. */
export type TimeByWorkflow = Map<string, { ms: number; calls: number }>;

/** The workflow id of the activity running in this async context, if any. */
export function currentWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

/**
 * Wraps `target[name]`, an async method, so that every call made from an activity adds its wall time
 * to `into` under the activity's workflow id (only the workflow ids `only` accepts, when given).
 */
export function timeByWorkflow(
  target: object,
  name: string,
  into: TimeByWorkflow,
  only: (workflowId: string) => boolean = () => true,
): void {
  const methods = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = methods[name];
  if (typeof original !== 'function')
    throw new Error(
      `${name} is not a method to time: the HubSpot adapter changed, update bench/rig/timing.ts's callers`,
    );
  methods[name] = async function timed(this: unknown, ...args: unknown[]) {
    const workflowId = currentWorkflowId();
    const t = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      if (workflowId && only(workflowId)) {
        const e = into.get(workflowId) ?? { ms: 0, calls: 0 };
        e.ms += performance.now() - t;
        e.calls++;
        into.set(workflowId, e);
      }
    }
  };
}

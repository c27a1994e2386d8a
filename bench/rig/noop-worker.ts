// The no-op workflow's worker, in the real worker's shape (src/worker/worker.ts): one SDK worker for the
// task queue and one for its agent's lane (`<queue>-agent`), where conversations with an in-conversation
// action run, so that the platform client (which starts those on the lane) drives both alike.
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { agentTaskQueue } from '../../src/platform/definitions';
import { LaneWorkers } from '../../src/worker/worker';
import type { NoopActivities } from './noop-workflow';

export interface NoopWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  workflowBundle: WorkerOptions['workflowBundle'];
  activities: NoopActivities;
  tuning?: Partial<
    Pick<
      WorkerOptions,
      'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentActivityTaskExecutions'
    >
  >;
}

export class NoopWorker extends LaneWorkers {
  static async create(o: NoopWorkerOptions): Promise<NoopWorker> {
    const common = {
      connection: o.connection,
      namespace: o.namespace,
      workflowBundle: o.workflowBundle,
      activities: o.activities,
      ...o.tuning,
    };
    return new NoopWorker(
      await Worker.create({ ...common, taskQueue: o.taskQueue }),
      await Worker.create({ ...common, taskQueue: agentTaskQueue(o.taskQueue) }),
    );
  }
}

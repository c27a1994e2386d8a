// Wires the conversation workflow and the HubSpot activities into a Temporal worker.
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { HubSpotAccounts } from './hubspot/accounts';
import { DEFAULT_TASK_QUEUE } from './contract';

export interface ConversationWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  hubspot: HubSpotAccounts;
  /** A prebuilt workflow bundle (tests and production images); by default the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Payload encryption (see src/codec): the same one the platform's client uses. */
  dataConverter?: WorkerOptions['dataConverter'];
  /** Extra worker options (concurrency, tuning, interceptors). */
  tuning?: Partial<Omit<WorkerOptions, 'connection' | 'namespace' | 'taskQueue' | 'activities' | 'workflowsPath' | 'workflowBundle'>>;
}

export const workflowsPath = require.resolve('../workflows');

export function createConversationWorker(options: ConversationWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
    activities: createActivities({ hubspot: options.hubspot }),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    ...options.tuning,
  });
}

// Wires the conversation workflow and the HubSpot activities into a Temporal worker.
import { performance } from 'node:perf_hooks';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type Logger,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { HubSpotAccounts } from '../hubspot/accounts';
import type { AccountDirectory } from '../hubspot/directory';
import type { ReceiptRecorder } from '../action/receipt';
import { agentTaskQueue, DEFAULT_TASK_QUEUE } from '../platform/contract';
import type { WorkerBuild } from '../environment/config';
import { BundleLogger } from './logging';

export interface ConversationWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  hubspot: HubSpotAccounts;
  /** Where saved action configs are read (the account store); absent: each conversation's snapshot counts. */
  directory?: AccountDirectory;
  /** Where each run leaves its receipt (the account store's); absent: no receipts (docs/ACCOUNTS.md, "Receipts"). */
  receipts?: ReceiptRecorder;
  /** A prebuilt workflow bundle (tests and production images); by default the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Payload encryption (see src/codec): the same one the platform's client uses. */
  dataConverter?: WorkerOptions['dataConverter'];
  /**
   * Worker Versioning (docs/RELEASES.md): the worker deployment and build this worker is. Both SDK
   * workers (the workflows' queue and the agent's lane) poll as that build, and every conversation
   * is PINNED: it runs on the build that was current when it started until it completes. Absent:
   * unversioned (any worker takes any conversation; changes go behind `patched()`).
   */
  build?: WorkerBuild;
  /** Where the workflow bundle's build is logged (one summary line); default the Runtime's logger. */
  logger?: Logger;
  /** Extra worker options (concurrency, tuning, interceptors). */
  tuning?: Partial<
    Omit<
      WorkerOptions,
      | 'connection'
      | 'namespace'
      | 'taskQueue'
      | 'activities'
      | 'workflowsPath'
      | 'workflowBundle'
      | 'workerDeploymentOptions'
    >
  >;
}

export const workflowsPath = require.resolve('../../workflows');

/**
 * A task queue's two SDK workers, run and stopped together: the main lane and the agent's lane
 * (`<queue>-agent`). The conversation worker is one; the benchmarks' no-op worker is another.
 */
export class LaneWorkers {
  constructor(
    private readonly main: Worker,
    private readonly agent: Worker,
  ) {}

  /** Runs both until shutdown() (or a fatal error of either). */
  async run(): Promise<void> {
    const both = Promise.all([this.main.run(), this.agent.run()]);
    both.catch(() => this.shutdown());
    await both;
  }

  /** Runs both while fn runs, then shuts them down. */
  async runUntil<T>(fn: () => Promise<T>): Promise<T> {
    const running = this.run();
    try {
      return await fn();
    } finally {
      this.shutdown();
      await running;
    }
  }

  /** Stops polling; running activities finish first. */
  shutdown(): void {
    for (const w of [this.main, this.agent]) if (w.getState() === 'RUNNING') w.shutdown();
  }

  getState(): ReturnType<Worker['getState']> {
    return this.main.getState();
  }

  /** The workflows' worker's status (cached conversations, tasks in flight). */
  getStatus(): ReturnType<Worker['getStatus']> {
    return this.main.getStatus();
  }
}

/**
 * The worker of a conversation task queue: one SDK worker for the conversations nobody waits on and for
 * every offline sync, and one for the agent's lane (`<queue>-agent`): the conversations with an
 * in-conversation action and their in-conversation activities, so that an agent never waits in a queue,
 * or in this worker's own buffers, behind thousands of offline syncs. Both share the HubSpot accounts
 * (one pacer and one batcher per account). docs/TEMPORAL.md, "Priority and fairness".
 */
export class ConversationWorker extends LaneWorkers {
  static async create(options: ConversationWorkerOptions): Promise<ConversationWorker> {
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    const activities = createActivities({
      hubspot: options.hubspot,
      directory: options.directory,
      receipts: options.receipts,
    });
    const common = {
      connection: options.connection,
      namespace: options.namespace ?? 'default',
      ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
      ...options.tuning,
      // One deployment version for both lanes: a pinned conversation's agent activities go to the
      // agent lane of its own build (the server routes a version's activities to the same version when
      // that task queue belongs to it), and a build can only become current once it polls both queues.
      ...(options.build ? { workerDeploymentOptions: conversationDeploymentOptions(options.build) } : {}),
    };
    // Bundled once for both lanes.
    const workflowBundle =
      options.workflowBundle ?? (await bundleWorkflows(options.logger ?? Runtime.instance().logger));
    const main = await Worker.create({ ...common, taskQueue, workflowBundle, activities });
    // The agent's lane runs the conversations the agent can wait on (those with an in-conversation
    // action) and their in-conversation activities: its own slots and workflow threads, never filled by
    // a campaign's offline syncs.
    const agent = await Worker.create({ ...common, taskQueue: agentTaskQueue(taskQueue), workflowBundle, activities });
    return new ConversationWorker(main, agent);
  }
}

/** Bundles the workflows; webpack's report is summarised in one line ("workflow bundle built: 1.2 MB in 3.4 s"). */
async function bundleWorkflows(logger: Logger): Promise<{ code: string }> {
  const bundleLogger = new BundleLogger(logger);
  const started = performance.now();
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: bundleLogger });
  const { level, message } = bundleLogger.summary(Buffer.byteLength(bundle.code), performance.now() - started);
  logger.log(level, message, { source: 'bundle' });
  return bundle;
}

/** The SDK's deployment options of a conversation worker build: versioned, conversations PINNED. */
export function conversationDeploymentOptions(
  build: WorkerBuild,
): NonNullable<WorkerOptions['workerDeploymentOptions']> {
  return {
    version: { deploymentName: build.deploymentName, buildId: build.buildId },
    useWorkerVersioning: true,
    defaultVersioningBehavior: 'PINNED',
  };
}

export function createConversationWorker(options: ConversationWorkerOptions): Promise<ConversationWorker> {
  return ConversationWorker.create(options);
}

// The worker's log lines (formats, redaction of task tokens and credentials): logging.ts.
export { createWorkerLogger, redactLogText, safeLogMeta } from './logging';

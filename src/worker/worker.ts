// Wires the conversation workflow and the HubSpot activities into a Temporal worker.
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Worker,
  type LogLevel,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { HubSpotAccounts } from '../hubspot/accounts';
import type { AccountDirectory } from '../hubspot/directory';
import type { ReceiptRecorder } from '../action/receipt';
import { agentTaskQueue, DEFAULT_TASK_QUEUE } from '../platform/contract';
import type { WorkerBuild } from '../environment/config';

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
 * The worker of a conversation task queue: one SDK worker for the conversations nobody waits on and for
 * every offline sync, and one for the agent's lane (`<queue>-agent`): the conversations with an
 * in-conversation action and their in-conversation activities, so that an agent never waits in a queue,
 * or in this worker's own buffers, behind thousands of offline syncs. Both share the HubSpot accounts
 * (one pacer and one batcher per account). docs/TEMPORAL.md, "Priority and fairness".
 */
export class ConversationWorker {
  private constructor(
    private readonly main: Worker,
    private readonly agent: Worker,
  ) {}

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
      options.workflowBundle ?? (await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') }));
    const main = await Worker.create({ ...common, taskQueue, workflowBundle, activities });
    // The agent's lane runs the conversations the agent can wait on (those with an in-conversation
    // action) and their in-conversation activities: its own slots and workflow threads, never filled by
    // a campaign's offline syncs.
    const agent = await Worker.create({ ...common, taskQueue: agentTaskQueue(taskQueue), workflowBundle, activities });
    return new ConversationWorker(main, agent);
  }

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

// The worker's log lines. The SDK adds the activity's task token to its log attributes (and to some
// messages): a task token lets whoever holds it complete or fail that activity, so it never leaves the
// process. Bearer values and HubSpot private-app tokens are masked too, should one reach a message.
const TOKEN_KEYS = new Set([
  'taskToken',
  'base64TaskToken',
  'token',
  'authorization',
  'apiKey',
  'accessToken',
  'refreshToken',
]);
// Linear: no nested quantifiers; each alternative is a literal prefix followed by one bounded class.
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g, '$1 [redacted]'],
  [/\bpat-[a-z0-9]{2,6}-[0-9a-f-]{20,}/gi, '[redacted-token]'],
  // A task token is protobuf, base64 in logs: long runs of base64 characters.
  [/[A-Za-z0-9+/]{48,}={0,2}/g, '[redacted]'],
];

/** Masks token-like values in a log message. */
export function redactLogText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Log attributes without task tokens or other credentials; errors become {name, message}, masked. */
export function safeLogMeta(meta: Record<string, unknown> | undefined, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (TOKEN_KEYS.has(key)) continue;
    if (value instanceof Error) out[key] = { name: value.name, message: redactLogText(value.message) };
    else if (typeof value === 'string') out[key] = redactLogText(value);
    else if (value && typeof value === 'object' && !Array.isArray(value) && depth < 3)
      out[key] = safeLogMeta(value as Record<string, unknown>, depth + 1);
    else out[key] = value;
  }
  return out;
}

/**
 * The worker's logger for Runtime.install: one JSON object per line, task tokens and credentials
 * removed. No personal data is ever logged by the project (ids and outcomes only).
 */
export function createWorkerLogger(
  level: LogLevel = 'INFO',
  write: (line: string) => void = (line) => process.stdout.write(line),
): DefaultLogger {
  return new DefaultLogger(level, ({ level: entryLevel, message, meta, timestampNanos }) => {
    write(
      `${JSON.stringify({ time: new Date(Number(timestampNanos / 1_000_000n)).toISOString(), level: entryLevel, message: redactLogText(message), ...safeLogMeta(meta) })}\n`,
    );
  });
}

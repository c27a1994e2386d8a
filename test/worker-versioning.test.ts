// Releasing an incompatible workflow change through Worker Versioning (docs/RELEASES.md), on Temporal
// server 1.32 (the version production runs): build A of the worker deployment is current and
// conversation X starts on it; build B (a second, real worker whose workflow issues a command A's
// never does) is started and made current with the ops command; conversation Y starts on B. X gets
// more messages after B is current and still runs every workflow task on A, through its offline sync
// and its retention, until it completes; Y runs on B. Once X has
// completed, the ops status says A's workers may stop. Real time, short conversation timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { startTemporalServer, temporalServerMissing } from '../src/temporal-servers';
import { conversationSearchAttributes } from '../src/platform/search-attributes';
import { ConversationClient, type Conversation } from '../src/platform/client';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { createConversationWorker, workflowsPath, type ConversationWorker } from '../src/worker/worker';
import { deploymentStatus, makeBuildCurrent, type BuildStatus } from '../src/ops/releases';
import { startHubSpotEmulator } from '../hubspot-emulator';
import { ACME, action, conversation } from './helpers/conversation-harness';
import { workflowBundle } from './helpers/temporal-env';
import { skipUnless } from './helpers/skips';

const TITLE =
  'Worker Versioning on Temporal server 1.32: a conversation started on build A finishes on A after build B is made current, new ones start on B, and A is reported drained once its last conversation completed';
const missing = temporalServerMissing();
const skip = skipUnless(
  !missing,
  TITLE,
  missing ?? '',
  'install Go 1.21 or later, then npm run install-servers -- --only server',
);

const nextReleaseWorkflows = require.resolve('./fixtures/next-release-workflows');
const DEPLOYMENT = 'hubspot-contact-sync';
const BUILD_A = 'release-a';
const BUILD_B = 'release-b';
const { EventType, VersioningBehavior } = temporal.api.enums.v1;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test(TITLE, { skip, timeout: 5 * 60_000 }, async () => {
  const log = (line: string) => process.stderr.write(`[worker-versioning] ${line}\n`);
  const [bundleA, bundleB] = await Promise.all([workflowBundle(workflowsPath), workflowBundle(nextReleaseWorkflows)]);
  const server = await startTemporalServer({
    database: { kind: 'sqlite' },
    searchAttributes: conversationSearchAttributes,
    // The server checks a build's drainage 3 min after it stops being current, then every 3 min (its
    // defaults, kept in production): 1 s here, so that the test sees the check it relies on.
    dynamicConfig: {
      'matching.wv.VersionDrainageStatusVisibilityGracePeriod': '1s',
      'matching.wv.VersionDrainageStatusRefreshInterval': '1s',
    },
    log,
  });
  const emulator = await startHubSpotEmulator({ port: 0, accounts: [ACME] });
  const hubspot = new HubSpotAccounts([emulator.connection(ACME)]);
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const taskQueue = 'versioned-conversations';
  const platform = new ConversationClient({ client, taskQueue, findLegacyConversations: false });
  const workers: Array<{ worker: ConversationWorker; running: Promise<void> }> = [];
  const startBuild = async (buildId: string, workflowBundleOfBuild: typeof bundleA) => {
    const worker = await createConversationWorker({
      connection: native,
      taskQueue,
      hubspot,
      workflowBundle: workflowBundleOfBuild,
      build: { deploymentName: DEPLOYMENT, buildId },
      // Which worker ran an activity: its identity is in the history.
      tuning: { identity: `worker-of-${buildId}` },
    });
    workers.push({ worker, running: worker.run() });
  };
  // A conversation lives 20 s without messages, then its offline sync runs, then 3 s of retention.
  const options = { inactivityTimeoutMs: 20_000, retentionMs: 3_000 };
  const live = action({ id: 'live-upsert', offlineSync: false });
  const x: Conversation = { ...conversation('chat', [action(), live]), options };
  const y: Conversation = { ...conversation('chat', [action()]), options };
  const statusOf = async (buildId: string): Promise<BuildStatus | undefined> =>
    (await deploymentStatus(client, DEPLOYMENT)).builds.find((b) => b.buildId === buildId);
  const pinnedTo = async (c: Conversation) => {
    const { raw } = await platform.handle(c).describe();
    const v = raw.workflowExecutionInfo?.versioningInfo;
    return {
      behavior: v?.behavior,
      buildId: v?.deploymentVersion?.buildId,
      deploymentName: v?.deploymentVersion?.deploymentName,
    };
  };
  /** The build of every completed workflow task of every run of a conversation, and its failed tasks. */
  const tasksOf = async (c: Conversation) => {
    const workflowId = platform.handle(c).workflowId;
    const builds: string[] = [];
    const activityWorkers: string[] = [];
    const activityQueues: string[] = [];
    let failed = 0;
    let runs = 0;
    for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runs++;
      const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
      for (const e of history.events ?? []) {
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
          builds.push(e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? '(unversioned)');
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) failed++;
        if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
          activityQueues.push(e.activityTaskScheduledEventAttributes?.taskQueue?.name ?? '');
        if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
          activityWorkers.push(e.activityTaskStartedEventAttributes?.identity ?? '');
      }
    }
    return { builds, failed, runs, activityWorkers, activityQueues };
  };
  try {
    // Release A: its worker polls, the ops command makes it current (unversioned before).
    await startBuild(BUILD_A, bundleA);
    const first = await makeBuildCurrent(client, DEPLOYMENT, BUILD_A, { waitMs: 60_000, log });
    assert.equal(first.previousBuildId, undefined, 'no build was current before A');

    await platform.recordMessage(x, {
      from: 'customer',
      fields: { email: 'x.versioned@example.com', first_name: 'Xavier' },
    });
    // Its first workflow task ran (a query answers) and pinned it to A.
    await until('conversation X answers', 30_000, async () =>
      (await platform.getState(x))?.messageCount === 1 ? true : undefined,
    );
    assert.deepEqual(await pinnedTo(x), {
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      buildId: BUILD_A,
      deploymentName: DEPLOYMENT,
    });

    // Release B: a second worker with another build id and another workflow, made current.
    await startBuild(BUILD_B, bundleB);
    const second = await makeBuildCurrent(client, DEPLOYMENT, BUILD_B, { waitMs: 60_000, log });
    assert.equal(second.previousBuildId, BUILD_A);

    await platform.recordMessage(y, {
      from: 'customer',
      fields: { email: 'y.versioned@example.com', first_name: 'Yvonne' },
    });
    await until('conversation Y answers', 30_000, async () =>
      (await platform.getState(y))?.messageCount === 1 ? true : undefined,
    );
    assert.deepEqual(await pinnedTo(y), {
      behavior: VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      buildId: BUILD_B,
      deploymentName: DEPLOYMENT,
    });
    assert.equal((await platform.handle(y).describe()).memo?.release, 'next', "Y runs the next release's workflow");

    // X gets a message after B is current: it is still A's.
    await platform.recordMessage(x, { from: 'customer', fields: { phone: '+33 6 12 34 56 78' } });
    await until('conversation X takes its second message', 30_000, async () =>
      (await platform.getState(x))?.messageCount === 2 ? true : undefined,
    );
    // ...and an in-conversation run: its activities go to the agent lane of A.
    const run = await platform.runAction(x, { actionId: live.id, summary: 'Asked for a callback.' });
    assert.equal(run.result, 'created', `X's in-conversation run: ${JSON.stringify(run)}`);
    assert.equal((await pinnedTo(x)).buildId, BUILD_A);
    assert.equal(
      (await platform.handle(x).describe()).memo?.release,
      undefined,
      "X never ran the next release's workflow",
    );

    // While X runs, A is draining: its workers must stay.
    const draining = await until('A counted with X running on it', 30_000, async () => {
      const a = await statusOf(BUILD_A);
      return a && a.runningPinned === 1 ? a : undefined;
    });
    assert.equal(draining.mayStop, false);
    assert.match(draining.why, /1 conversation\(s\) still running pinned to it/);
    const b = await statusOf(BUILD_B);
    assert.equal(b?.status, 'current');
    assert.equal(b?.mayStop, false);

    // X ends (20 s without messages), syncs offline on A, stays dormant for its retention, completes.
    const result = await platform.result(x);
    assert.equal(result.status, 'ended');
    const synced = result.outcomes[action().id]?.at(-1);
    assert.equal(
      synced?.result === 'created' || synced?.result === 'updated',
      true,
      `X's offline sync: ${JSON.stringify(synced)}`,
    );
    const contact = emulator.contacts(ACME.accountId).find((c) => c.properties.email === 'x.versioned@example.com');
    assert.equal(
      contact?.properties.phone,
      '+33 6 12 34 56 78',
      'X synced the value of the message it got after B became current',
    );
    const xTasks = await tasksOf(x);
    log(
      `X: ${xTasks.runs} run(s), ${xTasks.builds.length} workflow tasks, on ${[...new Set(xTasks.builds)].join(', ')}`,
    );
    assert.ok(xTasks.builds.length >= 4);
    assert.deepEqual([...new Set(xTasks.builds)], [BUILD_A], 'every workflow task of every run of X ran on build A');
    assert.equal(xTasks.failed, 0);
    assert.ok(
      xTasks.activityQueues.includes(`${taskQueue}-agent`) && xTasks.activityQueues.includes(taskQueue),
      `X's activities on both lanes: ${xTasks.activityQueues.join(', ')}`,
    );
    assert.deepEqual(
      [...new Set(xTasks.activityWorkers)],
      [`worker-of-${BUILD_A}`],
      'every activity of X, on both lanes, ran on a worker of build A',
    );
    const yTasks = await tasksOf(y);
    assert.deepEqual([...new Set(yTasks.builds)], [BUILD_B], 'every workflow task of Y ran on build B');

    // Drained: the ops status says A's workers may stop; B, current, keeps its own.
    const drained = await until('A reported drained', 60_000, async () => {
      const a = await statusOf(BUILD_A);
      return a?.mayStop ? a : undefined;
    });
    log(`A after X completed: ${drained.status}, ${drained.why}`);
    assert.equal(drained.status, 'drained');
    assert.equal(drained.runningPinned, 0);
    assert.equal((await statusOf(BUILD_B))?.mayStop, false);
  } finally {
    await platform
      .handle(y)
      .terminate('test finished')
      .catch(() => undefined);
    for (const { worker } of workers) worker.shutdown();
    await Promise.allSettled(workers.map((w) => w.running));
    await native.close();
    await connection.close();
    await emulator.close();
    await server.close();
  }
});

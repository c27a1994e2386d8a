// Releases through Worker Versioning (docs/RELEASES.md): which build of the worker deployment new
// conversations start on, and which older builds still have conversations pinned to them.
// Temporal server 1.28 or later (deployments are on by default from 1.28; production runs 1.32).
import { hostname } from 'node:os';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { OperatorError } from './operator';

const { VersionDrainageStatus, WorkerDeploymentVersionStatus, RoutingConfigUpdateState } = temporal.api.enums.v1;

/** gRPC status codes the deployment calls answer with while a build is not (yet) usable. */
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;

export interface BuildStatus {
  buildId: string;
  /** The server's word for it: current, ramping, draining (conversations may still be pinned to it), drained, inactive (never current), created. */
  status: 'current' | 'ramping' | 'draining' | 'drained' | 'inactive' | 'created' | 'unknown';
  /** Conversations running pinned to this build, counted now (visibility). */
  runningPinned: number;
  /** When the server last checked its drainage (it rechecks every `matching.wv.VersionDrainageStatusRefreshInterval`, 3 min by default). */
  drainageCheckedAt?: Date;
  createdAt?: Date;
  /** Whether its workers may be stopped now, and why (or why not). */
  mayStop: boolean;
  why: string;
}

export interface DeploymentStatus {
  namespace: string;
  deploymentName: string;
  /** The build new conversations start on; undefined: the unversioned workers. */
  currentBuildId?: string;
  rampingBuildId?: string;
  rampingPercentage?: number;
  /** Newest first. */
  builds: BuildStatus[];
}

const STATUS_NAMES: Record<number, BuildStatus['status']> = {
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT]: 'current',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING]: 'ramping',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING]: 'draining',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED]: 'drained',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE]: 'inactive',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED]: 'created',
};

function dateOf(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): Date | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

function codeOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number'
    ? (err as { code: number }).code
    : undefined;
}

/** The visibility query of the conversations running pinned to a build (the server's own drainage query). */
export function runningPinnedQuery(deploymentName: string, buildId: string): string {
  const quote = (v: string) => v.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return `TemporalWorkerDeploymentVersion = '${quote(deploymentName)}:${quote(buildId)}' AND TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'`;
}

/** The deployment's builds: which one is current, and for each older one whether its workers may stop. */
export async function deploymentStatus(client: Client, deploymentName: string): Promise<DeploymentStatus> {
  const namespace = client.options.namespace;
  let info;
  try {
    ({ workerDeploymentInfo: info } = await client.connection.workflowService.describeWorkerDeployment({
      namespace,
      deploymentName,
    }));
  } catch (err) {
    if (codeOf(err) === NOT_FOUND) {
      throw new OperatorError(
        `worker deployment "${deploymentName}" does not exist in namespace ${namespace}: no worker with TEMPORAL_DEPLOYMENT_NAME=${deploymentName} has polled yet`,
      );
    }
    throw err;
  }
  const routing = info?.routingConfig;
  const currentBuildId = routing?.currentDeploymentVersion?.buildId || undefined;
  const rampingBuildId = routing?.rampingDeploymentVersion?.buildId || undefined;
  const builds: BuildStatus[] = [];
  for (const summary of info?.versionSummaries ?? []) {
    const buildId = summary.deploymentVersion?.buildId ?? '';
    if (!buildId) continue;
    const status = STATUS_NAMES[summary.status ?? 0] ?? 'unknown';
    const { count } = await client.workflow.count(runningPinnedQuery(deploymentName, buildId));
    const serverDrained =
      (summary.drainageInfo?.status ?? summary.drainageStatus) ===
      VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED;
    let mayStop = false;
    let why: string;
    if (buildId === currentBuildId || status === 'current') why = 'current: new conversations start on it';
    else if (buildId === rampingBuildId || status === 'ramping') why = 'ramping: some new conversations start on it';
    else if (count > 0) why = `${count} conversation(s) still running pinned to it`;
    else if (status === 'draining')
      why =
        'no conversation counted as running on it, but the server has not confirmed it drained yet (it rechecks every few minutes)';
    else if (serverDrained || status === 'drained') {
      mayStop = true;
      why = 'drained: every conversation pinned to it has completed';
    } else if (status === 'inactive' || status === 'created') {
      mayStop = true;
      why = 'never current: no conversation started on it';
    } else why = `status ${status}`;
    builds.push({
      buildId,
      status,
      runningPinned: count,
      drainageCheckedAt: dateOf(summary.drainageInfo?.lastCheckedTime),
      createdAt: dateOf(summary.createTime),
      mayStop,
      why,
    });
  }
  builds.sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
  return {
    namespace,
    deploymentName,
    currentBuildId,
    rampingBuildId,
    rampingPercentage: rampingBuildId ? (routing?.rampingVersionPercentage ?? undefined) : undefined,
    builds,
  };
}

export interface MakeCurrentOptions {
  /** How long to wait for the build's workers to poll both task queues (the server refuses a build that does not yet). Default 60 s. */
  waitMs?: number;
  log?: (line: string) => void;
}

/**
 * Makes a build the deployment's current one: conversations started from now on run on it; those
 * running stay on the build they started on. Waits (up to `waitMs`) for the build's workers to have
 * polled every task queue of the deployment, then until the routing change has reached every task
 * queue. Returns the build that was current before (undefined: the unversioned workers).
 */
export async function makeBuildCurrent(
  client: Client,
  deploymentName: string,
  buildId: string,
  options: MakeCurrentOptions = {},
): Promise<{ previousBuildId?: string }> {
  const namespace = client.options.namespace;
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  const identity = `npm run ops release make-current@${hostname()}`;
  let previousBuildId: string | undefined;
  let said = false;
  for (;;) {
    try {
      const response = await client.connection.workflowService.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName,
        buildId,
        identity,
      });
      previousBuildId = response.previousDeploymentVersion?.buildId || undefined;
      break;
    } catch (err) {
      const code = codeOf(err);
      if ((code !== NOT_FOUND && code !== FAILED_PRECONDITION) || Date.now() > deadline) {
        const detail = (err as Error).message;
        throw new OperatorError(
          code === NOT_FOUND || code === FAILED_PRECONDITION
            ? `build ${buildId} of worker deployment "${deploymentName}" cannot be made current: ${detail}. Its workers (TEMPORAL_DEPLOYMENT_NAME=${deploymentName} TEMPORAL_WORKER_BUILD_ID=${buildId}) must be running and polling every task queue the current build polls`
            : `build ${buildId} of worker deployment "${deploymentName}" could not be made current: ${detail}`,
        );
      }
      if (!said) options.log?.(`waiting for build ${buildId}'s workers to poll (${(err as Error).message})`);
      said = true;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  // The routing change reaches each task queue's partitions asynchronously: done when the server says so.
  for (;;) {
    const { workerDeploymentInfo } = await client.connection.workflowService.describeWorkerDeployment({
      namespace,
      deploymentName,
    });
    if (
      workerDeploymentInfo?.routingConfigUpdateState !==
      RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_IN_PROGRESS
    )
      break;
    if (Date.now() > deadline) {
      options.log?.(`build ${buildId} is current; the change is still reaching some task queues`);
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { previousBuildId };
}

/** The status as the ops command prints it. */
export function formatDeploymentStatus(s: DeploymentStatus): string {
  const lines = [
    `worker deployment "${s.deploymentName}" (namespace ${s.namespace}): new conversations start on ${s.currentBuildId ? `build ${s.currentBuildId}` : 'the unversioned workers'}${s.rampingBuildId ? `, ${s.rampingPercentage ?? 0}% on build ${s.rampingBuildId}` : ''}`,
  ];
  for (const b of s.builds) {
    lines.push(
      `  ${b.buildId}: ${b.status}, ${b.runningPinned} running pinned, ${b.mayStop ? 'workers may stop' : 'keep its workers'} (${b.why})${b.drainageCheckedAt ? `; drainage checked ${b.drainageCheckedAt.toISOString()}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

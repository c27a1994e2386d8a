// The Temporal side of the benchmarks: a Temporal CLI dev server (real time, in-memory database) and
// workflow bundles built without webpack's chatter.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { conversationSearchAttributes } from '../../src/platform/search-attributes';
import type { ServerChoice } from '../../src/temporal-servers';

/**
 * Starts the dev server `choice` names (devServer() of src/temporal-servers) with the conversation search
 * attributes; `eagerActivities` turns on its eager activity execution (off by default, as in the dev server).
 */
export function startDevServer(choice: ServerChoice, eagerActivities = false): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: choice.executable,
      searchAttributes: conversationSearchAttributes,
      log: { format: 'pretty', level: 'error' },
      ...(eagerActivities ? { extraArgs: ['--dynamic-config-value', 'system.enableActivityEagerExecution=true'] } : {}),
    },
  });
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never;

/** The workflow bundle of `workflowsPath`. */
export function bundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quiet });
}

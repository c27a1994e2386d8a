// One Temporal server of each kind per test run, shared by every test file: the whole suite runs in one
// process (see test/all.ts), and each server starts on first use and stops after the last test.
import { after } from 'node:test';
import { freePort } from '../../src/worker/net';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { devServer, timeSkippingServer } from '../../src/temporal-servers';
import { conversationSearchAttributes } from '../../src/platform/search-attributes';

// Workers log state changes at INFO; tests only want to hear about problems. TEST_LOG_LEVEL=INFO shows them.
Runtime.install({ logger: new DefaultLogger((process.env.TEST_LOG_LEVEL as 'WARN' | undefined) ?? 'WARN') });

let timeSkipping: Promise<TestWorkflowEnvironment> | undefined;
let local: Promise<{ env: TestWorkflowEnvironment; uiPort: number }> | undefined;
const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

function progress(line: string): void {
  process.stderr.write(`[test-env] ${line}\n`);
}

export { freePort };

/** The time-skipping test environment (Temporal's Java test server). */
export function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  timeSkipping ??= (async () => {
    const choice = timeSkippingServer();
    const start = Date.now();
    progress(`starting ${choice.source}`);
    // The Java test server (grpc-java defaults) answers client keepalive pings more frequent than every
    // 5 minutes with GOAWAY "too many pings"; the client's default is a ping every 30 s, so a long suite
    // sees its connection dropped and re-opened mid-call. The environment offers no channel options, so
    // its client connection is opened with keepalive pings off (loopback needs none).
    const connect = Connection.connect.bind(Connection);
    Connection.connect = (options) =>
      connect({
        ...options,
        channelArgs: {
          ...options?.channelArgs,
          'grpc.keepalive_time_ms': 2 ** 31 - 1,
          'grpc.keepalive_permit_without_calls': 0,
        },
      });
    let env: TestWorkflowEnvironment;
    try {
      env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: choice.executable } });
    } finally {
      Connection.connect = connect;
    }
    // The test server starts without custom search attributes; the dev server gets them at start instead.
    const indexedType = { KEYWORD: 2, KEYWORD_LIST: 7 } as const;
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(
        conversationSearchAttributes.map((k) => [k.name, indexedType[k.type as keyof typeof indexedType]]),
      ),
    });
    progress(`time-skipping server ready on ${env.address} in ${Date.now() - start} ms`);
    return env;
  })();
  return timeSkipping;
}

/** The local dev server (Temporal CLI) with its Web UI and the project's search attributes registered. */
export function localEnv(): Promise<{ env: TestWorkflowEnvironment; uiPort: number }> {
  local ??= (async () => {
    const choice = devServer();
    const uiPort = await freePort();
    const start = Date.now();
    progress(`starting ${choice.source}`);
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: choice.executable,
        ui: true,
        uiPort,
        searchAttributes: conversationSearchAttributes,
        log: { format: 'pretty', level: 'error' },
      },
    });
    progress(`dev server ready on ${env.address} (Web UI on http://127.0.0.1:${uiPort}) in ${Date.now() - start} ms`);
    return { env, uiPort };
  })();
  return local;
}

/** Workflow bundles are built once per path and reused by every worker of the run. */
export function workflowBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never,
    });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

after(async () => {
  const envs = await Promise.allSettled([timeSkipping, local?.then((l) => l.env)]);
  for (const r of envs) {
    if (r.status === 'fulfilled' && r.value) await r.value.teardown();
  }
});

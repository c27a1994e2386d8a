// The Temporal side of the benchmarks: the server they run on and workflow bundles built without
// webpack's chatter. By default Temporal server 1.32, the version production runs (src/temporal-servers/
// server.ts: SQLite in memory, the conversation search attributes, `matching.enableFairness` on, so that
// task priority and fairness keys apply); `--dev-server` runs the Temporal CLI dev server instead (server
// 1.29.1, in-memory database), the server of the figures measured before 2026-12.
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { conversationSearchAttributes } from '../../src/platform/search-attributes';
import { devServer, startTemporalServer, temporalServerMissing, type ServerChoice } from '../../src/temporal-servers';
import { childPid } from './machine';
import { has } from './options';

/** `--dev-server`: the Temporal CLI dev server instead of Temporal server 1.32. */
export const DEV_SERVER = has('dev-server');

/** The dynamic config the benchmarks run server 1.32 with (fairness is off by default in 1.32; the priority matcher is on). */
export const SERVER_DYNAMIC_CONFIG = { 'matching.enableFairness': true } as const;

/** A running Temporal server, whichever it is. */
export interface BenchServer {
  /** What ran, for the report: "Temporal server 1.32.2 (SQLite in memory, matching.enableFairness on)". */
  label: string;
  address: string;
  namespace: string;
  connection: Connection;
  nativeConnection: NativeConnection;
  /** The server's process, for the CPU meters. */
  pid?: number;
  teardown(): Promise<void>;
}

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

/**
 * Starts the benchmarks' Temporal server: server 1.32 on SQLite in memory with fairness on, or with
 * `--dev-server` the CLI dev server. Says how to install server 1.32 when it is missing.
 */
export async function startBenchServer(opts: {
  eagerActivities?: boolean;
  log: (line: string) => void;
}): Promise<BenchServer> {
  const eager = opts.eagerActivities ?? false;
  if (DEV_SERVER) {
    const choice = devServer();
    opts.log(`starting ${choice.source}`);
    const env = await startDevServer(choice, eager);
    const version = (await env.connection.workflowService.getSystemInfo({})).serverVersion;
    return {
      label: `Temporal CLI dev server (server ${version}, in-memory database, eager activity execution ${eager ? 'on' : 'off'}; --dev-server)`,
      address: env.address,
      namespace: env.namespace ?? 'default',
      connection: env.connection,
      nativeConnection: env.nativeConnection,
      pid: childPid(/start-dev/),
      teardown: () => env.teardown(),
    };
  }
  const missing = temporalServerMissing();
  if (missing) throw new Error(`${missing}; or run the benchmark on the Temporal CLI dev server with --dev-server`);
  const server = await startTemporalServer({
    database: { kind: 'sqlite' },
    searchAttributes: conversationSearchAttributes.map((sa) => ({ name: sa.name, type: sa.type })),
    dynamicConfig: { ...SERVER_DYNAMIC_CONFIG, ...(eager ? { 'system.enableActivityEagerExecution': true } : {}) },
    logLevel: 'error',
    log: opts.log,
  });
  try {
    const connection = await Connection.connect({ address: server.address });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const version = (await connection.workflowService.getSystemInfo({})).serverVersion;
    return {
      label: `Temporal server ${version} (SQLite in memory, matching.enableFairness on, eager activity execution ${eager ? 'on' : 'off'})`,
      address: server.address,
      namespace: server.namespace,
      connection,
      nativeConnection,
      pid: childPid(/temporal-server.*--config-file/),
      async teardown() {
        await nativeConnection.close().catch(() => undefined);
        await connection.close().catch(() => undefined);
        await server.close();
      },
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never;

/** The workflow bundle of `workflowsPath`. */
export function bundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quiet });
}

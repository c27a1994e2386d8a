// Where the Temporal servers installed by scripts/install-temporal-servers.ts live, and how the SDK
// is pointed at them. When a server is not installed, the SDK's own download is used instead
// (that needs the internet).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

/** Maven Central: io.temporal:temporal-test-server (time-skipping test server). */
export const TEST_SERVER_VERSION = '1.38.0';
/** Go module github.com/temporalio/cli (dev server with the Web UI). Later tags carry replace directives that `go install` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** Go module go.temporal.io/server: the server production runs (docker-compose.yml), `cmd/server` and the schema tool `cmd/tools/sql`. */
export const TEMPORAL_SERVER_VERSION = 'v1.32.2';
/** Go module github.com/temporalio/ui-server/v2: the Web UI docker-compose.yml runs (image temporalio/ui of the same version). */
export const TEMPORAL_UI_VERSION = 'v2.54.1';
/** The server's module asks for Go 1.26.10: older Go switches to this toolchain (taken from the Go module proxy) through GOTOOLCHAIN. */
export const SERVER_GO_TOOLCHAIN = 'go1.27.3';

export type EphemeralServerExecutable = NonNullable<
  NonNullable<NonNullable<Parameters<typeof TestWorkflowEnvironment.createLocal>[0]>['server']>['executable']
>;

export const repoRoot = resolve(__dirname, '..', '..');

export function serverPaths() {
  const root = process.env.TEMPORAL_SERVERS_DIR || join(repoRoot, '.cache', 'temporal');
  const testServerDir = join(root, `test-server-${TEST_SERVER_VERSION}`);
  const cliBinDir = join(root, `cli-${TEMPORAL_CLI_VERSION}`, 'bin');
  const serverBinDir = join(root, `server-${TEMPORAL_SERVER_VERSION}`, 'bin');
  return {
    root,
    testServer: {
      dir: testServerDir,
      launcher: join(testServerDir, 'temporal-test-server'),
      marker: join(testServerDir, '.installed'),
    },
    cli: {
      binDir: cliBinDir,
      binary: join(cliBinDir, 'temporal'),
      marker: join(cliBinDir, '.installed'),
    },
    server: {
      binDir: serverBinDir,
      server: join(serverBinDir, 'temporal-server'),
      sqlTool: join(serverBinDir, 'temporal-sql-tool'),
      ui: join(serverBinDir, 'temporal-ui-server'),
      marker: join(serverBinDir, '.installed'),
    },
  };
}

/** `test-server`: the time-skipping test server; `cli`: the Temporal CLI dev server; `server`: Temporal server 1.32 with its schema tool and Web UI. */
export type ServerName = 'test-server' | 'cli' | 'server';

/** What a server's marker file holds when it is installed whole at the versions this project uses. */
export function installedMarker(server: ServerName): string {
  if (server === 'test-server') return TEST_SERVER_VERSION;
  if (server === 'cli') return TEMPORAL_CLI_VERSION;
  return `${TEMPORAL_SERVER_VERSION} ui ${TEMPORAL_UI_VERSION}`;
}

/** Whether a server is installed here, whole and at the version this project uses (its marker file names it). */
export function isInstalled(server: ServerName): boolean {
  const paths = serverPaths();
  const [marker, files] =
    server === 'test-server'
      ? [paths.testServer.marker, [paths.testServer.launcher]]
      : server === 'cli'
        ? [paths.cli.marker, [paths.cli.binary]]
        : [paths.server.marker, [paths.server.server, paths.server.sqlTool, paths.server.ui]];
  return (
    existsSync(marker) &&
    files.every((f) => existsSync(f)) &&
    readFileSync(marker, 'utf8').trim() === installedMarker(server)
  );
}

export interface ServerChoice {
  executable: EphemeralServerExecutable;
  /** Human-readable origin, for progress output. */
  source: string;
}

function choose(server: ServerName, path: string, name: string): ServerChoice {
  if (isInstalled(server)) return { executable: { type: 'existing-path', path }, source: `${name} at ${path}` };
  return {
    executable: { type: 'cached-download' },
    source: `${name} from the SDK's download (not installed locally: installing it needs Java 17 + Maven for the test server, Go for the CLI)`,
  };
}

/** The time-skipping test server: the installed one, else the SDK's download. */
export function timeSkippingServer(): ServerChoice {
  return choose('test-server', serverPaths().testServer.launcher, 'time-skipping test server');
}

/** The Temporal CLI dev server: the installed one, else the SDK's download. */
export function devServer(): ServerChoice {
  return choose('cli', serverPaths().cli.binary, 'Temporal CLI dev server');
}

// Temporal server 1.32 for tests and benchmarks: on SQLite or PostgreSQL, with dynamic config (./server.ts).
export { applyPostgresSchema, startTemporalServer, temporalServerMissing, TemporalServer } from './server';
export type { DynamicConfig, SearchAttributeSpec, TemporalServerDatabase, TemporalServerOptions } from './server';
// The installed CLI dev server, watched so that a failed start shows the server's own error (./dev-server.ts).
export { startDevServer } from './dev-server';
export type { DevServerOptions, RunningDevServer } from './dev-server';

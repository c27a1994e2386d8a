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

export type EphemeralServerExecutable = NonNullable<
  NonNullable<NonNullable<Parameters<typeof TestWorkflowEnvironment.createLocal>[0]>['server']>['executable']
>;

export const repoRoot = resolve(__dirname, '..', '..');

export function serverPaths() {
  const root = process.env.TEMPORAL_SERVERS_DIR || join(repoRoot, '.cache', 'temporal');
  const testServerDir = join(root, `test-server-${TEST_SERVER_VERSION}`);
  const cliBinDir = join(root, `cli-${TEMPORAL_CLI_VERSION}`, 'bin');
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
  };
}

export type ServerName = 'test-server' | 'cli';

/** Whether a server is installed here, whole and at the version this project uses (its marker file names it). */
export function isInstalled(server: ServerName): boolean {
  const paths = serverPaths();
  const [marker, file, version] =
    server === 'test-server'
      ? [paths.testServer.marker, paths.testServer.launcher, TEST_SERVER_VERSION]
      : [paths.cli.marker, paths.cli.binary, TEMPORAL_CLI_VERSION];
  return existsSync(marker) && existsSync(file) && readFileSync(marker, 'utf8').trim() === version;
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

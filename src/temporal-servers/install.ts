// Installs Temporal's real servers from package registries into the ignored cache folder (see ./index.ts):
//   - the time-skipping test server: Maven Central io.temporal:temporal-test-server, with a launcher;
//   - the Temporal CLI dev server with its Web UI: `go install` from the Go module proxy.
// Idempotent (a marker file per server, checked in well under a second), safe when two processes install
// at once (each builds in its own folder and renames it into place), and it prints progress while a
// toolchain works. A missing toolchain is not an error unless `strict`: the SDK's own download stays the
// fallback on machines with the internet.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TEMPORAL_CLI_VERSION, TEST_SERVER_VERSION, serverPaths } from './index';

export type ServerName = 'test-server' | 'cli';
export const SERVER_NAMES: readonly ServerName[] = ['test-server', 'cli'];

export interface InstallOptions {
  /** Which servers (default both). */
  only?: readonly ServerName[];
  /** Fail when a server cannot be installed (missing toolchain or a failed build). */
  strict?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** How often a still-running toolchain step reports that it is alive. Default 15 s. */
  tickMs?: number;
  /** Also say which servers were already installed. */
  announceInstalled?: boolean;
}

export interface InstallReport {
  /** Installed before or by this call. */
  installed: ServerName[];
  /** Not installed: each with the reason (the SDK's download is then used). */
  missing: Array<{ server: ServerName; reason: string }>;
}

export function isInstalled(server: ServerName): boolean {
  const paths = serverPaths();
  const [marker, file, version] =
    server === 'test-server'
      ? [paths.testServer.marker, paths.testServer.launcher, TEST_SERVER_VERSION]
      : [paths.cli.marker, paths.cli.binary, TEMPORAL_CLI_VERSION];
  return existsSync(marker) && existsSync(file) && readFileSync(marker, 'utf8').trim() === version;
}

function has(cmd: string, versionArg: string): boolean {
  return spawnSync(cmd, [versionArg], { stdio: 'ignore' }).status === 0;
}

const seconds = (start: number) => ((Date.now() - start) / 1000).toFixed(0);

/** Runs a toolchain command, its output passed through (to stderr), with a progress line every tick while it runs. */
function run(cmd: string, args: string[], what: string, opts: { env?: NodeJS.ProcessEnv; log: (l: string) => void; tickMs: number }): Promise<void> {
  const start = Date.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    // The toolchain's own lines pass through, without the colour codes some Maven versions print even in batch mode.
    const pass = (to: NodeJS.WriteStream) => (chunk: Buffer) => {
      const text = chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      if (text.trim()) to.write(text);
    };
    child.stdout!.on('data', pass(process.stderr));
    child.stderr!.on('data', pass(process.stderr));
    const tick = setInterval(() => opts.log(`${what}: still working (${seconds(start)} s)`), opts.tickMs);
    const done = (err?: Error) => {
      clearInterval(tick);
      if (err) reject(err);
      else resolveRun();
    };
    child.once('error', (err) => done(new Error(`${cmd}: ${err.message}`)));
    child.once('exit', (code, signal) => done(code === 0 ? undefined : new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}`)));
  });
}

/** A private folder beside `dir` to build in; renamed to `dir` when complete. */
function scratch(dir: string): string {
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return tmp;
}

function moveIntoPlace(tmp: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(tmp, dir);
  } catch (err) {
    // Another process finished the same install first: keep its copy.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir)) throw err;
  }
}

async function installTestServer(log: (l: string) => void, tickMs: number): Promise<void> {
  const { dir } = serverPaths().testServer;
  const what = `time-skipping test server ${TEST_SERVER_VERSION}`;
  const start = Date.now();
  log(`${what}: resolving io.temporal:temporal-test-server and its runtime dependencies from Maven Central (10–30 s)...`);
  const tmp = scratch(dir);
  try {
    // A throwaway POM whose only job is to let Maven resolve the artifact's runtime classpath.
    writeFileSync(
      join(tmp, 'pom.xml'),
      `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.temporal</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`,
    );
    await run('mvn', ['-B', '-q', '-Dstyle.color=never', '-f', join(tmp, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${join(tmp, 'lib')}`], what, { log, tickMs });
    const launcher = join(tmp, 'temporal-test-server');
    writeFileSync(
      launcher,
      `#!/usr/bin/env bash
# Temporal time-skipping test server ${TEST_SERVER_VERSION}. Usage: $0 <port> [--enable-time-skipping]
here="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
exec java \${TEMPORAL_TEST_SERVER_JAVA_OPTS:--Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
`,
    );
    chmodSync(launcher, 0o755);
    writeFileSync(join(tmp, '.installed'), `${TEST_SERVER_VERSION}\n`);
    moveIntoPlace(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`${what}: installed at ${serverPaths().testServer.launcher} in ${seconds(start)} s`);
}

async function installCli(log: (l: string) => void, tickMs: number): Promise<void> {
  const { binDir } = serverPaths().cli;
  const dir = dirname(binDir);
  const what = `Temporal CLI ${TEMPORAL_CLI_VERSION}`;
  const start = Date.now();
  log(`${what}: building the dev server and Web UI with go install from the Go module proxy (a cold build takes 2–4 minutes; once only)...`);
  const tmp = scratch(dir);
  try {
    const tmpBin = join(tmp, 'bin');
    mkdirSync(tmpBin, { recursive: true });
    await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], what, { env: { ...process.env, GOBIN: tmpBin }, log, tickMs });
    writeFileSync(join(tmpBin, '.installed'), `${TEMPORAL_CLI_VERSION}\n`);
    moveIntoPlace(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`${what}: installed at ${serverPaths().cli.binary} in ${seconds(start)} s`);
}

const INSTALLERS: Record<ServerName, { label: string; toolchain: () => string | undefined; install: (log: (l: string) => void, tickMs: number) => Promise<void>; fallback: string }> = {
  'test-server': {
    label: `time-skipping test server ${TEST_SERVER_VERSION}`,
    toolchain: () => (has('java', '-version') && has('mvn', '-v') ? undefined : 'Java 17 and Maven are needed to install it from Maven Central'),
    install: installTestServer,
    fallback: "the tests fall back to the SDK's download, which needs the internet",
  },
  cli: {
    label: `Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    toolchain: () => (has('go', 'version') ? undefined : 'Go is needed to build it from the Go module proxy'),
    install: installCli,
    fallback: "the dev server falls back to the SDK's download, which needs the internet",
  },
};

/** Installs the servers that are missing; a server already installed costs a file check. */
export async function ensureTemporalServers(options: InstallOptions = {}): Promise<InstallReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[temporal-servers] ${line}\n`));
  const tickMs = options.tickMs ?? 15_000;
  const report: InstallReport = { installed: [], missing: [] };
  for (const server of options.only ?? SERVER_NAMES) {
    const { label, toolchain, install, fallback } = INSTALLERS[server];
    if (isInstalled(server)) {
      if (options.announceInstalled) log(`${label}: already installed in ${serverPaths().root}`);
      report.installed.push(server);
      continue;
    }
    const lacking = toolchain();
    if (lacking) {
      const reason = `${lacking}; ${fallback}`;
      log(`${label}: not installed. ${reason}`);
      report.missing.push({ server, reason });
      continue;
    }
    try {
      await install(log, tickMs);
      report.installed.push(server);
    } catch (err) {
      const reason = `install failed: ${(err as Error).message}`;
      log(`${label}: ${reason}`);
      report.missing.push({ server, reason });
    }
  }
  if (options.strict && report.missing.length > 0) {
    throw new Error(`Temporal servers not installed: ${report.missing.map((m) => `${m.server} (${m.reason})`).join('; ')}`);
  }
  return report;
}

// Installs Temporal's real servers from package registries into the ignored cache folder (see ./index.ts):
//   - the time-skipping test server: Maven Central io.temporal:temporal-test-server, with a launcher;
//   - the Temporal CLI dev server with its Web UI: `go install` from the Go module proxy;
//   - Temporal server 1.32 (the version production runs), its schema tool and its Web UI: `go install`
//     from the Go module proxy, with the newer Go toolchain the server's module asks for (GOTOOLCHAIN).
// Idempotent (a marker file per server, checked in well under a second). One process installs a server at
// a time (a lock file naming its pid; another command waits for it, and a lock whose process is gone is
// taken over); the build happens in a scratch folder renamed into place when complete, so a server folder
// is either whole or absent. Ctrl-C stops the toolchain and removes the scratch folder. Progress is printed
// while a toolchain works. A missing toolchain is not an error unless `strict`: the SDK's own download stays
// the fallback on machines with the internet.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  installedMarker,
  isInstalled,
  SERVER_GO_TOOLCHAIN,
  TEMPORAL_CLI_VERSION,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_VERSION,
  TEST_SERVER_VERSION,
  serverPaths,
  type ServerName,
} from './index';

export { isInstalled, type ServerName };

/** org.apache.maven.plugins:maven-dependency-plugin, which copies the test server's runtime classpath. */
const DEPENDENCY_PLUGIN_VERSION = '2.8';
export const SERVER_NAMES: readonly ServerName[] = ['test-server', 'cli', 'server'];

export interface InstallOptions {
  /** Which servers (default all three). */
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

function has(cmd: string, versionArg: string): boolean {
  return spawnSync(cmd, [versionArg], { stdio: 'ignore' }).status === 0;
}

/** Go's version as [major, minor, patch], or undefined without Go. GOTOOLCHAIN is left out, so that this is the machine's own Go. */
function goVersion(): [number, number, number] | undefined {
  const env = { ...process.env };
  delete env.GOTOOLCHAIN;
  const r = spawnSync('go', ['env', 'GOVERSION'], { encoding: 'utf8', env: { ...env, GOTOOLCHAIN: 'local' } });
  const m = r.status === 0 ? /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout) : null;
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** Whether Go version v is at least [major, minor, patch]. */
const goAtLeast = (v: [number, number, number], want: [number, number, number]) =>
  v[0] !== want[0] ? v[0] > want[0] : v[1] !== want[1] ? v[1] > want[1] : v[2] >= want[2];

/** Why Go cannot build the CLI here, or undefined when it can. The CLI's module asks for Go 1.25; Go 1.21 and later fetch that toolchain themselves unless GOTOOLCHAIN=local. */
function goLacking(): string | undefined {
  const v = goVersion();
  if (!v) return 'Go is needed to build it from the Go module proxy';
  const [major, minor] = v;
  const at = (m: number) => goAtLeast(v, [1, m, 0]);
  if (!at(21)) return `Go 1.21 or later is needed to build it (found go${major}.${minor})`;
  if (!at(25) && (process.env.GOTOOLCHAIN ?? '').startsWith('local'))
    return `the Temporal CLI ${TEMPORAL_CLI_VERSION} needs Go 1.25 (found go${major}.${minor} with GOTOOLCHAIN=local)`;
  return undefined;
}

const seconds = (start: number) => ((Date.now() - start) / 1000).toFixed(0);

/** How long a toolchain step may take: the default in minutes, or TEMPORAL_INSTALL_TIMEOUT_MINUTES. */
function limitMs(defaultMinutes: number): number {
  const minutes = Number(process.env.TEMPORAL_INSTALL_TIMEOUT_MINUTES);
  return (Number.isFinite(minutes) && minutes > 0 ? minutes : defaultMinutes) * 60_000;
}

/** What an interrupted install has to undo: its toolchain process and its scratch folder. */
interface InFlight {
  child?: ChildProcess;
  scratch?: string;
}

/** Runs a toolchain command, its output passed through (to stderr), with a progress line every tick while it runs. */
function run(
  cmd: string,
  args: string[],
  what: string,
  opts: { env?: NodeJS.ProcessEnv; log: (l: string) => void; tickMs: number; inFlight: InFlight; limitMs: number },
): Promise<void> {
  const start = Date.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    opts.inFlight.child = child;
    // The toolchain's own lines pass through, without the colour codes some Maven versions print even in batch mode.
    const pass = (to: NodeJS.WriteStream) => (chunk: Buffer) => {
      const text = chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      if (text.trim()) to.write(text);
    };
    child.stdout!.on('data', pass(process.stderr));
    child.stderr!.on('data', pass(process.stderr));
    const tick = setInterval(() => opts.log(`${what}: still working (${seconds(start)} s)`), opts.tickMs);
    // A network that drops packets can stall a toolchain for a long time: give up after the limit (the SDK's download is the fallback).
    let overdue = false;
    const limit = setTimeout(() => {
      overdue = true;
      child.kill('SIGTERM');
    }, opts.limitMs);
    const done = (err?: Error) => {
      clearInterval(tick);
      clearTimeout(limit);
      opts.inFlight.child = undefined;
      if (err) reject(err);
      else resolveRun();
    };
    child.once('error', (err) => done(new Error(`${cmd}: ${err.message}`)));
    child.once('exit', (code, signal) =>
      done(
        overdue
          ? new Error(
              `${cmd} gave no result within ${opts.limitMs >= 60_000 ? `${Math.round(opts.limitMs / 60_000)} minutes` : `${(opts.limitMs / 1000).toFixed(1)} s`} (TEMPORAL_INSTALL_TIMEOUT_MINUTES raises the limit)`,
            )
          : code === 0
            ? undefined
            : new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}`),
      ),
    );
  });
}

/** A scratch folder beside `dir` to build in; earlier ones (left by an interrupted install) are removed first. */
function scratch(dir: string, inFlight: InFlight): string {
  for (const name of existsSync(dirname(dir)) ? readdirSync(dirname(dir)) : []) {
    if (name.startsWith(`${basename(dir)}.partial-`))
      rmSync(join(dirname(dir), name), { recursive: true, force: true });
  }
  const tmp = `${dir}.partial-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  inFlight.scratch = tmp;
  return tmp;
}

/** Replaces `dir` (absent, or an incomplete copy) with the finished scratch folder. */
function moveIntoPlace(tmp: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Runs fn holding the server's install lock, unless the server is installed by then. When another live
 * process holds the lock, waits until it is released or the server is installed; a lock whose process
 * is gone is taken over.
 */
async function withLock(server: ServerName, log: (l: string) => void, fn: () => Promise<void>): Promise<void> {
  const lock = join(serverPaths().root, `${server}.lock`);
  mkdirSync(dirname(lock), { recursive: true });
  let announced = false;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      try {
        if (!isInstalled(server)) await fn();
      } finally {
        rmSync(lock, { force: true });
      }
      return;
    }
    const holder = Number(readFileSync(lock, 'utf8').trim());
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      // Left by an install that was killed: take it over.
      try {
        unlinkSync(lock);
      } catch {
        // another waiter took it over first
      }
      continue;
    }
    if (!announced)
      log(`${INSTALLERS[server].label}: another command (pid ${holder}) is installing it; waiting for it...`);
    announced = true;
    await sleep(500);
    if (isInstalled(server)) return;
  }
}

/** On Ctrl-C or SIGTERM during an install: stop the toolchain, remove the scratch folder and the lock, then die of the signal as usual. */
function cleanupOnSignal(inFlight: InFlight, server: () => ServerName | undefined): () => void {
  const handler = (signal: NodeJS.Signals) => {
    inFlight.child?.kill('SIGTERM');
    if (inFlight.scratch) rmSync(inFlight.scratch, { recursive: true, force: true });
    const s = server();
    if (s) rmSync(join(serverPaths().root, `${s}.lock`), { force: true });
    remove();
    process.kill(process.pid, signal);
  };
  const remove = () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return remove;
}

async function installTestServer(log: (l: string) => void, tickMs: number, inFlight: InFlight): Promise<void> {
  const { dir } = serverPaths().testServer;
  const what = `time-skipping test server ${TEST_SERVER_VERSION}`;
  const start = Date.now();
  log(
    `${what}: resolving io.temporal:temporal-test-server and its runtime dependencies from Maven Central (10–30 s)...`,
  );
  const tmp = scratch(dir, inFlight);
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
    // The dependency plugin is pinned, so that every machine resolves the classpath the same way.
    await run(
      'mvn',
      [
        '-B',
        '-q',
        '-Dstyle.color=never',
        '-f',
        join(tmp, 'pom.xml'),
        `org.apache.maven.plugins:maven-dependency-plugin:${DEPENDENCY_PLUGIN_VERSION}:copy-dependencies`,
        '-DincludeScope=runtime',
        `-DoutputDirectory=${join(tmp, 'lib')}`,
      ],
      what,
      { log, tickMs, inFlight, limitMs: limitMs(10) },
    );
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

async function installCli(log: (l: string) => void, tickMs: number, inFlight: InFlight): Promise<void> {
  const { binDir } = serverPaths().cli;
  const dir = dirname(binDir);
  const what = `Temporal CLI ${TEMPORAL_CLI_VERSION}`;
  const start = Date.now();
  log(
    `${what}: building the dev server and Web UI with go install from the Go module proxy (a cold build takes 2–4 minutes; once only)...`,
  );
  const tmp = scratch(dir, inFlight);
  try {
    const tmpBin = join(tmp, 'bin');
    mkdirSync(tmpBin, { recursive: true });
    await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], what, {
      env: { ...process.env, GOBIN: tmpBin },
      log,
      tickMs,
      inFlight,
      limitMs: limitMs(30),
    });
    writeFileSync(join(tmpBin, '.installed'), `${TEMPORAL_CLI_VERSION}\n`);
    moveIntoPlace(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`${what}: installed at ${serverPaths().cli.binary} in ${seconds(start)} s`);
}

/** The Go version the server's module asks for (its go.mod's `go` line). */
const SERVER_MIN_GO: [number, number, number] = [1, 26, 10];

/** Why Go cannot build Temporal server 1.32 here, or undefined when it can (Go 1.21 or later switches toolchains itself). */
function serverGoLacking(): string | undefined {
  const v = goVersion();
  if (!v) return 'Go is needed to build it from the Go module proxy';
  if (!goAtLeast(v, [1, 21, 0])) return `Go 1.21 or later is needed to build it (found go${v.join('.')})`;
  return undefined;
}

/**
 * The environment of the server's go commands: the machine's Go when it is new enough, else
 * GOTOOLCHAIN=go1.27.3, which makes the go command take that toolchain from the Go module proxy (once,
 * about 76 MB) whatever GOTOOLCHAIN the machine's Go defaults to (Debian's says `local`).
 */
export function serverGoEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const v = goVersion();
  return v && goAtLeast(v, SERVER_MIN_GO) ? { ...env } : { ...env, GOTOOLCHAIN: SERVER_GO_TOOLCHAIN };
}

async function installServer(log: (l: string) => void, tickMs: number, inFlight: InFlight): Promise<void> {
  const paths = serverPaths().server;
  const dir = dirname(paths.binDir);
  const what = `Temporal server ${TEMPORAL_SERVER_VERSION}`;
  const start = Date.now();
  const env = serverGoEnv();
  log(
    `${what}: building the server and its schema tool, then the Web UI ${TEMPORAL_UI_VERSION}, with go install from the Go module proxy` +
      `${env.GOTOOLCHAIN === SERVER_GO_TOOLCHAIN ? ` (GOTOOLCHAIN=${SERVER_GO_TOOLCHAIN}: the server needs Go ${SERVER_MIN_GO.join('.')} or later)` : ''} (a cold build takes 5–8 minutes on 2 cores; once only)...`,
  );
  const tmp = scratch(dir, inFlight);
  try {
    // `go install` names a binary after its package folder: the server and the UI server are both `server`, so each build gets its own GOBIN.
    const serverBin = join(tmp, 'go-bin-server');
    const uiBin = join(tmp, 'go-bin-ui');
    const bin = join(tmp, 'bin');
    for (const d of [serverBin, uiBin, bin]) mkdirSync(d, { recursive: true });
    await run(
      'go',
      [
        'install',
        `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      `${what} (server and schema tool)`,
      {
        env: { ...env, GOBIN: serverBin },
        log,
        tickMs,
        inFlight,
        limitMs: limitMs(30),
      },
    );
    log(`${what}: server and schema tool built in ${seconds(start)} s; now the Web UI ${TEMPORAL_UI_VERSION}...`);
    const uiStart = Date.now();
    await run(
      'go',
      ['install', `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_VERSION}`],
      `Temporal Web UI ${TEMPORAL_UI_VERSION}`,
      { env: { ...env, GOBIN: uiBin }, log, tickMs, inFlight, limitMs: limitMs(30) },
    );
    log(`${what}: Web UI built in ${seconds(uiStart)} s`);
    renameSync(join(serverBin, 'server'), join(bin, basename(paths.server)));
    renameSync(join(serverBin, 'sql'), join(bin, basename(paths.sqlTool)));
    renameSync(join(uiBin, 'server'), join(bin, basename(paths.ui)));
    rmSync(serverBin, { recursive: true, force: true });
    rmSync(uiBin, { recursive: true, force: true });
    writeFileSync(join(bin, '.installed'), `${installedMarker('server')}\n`);
    moveIntoPlace(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`${what}: installed in ${paths.binDir} in ${seconds(start)} s`);
}

const INSTALLERS: Record<
  ServerName,
  {
    label: string;
    toolchain: () => string | undefined;
    install: (log: (l: string) => void, tickMs: number, inFlight: InFlight) => Promise<void>;
    fallback: string;
  }
> = {
  'test-server': {
    label: `time-skipping test server ${TEST_SERVER_VERSION}`,
    toolchain: () =>
      has('java', '-version') && has('mvn', '-v')
        ? undefined
        : 'Java 17 and Maven are needed to install it from Maven Central',
    install: installTestServer,
    fallback: "the tests fall back to the SDK's download, which needs the internet",
  },
  cli: {
    label: `Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    toolchain: goLacking,
    install: installCli,
    fallback: "the dev server falls back to the SDK's download, which needs the internet",
  },
  server: {
    label: `Temporal server ${TEMPORAL_SERVER_VERSION} (with its schema tool and Web UI ${TEMPORAL_UI_VERSION})`,
    toolchain: serverGoLacking,
    install: installServer,
    fallback:
      'the tests and benchmarks that need the server production runs are skipped (the SDK has no download of it)',
  },
};

/** Why this machine cannot install a server itself (a missing or too old toolchain), or undefined. */
export function missingToolchain(server: ServerName): string | undefined {
  return INSTALLERS[server].toolchain();
}

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
    const inFlight: InFlight = {};
    const stopWatching = cleanupOnSignal(inFlight, () => server);
    try {
      await withLock(server, log, () => install(log, tickMs, inFlight));
      if (!isInstalled(server)) throw new Error(`${serverPaths().root} holds no complete copy after the install`);
      report.installed.push(server);
    } catch (err) {
      const reason = `install failed: ${(err as Error).message}`;
      log(`${label}: ${reason}`);
      report.missing.push({ server, reason });
    } finally {
      stopWatching();
    }
  }
  if (options.strict && report.missing.length > 0) {
    throw new Error(
      `Temporal servers not installed: ${report.missing.map((m) => `${m.server} (${m.reason})`).join('; ')}`,
    );
  }
  return report;
}

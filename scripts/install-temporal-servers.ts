// Installs Temporal's real servers from package registries into an ignored cache folder,
// so that tests and the local main job run without the SDK's internet download:
//   - the time-skipping test server (Maven Central: io.temporal:temporal-test-server) with a launcher
//   - the Temporal CLI dev server with its Web UI (Go module proxy: github.com/temporalio/cli)
// Idempotent: a second run only checks what is there. A missing toolchain is not an error:
// the SDK's own download stays the fallback on machines with the internet.
//
// Usage: npm run install-servers -- [--only test-server|cli] [--strict]
//   --strict  fail when a server cannot be installed (CI uses it)
// Environment: TEMPORAL_SERVERS_DIR overrides the cache folder (default: <repo>/.cache/temporal)

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { TEMPORAL_CLI_VERSION, TEST_SERVER_VERSION, serverPaths } from '../src/temporal-servers';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
const paths = serverPaths();

function log(msg: string): void {
  process.stdout.write(`[install-temporal-servers] ${msg}\n`);
}

function has(cmd: string, versionArg = '--version'): boolean {
  const r = spawnSync(cmd, [versionArg], { stdio: 'ignore' });
  return r.status === 0;
}

function run(cmd: string, cmdArgs: string[], opts: { env?: NodeJS.ProcessEnv } = {}): void {
  const r = spawnSync(cmd, cmdArgs, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${cmdArgs.join(' ')} exited with ${r.status ?? r.signal}`);
  }
}

function seconds(start: number): string {
  return ((Date.now() - start) / 1000).toFixed(1);
}

function installTestServer(): boolean {
  const { dir, launcher, marker } = paths.testServer;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === TEST_SERVER_VERSION && existsSync(launcher)) {
    log(`time-skipping test server ${TEST_SERVER_VERSION}: already installed at ${launcher}`);
    return true;
  }
  if (!has('java', '-version') || !has('mvn', '-v')) {
    log('time-skipping test server: Java 17 and Maven are needed to install it from Maven Central; skipped (tests will fall back to the SDK download)');
    return false;
  }
  const start = Date.now();
  log(`time-skipping test server ${TEST_SERVER_VERSION}: resolving io.temporal:temporal-test-server and its runtime dependencies from Maven Central...`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // A throwaway POM whose only job is to let Maven resolve the artifact's runtime classpath.
  writeFileSync(
    join(dir, 'pom.xml'),
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
  run('mvn', ['-B', '-q', '-Dstyle.color=never', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${join(dir, 'lib')}`]);
  writeFileSync(
    launcher,
    `#!/usr/bin/env bash
# Temporal time-skipping test server ${TEST_SERVER_VERSION}. Usage: $0 <port> [--enable-time-skipping]
here="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
exec java \${TEMPORAL_TEST_SERVER_JAVA_OPTS:--Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1} -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
`,
  );
  chmodSync(launcher, 0o755);
  writeFileSync(marker, `${TEST_SERVER_VERSION}\n`);
  log(`time-skipping test server ${TEST_SERVER_VERSION}: installed at ${launcher} in ${seconds(start)} s`);
  return true;
}

function installCli(): boolean {
  const { binDir, binary, marker } = paths.cli;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === TEMPORAL_CLI_VERSION && existsSync(binary)) {
    log(`Temporal CLI ${TEMPORAL_CLI_VERSION}: already installed at ${binary}`);
    return true;
  }
  if (!has('go', 'version')) {
    log('Temporal CLI: Go is needed to install it from the Go module proxy; skipped (the dev server will fall back to the SDK download)');
    return false;
  }
  const start = Date.now();
  log(`Temporal CLI ${TEMPORAL_CLI_VERSION}: building with go install (a cold build takes several minutes)...`);
  mkdirSync(binDir, { recursive: true });
  run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: binDir },
  });
  writeFileSync(marker, `${TEMPORAL_CLI_VERSION}\n`);
  log(`Temporal CLI ${TEMPORAL_CLI_VERSION}: installed at ${binary} in ${seconds(start)} s`);
  return true;
}

let failed = false;
for (const [name, install] of <Array<[string, () => boolean]>>[
  ['test-server', installTestServer],
  ['cli', installCli],
]) {
  if (only && only !== name) continue;
  try {
    const ok = install();
    if (!ok && strict) failed = true;
  } catch (err) {
    log(`${name}: install failed: ${(err as Error).message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);

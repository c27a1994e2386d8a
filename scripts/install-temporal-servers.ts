// Installs Temporal's real servers from package registries ahead of time (src/temporal-servers/install.ts
// does the work; `npm start` and `npm test` call it on first use anyway).
//
// Usage: npm run install-servers -- [--only test-server|cli|server] [--strict] [--quiet]
//   test-server  the time-skipping test server (Maven Central)
//   cli          the Temporal CLI dev server with its Web UI (Go module proxy)
//   server       Temporal server 1.32, its schema tool and Web UI (Go module proxy, GOTOOLCHAIN=go1.27.3)
//   --strict  fail when a server cannot be installed (CI uses it)
//   --quiet   say nothing about servers already installed (the test runner uses it)
// Environment: TEMPORAL_SERVERS_DIR overrides the cache folder (default: <repo>/.cache/temporal)
import { ensureTemporalServers, SERVER_NAMES, type ServerName } from '../src/temporal-servers/install';

const args = process.argv.slice(2);
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? '') : undefined;
if (only !== undefined && !SERVER_NAMES.includes(only as ServerName)) {
  process.stderr.write(
    `[install-temporal-servers] --only takes ${SERVER_NAMES.slice(0, -1).join(', ')} or ${SERVER_NAMES.at(-1)}, not ${only || 'nothing'}\n`,
  );
  process.exit(2);
}

ensureTemporalServers({
  only: only ? [only as ServerName] : undefined,
  strict: args.includes('--strict'),
  announceInstalled: !args.includes('--quiet'),
  log: (line) => process.stdout.write(`[install-temporal-servers] ${line}\n`),
}).then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`[install-temporal-servers] ${err.message}\n`);
    process.exit(1);
  },
);

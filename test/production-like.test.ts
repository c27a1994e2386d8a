// The production-like test: the chaos run at CI size (as test/chaos.test.ts) on what production runs.
// Temporal server 1.32 (docker-compose.yml's version) on PostgreSQL, its schema applied by the server's
// schema tool as the compose file's temporal-schema job does; two worker processes in production mode,
// reading their HubSpot accounts from the account store on the same PostgreSQL; payload encryption on.
// One worker is killed with SIGKILL (then the other), the Temporal server is killed and started again,
// PostgreSQL is stopped at once (immediate shutdown) and started again. Nothing may be lost, duplicated,
// on the wrong contact or wrong. It prints the run's figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printTally, runChaos, WORKER_REQUEST_TIMEOUT_MS } from '../bench/chaos';
import { postgresMissing } from '../bench/chaos/production';
import { temporalServerMissing } from '../src/temporal-servers';
import { missingToolchain } from '../src/temporal-servers/install';
import { assertNothingLostOrDoubled } from './helpers/chaos';
import { skipUnless } from './helpers/skips';

const TITLE =
  'production-like: Temporal server 1.32 on PostgreSQL, two workers, account store on PostgreSQL, encryption on; chaos with worker, server and database restarts loses nothing';
// npm test installs the server when Go is there; without Go, or without PostgreSQL, it cannot run here.
const missing = temporalServerMissing() && missingToolchain('server') ? temporalServerMissing() : postgresMissing();
const skip = skipUnless(
  !missing,
  TITLE,
  missing ?? '',
  "install Go 1.21 or later and Debian's postgresql (apt-get install postgresql), then npm run install-servers; CI (.ci/run) has both",
);

test(TITLE, { timeout: 15 * 60_000, skip }, async () => {
  const log = (l: string) => process.stderr.write(`[production-like] ${l}\n`);
  const tally = await runChaos({
    conversations: 42,
    accounts: 2,
    faultRate: 0.04,
    slowWriteRate: 0,
    slowWriteMs: WORKER_REQUEST_TIMEOUT_MS + 5_000,
    kills: 2,
    serverRestart: true,
    productionLike: true,
    workers: 2,
    databaseRestart: true,
    concurrency: 42,
    retentionMs: 15_000,
    seed: 11,
    // A note write whose calls meet faults on 7 attempts in a row backs off to the 1-minute cap and
    // syncs after about 3 minutes (seen once in four runs): a sync counts as lost after 5.
    syncDeadlineMs: 300_000,
    log,
  });
  printTally(tally, log);
  assertNothingLostOrDoubled(tally, 42);
  // The chaos really happened: each worker killed once, the server and the database restarted.
  assert.equal(tally.workerKills, 2);
  assert.equal(tally.serverRestarts, 1);
  assert.equal(tally.databaseRestarts, 1);
  for (const kind of ['injected-429', 'injected-timeout', 'injected-lost-response'])
    assert.ok((tally.faults[kind] ?? 0) > 0, `no ${kind} fault was injected`);
  assert.equal(Object.keys(tally.byRow).length, 7, 'not every row of the table ran');
});

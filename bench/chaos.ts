// Chaos run: many conversations through the real worker on a Temporal dev server (with a database
// file), against a HubSpot emulator as unkind as HubSpot (search lag on), which injects faults of every
// kind (429, 5xx, timeouts, lost responses, writes held past the worker's per-call timeout), while the
// worker is killed with SIGKILL, the dev server is restarted, people merge contacts, customers correct
// their email, and the platform repeats callEnded and sends summaries after the end. Every conversation
// goes through the dormant lifecycle (a short retention, so that it completes). Then every conversation
// is checked against the emulator's store; docs/BENCHMARKS.md ("Chaos run") defines each counter.
//
//   npm run chaos [-- --conversations 500] [--accounts 3] [--fault-rate 0.06] [--slow-write-rate 0.01]
//                    [--slow-write-ms 20000] [--kills 3] [--no-server-restart] [--concurrency 40]
//                    [--retention-ms 30000] [--seed 1] [--quick]
//                    [--production-like [--workers 2] [--no-database-restart]]
//
// --fault-rate is per kind (429, 5xx, timeout, lost response), drawn one after another: 0.06 makes
// about 22% of HubSpot calls fail. --quick runs the CI size of test/chaos.test.ts: 42 conversations,
// 2 accounts, 4% faults per kind, no random slow writes (the queued ones stay), 2 SIGKILLs, all 42 in
// flight, a retention of 15 s. Exit code 0 only when nothing was lost, duplicated or wrong.
//
// --production-like runs it on what production runs (test/production-like.test.ts at CI size): Temporal
// server 1.32 on PostgreSQL (Debian's package, a throwaway cluster; schema applied by the server's schema
// tool), the accounts in the account store on the same PostgreSQL, payload encryption on, --workers
// worker processes (default 2) in production mode; the Temporal server is restarted, and PostgreSQL too
// (immediate shutdown) unless --no-database-restart.
// The run lives in bench/chaos/: plan.ts (options, plan), processes.ts (dev server, worker),
// production.ts (the production-like setting), run.ts, verdict.ts (the check and the counters).
import type { ChaosOptions } from './chaos/plan';
import { WORKER_REQUEST_TIMEOUT_MS } from './chaos/plan';
import { runChaos } from './chaos/run';
import { clean, printTally } from './chaos/verdict';
import { has, num, printedHelp } from './rig/options';

export type { ChaosOptions } from './chaos/plan';
export type { ChaosTally } from './chaos/verdict';
export { clean, printTally, runChaos, WORKER_REQUEST_TIMEOUT_MS };

if (require.main === module && !printedHelp(__filename)) {
  const log = (l: string) => process.stdout.write(`${l}\n`);
  const opts: ChaosOptions = {
    conversations: num('conversations', 500, 42),
    accounts: num('accounts', 3, 2),
    faultRate: num('fault-rate', 0.06, 0.04),
    slowWriteRate: num('slow-write-rate', 0.01, 0),
    slowWriteMs: num('slow-write-ms', WORKER_REQUEST_TIMEOUT_MS + 5_000),
    kills: num('kills', 3, 2),
    serverRestart: !has('no-server-restart'),
    concurrency: num('concurrency', 40, 42),
    retentionMs: num('retention-ms', 30_000, 15_000),
    seed: num('seed', 1),
    productionLike: has('production-like'),
    workers: num('workers', has('production-like') ? 2 : 1, has('production-like') ? 2 : 1, 1),
    databaseRestart: has('production-like') && !has('no-database-restart'),
    log,
  };
  log(
    `chaos run: ${opts.conversations} conversations on ${opts.accounts} accounts, ${opts.faultRate * 100}% faults per kind, ${opts.slowWriteRate * 100}% slow writes (${opts.slowWriteMs} ms), ` +
      `${opts.kills} worker SIGKILLs (${opts.workers} worker process${opts.workers === 1 ? '' : 'es'}), ${opts.serverRestart ? 'one' : 'no'} ${opts.productionLike ? 'Temporal server' : 'dev server'} restart, ` +
      `${opts.databaseRestart ? 'one PostgreSQL restart, ' : ''}retention ${opts.retentionMs} ms, seed ${opts.seed}` +
      `${opts.productionLike ? '; production-like: Temporal server 1.32 on PostgreSQL, account store on the same PostgreSQL, payload encryption on' : ''}`,
  );
  runChaos(opts)
    .then((t) => {
      printTally(t, log);
      process.exit(clean(t) ? 0 : 1);
    })
    .catch((err) => {
      process.stderr.write(`chaos run failed: ${(err as Error).stack}\n`);
      process.exit(2);
    });
}

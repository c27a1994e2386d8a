// The chaos run at CI size (bench/chaos.ts has the full one): conversations of every row of the
// SPEC table, text and voice, offline and in-conversation, on two accounts, while the emulator fails
// about one HubSpot call in five, the worker is killed with SIGKILL twice and the dev server is
// restarted once. Nothing may be lost, duplicated or wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { printTally, runChaos } from '../bench/chaos';

test('chaos at CI size: no loss, no duplicate, every property as expected', { timeout: 15 * 60_000 }, async () => {
  const lines: string[] = [];
  const log = (l: string) => {
    lines.push(l);
    process.stderr.write(`[chaos] ${l}\n`);
  };
  const tally = await runChaos({ conversations: 42, accounts: 2, faultRate: 0.06, kills: 2, serverRestart: true, concurrency: 14, seed: 7, log });
  printTally(tally, log);
  assert.deepEqual(tally.lost, []);
  assert.deepEqual(tally.wrong, []);
  assert.equal(tally.duplicateContacts, 0);
  assert.equal(tally.duplicateNotes, 0);
  assert.equal(tally.synced, 42);
  // The chaos really happened.
  assert.equal(tally.workerKills, 2);
  assert.equal(tally.serverRestarts, 1);
  for (const kind of ['injected-429', 'injected-timeout', 'injected-lost-response']) assert.ok((tally.faults[kind] ?? 0) > 0, `no ${kind} fault was injected`);
  assert.ok((tally.faults['injected-500'] ?? 0) + (tally.faults['injected-503'] ?? 0) > 0, 'no 5xx fault was injected');
  assert.equal(Object.keys(tally.byRow).length, 7, 'not every row of the table ran');
});

// What every chaos run at CI size must end with, whatever its chaos: the verdict's counters at zero.
import assert from 'node:assert/strict';
import type { ChaosTally } from '../../bench/chaos';

/** Nothing lost or doubled, every note, Call and Communication on its contact, every value the newest, every sync once and done. */
export function assertNothingLostOrDoubled(tally: ChaosTally, conversations: number): void {
  assert.deepEqual(tally.lost, []);
  assert.deepEqual(tally.duplicates, []);
  assert.equal(tally.duplicateContacts, 0);
  assert.equal(tally.duplicateNotes, 0);
  assert.deepEqual(tally.wrongContactNotes, []);
  assert.equal(tally.duplicateEngagements, 0);
  assert.deepEqual(tally.wrongContactEngagements, []);
  assert.deepEqual(tally.wrongProperties, []);
  assert.deepEqual(tally.staleValues, []);
  assert.deepEqual(tally.wrongOutcomes, []);
  assert.deepEqual(tally.duplicateSyncs, []);
  assert.deepEqual(tally.notCompleted, []);
  assert.equal(tally.synced, conversations);
  // Writes HubSpot applied after the worker gave up happened, and the convergence checks met them.
  assert.ok(tally.slowWrites.appliedLate > 0, 'no held write was applied after the worker had given up on it');
  assert.equal(tally.convergence.failedChecks, 0);
  // Where the workers keep receipts (production-like): one per run, none missing, doubled or unfinished.
  if (tally.receipts) {
    assert.deepEqual(tally.receipts.missing, []);
    assert.deepEqual(tally.receipts.doubled, []);
    assert.deepEqual(tally.receipts.unfinished, []);
    assert.ok(tally.receipts.runs > 0, 'no run was compared with its receipts');
  }
}

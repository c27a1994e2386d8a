// Replays histories recorded from the workflow tests (test/histories/*.history.bin, protobuf History) against today's workflow
// code: a change that would break running conversations fails here. Re-record with
//   RECORD_HISTORIES=1 npm test -- test/conversation-workflow.test.ts
// only when a change is meant to be incompatible (and then version it for running workflows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { workflowsPath } from '../src/worker/worker';
import { workflowBundle } from './helpers/temporal-env';

const dir = join(__dirname, 'histories');

test('recorded conversation histories replay deterministically on the current workflow code', async () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.history.bin'))
    .sort();
  assert.ok(files.length >= 4, `expected recorded histories in ${dir}, found ${files.length}`);
  const histories = files.map((f) => ({
    workflowId: f.replace(/\.history\.bin$/, ''),
    history: temporal.api.history.v1.History.decode(readFileSync(join(dir, f))),
  }));
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(workflowsPath) },
    histories,
  )) {
    assert.equal(result.error, undefined, `${result.workflowId} no longer replays: ${result.error?.message}`);
    replayed.push(result.workflowId);
  }
  assert.deepEqual(replayed.sort(), histories.map((h) => h.workflowId).sort());
});

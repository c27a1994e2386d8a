// Receipts of the activities' runs (docs/ACCOUNTS.md, "Receipts"): the HubSpot calls each run makes,
// counted at the port, and the one receipt per run, keyed by the run (workflow run and activity id, the
// same for every attempt) so that a retried attempt, or an attempt whose completion was lost, writes
// the same receipt again instead of a second one. An attempt records itself as it starts ("not
// finished": a worker lost mid-run still leaves the run's receipt), and its outcome or its failure when
// it ends. A receipt write is tried again for a few seconds while the database does not answer. An
// in-conversation run then goes on without it (a warning, ids only): the agent's answer comes first. An
// offline run whose HubSpot work is done fails the attempt instead, with its result in the attempt's
// heartbeat (and in this worker's memory, should the server drop a failed attempt's last heartbeat):
// Temporal retries it within the run's retry window, and the next attempt only writes the receipt and
// returns that result, without calling HubSpot again.
import { createHash } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ContactCheckResult, ContactExpectation } from '../src/action/convergence';
import { FailureType } from '../src/action/failures';
import { retryWaitMs } from '../src/action/limits';
import {
  receiptId,
  receiptReason,
  recordOf,
  UNFINISHED_REASON,
  type ReceiptContext,
  type ReceiptRecorder,
  type ReceiptWrite,
} from '../src/action/receipt';
import type { ContactSyncResult, ContactSyncRun } from '../src/action/run';
import { bodyProperty } from '../src/action/timeline';
import type { CallOptions, HubSpotAccountPort, HubSpotPort } from '../src/hubspot/port';

/** A receipt write is tried for this long at most: the sync's answer matters more than its receipt. */
const RECEIPT_WRITE_MS = 5_000;
const RETRY_EVERY_MS = 250;
/** An in-conversation run's receipt is written within its budget, this much before its end. */
const BUDGET_MARGIN_MS = 300;

/** What a run's calls are counted into: the run's progress once it has one (countInto), else the holder itself. */
interface Counter {
  hubspotCalls?: number;
  into?: RunDone;
}

/**
 * What of a run's progress (RunProgress, activities/index.ts) the receipt reads, and what an offline
 * attempt whose receipt could not be written leaves in its heartbeat for the next one: the run's result.
 */
interface RunDone {
  hubspotCalls?: number;
  sent?: { contactId?: string };
  result?: ContactSyncResult;
  receiptTries?: number;
}

/** The counter the calls of the current run go to. */
const counters = new AsyncLocalStorage<Counter>();

/** Port methods that make no HubSpot call of the run's own (the adapter caches the schema per account). */
const NOT_CALLS = new Set<PropertyKey>(['contactPropertySchema']);

/**
 * The port, with every HubSpot call of an account counted for the run that makes it (a call batched
 * with other runs' counts once for each of them).
 */
export function countingCalls(port: HubSpotPort): HubSpotPort {
  return {
    async get(accountId) {
      const account = await port.get(accountId);
      return new Proxy(account, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as unknown;
          if (typeof value !== 'function' || NOT_CALLS.has(prop)) return value;
          return (...args: unknown[]) => {
            const counter = counters.getStore();
            if (counter) {
              const into = counter.into ?? counter;
              into.hubspotCalls = (into.hubspotCalls ?? 0) + 1;
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      }) as HubSpotAccountPort;
    },
  };
}

/** Runs fn with its HubSpot calls counted into counter.hubspotCalls. */
countingCalls.into = <T>(counter: Counter, fn: () => Promise<T>): Promise<T> => counters.run(counter, fn);

/**
 * Runs fn with the current run's calls counted into its progress (which its heartbeats carry), whether
 * or not a receipt counts them too.
 */
countingCalls.countInto = <T>(progress: NonNullable<Counter['into']>, fn: () => Promise<T>): Promise<T> => {
  const counter = counters.getStore();
  if (!counter) return counters.run({ into: progress }, fn);
  counter.into = progress;
  return fn();
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Writes a receipt, tried again (every 250 ms) while the database does not answer, until `untilMs`: a
 * store restarting for a few seconds loses no receipt. Each write is an idempotent upsert. False (and a
 * warning saying `then`, ids only) when it could not be written.
 */
async function bounded(
  write: () => Promise<void>,
  ids: Record<string, unknown>,
  untilMs: number,
  then = 'the sync goes on without it',
): Promise<boolean> {
  let error = 'Error';
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        write(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer')), Math.max(1, untilMs - Date.now()));
        }),
      ]);
      return true;
    } catch (err) {
      error = (err as Error).name;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() + RETRY_EVERY_MS >= untilMs) break;
    await new Promise((r) => setTimeout(r, RETRY_EVERY_MS));
  }
  log.warn(`The run's receipt could not be written: ${then}`, { ...ids, error });
  return false;
}

/** The key of the activity now running: its workflow execution and activity id (the same for every attempt). */
function currentRunKey(): { key: string; workflowId: string; runId: string; attempt: number; scheduledMs: number } {
  const info = Context.current().info;
  // Every activity of this worker runs in a workflow (the SDK types allow standalone ones).
  const workflowId = info.workflowExecution?.workflowId ?? info.workflowType ?? 'standalone';
  const runId = info.workflowExecution?.runId ?? info.activityId;
  return {
    key: `${workflowId}/${runId}/${info.activityId}`,
    workflowId,
    runId,
    attempt: info.attempt,
    scheduledMs: info.scheduledTimestampMs,
  };
}

/** The convergence check's input, with whose conversation it is (for the receipts of its repairs). */
export interface ConvergenceInput {
  checks: ContactExpectation[];
  receipt?: { workspaceId?: string; conversationId: string };
}

type RunInput = ContactSyncRun & {
  workspaceId?: string;
  receipt?: ReceiptContext;
  deadlineMs?: number;
  lane?: CallOptions['lane'];
};

/** An offline attempt whose receipt could not be written fails only if this much of its retry window is left after the retry's wait. */
const RETRY_WINDOW_MARGIN_MS = RECEIPT_WRITE_MS + 5_000;

/**
 * What is left of the activity's retry window (its schedule-to-close timeout), given when this attempt
 * began on this worker: the server's times for the attempts before, the worker's clock for this one.
 */
function retryWindowLeftMs(attemptBeganMs: number): number {
  const info = Context.current().info;
  if (!(info.scheduleToCloseTimeoutMs > 0)) return Infinity;
  const before = Math.max(0, info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs);
  return info.scheduleToCloseTimeoutMs - before - (Date.now() - attemptBeganMs);
}

/** Runs done whose receipt waits for the database, kept by this worker (the oldest dropped past this many). */
const DONE_RUNS_KEPT = 1_000;

export class ReceiptWriter {
  /**
   * What an offline attempt whose receipt could not be written also leaves in its heartbeat: a server
   * that does not keep an attempt's last heartbeat when it fails (the time-skipping test server) loses
   * it, and a retry that lands on this worker still finds the run done here.
   */
  private readonly doneRuns = new Map<string, RunDone>();

  constructor(
    private readonly recorder: ReceiptRecorder,
    private readonly port: HubSpotPort,
  ) {}

  private portalId(accountId: string): Promise<number | undefined> {
    return this.port.get(accountId).then(
      (a) => a.connection.portalId,
      () => undefined,
    );
  }

  /**
   * One attempt of runContactSync with its calls counted and its run's receipt written; a run that has
   * nothing to key it to a workspace's operator (a conversation of no workspace, a run scheduled before
   * receipts) runs without one.
   */
  async aroundRun<I extends RunInput>(
    input: I,
    run: (input: I) => Promise<ContactSyncResult>,
  ): Promise<ContactSyncResult> {
    const counter: Counter = {};
    const attempt = () => countingCalls.into(counter, () => run(input));
    const receipt = this.forRun(input, () => counter.into ?? counter);
    return receipt ? receipt.around(attempt) : attempt();
  }

  private forRun(
    input: RunInput,
    progressOf: () => NonNullable<Counter['into']>,
  ): { around(attempt: () => Promise<ContactSyncResult>): Promise<ContactSyncResult> } | undefined {
    const context = input.receipt;
    const workspaceId = input.workspaceId;
    if (!context || !workspaceId) return undefined;
    const run = currentRunKey();
    const accountId = input.config.hubspotAccountId;
    const base = {
      id: receiptId(run.key, sha256),
      workspaceId,
      actionId: input.config.id,
      conversationId: context.conversationId,
      trigger: context.trigger,
      accountId,
      attempts: run.attempt,
      startedAtMs: run.scheduledMs,
      workflowId: run.workflowId,
      workflowRunId: run.runId,
    };
    const ids = { receiptId: base.id, actionId: base.actionId, attempt: run.attempt };
    const portalId = this.portalId(accountId);
    const recorder = this.recorder;
    // An in-conversation run's answer must not wait past its budget for its receipt.
    const writeUntil = () => Math.min(Date.now() + RECEIPT_WRITE_MS, (input.deadlineMs ?? Infinity) - BUDGET_MARGIN_MS);
    // An offline run waits for its finished receipt (retried attempts), an in-conversation run does not.
    const offline = input.lane !== 'agent';
    const began = Date.now();
    const info = Context.current().info;
    const doneRuns = this.doneRuns;
    const heartbeat = run.attempt > 1 ? (info.heartbeatDetails as RunDone | undefined) : undefined;
    // A run an earlier attempt did: from its last heartbeat, else from this worker's memory of it.
    const before = heartbeat?.result ? heartbeat : run.attempt > 1 ? (doneRuns.get(base.id) ?? heartbeat) : undefined;
    const finish = async (
      write: Omit<ReceiptWrite, keyof typeof base | 'finished' | 'finishedAtMs'>,
      then?: string,
    ): Promise<boolean> => {
      const finishedAtMs = Date.now();
      return bounded(
        () =>
          recorder.finished({
            ...base,
            ...write,
            reason: receiptReason(write.reason),
            finishedAtMs,
            finished: true,
          }),
        ids,
        writeUntil(),
        then,
      );
    };
    /** The receipt of a run whose HubSpot work is done, with its result; an offline run's attempt fails while it cannot be written. */
    const finishRun = async (result: ContactSyncResult, progress: RunDone): Promise<ContactSyncResult> => {
      const record = recordOf(result);
      const portal = await portalId;
      const tries = (before?.receiptTries ?? 0) + 1;
      const retryIn = retryWaitMs('offline', tries);
      // An attempt fails only while a retry can still come within the run's retry window; at its end the
      // result goes to the workflow without a finished receipt (the warning says so).
      const retry = offline && retryWindowLeftMs(began) > retryIn + RETRY_WINDOW_MARGIN_MS;
      const written = await finish(
        {
          outcome: result.result,
          reason: result.reason,
          ...(portal !== undefined ? { portalId: portal } : {}),
          ...(result.contactId ? { contactId: result.contactId } : {}),
          ...(record ? { record } : {}),
          propertiesWritten: [...result.propertiesWritten],
          propertiesLeft: (result.propertiesLeft ?? []).map((l) => ({ name: l.property, why: l.why })),
          hubspotCalls: progress.hubspotCalls ?? 0,
        },
        retry
          ? 'the attempt fails, and the next one writes it without calling HubSpot again'
          : offline
            ? "the run's retry window ends, so the sync's outcome goes on without it"
            : undefined,
      );
      if (written || !retry) {
        doneRuns.delete(base.id);
        return result;
      }
      // The next attempt finds the result in the last heartbeat (and the failure's details, should the
      // window end meanwhile: what the run sent).
      const details: RunDone = { ...progress, result, receiptTries: tries };
      Context.current().heartbeat(details);
      doneRuns.delete(base.id);
      doneRuns.set(base.id, details);
      if (doneRuns.size > DONE_RUNS_KEPT) doneRuns.delete(doneRuns.keys().next().value!);
      throw ApplicationFailure.create({
        message:
          `The receipts database did not answer within ${RECEIPT_WRITE_MS / 1000} s, so the receipt of the sync of ` +
          `action ${base.actionId} (HubSpot account ${accountId}) could not be written; HubSpot's part of the run ` +
          `is done, and the next attempt only writes its receipt`,
        type: FailureType.ReceiptStoreUnavailable,
        details: [details],
        nextRetryDelay: retryIn,
      });
    };
    return {
      async around(attempt) {
        // An earlier attempt did the run and could not write its receipt: this one only writes it.
        if (before?.result) {
          log.info('Writing the receipt of a run done by an earlier attempt; HubSpot is not called again', ids);
          return finishRun(before.result, before);
        }
        const started = bounded(
          () =>
            recorder.started({
              ...base,
              outcome: 'failed',
              reason: UNFINISHED_REASON,
              propertiesWritten: [],
              propertiesLeft: [],
              hubspotCalls: progressOf().hubspotCalls ?? 0,
              finishedAtMs: Date.now(),
              finished: false,
            }),
          ids,
          writeUntil(),
        );
        let result: ContactSyncResult;
        try {
          result = await attempt();
        } catch (err) {
          // This attempt failed (Temporal retries the run while its window lasts): the receipt says why,
          // until a later attempt replaces it. A cancelled run keeps what was recorded.
          await started;
          if (!(err instanceof CancelledFailure)) {
            const message = err instanceof Error ? err.message : String(err);
            const contactId = progressOf().sent?.contactId;
            await finish({
              outcome: 'failed',
              reason: `Attempt ${run.attempt} failed: ${message}`,
              ...((await portalId) !== undefined ? { portalId: await portalId } : {}),
              ...(contactId ? { contactId } : {}),
              propertiesWritten: [],
              propertiesLeft: [],
              hubspotCalls: progressOf().hubspotCalls ?? 0,
            });
          }
          throw err;
        }
        await started;
        return finishRun(result, progressOf());
      },
    };
  }

  /** The convergence check, its calls counted, and the receipts of what it repaired. */
  async aroundConvergence(
    input: ConvergenceInput,
    check: (input: { checks: ContactExpectation[] }) => Promise<ContactCheckResult[]>,
  ): Promise<ContactCheckResult[]> {
    const counter: Counter = {};
    const results = await countingCalls.into(counter, () => check(input));
    await this.convergence(input.receipt, input.checks, results, (counter.into ?? counter).hubspotCalls ?? 0);
    return results;
  }

  /**
   * The receipts of a convergence check that repaired something: one per (contact, action) it repaired,
   * keyed by the check's activity, so a retried check that finds nothing left to repair changes none.
   */
  private async convergence(
    context: { workspaceId?: string; conversationId: string } | undefined,
    checks: ContactExpectation[],
    results: ContactCheckResult[],
    hubspotCalls: number,
  ): Promise<void> {
    if (!context?.workspaceId) return;
    const run = currentRunKey();
    const now = Date.now();
    for (const r of results) {
      const check = checks.find((c) => c.contactId === r.contactId);
      if (!check) continue;
      if (r.archivedNotes.length + r.rewritten.length + r.rewrittenNotes.length === 0) continue;
      const portalId = await this.portalId(check.accountId);
      const contactId = r.contactIdNow ?? r.contactId;
      for (const note of check.notes) {
        const kept = r.keptNotes[note.actionId];
        const bodyAgain = r.rewrittenNotes.includes(note.actionId);
        const repairs = [
          r.archivedNotes.length ? `archived ${r.archivedNotes.length} duplicate record(s) left by a late request` : '',
          r.rewritten.length
            ? `wrote ${r.rewritten.length} value(s) again that a late request of ours had overwritten`
            : '',
          bodyAgain ? 'wrote the summary again that a late request of ours had overwritten' : '',
        ].filter(Boolean);
        const write: ReceiptWrite = {
          id: receiptId(`${run.key}/${check.contactId}/${note.actionId}`, sha256),
          workspaceId: context.workspaceId,
          actionId: note.actionId,
          conversationId: context.conversationId,
          trigger: 'convergence-repair',
          outcome: 'updated',
          reason: `Convergence repair: ${repairs.join('; ')}`,
          accountId: check.accountId,
          ...(portalId !== undefined ? { portalId } : {}),
          contactId,
          ...(kept
            ? {
                record: {
                  object:
                    note.object === 'calls' ? 'call' : note.object === 'communications' ? 'communication' : 'note',
                  id: kept,
                },
              }
            : {}),
          propertiesWritten: [...r.rewritten, ...(bodyAgain ? [bodyProperty(note.object ?? 'notes')] : [])],
          propertiesLeft: r.leftAlone.map((l) => ({ name: l.property, why: l.why ?? 'changed-since' })),
          hubspotCalls,
          attempts: run.attempt,
          startedAtMs: run.scheduledMs,
          finishedAtMs: now,
          finished: true,
          workflowId: run.workflowId,
          workflowRunId: run.runId,
        };
        await bounded(
          () => this.recorder.finished(write),
          { receiptId: write.id, actionId: note.actionId },
          Date.now() + RECEIPT_WRITE_MS,
        );
      }
    }
  }
}

// Per-account batching of single-record calls, in the manner of DataLoader: a caller asks for one
// record; the calls of one kind asked within a short window (or, for the agent's lane, at once) go to
// HubSpot as one batch call of up to 100 inputs, and each caller gets its own result or its own error.
//
// A batch is formed when its pacing slot is granted, not before: while the account's rate limit holds
// calls back, the batch keeps filling, so that under load every call HubSpot counts carries up to 100
// records. A caller whose signal fires before its batch is sent simply leaves the queue. Once sent, the
// batch request ends at its own timeout or when every one of its callers has left; a caller who left
// is answered when the request has ended (so its attempt never outlives the request it is part of).
//
// HubSpot refuses a whole batch create or update for one bad input (an invalid value: 400; an email
// that exists: 409): the batch is split in two and each half sent again, down to single inputs, which
// go to the single-record endpoint and get HubSpot's own answer for that record (a 409 with its
// "Existing ID", a 400 naming the property). A batch of one always uses the single-record endpoint.
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../action/failures';
import { isApiException } from './errors';
import type { Lane } from './pacer';
import type { HubSpotApis } from './transport';

/** What one input of a batch came to. */
export type Outcome<R> =
  | { value: R }
  /** This caller's own failure (an ApplicationFailure, or an error to classify under the batch's operation). */
  | { error: unknown }
  /** The answer does not say what became of this input (safe to ask again): it is sent alone. */
  | { again: true };

export interface BatchKind<I, R> {
  /** Operation names for failure messages: the batch call's, and the single-record call's. */
  batchOperation: string;
  singleOperation: string;
  /**
   * 'share': callers asking for the same key within a window share one input and its answer (reads).
   * 'separate': a second caller with a key already in the batch waits for the next batch (writes:
   * HubSpot refuses two inputs for the same record or email in one batch).
   */
  sameKey: 'share' | 'separate';
  key(input: I): string;
  /** The batch call: one outcome per input, in input order. Throws when the call as a whole failed. */
  many(api: HubSpotApis, inputs: I[]): Promise<Array<Outcome<R>>>;
  /** The single-record call. */
  one(api: HubSpotApis, input: I): Promise<R>;
  /** HubSpot refuses the whole batch for one input's fault (400, 409): split it and send again. */
  splits: boolean;
  /**
   * After a 409 refusal of the whole batch: one call that tells which inputs conflict (each gets its
   * own outcome) and which do not (undefined: sent again together), cheaper than splitting when many
   * conflict (a retried batch whose first answer was lost conflicts on every input).
   */
  explainConflict?(api: HubSpotApis, inputs: I[]): Promise<Array<Outcome<R> | undefined>>;
}

/** How a batcher reaches HubSpot: a paced, classified call (HubSpotAccount's request). */
export interface BatchTransport {
  send<T>(
    operation: () => string,
    fn: (api: HubSpotApis) => Promise<T>,
    options: { signal?: AbortSignal; lane: Lane },
  ): Promise<T>;
  /** The failure for a caller that gave up (its own cancellation, or a retryable failure). */
  abandoned(signal: AbortSignal): unknown;
  /** How much of the offline lane's share of the rate limit is in use now (0..1; 0 when unlimited). */
  pressure?(): number;
}

export interface BatcherOptions {
  /** How long offline calls are collected before their batch asks for a pacing slot. */
  windowMs: number;
  /** Inputs per batch call (HubSpot's limit is 100). */
  max: number;
  /**
   * While the offline lane has used half of its share of the rate limit or more, a batch that is not
   * full waits (up to this long after its oldest caller came) for more callers before it takes a
   * slot: when slots are scarce, each must carry as many records as it can. Default 1 s.
   */
  fillWaitMs?: number;
}

interface Caller<I, R> {
  input: I;
  key: string;
  lane: Lane;
  /** When it asked (performance.now()). */
  at: number;
  signal?: AbortSignal;
  /** The batch it was sent in (its current part, after splits). */
  batch?: SentBatch;
  /** Its signal fired after it was sent. */
  left: boolean;
  settled: boolean;
  resolve(value: R): void;
  reject(err: unknown): void;
  detach(): void;
}

class SentBatch {
  readonly controller = new AbortController();
  /**
   * @param endsWithFirstLeave a write batch ends when any of its callers leaves: a caller whose attempt
   *   ended must never have a write of its own still under way when its retry starts. The others get a
   *   retryable failure, and their retries are safe (a 409 names a created contact, a note is found
   *   through its contact's associations). A read batch ends only once every caller has left.
   */
  constructor(
    public callers: Array<Caller<unknown, unknown>> = [],
    private readonly endsWithFirstLeave = false,
  ) {}
  check(): void {
    if (this.controller.signal.aborted || !this.callers.length) return;
    if (this.endsWithFirstLeave ? this.callers.some((c) => c.left) : this.callers.every((c) => c.left)) {
      this.controller.abort(
        new Error(
          this.endsWithFirstLeave ? 'a caller of the write batch has left' : 'every caller of the batch has left',
        ),
      );
    }
  }
}

const REFUSES_WHOLE_BATCH = new Set([400, 409]);
interface Refusal {
  refused: number;
}

export class Batcher<I, R> {
  private readonly pending: Record<Lane, Array<Caller<I, R>>> = { agent: [], offline: [] };
  /** Distinct keys pending per lane (with how many callers each). */
  private readonly keys: Record<Lane, Map<string, number>> = { agent: new Map(), offline: new Map() };
  /** Slot requests made and not yet granted, per lane. */
  private readonly asking: Record<Lane, Set<AbortController>> = { agent: new Set(), offline: new Set() };
  private readonly timers: Partial<Record<Lane, NodeJS.Timeout>> = {};
  private agentQueued = false;
  /** Batch calls sent (counting splits and single-record calls), for tests and metrics. */
  calls = 0;

  constructor(
    readonly kind: BatchKind<I, R>,
    private readonly transport: BatchTransport,
    private readonly options: BatcherOptions,
  ) {}

  /** Callers waiting for their batch to be sent. */
  get waiting(): number {
    return this.pending.agent.length + this.pending.offline.length;
  }

  load(input: I, options: { signal?: AbortSignal; lane?: Lane } = {}): Promise<R> {
    const { signal } = options;
    const lane = options.lane ?? 'offline';
    if (signal?.aborted) return Promise.reject(this.transport.abandoned(signal));
    return new Promise<R>((resolve, reject) => {
      const caller: Caller<I, R> = {
        input,
        key: this.kind.key(input),
        lane,
        at: performance.now(),
        signal,
        left: false,
        settled: false,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      const onAbort = () => {
        if (caller.settled) return;
        if (caller.batch) {
          caller.left = true;
          caller.batch.check();
          return;
        }
        this.remove(caller);
        this.settle(caller, { error: this.transport.abandoned(signal!) });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending[lane].push(caller);
      this.keys[lane].set(caller.key, (this.keys[lane].get(caller.key) ?? 0) + 1);
      this.schedule(lane);
    });
  }

  private remove(caller: Caller<I, R>): void {
    const queue = this.pending[caller.lane];
    const i = queue.indexOf(caller);
    if (i < 0) return;
    queue.splice(i, 1);
    this.forget(caller);
    this.idle(caller.lane);
  }

  /** Nobody is left to send in this lane: give back the slots asked for it. */
  private idle(lane: Lane): void {
    if (this.pending[lane].length) return;
    for (const c of this.asking[lane]) c.abort(new Error('no caller left'));
    this.asking[lane].clear();
    clearTimeout(this.timers[lane]);
    this.timers[lane] = undefined;
  }

  private forget(caller: Caller<I, R>): void {
    const keys = this.keys[caller.lane];
    const n = (keys.get(caller.key) ?? 1) - 1;
    if (n <= 0) keys.delete(caller.key);
    else keys.set(caller.key, n);
  }

  /** Inputs the pending callers of a lane make (a key shared by several is one input). */
  private demand(lane: Lane): number {
    return this.kind.sameKey === 'share' ? this.keys[lane].size : this.pending[lane].length;
  }

  /**
   * Asks for pacing slots: at once for every full batch, and for the rest after the window (the
   * agent's lane: at once, once the current turn of the event loop has queued its calls).
   */
  private schedule(lane: Lane): void {
    const max = this.options.max;
    const full = Math.floor(this.demand(lane) / max);
    while (this.asking[lane].size < full) this.askForSlot(lane);
    if (this.demand(lane) <= this.asking[lane].size * max) return;
    if (lane === 'agent') {
      if (this.agentQueued) return;
      this.agentQueued = true;
      queueMicrotask(() => {
        this.agentQueued = false;
        this.topUp('agent');
      });
      return;
    }
    if (this.timers[lane]) return;
    this.timers[lane] = setTimeout(() => {
      this.timers[lane] = undefined;
      const oldest = this.pending[lane][0];
      const scarce = (this.transport.pressure?.() ?? 0) >= 0.5;
      if (scarce && oldest && performance.now() - oldest.at < (this.options.fillWaitMs ?? 1_000))
        return this.schedule(lane);
      this.topUp(lane);
    }, this.options.windowMs);
  }

  private topUp(lane: Lane): void {
    const wanted = Math.ceil(this.demand(lane) / this.options.max);
    while (this.asking[lane].size < wanted) this.askForSlot(lane);
  }

  /** One batch call: its inputs are taken from the queue when its pacing slot is granted. */
  private askForSlot(lane: Lane): void {
    const asking = new AbortController();
    this.asking[lane].add(asking);
    let taken: { callers: Array<Caller<I, R>>; groups: Array<Array<Caller<I, R>>> } | undefined;
    const batch = new SentBatch([], this.kind.sameKey === 'separate');
    let operation = this.kind.batchOperation;
    // The slot's signal: the wait ends if the queue empties; once sent, when every caller has left.
    const signal = AbortSignal.any([asking.signal, batch.controller.signal]);
    void this.transport
      .send(
        () => operation,
        async (api) => {
          if (!taken) {
            this.asking[lane].delete(asking);
            taken = this.take(lane);
            batch.callers = taken.callers as Array<Caller<unknown, unknown>>;
            for (const c of taken.callers) c.batch = batch;
            // Callers that could not join (the batch was full, or a key repeated) need a slot of their own.
            if (this.pending[lane].length) this.schedule(lane);
          }
          if (!taken.groups.length) return undefined;
          this.calls++;
          const inputs = taken.groups.map((g) => g[0]!.input);
          if (inputs.length === 1) {
            operation = this.kind.singleOperation;
            return [await this.single(api, inputs[0]!)];
          }
          return this.catchRefusal(() => this.kind.many(api, inputs));
        },
        { signal, lane },
      )
      .then(
        (outcomes) => {
          if (taken?.groups.length && outcomes) void this.deliver(taken.groups, outcomes, lane, operation);
        },
        (err: unknown) => {
          this.asking[lane].delete(asking);
          if (taken?.groups.length) return this.failAll(taken.callers, err);
          if (taken || asking.signal.aborted) return; // nobody to send, or nobody left to send for
          // Failed before anything was sent (no token, account to reconnect): the callers it would have carried get the failure.
          this.failAll(this.take(lane).callers, err);
          if (this.pending[lane].length) this.schedule(lane);
        },
      );
  }

  /**
   * Up to `max` inputs from the head of the lane's queue; shared keys join, repeated exclusive keys
   * wait. The agent's batch is filled up with queued offline calls: the slot it takes then carries
   * offline records too, so the agent's share of the limit is never spent on a near-empty call.
   */
  private take(lane: Lane): { callers: Array<Caller<I, R>>; groups: Array<Array<Caller<I, R>>> } {
    const groups = new Map<string, Array<Caller<I, R>>>();
    const callers: Array<Caller<I, R>> = [];
    const from: Lane[] = lane === 'agent' ? ['agent', 'offline'] : ['offline'];
    for (const l of from) {
      const rest: Array<Caller<I, R>> = [];
      for (const c of this.pending[l]) {
        const group = groups.get(c.key);
        if (group && this.kind.sameKey === 'share') group.push(c);
        else if (!group && groups.size < this.options.max) groups.set(c.key, [c]);
        else {
          rest.push(c);
          continue;
        }
        callers.push(c);
        this.forget(c);
      }
      this.pending[l] = rest;
    }
    if (lane === 'agent') this.idle('offline');
    return { callers, groups: [...groups.values()] };
  }

  private async single(api: HubSpotApis, input: I): Promise<Outcome<R>> {
    return { value: await this.kind.one(api, input) };
  }

  /** A refusal of the whole batch that may be one input's fault comes back as such (not as an error of every caller). */
  private async catchRefusal(fn: () => Promise<Array<Outcome<R>>>): Promise<Array<Outcome<R>> | Refusal> {
    try {
      return await fn();
    } catch (err) {
      if (this.kind.splits && isApiException(err) && REFUSES_WHOLE_BATCH.has(err.code)) return { refused: err.code };
      throw err;
    }
  }

  /** One paced call that tells the conflicting inputs of a refused batch; the others are sent again together. */
  private async explain(groups: Array<Array<Caller<I, R>>>, lane: Lane): Promise<void> {
    const callers = groups.flat().filter((c) => !c.settled);
    if (!callers.length) return;
    const batch = new SentBatch(callers as Array<Caller<unknown, unknown>>, this.kind.sameKey === 'separate');
    for (const c of callers) c.batch = batch;
    batch.check();
    let outcomes: Array<Outcome<R> | undefined>;
    try {
      outcomes = await this.transport.send(
        () => `${this.kind.batchOperation} (conflict check)`,
        (api) => {
          this.calls++;
          return this.kind.explainConflict!(
            api,
            groups.map((g) => g[0]!.input),
          );
        },
        { signal: batch.controller.signal, lane },
      );
    } catch (err) {
      return this.failAll(callers, err);
    }
    const rest = groups.filter((g, i) => {
      const o = outcomes[i];
      if (o) for (const c of g) this.settle(c, o, this.kind.batchOperation);
      return !o;
    });
    if (rest.length === groups.length) return this.split(rest, lane); // nothing explained: find it by halves
    if (rest.length) await this.resend(rest, lane);
  }

  private async split(groups: Array<Array<Caller<I, R>>>, lane: Lane): Promise<void> {
    const mid = Math.ceil(groups.length / 2);
    await Promise.all([this.resend(groups.slice(0, mid), lane), this.resend(groups.slice(mid), lane)]);
  }

  /** Hands each caller its outcome; splits a refused batch and resends what the answer left open. */
  private async deliver(
    groups: Array<Array<Caller<I, R>>>,
    outcomes: Array<Outcome<R>> | Refusal,
    lane: Lane,
    operation: string,
  ): Promise<void> {
    if ('refused' in outcomes) {
      if (outcomes.refused === 409 && this.kind.explainConflict) return this.explain(groups, lane);
      return this.split(groups, lane);
    }
    const again: Array<Array<Caller<I, R>>> = [];
    groups.forEach((group, i) => {
      const outcome: Outcome<R> = outcomes[i] ?? { again: true };
      if ('again' in outcome) again.push(group);
      else for (const c of group) this.settle(c, outcome, operation);
    });
    await Promise.all(again.map((g) => this.resend([g], lane)));
  }

  /** Sends these groups again as a batch of their own (one group: the single-record call). */
  private async resend(groups: Array<Array<Caller<I, R>>>, lane: Lane): Promise<void> {
    const callers = groups.flat().filter((c) => !c.settled);
    if (!callers.length) return;
    const batch = new SentBatch(callers as Array<Caller<unknown, unknown>>, this.kind.sameKey === 'separate');
    for (const c of callers) c.batch = batch;
    batch.check();
    const inputs = groups.map((g) => g[0]!.input);
    let operation = this.kind.batchOperation;
    try {
      const outcomes = await this.transport.send(
        () => operation,
        async (api) => {
          this.calls++;
          if (inputs.length === 1) {
            operation = this.kind.singleOperation;
            return [await this.single(api, inputs[0]!)];
          }
          return this.catchRefusal(() => this.kind.many(api, inputs));
        },
        { signal: batch.controller.signal, lane },
      );
      await this.deliver(groups, outcomes, lane, operation);
    } catch (err) {
      this.failAll(callers, err);
    }
  }

  private failAll(callers: Array<Caller<I, R>>, err: unknown): void {
    for (const c of callers) this.settle(c, { error: err }, undefined, true);
  }

  /** whole: the batch call as a whole failed (a caller that left then gets its own abandonment). */
  private settle(caller: Caller<I, R>, outcome: Outcome<R>, operation?: string, whole = false): void {
    if (caller.settled) return;
    caller.settled = true;
    caller.detach();
    if ('value' in outcome) return caller.resolve(outcome.value);
    if ('error' in outcome)
      return caller.reject(
        whole && caller.left && caller.signal ? this.transport.abandoned(caller.signal) : outcome.error,
      );
    caller.reject(
      ApplicationFailure.retryable(
        `HubSpot's answer to ${operation ?? this.kind.batchOperation} did not say what became of this input; retrying`,
        FailureType.HubSpotUnavailable,
      ),
    );
  }
}

// HubSpot's search index trails writes: a create, update, archive or merge becomes visible to the
// search endpoints seconds after the write was answered (HubSpot documents "a few seconds"; up to ~30 s
// has been reported). Reads by id or email, conflicts and association reads stay exact.
//
// Each write is given its own delay, drawn between `minMs` and `maxMs`; an object's writes become
// visible in order. Until then a search sees the object as it was before (not at all for a
// just-created one, on its old values for a just-updated one, still there for a just-deleted one).
// Only objects written within the window are tracked, so the cost is proportional to recent writes.
import type { StoredObject } from './store';

export interface SearchLag {
  minMs: number;
  maxMs: number;
}

/** `0` turns the lag off; a number is a fixed lag; `{ minMs, maxMs }` draws each write's lag in that range. */
export type SearchLagOption = number | SearchLag;

/** A few seconds with jitter, as HubSpot's index usually trails writes. */
export const DEFAULT_SEARCH_LAG: SearchLag = { minMs: 2_000, maxMs: 5_000 };

export function searchLagOf(option: SearchLagOption | undefined, fallback: SearchLag = DEFAULT_SEARCH_LAG): SearchLag {
  if (option === undefined) return { ...fallback };
  const lag =
    typeof option === 'number'
      ? { minMs: option, maxMs: option }
      : { minMs: option.minMs, maxMs: option.maxMs ?? option.minMs };
  if (!Number.isFinite(lag.minMs) || !Number.isFinite(lag.maxMs) || lag.minMs < 0 || lag.maxMs < lag.minMs) {
    throw new Error(`a search lag needs 0 <= minMs <= maxMs (got ${JSON.stringify(option)})`);
  }
  return lag;
}

/** "2000-5000", "3000" or "0" (the CLI's form). */
export function parseSearchLag(text: string): SearchLag {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new Error(`--search-lag-ms ${text} is not a lag (ms, or min-max ms)`);
  return searchLagOf({ minMs: Number(m[1]), maxMs: Number(m[2] ?? m[1]) });
}

interface Pending {
  /** What the index shows now; null: not in the index. */
  current: StoredObject | null;
  /** Writes not yet visible, oldest first, with the time each becomes visible. */
  queue: Array<{ at: number; snap: StoredObject | null }>;
  /** Lookup keys (emails, associated contact ids) of every state this object had in the window. */
  keys: Set<string>;
  /** Between willChange and changed: kept even when every queued write is visible. */
  open: boolean;
}

/** What a search can see of one object type in one account. */
export class SearchIndex {
  private readonly pending = new Map<string, Pending>();
  private readonly byKey = new Map<string, Set<string>>();
  /** Visibility times in write order (not sorted: jitter), for sweeping settled entries. */
  private fifo: Array<{ at: number; id: string }> = [];
  private fifoHead = 0;

  constructor(
    public lag: SearchLag,
    private readonly random: () => number,
    /** The lookup keys of a state: emails of a contact, associated contact ids of a note. */
    private readonly keysOf: (obj: StoredObject) => string[],
    private readonly snapshot: (obj: StoredObject) => StoredObject,
  ) {}

  get enabled(): boolean {
    return this.lag.maxMs > 0;
  }

  /** Call before changing (or creating: `before` undefined) an object, while it still has its old state. */
  willChange(id: string, before: StoredObject | undefined): void {
    if (!this.enabled) return;
    const existing = this.pending.get(id);
    if (existing) {
      existing.open = true;
      return;
    }
    const current = before ? this.snapshot(before) : null;
    const entry: Pending = { current, queue: [], keys: new Set(), open: true };
    this.pending.set(id, entry);
    if (current) this.addKeys(id, entry, current);
  }

  /** Call after the change: `after` is the new state, undefined when the object left (archived, merged). */
  changed(id: string, after: StoredObject | undefined, now = Date.now()): void {
    if (!this.enabled) return;
    const entry = this.pending.get(id);
    if (!entry) return; // willChange was not called: nothing to hide
    entry.open = false;
    const lag = this.lag.minMs + (this.lag.maxMs - this.lag.minMs) * this.random();
    const last = entry.queue.at(-1)?.at ?? 0;
    const at = Math.max(now + lag, last);
    const snap = after ? this.snapshot(after) : null;
    entry.queue.push({ at, snap });
    if (snap) this.addKeys(id, entry, snap);
    this.fifo.push({ at, id });
    this.sweep(now);
  }

  /**
   * The state a search sees of an object: `live` (the stored object, undefined if gone) when every
   * write to it is visible, else the last visible state; null when the index does not hold it.
   */
  visible(id: string, live: StoredObject | undefined, now = Date.now()): StoredObject | null {
    const entry = this.pending.get(id);
    if (!entry) return live ?? null;
    if (this.settle(id, entry, now)) return live ?? null;
    return entry.current;
  }

  /** Ids of objects whose pending states carry a key (an email, a contact id). */
  pendingWithKey(key: string): Iterable<string> {
    return this.byKey.get(key) ?? [];
  }

  /** Ids of every object with writes not yet visible. */
  pendingIds(): Iterable<string> {
    return this.pending.keys();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Makes every write visible now (as if the index had caught up). */
  flush(): void {
    this.pending.clear();
    this.byKey.clear();
    this.fifo = [];
    this.fifoHead = 0;
  }

  /** Drops entries whose writes are all visible. Amortised O(1) per write. */
  sweep(now = Date.now()): void {
    while (this.fifoHead < this.fifo.length && this.fifo[this.fifoHead]!.at <= now) {
      const { id } = this.fifo[this.fifoHead++]!;
      const entry = this.pending.get(id);
      if (entry) this.settle(id, entry, now);
    }
    if (this.fifoHead > 1024 && this.fifoHead * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
  }

  /** Applies the writes visible by `now`; true (and the entry dropped) when none is left. */
  private settle(id: string, entry: Pending, now: number): boolean {
    let i = 0;
    while (i < entry.queue.length && entry.queue[i]!.at <= now) entry.current = entry.queue[i++]!.snap;
    if (i > 0) entry.queue.splice(0, i);
    if (entry.queue.length > 0 || entry.open) return false;
    this.pending.delete(id);
    for (const key of entry.keys) {
      const set = this.byKey.get(key);
      set?.delete(id);
      if (set && set.size === 0) this.byKey.delete(key);
    }
    return true;
  }

  private addKeys(id: string, entry: Pending, obj: StoredObject): void {
    for (const key of this.keysOf(obj)) {
      if (entry.keys.has(key)) continue;
      entry.keys.add(key);
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(id);
    }
  }
}

// Paces one HubSpot account's calls under its rate limits: a rolling 10-second window for all calls
// and a per-second window for search calls (HubSpot limits search separately and lower). Shared by
// every activity of a worker; across several workers, each takes its share (see docs).
export interface PacerLimits {
  /** Calls per rolling 10 seconds; 0 or undefined: unlimited. */
  perTenSeconds?: number;
  /** Search calls per second; 0 or undefined: unlimited. */
  searchPerSecond?: number;
}

/**
 * A rolling window that counts a call from the moment it is sent until `spanMs` after its answer
 * came back. HubSpot counts a call when it arrives, which is somewhere between the two, so a window
 * kept this way never lets more calls reach HubSpot within any span than the limit, however the
 * network delays a wave of calls and then delivers the next promptly.
 */
class Window {
  /** Finish times of answered calls, oldest first. */
  private readonly done: number[] = [];
  private inFlight = 0;
  constructor(private readonly limit: number, private readonly spanMs: number) {}
  /** ms to wait before a call may go, 0 if it may go now; -1 when only an answer can free a slot. */
  wait(now: number): number {
    while (this.done.length && this.done[0]! <= now - this.spanMs) this.done.shift();
    if (this.done.length + this.inFlight < this.limit) return 0;
    return this.done.length ? this.done[0]! + this.spanMs - now + 1 : -1;
  }
  take(): void {
    this.inFlight++;
  }
  release(now: number): void {
    this.inFlight--;
    let i = this.done.length;
    while (i > 0 && this.done[i - 1]! > now) i--;
    this.done.splice(i, 0, now);
  }
}

/** Whose call it is: the agent's (in a conversation, waiting for the answer) goes before offline syncs. */
export type Lane = 'agent' | 'offline';

interface Waiter {
  windows: Window[];
  grant(release: () => void): void;
}

export class Pacer {
  private readonly general?: Window;
  private readonly search?: Window;
  private readonly lanes: Record<Lane, Waiter[]> = { agent: [], offline: [] };
  private pumping = false;
  /** Wakes the pump while it waits: a call ended, a caller gave up, or a call arrived. */
  private wake?: () => void;
  private running = 0;

  constructor(limits: PacerLimits, private readonly now: () => number = Date.now) {
    if (limits.perTenSeconds) this.general = new Window(limits.perTenSeconds, 10_000);
    if (limits.searchPerSecond) this.search = new Window(limits.searchPerSecond, 1_000);
  }

  /** Calls that hold a slot: sent and not yet ended (an aborted call holds it until its request has closed). */
  get inFlight(): number {
    return this.running;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.lanes.agent.length + this.lanes.offline.length;
  }

  /**
   * Resolves when a call of this kind may go, with the function to call once its request has ended
   * (answer read, or aborted request closed). Within a lane calls go in the order they asked; the
   * agent's lane goes first. Rejects with the signal's reason, without taking a slot, when the signal
   * aborts first.
   */
  acquire(kind: 'general' | 'search', signal?: AbortSignal, lane: Lane = 'offline'): Promise<() => void> {
    const windows = [this.general, kind === 'search' ? this.search : undefined].filter((w): w is Window => w !== undefined);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!windows.length) return Promise.resolve(this.taken([]));
    return new Promise((resolve, reject) => {
      const queue = this.lanes[lane];
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i < 0) return; // already granted
        queue.splice(i, 1);
        reject(abortReason(signal!));
        this.wake?.();
      };
      const waiter: Waiter = {
        windows,
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
      this.wake?.();
      void this.pump();
    });
  }

  /** Grants slots to the head of the queue (agent's lane first) as the windows allow. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const queue = this.lanes.agent.length ? this.lanes.agent : this.lanes.offline;
        const head = queue[0];
        if (!head) return;
        const now = this.now();
        const waits = head.windows.map((w) => w.wait(now));
        if (waits.every((w) => w === 0)) {
          queue.shift();
          for (const w of head.windows) w.take();
          head.grant(this.taken(head.windows));
          continue;
        }
        const wait = Math.max(...waits);
        await new Promise<void>((resolve) => {
          // Only an answer frees a slot (-1), or the oldest answered call leaves the window.
          const timer = wait > 0 ? setTimeout(() => done(), wait) : undefined;
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          this.wake = done;
        });
        this.wake = undefined;
      }
    } finally {
      this.pumping = false;
    }
  }

  private taken(windows: Window[]): () => void {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const now = this.now();
      for (const w of windows) w.release(now);
      this.wake?.();
    };
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

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

export class Pacer {
  private readonly general?: Window;
  private readonly search?: Window;
  private queue: Promise<void> = Promise.resolve();
  /** Wakes a turn that waits for an in-flight call to be answered. */
  private wake?: () => void;

  constructor(limits: PacerLimits, private readonly now: () => number = Date.now) {
    if (limits.perTenSeconds) this.general = new Window(limits.perTenSeconds, 10_000);
    if (limits.searchPerSecond) this.search = new Window(limits.searchPerSecond, 1_000);
  }

  /**
   * Resolves when a call of this kind may go, with the function to call once its answer (or error)
   * is back; calls go in the order they asked.
   */
  acquire(kind: 'general' | 'search'): Promise<() => void> {
    const windows = [this.general, kind === 'search' ? this.search : undefined].filter((w): w is Window => w !== undefined);
    if (!windows.length) return Promise.resolve(() => undefined);
    const turn = this.queue.then(async () => {
      for (;;) {
        const waits = windows.map((w) => w.wait(this.now()));
        if (waits.every((w) => w === 0)) break;
        const wait = Math.max(...waits);
        await new Promise<void>((resolve) => {
          // Only an answer frees a slot (-1), or the oldest answered call leaves the window.
          const timer = wait > 0 ? setTimeout(resolve, wait) : undefined;
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
      for (const w of windows) w.take();
    });
    this.queue = turn.catch(() => undefined);
    return turn.then(() => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const now = this.now();
        for (const w of windows) w.release(now);
        this.wake?.();
      };
    });
  }
}

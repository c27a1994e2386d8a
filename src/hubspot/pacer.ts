// Paces one HubSpot account's calls under its rate limits: a rolling 10-second window for all calls
// and a per-second window for search calls (HubSpot limits search separately and lower). Shared by
// every activity of a worker; across several workers, each takes its share (see docs).
export interface PacerLimits {
  /** Calls per rolling 10 seconds; 0 or undefined: unlimited. */
  perTenSeconds?: number;
  /** Search calls per second; 0 or undefined: unlimited. */
  searchPerSecond?: number;
}

class Window {
  private readonly stamps: number[] = [];
  constructor(private readonly limit: number, private readonly spanMs: number) {}
  /** ms to wait before a call may go, 0 if it may go now. */
  wait(now: number): number {
    while (this.stamps.length && this.stamps[0]! <= now - this.spanMs) this.stamps.shift();
    if (this.stamps.length < this.limit) return 0;
    return this.stamps[0]! + this.spanMs - now + 1;
  }
  take(now: number): void {
    this.stamps.push(now);
  }
}

export class Pacer {
  private readonly general?: Window;
  private readonly search?: Window;
  private queue: Promise<void> = Promise.resolve();

  constructor(limits: PacerLimits, private readonly now: () => number = Date.now) {
    if (limits.perTenSeconds) this.general = new Window(limits.perTenSeconds, 10_000);
    if (limits.searchPerSecond) this.search = new Window(limits.searchPerSecond, 1_000);
  }

  /** Resolves when a call of this kind may go; calls go in the order they asked. */
  acquire(kind: 'general' | 'search'): Promise<void> {
    if (!this.general && !(kind === 'search' && this.search)) return Promise.resolve();
    const turn = this.queue.then(async () => {
      for (;;) {
        const now = this.now();
        const wait = Math.max(this.general?.wait(now) ?? 0, kind === 'search' ? this.search?.wait(now) ?? 0 : 0);
        if (wait === 0) break;
        await new Promise((r) => setTimeout(r, wait));
      }
      const now = this.now();
      this.general?.take(now);
      if (kind === 'search') this.search?.take(now);
    });
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

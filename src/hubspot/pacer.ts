// Paces one HubSpot account's calls under its rate limits: a rolling 10-second window for all calls
// and a per-second window for search calls (HubSpot limits search separately and lower). Shared by
// every activity of a worker. A share of the 10-second limit is kept for the agent's lane. Several
// workers on one portal converge under its limit by following HubSpot's own count: each answer's
// X-HubSpot-RateLimit-Remaining tells how many calls the portal has left, and calls this worker did
// not make (other workers') are counted in the window until HubSpot's interval has passed.
import type { RateLimitAnswer } from './transport';

export interface PacerLimits {
  /** Calls per rolling 10 seconds; 0 or undefined: unlimited (until HubSpot's answers name a limit). */
  perTenSeconds?: number;
  /** Search calls per second; 0 or undefined: unlimited. */
  searchPerSecond?: number;
  /** Share of the 10-second limit only the agent's lane may use (offline calls take the rest). Default 0. */
  agentShare?: number;
  /** Share of a limit learnt from HubSpot's answers (X-HubSpot-RateLimit-Max) this worker paces to. Default 0.9. */
  rateLimitShare?: number;
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
  /** Calls HubSpot counted that this worker did not make, and until when they count. */
  private others = { count: 0, until: 0 };
  /**
   * HubSpot's count is followed: until a first answer has come back, and again after an idle spell
   * longer than the window (another worker may have used the portal meanwhile), one call goes alone
   * and its answer tells what the portal has left. An account whose answers carry no count is paced
   * on its own calls only.
   */
  private answered = false;
  private lastCount?: number;
  constructor(
    public limit: number,
    private readonly spanMs: number,
  ) {}
  /**
   * ms to wait before a call may go, 0 if it may go now; -1 when only an answer can free a slot.
   * `reserved`: slots at the top of the window this call may not take (the agent's share, for offline calls).
   */
  wait(now: number, reserved = 0): number {
    while (this.done.length && this.done[0]! <= now - this.spanMs) this.done.shift();
    const others = this.others.until > now ? this.others.count : 0;
    const cap = Math.max(1, this.limit - reserved);
    const stale = !this.answered || (this.lastCount !== undefined && now - this.lastCount > this.spanMs);
    if (stale && this.inFlight > 0) return -1;
    if (this.done.length + this.inFlight + others < cap) return 0;
    // Free slots come as our own answered calls leave the window, or as the others' count expires.
    const own = this.done.length ? this.done[0]! + this.spanMs - now + 1 : -1;
    const theirs = others ? this.others.until - now + 1 : -1;
    const waits = [own, theirs].filter((w) => w > 0);
    return waits.length ? Math.min(...waits) : -1;
  }
  /** Calls counted in the window now: ours (answered within the span, and in flight) and others'. */
  used(now: number): number {
    while (this.done.length && this.done[0]! <= now - this.spanMs) this.done.shift();
    return this.done.length + this.inFlight + (this.others.until > now ? this.others.count : 0);
  }
  /**
   * HubSpot's count at `at`: `used` calls within its interval. What is not ours (our calls sent within
   * the interval: answered ones still in our window, and those in flight) is another worker's.
   */
  observe(used: number, at: number, intervalMs: number): void {
    const ours = this.done.filter((t) => t > at - intervalMs).length + this.inFlight;
    const others = Math.max(0, used - ours);
    this.others = { count: others, until: others ? at + intervalMs : 0 };
    this.lastCount = at;
    this.answered = true;
  }
  take(): void {
    this.inFlight++;
  }
  release(now: number): void {
    this.inFlight--;
    this.answered = true;
    let i = this.done.length;
    while (i > 0 && this.done[i - 1]! > now) i--;
    this.done.splice(i, 0, now);
  }
}

/** Whose call it is: the agent's (in a conversation, waiting for the answer) goes before offline syncs. */
export type Lane = 'agent' | 'offline';

interface Waiter {
  lane: Lane;
  windows: Window[];
  grant(release: () => void): void;
}

export class Pacer {
  private general?: Window;
  private readonly search?: Window;
  private readonly agentShare: number;
  private readonly rateLimitShare: number;
  /** The 10-second limit was configured (not learnt from HubSpot's answers). */
  private readonly configured: boolean;
  private readonly lanes: Record<Lane, Waiter[]> = { agent: [], offline: [] };
  private pumping = false;
  /** Wakes the pump while it waits: a call ended, a caller gave up, or a call arrived. */
  private wake?: () => void;
  private running = 0;

  constructor(
    limits: PacerLimits,
    private readonly now: () => number = Date.now,
  ) {
    if (limits.perTenSeconds) this.general = new Window(limits.perTenSeconds, 10_000);
    if (limits.searchPerSecond) this.search = new Window(limits.searchPerSecond, 1_000);
    this.configured = Boolean(limits.perTenSeconds);
    this.agentShare = Math.min(0.9, Math.max(0, limits.agentShare ?? 0));
    this.rateLimitShare = limits.rateLimitShare ?? 0.9;
  }

  /** Agent-lane grants of the 10-second window, within its span. */
  private readonly agentGrants: number[] = [];

  /**
   * Free slots of the 10-second window offline calls must leave for the agent. The window counts the
   * agent's own calls too, so what is kept free is its share less what it has used in the last 10 s,
   * and never less than a quarter of that use (its next calls come at the rate of its recent ones):
   * an idle agent has its whole share waiting, a busy one gets its use plus a margin, and the offline
   * lane the rest. At most 80% of the limit.
   */
  private reserved(now: number): number {
    if (!this.general || this.agentShare === 0) return 0;
    while (this.agentGrants.length && this.agentGrants[0]! <= now - 10_000) this.agentGrants.shift();
    const limit = this.general.limit;
    const used = this.agentGrants.length;
    return Math.min(
      Math.floor(limit * 0.8),
      Math.max(Math.floor(limit * this.agentShare) - used, Math.ceil(used / 4), 1),
    );
  }

  /** How much of the offline lane's share of the 10-second limit is in use (0..1; 0 when unlimited). */
  pressure(): number {
    if (!this.general) return 0;
    const now = this.now();
    const cap = Math.max(1, this.general.limit - this.reserved(now));
    return Math.min(1, this.general.used(now) / cap);
  }

  /** The 10-second limit paced to now (configured, or learnt from HubSpot's answers); undefined: none. */
  get limitPerTenSeconds(): number | undefined {
    return this.general?.limit;
  }

  /**
   * One answer's X-HubSpot-RateLimit-* headers. With no configured limit, HubSpot's (times the share)
   * becomes the limit. The calls HubSpot counted beyond this worker's own are counted as others' until
   * the interval has passed, so that workers sharing a portal slow down to what it has left.
   */
  observe(answer: RateLimitAnswer): void {
    const { max, remaining, intervalMs } = answer;
    if (max === undefined || remaining === undefined || !intervalMs || max <= 0) return;
    if (intervalMs !== 10_000) return; // the 10-second window is the one paced here
    if (!this.general) this.general = new Window(Math.max(1, Math.floor(max * this.rateLimitShare)), 10_000);
    else if (!this.configured) this.general.limit = Math.max(1, Math.floor(max * this.rateLimitShare));
    this.general.observe(Math.max(0, max - remaining), answer.at, intervalMs);
    this.wake?.();
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
    const windows = [this.general, kind === 'search' ? this.search : undefined].filter(
      (w): w is Window => w !== undefined,
    );
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
        lane,
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
        const waits = head.windows.map((w) =>
          w.wait(now, w === this.general && head.lane === 'offline' ? this.reserved(now) : 0),
        );
        if (waits.every((w) => w === 0)) {
          queue.shift();
          if (head.lane === 'agent' && head.windows.includes(this.general!)) this.agentGrants.push(now);
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

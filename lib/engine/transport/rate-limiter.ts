/** Verdict for one inbound message from a source address. */
export type RateVerdict = 'accept' | 'reject-once' | 'drop';

export interface RateBudgets {
  /** messages per second from one untrusted address */
  perSource: number;
  /** messages per second from one trusted address (the PBX) */
  trustedPerSource: number;
  /** messages per second from all untrusted addresses together */
  untrustedTotal: number;
}

interface Window {
  start: number;
  count: number;
  trusted: boolean;
}

/**
 * Fixed one-second windows per source address, checked before a message is parsed. The first
 * message over a budget in a window earns one 503 (so a well-behaved peer learns to back off);
 * the rest are dropped silently so a flood cannot be amplified into a flood of responses.
 *
 * Trusted sources (the PBX) have their own budget and are not counted in the untrusted total, so
 * phones' addresses, however many, cannot use up the capacity the PBX's calls need.
 */
export class SourceRateLimiter {
  private readonly windows = new Map<string, Window>();
  private untrusted = { start: 0, count: 0 };
  private lastSweep = 0;

  constructor(
    private readonly budgets: RateBudgets,
    private readonly isTrusted: (address: string) => boolean = () => false,
    /** distinct addresses tracked at once; past it the oldest window is forgotten */
    private readonly maxSources = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  check(source: string): RateVerdict {
    const t = this.now();
    let w = this.windows.get(source);
    if (!w) {
      if (this.windows.size >= this.maxSources) this.makeRoom(t);
      w = { start: t, count: 0, trusted: this.isTrusted(source) };
      this.windows.set(source, w);
    } else if (t - w.start >= 1000) {
      w.start = t;
      w.count = 0;
    }
    w.count++;
    const limit = w.trusted ? this.budgets.trustedPerSource : this.budgets.perSource;
    if (w.count > limit) return w.count === limit + 1 ? 'reject-once' : 'drop';
    if (w.trusted) return 'accept';
    if (t - this.untrusted.start >= 1000) this.untrusted = { start: t, count: 0 };
    this.untrusted.count++;
    const total = this.budgets.untrustedTotal;
    if (this.untrusted.count > total) return this.untrusted.count === total + 1 ? 'reject-once' : 'drop';
    return 'accept';
  }

  get trackedSources(): number {
    return this.windows.size;
  }

  /** At most one full sweep a second; otherwise forget the oldest window (cheap under a spoofed flood). */
  private makeRoom(t: number): void {
    if (t - this.lastSweep >= 1000) {
      this.lastSweep = t;
      for (const [k, w] of this.windows) if (t - w.start >= 1000) this.windows.delete(k);
    }
    if (this.windows.size >= this.maxSources) {
      const first = this.windows.keys().next().value;
      if (first !== undefined) this.windows.delete(first);
    }
  }
}

/** Verdict for one inbound message from a source address. */
export type RateVerdict = 'accept' | 'reject-once' | 'drop';

/**
 * Fixed one-second windows per source address. The first message over the limit in a window
 * earns one 503 (so a well-behaved peer learns to back off); the rest are dropped silently
 * so a flood cannot be amplified into a flood of responses.
 */
export class SourceRateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly maxSources = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  check(source: string): RateVerdict {
    const t = this.now();
    let w = this.windows.get(source);
    if (!w || t - w.start >= 1000) {
      if (!w && this.windows.size >= this.maxSources) this.evict(t);
      w = { start: t, count: 0 };
      this.windows.set(source, w);
    }
    w.count++;
    if (w.count <= this.perSecond) return 'accept';
    return w.count === this.perSecond + 1 ? 'reject-once' : 'drop';
  }

  private evict(t: number): void {
    for (const [k, w] of this.windows) if (t - w.start >= 1000) this.windows.delete(k);
    // still full of live windows: forget the oldest one rather than grow without bound
    if (this.windows.size >= this.maxSources) {
      const first = this.windows.keys().next().value;
      if (first !== undefined) this.windows.delete(first);
    }
  }
}

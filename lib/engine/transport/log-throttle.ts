import type { EngineLog, EngineLogLevel } from './types.js';

/**
 * Logs a recurring edge event (a refused connection, a failed handshake) at most once per
 * interval per kind, with how many were suppressed since the last line. A flood of bad peers
 * must not turn into a flood of log lines.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: EngineLog,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
    /** kinds tracked at once; kinds are a fixed small set in practice */
    private readonly maxKinds = 1000,
  ) {}

  emit(level: EngineLogLevel, kind: string, msg: string, fields: Record<string, unknown> = {}): void {
    const t = this.now();
    const entry = this.last.get(kind);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    if (!entry && this.last.size >= this.maxKinds) this.last.clear();
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(kind, { at: t, suppressed: 0 });
    this.log(level, msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  }
}

/**
 * What the REGISTER-relay benchmark asks of each relay it measures (pushwake on its embedded
 * engine, pushwake on drachtio-server, Kamailio): where the phones send, the CPU it has used so
 * far, what it reports about itself at the end, and how it is stopped, politely or at once.
 */

export interface SystemUnderTest {
  /** e.g. "pushwake, embedded engine" */
  readonly label: string;
  /** where the phones send their REGISTERs */
  readonly target: { host: string; port: number };
  /** how its CPU is counted, printed under its figures */
  readonly cpuNote: string;
  /** CPU seconds used so far, by process (one entry, or drachtio-server and pushwake apart) */
  cpu(): Record<string, number>;
  /** pushwake only: heap and bindings stored, read at the end of its run */
  selfReport(): Promise<SelfReport | undefined>;
  /** warnings and errors it logged, by message, for the printout; empty when none */
  complaints(): string[];
  stop(): Promise<void>;
  /** Last resort on the way out of a broken run: synchronous, SIGKILL. */
  kill(): void;
}

export interface SelfReport {
  /** nodejs_heap_size_used_bytes from its /metrics */
  heapBytes: number;
  /** GC pauses on pushwake's main thread since it started, by kind */
  gcPauses?: Array<{ kind: string; count: number; seconds: number }>;
  /** `bindings` of its /api/status: the store's count */
  bindings: number;
}

/** Sums of CPU seconds between two readings of `cpu()`, by process. */
export function cpuBetween(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]));
}

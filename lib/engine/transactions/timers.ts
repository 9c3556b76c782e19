/** RFC 3261 17 timer base values, in milliseconds. */
export interface TimerValues {
  /** RTT estimate; default 500 ms */
  t1: number;
  /** max retransmit interval for non-INVITE requests and INVITE responses; default 4 s */
  t2: number;
  /** max time a message stays in the network; default 5 s */
  t4: number;
}

export const DEFAULT_TIMERS: TimerValues = { t1: 500, t2: 4000, t4: 5000 };

/** RFC timer names, so logs and code read like section 17. */
export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M'
  /** ours, not RFC: a non-INVITE the TU never answered is dropped when the client has given up */
  | 'Abandon';

/** The named timers one transaction owns; clearAll() on every way out. */
export class TransactionTimers {
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();

  start(name: TimerName, ms: number, fire: () => void): void {
    this.clear(name);
    const t = setTimeout(() => {
      this.timers.delete(name);
      fire();
    }, ms);
    this.timers.set(name, t);
  }

  clear(name: TimerName): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

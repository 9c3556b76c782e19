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

/**
 * The named timers one transaction owns; clearAll() on every way out. A plain object rather
 * than a Map: thousands of transactions wait out Timer J/L at once, and a Map's table costs
 * a few hundred bytes each.
 */
export class TransactionTimers {
  private timers: Partial<Record<TimerName, NodeJS.Timeout>> = {};

  start(name: TimerName, ms: number, fire: () => void): void {
    this.clear(name);
    // no wrapper closure: clearing a timer that already fired is harmless
    this.timers[name] = setTimeout(fire, ms);
  }

  clear(name: TimerName): void {
    const t = this.timers[name];
    if (t) {
      clearTimeout(t);
      this.timers[name] = undefined;
    }
  }

  clearAll(): void {
    for (const t of Object.values(this.timers)) if (t) clearTimeout(t);
    this.timers = {};
  }
}

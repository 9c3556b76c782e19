/**
 * What a load generator does for this benchmark, whichever it is (SIPp, or the built-in UDP one):
 * drive a scenario closed-loop to find the throughput at saturation, or open-loop at a fixed
 * rate to sample response times.
 */

/** options: OPTIONS -> 200. call: INVITE -> 200 -> ACK, a pause, BYE -> 200. */
export type Scenario = 'options' | 'call';

/** The response times each scenario records (request sent -> its 200 received). */
export const TIMED_STEPS: Readonly<Record<Scenario, readonly string[]>> = {
  options: ['options'],
  call: ['invite', 'bye'],
};

/** Transactions per scenario unit: a call is two (INVITE, BYE); the ACK is not a transaction. */
export const TRANSACTIONS_PER: Readonly<Record<Scenario, number>> = { options: 1, call: 2 };

export interface LoadTarget {
  address: string;
  port: number;
}

export interface SaturationRun {
  scenario: Scenario;
  /** scenario units (OPTIONS or calls) kept in flight; a new one starts as one ends */
  concurrency: number;
  seconds: number;
  /** not counted: JIT and socket warm-up at the start */
  warmupSeconds: number;
  /** call scenario: ACK -> BYE */
  pauseMs: number;
}

export interface SaturationResult {
  /** completed scenario units per second over the counted window */
  perSecond: number;
  /** over the counted window (after the warm-up) */
  completed: number;
  failed: number;
}

export interface FixedRateRun {
  scenario: Scenario;
  /** scenario units started per second */
  rate: number;
  seconds: number;
  warmupSeconds: number;
  pauseMs: number;
}

export interface FixedRateResult {
  completed: number;
  failed: number;
  /** response times in ms by step (TIMED_STEPS), started after the warm-up */
  responseTimes: Record<string, number[]>;
}

export interface LoadGenerator {
  /** how the report names it, e.g. "SIPp v3.7.7 (/opt/sipp/bin/sipp)" */
  readonly description: string;
  saturate(target: LoadTarget, run: SaturationRun): Promise<SaturationResult>;
  fixedRate(target: LoadTarget, run: FixedRateRun): Promise<FixedRateResult>;
}

export const failureShare = (r: { completed: number; failed: number }): number =>
  r.completed + r.failed === 0 ? 1 : r.failed / (r.completed + r.failed);

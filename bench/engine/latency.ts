/**
 * Response times at a fixed transaction rate: the load generator starts OPTIONS (or calls, at
 * half the rate since a call is two transactions) open-loop against a fresh engine and records
 * request -> 200 for every timed step, after a warm-up.
 */
import { startEngine, type EngineKind } from './engine-under-test.js';
import { TRANSACTIONS_PER, type LoadGenerator, type Scenario } from './load.js';
import { distributionOf, type Distribution } from './stats.js';

/** Target for every timed step: p99 below this at the fixed rate. */
export const P99_TARGET_MS = 5;

export interface LatencyFigure {
  engine: EngineKind;
  scenario: Scenario;
  /** OPTIONS or calls started per second */
  rate: number;
  /** by timed step: options, or invite and bye */
  steps: Record<string, Distribution>;
  completed: number;
  failed: number;
}

export interface LatencyRun {
  /** transactions per second */
  transactionRate: number;
  seconds: number;
  warmup: number;
  pauseMs: number;
}

export async function measureLatency(engine: EngineKind, scenario: Scenario, load: LoadGenerator,
  run: LatencyRun, drachtioBin?: string): Promise<LatencyFigure> {
  const rate = run.transactionRate / TRANSACTIONS_PER[scenario];
  const eut = await startEngine(engine, drachtioBin);
  try {
    const result = await load.fixedRate({ address: '127.0.0.1', port: eut.sipPort }, {
      scenario, rate, seconds: run.warmup + run.seconds, warmupSeconds: run.warmup, pauseMs: run.pauseMs,
    });
    const steps = Object.fromEntries(Object.entries(result.responseTimes).map(([step, xs]) => [step, distributionOf(xs)]));
    return { engine, scenario, rate, steps, completed: result.completed, failed: result.failed };
  } finally {
    await eut.stop();
  }
}

/**
 * Throughput at saturation: the load generator keeps a fixed number of OPTIONS or calls in
 * flight (closed loop) against a fresh engine, and completed units per second are counted after
 * a warm-up. While failures reach 1%, the run is repeated with half the concurrency.
 */
import { startEngine, type EngineKind, type EngineMeasure } from './engine-under-test.js';
import { failureShare, type LoadGenerator, type Scenario } from './load.js';

/** At or above this share of failed units a saturation run does not count. */
export const MAX_FAILURE_SHARE = 0.01;
const MAX_ATTEMPTS = 3;

export interface ThroughputFigure {
  engine: EngineKind;
  scenario: Scenario;
  /** completed OPTIONS or calls per second */
  perSecond: number;
  failureShare: number;
  /** the concurrency of the run reported (after any halving) */
  concurrency: number;
  /** CPU per OPTIONS or call, µs: the embedded child (engine + app), or drachtio-server alone */
  engineCpuMicrosPerUnit: number;
  /** drachtio only: the app process's CPU per unit, µs */
  appCpuMicrosPerUnit?: number;
}

export interface ThroughputRun {
  seconds: number;
  warmup: number;
  concurrency: number;
  pauseMs: number;
}

export async function measureThroughput(engine: EngineKind, scenario: Scenario, load: LoadGenerator,
  run: ThroughputRun, drachtioBin?: string): Promise<ThroughputFigure> {
  let concurrency = run.concurrency;
  let figure: ThroughputFigure | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const eut = await startEngine(engine, drachtioBin);
    try {
      const before = await eut.measure();
      const result = await load.saturate({ address: '127.0.0.1', port: eut.sipPort }, {
        scenario, concurrency, seconds: run.seconds, warmupSeconds: run.warmup, pauseMs: run.pauseMs,
      });
      const after = await eut.measure();
      figure = {
        engine, scenario, perSecond: result.perSecond, failureShare: failureShare(result), concurrency,
        ...cpuPerUnit(scenario, before, after),
      };
    } finally {
      await eut.stop();
    }
    if (figure.failureShare < MAX_FAILURE_SHARE) break;
    concurrency = Math.max(1, Math.floor(concurrency / 2));
  }
  return figure!;
}

/** CPU over the whole run (warm-up included) divided by the units the app answered in it. */
function cpuPerUnit(scenario: Scenario, before: EngineMeasure, after: EngineMeasure):
  Pick<ThroughputFigure, 'engineCpuMicrosPerUnit' | 'appCpuMicrosPerUnit'> {
  const unitsOf = (m: EngineMeasure): number => (scenario === 'options' ? m.counts.options : m.counts.invites);
  const units = Math.max(1, unitsOf(after) - unitsOf(before));
  const engineCpuMicrosPerUnit = (after.engineCpuMicros - before.engineCpuMicros) / units;
  if (after.appCpuMicros === undefined || before.appCpuMicros === undefined) return { engineCpuMicrosPerUnit };
  return { engineCpuMicrosPerUnit, appCpuMicrosPerUnit: (after.appCpuMicros - before.appCpuMicros) / units };
}

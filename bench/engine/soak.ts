/**
 * Memory under steady load: calls at a fixed rate against a fresh engine for warm-up + soak
 * seconds, sampling the engine process every interval. The slope compares the average of the
 * first and last thirds of the samples taken after the warm-up.
 */
import { startEngine, type EngineKind } from './engine-under-test.js';
import type { LoadGenerator } from './load.js';
import { distributionOf, mean, type Distribution } from './stats.js';

/** Growth of the last third over the first third below this share counts as flat. */
export const FLAT_SHARE = 0.05;

export interface MemorySample {
  /** seconds since the load started */
  atS: number;
  engineRss: number;
  /** embedded only: heap live after a full collection (taken right after the RSS reading) */
  engineLiveHeap?: number;
  appRss?: number;
}

export interface Slope {
  firstThird: number;
  lastThird: number;
  /** (last - first) / first */
  share: number;
  /** bytes per minute between the thirds' midpoints */
  perMinute: number;
}

export interface SoakFigure {
  engine: EngineKind;
  /** calls per second */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  samples: MemorySample[];
  rss?: Slope;
  heap?: Slope;
  completed: number;
  failed: number;
  steps: Record<string, Distribution>;
}

export interface SoakRun {
  rate: number;
  seconds: number;
  warmup: number;
  intervalSeconds: number;
  pauseMs: number;
}

export async function measureSoak(engine: EngineKind, load: LoadGenerator, run: SoakRun,
  drachtioBin?: string): Promise<SoakFigure> {
  const eut = await startEngine(engine, drachtioBin);
  const samples: MemorySample[] = [];
  const started = performance.now();
  const sample = async (): Promise<void> => {
    const m = await eut.measure(true);
    samples.push({ atS: (performance.now() - started) / 1000, engineRss: m.engineRss, engineLiveHeap: m.engineLiveHeap, appRss: m.appRss });
  };
  let sampler: NodeJS.Timeout | undefined;
  try {
    await sample();
    sampler = setInterval(() => void sample().catch(() => undefined), run.intervalSeconds * 1000);
    const result = await load.fixedRate({ address: '127.0.0.1', port: eut.sipPort }, {
      scenario: 'call', rate: run.rate, seconds: run.warmup + run.seconds, warmupSeconds: run.warmup, pauseMs: run.pauseMs,
    });
    clearInterval(sampler);
    const counted = samples.filter((s) => s.atS >= run.warmup);
    const heaps = counted.flatMap((s) => (s.engineLiveHeap === undefined ? [] : [{ atS: s.atS, v: s.engineLiveHeap }]));
    return {
      engine, rate: run.rate, warmupSeconds: run.warmup, seconds: run.seconds, samples,
      rss: slopeOf(counted.map((s) => ({ atS: s.atS, v: s.engineRss }))),
      heap: heaps.length ? slopeOf(heaps) : undefined,
      completed: result.completed, failed: result.failed,
      steps: Object.fromEntries(Object.entries(result.responseTimes).map(([k, xs]) => [k, distributionOf(xs)])),
    };
  } finally {
    clearInterval(sampler);
    await eut.stop();
  }
}

/** First third against last third of a series; undefined with fewer than two points. */
export function slopeOf(series: Array<{ atS: number; v: number }>): Slope | undefined {
  if (series.length < 2) return undefined;
  const third = Math.max(1, Math.floor(series.length / 3));
  const first = series.slice(0, third);
  const last = series.slice(-third);
  const firstThird = mean(first.map((p) => p.v));
  const lastThird = mean(last.map((p) => p.v));
  const minutes = (mean(last.map((p) => p.atS)) - mean(first.map((p) => p.atS))) / 60;
  return { firstThird, lastThird, share: (lastThird - firstThird) / firstThird, perMinute: minutes > 0 ? (lastThird - firstThird) / minutes : 0 };
}

/**
 * The benchmark's flags, each documented once next to its default (see README.md for usage).
 *
 *   npm run bench:engine -- [--soak 300] [--phases throughput,latency,soak] [--engines embedded]
 */
import type { EngineKind } from './engine-under-test.js';

export type Phase = 'throughput' | 'latency' | 'soak';
export type LoadChoice = 'sipp' | 'builtin';

export interface BenchOptions {
  /** which engines to measure; drachtio is skipped (with a reason) when its binary is absent */
  engines: EngineKind[];
  /** which measurements to run, in this order */
  phases: Phase[];
  /** 'sipp' when SIPp is found, else 'builtin'; --load builtin forces the built-in generator */
  load?: LoadChoice;
  /** length of each saturation run, seconds; the first `warmup` seconds are not counted */
  seconds: number;
  warmup: number;
  /** OPTIONS kept in flight by the closed loop (halved and retried while failures >= 1%) */
  optionsConcurrency: number;
  /** calls kept in flight; most sit in the ACK -> BYE pause, so this is higher */
  callConcurrency: number;
  /** transactions per second for the response-time runs: OPTIONS at this rate, calls at half (INVITE + BYE) */
  latencyRate: number;
  /** response-time run length after its own warm-up, seconds */
  latencySeconds: number;
  latencyWarmup: number;
  /** ACK -> BYE pause in the call scenario, ms */
  pauseMs: number;
  /** soak length counted for the memory slope, seconds */
  soakSeconds: number;
  /**
   * soak load before the counted part, seconds. Server transactions live 64*T1 = 32 s after their
   * final response on UDP (Timer J, and Timer L for INVITE 2xx), so memory can only level off
   * after that; the default is just past it.
   */
  soakWarmup: number;
  /** calls/s for the soak; default 500, or 60% of the slowest measured call saturation if lower */
  soakRate?: number;
  /** memory sampling period, seconds */
  soakInterval: number;
}

export const DEFAULTS: BenchOptions = {
  engines: ['embedded', 'drachtio'],
  phases: ['throughput', 'latency', 'soak'],
  seconds: 8,
  warmup: 2,
  optionsConcurrency: 100,
  callConcurrency: 500,
  latencyRate: 1000,
  latencySeconds: 10,
  latencyWarmup: 3,
  pauseMs: 100,
  soakSeconds: 30,
  soakWarmup: 33,
  soakInterval: 5,
};

export const DEFAULT_SOAK_RATE = 500;

const NUMERIC: Record<string, keyof BenchOptions> = {
  '--seconds': 'seconds',
  '--warmup': 'warmup',
  '--options-concurrency': 'optionsConcurrency',
  '--call-concurrency': 'callConcurrency',
  '--latency-rate': 'latencyRate',
  '--latency-seconds': 'latencySeconds',
  '--latency-warmup': 'latencyWarmup',
  '--pause': 'pauseMs',
  '--soak': 'soakSeconds',
  '--soak-warmup': 'soakWarmup',
  '--soak-rate': 'soakRate',
  '--soak-interval': 'soakInterval',
};

export function parseOptions(argv: string[]): BenchOptions {
  const opts: BenchOptions = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') throw new UsageError('');
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    i++;
    const numeric = NUMERIC[flag];
    if (numeric) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} takes a number, got ${value}`);
      (opts as unknown as Record<string, number>)[numeric] = n;
    } else if (flag === '--engines') {
      opts.engines = listOf(value, ['embedded', 'drachtio'], flag);
    } else if (flag === '--phases') {
      opts.phases = listOf(value, ['throughput', 'latency', 'soak'], flag);
    } else if (flag === '--load') {
      opts.load = listOf(value, ['sipp', 'builtin'], flag)[0];
    } else throw new UsageError(`unknown flag ${flag}`);
  }
  if (opts.warmup >= opts.seconds) throw new UsageError('--warmup must be shorter than --seconds');
  return opts;
}

function listOf<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !allowed.includes(s as T));
  if (bad.length || !items.length) throw new UsageError(`${flag} takes ${allowed.join(',')}; got ${value}`);
  return items as T[];
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run bench:engine -- [flags]
  --soak <s>                 soak length counted for the memory slope (default ${DEFAULTS.soakSeconds}; e.g. 300)
  --soak-warmup <s>          soak load before counting (default ${DEFAULTS.soakWarmup}: past Timer J/L, 32 s)
  --soak-rate <calls/s>      soak rate (default ${DEFAULT_SOAK_RATE}, or 60% of the slowest call saturation)
  --soak-interval <s>        memory sampling period (default ${DEFAULTS.soakInterval})
  --phases <list>            throughput,latency,soak (default all)
  --engines <list>           embedded,drachtio (default both; drachtio needs DRACHTIO_BIN or drachtio on PATH)
  --load sipp|builtin        load generator (default SIPp when SIPP_BIN or sipp on PATH, else built-in)
  --seconds <s>              saturation run length (default ${DEFAULTS.seconds}), --warmup <s> not counted (default ${DEFAULTS.warmup})
  --options-concurrency <n>  OPTIONS in flight at saturation (default ${DEFAULTS.optionsConcurrency})
  --call-concurrency <n>     calls in flight at saturation (default ${DEFAULTS.callConcurrency})
  --latency-rate <tx/s>      transactions/s for response times (default ${DEFAULTS.latencyRate}; calls run at half)
  --latency-seconds <s>      counted response-time run (default ${DEFAULTS.latencySeconds}), --latency-warmup <s> (default ${DEFAULTS.latencyWarmup})
  --pause <ms>               ACK -> BYE pause in the call scenario (default ${DEFAULTS.pauseMs})`;

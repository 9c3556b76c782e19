/**
 * bench:engine (issue #3): the embedded SIP engine against drachtio-server, same drachtio-srf
 * app (bench-app.ts), same load, same run, on loopback UDP. Prints figures; asserts nothing.
 *
 *   npm run bench:engine -- [--soak 300] [--phases ...] [--engines ...]   (flags: options.ts, README.md)
 *
 * Phases, each against a fresh engine, engines interleaved so that a busy moment on the
 * machine does not land on one engine only:
 *   throughput  OPTIONS and calls per second at saturation (closed loop, failures < 1%)
 *   latency     p50/p99 response times at a fixed 1,000 transactions/s
 *   soak        engine process memory under steady call load, and its slope
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { ENGINE_VERSION } from '../../lib/engine/index.js';
import { drachtioBin, sippBin } from '../../lib/testkit/binaries.js';
import { measureLatency } from './latency.js';
import type { LoadGenerator, Scenario } from './load.js';
import { DEFAULT_SOAK_RATE, parseOptions, USAGE, UsageError, type BenchOptions } from './options.js';
import { latencyLines, soakLines, throughputLines, type BenchFigures } from './report.js';
import { SippLoad } from './sipp-load.js';
import { measureSoak } from './soak.js';
import { measureThroughput } from './throughput.js';
import { UdpLoad } from './udp-load.js';

const SCENARIOS: Scenario[] = ['options', 'call'];

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (err.message) console.error(err.message);
    console.error(USAGE);
    process.exit(err.message ? 2 : 0);
  }
  const notes: string[] = [];
  const load = chooseLoad(opts, notes);
  const drachtio = drachtioBin();
  const engines = opts.engines.filter((e) => {
    if (e !== 'drachtio') return true;
    if (!drachtio) notes.push('drachtio-server skipped: no binary (set DRACHTIO_BIN or put drachtio on PATH)');
    else if (!(load instanceof SippLoad)) notes.push('drachtio-server skipped: it is only compared under SIPp load');
    else return true;
    return false;
  });
  const started = Date.now();
  const header = [
    `bench:engine ${new Date().toISOString()}  node ${process.version}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`,
    `load: ${load.description}`,
    `engines: ${engines.map((e) => (e === 'embedded' ? `embedded ${ENGINE_VERSION}` : `drachtio-server ${versionOf(drachtio!)} (${drachtio})`)).join(' vs ')}; app: bench/engine/bench-app.ts on drachtio-srf`,
    ...notes.map((n) => `note: ${n}`),
  ];
  console.error(`bench:engine: ${engines.join(' vs ')} under ${load.description}; about ${Math.round(plannedSeconds(opts, engines.length))} s`);

  const figures: BenchFigures = { engines, throughput: [], latency: [], soak: [] };
  for (const phase of opts.phases) {
    if (phase === 'throughput') {
      for (const scenario of SCENARIOS) {
        for (const engine of engines) {
          const concurrency = scenario === 'options' ? opts.optionsConcurrency : opts.callConcurrency;
          const f = await measureThroughput(engine, scenario, load,
            { seconds: opts.seconds, warmup: opts.warmup, concurrency, pauseMs: opts.pauseMs }, drachtio);
          progress(`${engine} ${scenario} saturation: ${Math.round(f.perSecond)}/s, ${(f.failureShare * 100).toFixed(2)}% failed at ${f.concurrency} in flight`);
          figures.throughput.push(f);
        }
      }
    } else if (phase === 'latency') {
      for (const scenario of SCENARIOS) {
        for (const engine of engines) {
          const f = await measureLatency(engine, scenario, load,
            { transactionRate: opts.latencyRate, seconds: opts.latencySeconds, warmup: opts.latencyWarmup, pauseMs: opts.pauseMs }, drachtio);
          progress(`${engine} ${scenario} at ${f.rate}/s: ${Object.entries(f.steps).map(([k, d]) => `${k} p50 ${d.p50.toFixed(2)} p99 ${d.p99.toFixed(2)} ms`).join(', ')}; ${f.failed} failed`);
          figures.latency.push(f);
        }
      }
    } else {
      const rate = soakRate(opts, figures);
      for (const engine of engines) {
        progress(`${engine} soak: ${rate} calls/s for ${opts.soakWarmup + opts.soakSeconds} s`);
        const f = await measureSoak(engine, load,
          { rate, seconds: opts.soakSeconds, warmup: opts.soakWarmup, intervalSeconds: opts.soakInterval, pauseMs: opts.pauseMs }, drachtio);
        figures.soak.push(f);
      }
    }
  }

  const sections = [
    throughputLines(figures, opts),
    latencyLines(figures, { transactionRate: opts.latencyRate, seconds: opts.latencySeconds, warmup: opts.latencyWarmup }),
    soakLines(figures, opts.soakInterval),
  ].filter((s) => s.length);
  const footer = `took ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end`;
  console.log(['', ...header, '', ...sections.flatMap((s) => [...s, '']), footer].join('\n'));
}

/** The load time the phases plan for, plus a couple of seconds per fresh engine. */
function plannedSeconds(opts: BenchOptions, engines: number): number {
  const perEngine = { throughput: 2 * (opts.seconds + 2), latency: 2 * (opts.latencySeconds + opts.latencyWarmup + 2), soak: opts.soakWarmup + opts.soakSeconds + 2 };
  return engines * opts.phases.reduce((sum, p) => sum + perEngine[p], 0);
}

function chooseLoad(opts: BenchOptions, notes: string[]): LoadGenerator {
  const sipp = sippBin();
  if (opts.load === 'sipp' && !sipp) throw new Error('--load sipp: no SIPp (set SIPP_BIN or put sipp on PATH)');
  if (sipp && opts.load !== 'builtin') return new SippLoad(sipp);
  notes.push(opts.load === 'builtin' ? 'SIPp not used: --load builtin' : 'SIPp skipped: no binary (set SIPP_BIN or put sipp on PATH); using the built-in UDP generator');
  return new UdpLoad();
}

/** The flag, else 500 calls/s, lowered to 60% of the slowest call saturation measured. */
function soakRate(opts: BenchOptions, figures: BenchFigures): number {
  if (opts.soakRate) return opts.soakRate;
  const saturations = figures.throughput.filter((t) => t.scenario === 'call').map((t) => t.perSecond);
  const sustainable = saturations.length ? Math.floor(0.6 * Math.min(...saturations)) : DEFAULT_SOAK_RATE;
  return Math.min(DEFAULT_SOAK_RATE, sustainable);
}

function versionOf(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown version';
  }
}

const progress = (line: string): void => console.error(`· ${line}`);

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exit(1);
});

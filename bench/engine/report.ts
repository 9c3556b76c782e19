/**
 * Prints the figures side by side, embedded first, with the ratio embedded/drachtio and the
 * PASS/MISS labels of issue #3's targets. Labels only: the process exits 0 either way.
 */
import type { EngineKind } from './engine-under-test.js';
import type { LatencyFigure } from './latency.js';
import { P99_TARGET_MS } from './latency.js';
import type { Scenario } from './load.js';
import { FLAT_SHARE, type Slope, type SoakFigure } from './soak.js';
import type { Distribution } from './stats.js';
import type { ThroughputFigure } from './throughput.js';
import { MAX_FAILURE_SHARE } from './throughput.js';

export interface BenchFigures {
  engines: EngineKind[];
  throughput: ThroughputFigure[];
  latency: LatencyFigure[];
  soak: SoakFigure[];
}

const NAMES: Record<EngineKind, string> = { embedded: 'embedded', drachtio: 'drachtio' };
const UNIT: Record<Scenario, string> = { options: 'OPTIONS/s', call: 'calls/s' };
const STEP_NAMES: Record<string, string> = { options: 'OPTIONS→200', invite: 'INVITE→200', bye: 'BYE→200' };

export const label = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

export function throughputLines(f: BenchFigures, run: { seconds: number; warmup: number }): string[] {
  if (!f.throughput.length) return [];
  const out = [
    `Throughput at saturation (closed loop, fresh engine, counted ${run.seconds - run.warmup} s after ${run.warmup} s warm-up, failures < ${MAX_FAILURE_SHARE * 100}%)`,
    `  ${pad('', 11)}${f.engines.map((e) => padL(NAMES[e], 12)).join('')}${f.engines.length > 1 ? '   ratio  target: embedded ≥ drachtio' : ''}`,
  ];
  for (const scenario of ['options', 'call'] as const) {
    const by = (e: EngineKind): ThroughputFigure | undefined => f.throughput.find((t) => t.engine === e && t.scenario === scenario);
    if (!f.engines.some((e) => by(e))) continue;
    const cells = f.engines.map((e) => {
      const t = by(e);
      return padL(t ? `${Math.round(t.perSecond).toLocaleString('en-US')}${t.failureShare >= MAX_FAILURE_SHARE ? '!' : ''}` : '-', 12);
    });
    let tail = '';
    const emb = by('embedded');
    const dra = by('drachtio');
    if (emb && dra) tail = `   ${(emb.perSecond / dra.perSecond).toFixed(2).padStart(5)}  ${label(emb.perSecond >= dra.perSecond)}`;
    out.push(`  ${pad(UNIT[scenario], 11)}${cells.join('')}${tail}`);
  }
  for (const t of f.throughput) {
    const unit = t.scenario === 'options' ? 'OPTIONS' : 'call';
    const cpu = t.appCpuMicrosPerUnit === undefined
      ? `${Math.round(t.engineCpuMicrosPerUnit)} µs (engine + app, one process)`
      : `${Math.round(t.engineCpuMicrosPerUnit)} µs drachtio-server + ${Math.round(t.appCpuMicrosPerUnit)} µs app`;
    out.push(`  ${pad(NAMES[t.engine], 9)} ${pad(unit, 7)} CPU per ${unit}: ${cpu}; ${t.concurrency} in flight, ${(t.failureShare * 100).toFixed(2)}% failed`);
  }
  if (f.throughput.some((t) => t.failureShare >= MAX_FAILURE_SHARE)) out.push('  ! failures stayed ≥ 1% even at the lowest concurrency tried');
  return out;
}

export function latencyLines(f: BenchFigures, run: { transactionRate: number; seconds: number; warmup: number }): string[] {
  if (!f.latency.length) return [];
  const out = [
    `Response time at ${run.transactionRate.toLocaleString('en-US')} transactions/s (fresh engine, ${run.seconds} s after ${run.warmup} s warm-up; target p99 < ${P99_TARGET_MS} ms)`,
    `  ${pad('', 31)}${f.engines.map((e) => pad(`${NAMES[e]} p50 / p99 / max ms`, 36)).join('')}`,
  ];
  for (const scenario of ['options', 'call'] as const) {
    const figures = f.engines.map((e) => f.latency.find((l) => l.engine === e && l.scenario === scenario));
    const first = figures.find(Boolean);
    if (!first) continue;
    for (const step of Object.keys(first.steps)) {
      const rate = `${Math.round(first.rate)} ${scenario === 'options' ? 'OPTIONS' : 'calls'}/s`;
      const cells = figures.map((l) => pad(l ? latencyCell(l.steps[step], l.failed) : '-', 36));
      out.push(`  ${pad(`${STEP_NAMES[step] ?? step} (${rate})`, 31)}${cells.join('')}`);
    }
  }
  return out;
}

function latencyCell(d: Distribution | undefined, failed: number): string {
  if (!d || d.count === 0) return 'no samples';
  const failures = failed ? ` ${failed} failed` : '';
  return `${fmtMs(d.p50)} / ${fmtMs(d.p99)} / ${fmtMs(d.max)}  ${label(d.p99 < P99_TARGET_MS)}${failures}`;
}

export function soakLines(f: BenchFigures, intervalSeconds: number): string[] {
  if (!f.soak.length) return [];
  const first = f.soak[0]!;
  const out = [
    `Memory soak: ${first.rate} calls/s for ${first.warmupSeconds} s warm-up + ${first.seconds} s counted, sampled every ${intervalSeconds} s (* = counted),`,
    '  MB; embedded heapUsed read after a full GC (RSS before it); drachtio-server VmRSS, its app process beside',
    `  ${padL('t(s)', 5)}${f.soak.map((s) => (s.engine === 'embedded' ? padL('embedded RSS', 14) + padL('heapUsed', 11) : padL('drachtio VmRSS', 16) + padL('app RSS', 10))).join('')}`,
  ];
  const rows = Math.max(...f.soak.map((s) => s.samples.length));
  for (let i = 0; i < rows; i++) {
    const at = f.soak.find((s) => s.samples[i])?.samples[i]?.atS ?? 0;
    const counted = at >= first.warmupSeconds ? '*' : ' ';
    const cells = f.soak.map((s) => {
      const m = s.samples[i];
      if (!m) return s.engine === 'embedded' ? padL('', 25) : padL('', 26);
      return s.engine === 'embedded'
        ? padL(mb(m.engineRss), 14) + padL(mb(m.engineLiveHeap ?? NaN), 11)
        : padL(mb(m.engineRss), 16) + padL(mb(m.appRss ?? NaN), 10);
    });
    out.push(`  ${padL(at.toFixed(0), 4)}${counted}${cells.join('')}`);
  }
  for (const s of f.soak) {
    const parts = [`RSS ${slopeText(s.rss)}`];
    if (s.heap) parts.push(`heapUsed ${slopeText(s.heap)}`);
    // no response times here: the embedded child's forced GC at every sample would be in them
    out.push(`  ${pad(NAMES[s.engine], 9)} last vs first third: ${parts.join('; ')}; ${s.completed.toLocaleString('en-US')} calls, ${s.failed} failed`);
  }
  return out;
}

function slopeText(s: Slope | undefined): string {
  if (!s) return 'n/a (too few samples)';
  const sign = s.lastThird >= s.firstThird ? '+' : '−';
  const verdict = Math.abs(s.share) < FLAT_SHARE ? 'flat' : s.share > 0 ? 'GROWING' : 'shrinking';
  return `${mb(s.firstThird)} → ${mb(s.lastThird)} MB (${sign}${Math.abs(s.share * 100).toFixed(1)}%, ${sign}${mb(Math.abs(s.perMinute))} MB/min) ${verdict}`;
}

const mb = (bytes: number): string => (Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(1) : '-');
const fmtMs = (v: number): string => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) : '-');
const pad = (s: string, n: number): string => s.padEnd(n);
const padL = (s: string, n: number): string => s.padStart(n);

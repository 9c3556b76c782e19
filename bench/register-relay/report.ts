/** The printout of bench/register-relay.ts: a block per system, then one summary table. */
import { availableParallelism } from 'node:os';
import { ms } from '../support/stats.js';
import type { FailureCause } from './protocol.js';
import type { FixedRateFigures, PhaseCpu, RunSettings, SaturationFigures, SystemFigures } from './measure.js';

/** The phones run on one event loop: near one core they may be what limits the run. */
const GENERATOR_LIMIT_CORES = 0.85;

const n = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const perReg = (seconds: number, regs: number): string => (regs > 0 ? `${((seconds * 1000) / regs).toFixed(3)} ms` : 'n/a');
const cores = (seconds: number, wall: number): string => (wall > 0 ? (seconds / wall).toFixed(2) : 'n/a');
const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : 'n/a');
const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a');
const short = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : 'n/a');
const systemCpu = (p: PhaseCpu): number => Object.values(p.system).reduce((a, b) => a + b, 0);
const allCpu = (p: PhaseCpu): number => systemCpu(p) + p.phones + p.registrar;

function causes(f: Partial<Record<FailureCause, number>>): string {
  const list = Object.entries(f).map(([k, v]) => `${k} ${v}`);
  return list.length > 0 ? ` (${list.join(', ')})` : '';
}

export function printHeader(s: RunSettings): void {
  console.log(`register relay: REGISTERs from raw UDP phones through a relay to a raw UDP registrar, ${s.digest ? 'digest (401, then answered)' : 'no digest'}`);
  const phases = [
    s.phases.saturation ? `saturation: ${s.window} in flight, ${s.seconds} s measured after ${s.warmupSeconds} s warm-up` : undefined,
    s.phases.fixedRate ? `fixed rate: ${s.rate}/s for ${s.seconds} s` : undefined,
  ].filter(Boolean);
  console.log(`  ${n(s.phones)} phones on ${s.sockets} UDP socket${s.sockets === 1 ? '' : 's'}; ${phases.join('; ')}`);
  console.log(`  figures are per registration: ${s.digest ? 'two REGISTER transactions (the first challenged with 401, the second answered with digest)' : 'one REGISTER transaction'}, phone → relay → registrar and back`);
}

export function printSkipped(why: string): void {
  console.log('');
  console.log(`skipped: ${why}`);
}

function saturationLine(sat: SaturationFigures): string {
  return `  saturation  ${n(sat.perSecond)} registrations/s over ${sat.cpu.wallSeconds.toFixed(1)} s;  failed ${n(sat.failed)} of ${n(sat.started)} (${pct(sat.failed, sat.started)})${causes(sat.failures)};  retransmitted ${n(sat.retransmissions)};  registrar got ${sat.upstreamPerRegistration.toFixed(2)} REGISTERs per registration`;
}

function fixedRateLine(fr: FixedRateFigures): string {
  return `  fixed rate  asked ${fr.rate}/s (${n(fr.asked)}): sent ${fr.sentPerSecond.toFixed(0)}/s, completed ${fr.completedPerSecond.toFixed(0)}/s;  REGISTER → 200 p50 ${ms(fr.latency.p50)}, p99 ${ms(fr.latency.p99)}, max ${ms(fr.latency.max)};  failed ${n(fr.failed)} of ${n(fr.launched)}${causes(fr.failures)};  retransmitted ${n(fr.retransmissions)}`;
}

/** One row of the CPU table: per registration and cores, at saturation and at the fixed rate. */
function cpuRow(label: string, sat: PhaseCpu | undefined, fixed: PhaseCpu | undefined, pick: (p: PhaseCpu) => number, perRegistration = true): string {
  const per = (p: PhaseCpu | undefined): string => (p && perRegistration ? perReg(pick(p), p.registrations) : '');
  const used = (p: PhaseCpu | undefined): string => (p ? cores(pick(p), p.wallSeconds) : '-');
  return `    ${label.padEnd(22)}${per(sat).padStart(10)}  ${per(fixed).padStart(10)}    ${used(sat).padStart(5)}  ${used(fixed).padStart(5)}`;
}

export function printSystem(r: SystemFigures): void {
  const sat = r.saturation?.cpu;
  const fixed = r.fixedRate?.cpu;
  console.log('');
  console.log(`${r.label}   (${r.machine})`);
  if (r.saturation) console.log(saturationLine(r.saturation));
  if (r.fixedRate) console.log(fixedRateLine(r.fixedRate));
  console.log('  CPU                      per registration          cores used');
  console.log('                          saturation  fixed rate    sat.   fixed');
  for (const name of Object.keys(sat?.system ?? fixed?.system ?? {})) console.log(cpuRow(name, sat, fixed, (p) => p.system[name] ?? 0));
  console.log(cpuRow('phones (load gen.)', sat, fixed, (p) => p.phones));
  console.log(cpuRow('registrar', sat, fixed, (p) => p.registrar));
  console.log(`${cpuRow('all of them', sat, fixed, allCpu, false)}   of ${availableParallelism()} cores`);
  const genCores = Math.max(...[sat, fixed].map((p) => (p && p.wallSeconds > 0 ? p.phones / p.wallSeconds : 0)));
  console.log(genCores >= GENERATOR_LIMIT_CORES
    ? `  load generator: up to ${genCores.toFixed(2)} cores, near the one core its event loop can use: it may have limited this run`
    : `  load generator: up to ${genCores.toFixed(2)} cores, of the one its event loop can use: not what limited this run`);
  if (r.self) {
    const lost = r.self.bindings < r.distinctOk;
    if (r.self.gcPauses?.length) console.log(`  pushwake GC pauses since start: ${r.self.gcPauses.map((g) => `${g.kind} ${g.count} × ${((g.seconds * 1000) / g.count).toFixed(2)} ms = ${(g.seconds * 1000).toFixed(0)} ms`).join(';  ')}`);
    console.log(`  pushwake: heap ${mib(r.self.heapBytes)};  bindings stored ${n(r.self.bindings)} for ${n(r.distinctOk)} phones that got 200${lost ? `  LOST ${n(r.distinctOk - r.self.bindings)}` : ''}`);
  } else {
    console.log(`  phones that got 200: ${n(r.distinctOk)}`);
  }
  if (r.socketErrors > 0) console.log(`  the phones' sockets reported ${n(r.socketErrors)} errors`);
  console.log(`  ${r.cpuNote}`);
  if (r.complaints.length === 0) console.log('  logged: no warnings or errors');
  else for (const c of r.complaints) console.log(`  logged: ${c}`);
}

export function printSummary(results: SystemFigures[], s: RunSettings): void {
  console.log('');
  console.log(`summary (${s.digest ? 'digest' : 'no digest'}; CPU per registration is the system under test's, all its processes)`);
  console.log(`  ${'system'.padEnd(34)}${'sat./s'.padStart(7)}${'failed'.padStart(8)}  ${`@${s.rate}/s`.padStart(8)}${'p50'.padStart(11)}${'p99'.padStart(11)}${'max'.padStart(11)}${'failed'.padStart(7)}  ${'CPU sat.'.padStart(9)}${'CPU rate'.padStart(10)}  ${'gen. CPU'.padStart(9)}`);
  for (const r of results) {
    const sat = r.saturation;
    const fr = r.fixedRate;
    const satCols = sat ? `${n(sat.perSecond).padStart(7)}${pct(sat.failed, sat.started).padStart(8)}` : `${'-'.padStart(7)}${'-'.padStart(8)}`;
    const frCols = fr
      ? `${fr.completedPerSecond.toFixed(0).padStart(8)}${short(fr.latency.p50).padStart(11)}${short(fr.latency.p99).padStart(11)}${short(fr.latency.max).padStart(11)}${n(fr.failed).padStart(7)}`
      : `${'-'.padStart(8)}${'-'.padStart(11)}${'-'.padStart(11)}${'-'.padStart(11)}${'-'.padStart(7)}`;
    const cpuSat = sat ? perReg(systemCpu(sat.cpu), sat.cpu.registrations) : '-';
    const cpuRate = fr ? perReg(systemCpu(fr.cpu), fr.cpu.registrations) : '-';
    const gen = sat ?? fr;
    console.log(`  ${r.label.padEnd(34)}${satCols}  ${frCols}  ${cpuSat.padStart(9)}${cpuRate.padStart(10)}  ${(gen ? perReg(gen.cpu.phones, gen.cpu.registrations) : '-').padStart(9)}`);
  }
  console.log(`  gen. CPU: the phones' process per registration${results.some((r) => r.saturation) ? ' at saturation' : ''} (the load generator's own cost)`);
}

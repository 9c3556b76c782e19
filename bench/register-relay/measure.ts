/**
 * One system under test through the two phases of the REGISTER-relay benchmark, with a phones
 * child of its own (so its counts start at zero) and the run's raw registrar:
 *
 * - saturation: closed loop, `window` registrations in flight; `warmupSeconds` not counted, then
 *   `seconds` measured (registrations that got 200, CPU of every process); then no more are
 *   started and the ones in flight end (200, a failure, or Timer F at 32 s), so every failure of
 *   the phase is counted;
 * - fixed rate: open loop, `rate` registrations a second for `seconds`, REGISTER → 200 of each.
 *
 * CPU is read from /proc at the start and end of each measured window; per registration it is
 * that CPU over the registrations that got 200 in the window.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { machineLoad, progress } from '../support/flags.js';
import type { Distribution } from '../support/stats.js';
import { sleep } from '../support/windowed.js';
import { ChildPeer } from '../support/child-peer.js';
import { processCpuSeconds } from './proc-cpu.js';
import type { FailureCause, FixedRateOutcome, FleetCounts, FleetOptions, PhonesReply, PhonesRequest, RegistrarCounts, RegistrarReply, RegistrarRequest } from './protocol.js';
import { cpuBetween, type SelfReport, type SystemUnderTest } from './system-under-test.js';

const NAME = 'register-relay';
const REPLY_TIMEOUT_MS = 10_000;
/** Timer F (32 s) and a margin: by then every registration in flight has ended */
const DRAIN_MS = 34_000;
/** between the phases, so the relay's last transactions of the first end before the second */
const SETTLE_MS = 1000;

export interface RunSettings {
  phones: number;
  sockets: number;
  window: number;
  seconds: number;
  warmupSeconds: number;
  rate: number;
  digest: boolean;
  /** which phases run, in this order: saturation, then fixed rate */
  phases: { saturation: boolean; fixedRate: boolean };
}

export type Registrar = ChildPeer<RegistrarRequest, RegistrarReply>;
type Phones = ChildPeer<PhonesRequest, PhonesReply>;
type CountsReply = Extract<PhonesReply, { type: 'counts' }>;
type RegistrarCountsReply = Extract<RegistrarReply, { type: 'counts' }>;
type FixedRateReply = Extract<PhonesReply, { type: 'fixed-rate-done' }>;

/** CPU seconds over a measured window, and the registrations that got 200 in it. */
export interface PhaseCpu {
  wallSeconds: number;
  registrations: number;
  /** the system under test, by process */
  system: Record<string, number>;
  phones: number;
  registrar: number;
}

export interface SaturationFigures {
  cpu: PhaseCpu;
  perSecond: number;
  /** every registration of the phase, warm-up and drain included */
  started: number;
  failed: number;
  failures: Partial<Record<FailureCause, number>>;
  retransmissions: number;
  /** REGISTERs the registrar received per registration (retransmissions by the relay included) */
  upstreamPerRegistration: number;
}

export interface FixedRateFigures {
  cpu: PhaseCpu;
  /** registrations a second asked for */
  rate: number;
  /** registrations asked for: rate × seconds */
  asked: number;
  launched: number;
  sentPerSecond: number;
  completedPerSecond: number;
  latency: Distribution;
  failed: number;
  failures: Partial<Record<FailureCause, number>>;
  retransmissions: number;
  upstreamPerRegistration: number;
}

export interface SystemFigures {
  label: string;
  machine: string;
  cpuNote: string;
  saturation?: SaturationFigures;
  fixedRate?: FixedRateFigures;
  /** distinct phones that got 200 in either phase */
  distinctOk: number;
  self?: SelfReport;
  complaints: string[];
  socketErrors: number;
}

interface Reading {
  at: number;
  counts: FleetCounts;
  upstream: RegistrarCounts;
  system: Record<string, number>;
  phones: number;
  registrar: number;
}

async function read(sut: SystemUnderTest, phones: Phones, registrar: Registrar): Promise<Reading> {
  const [c, r] = await Promise.all([
    phones.request<CountsReply>({ type: 'counts' }, REPLY_TIMEOUT_MS),
    registrar.request<RegistrarCountsReply>({ type: 'counts' }, REPLY_TIMEOUT_MS),
  ]);
  return { at: performance.now(), counts: c.counts, upstream: r.counts, system: sut.cpu(), phones: processCpuSeconds(phones.pid), registrar: processCpuSeconds(registrar.pid) };
}

function cpuOf(a: Reading, b: Reading): PhaseCpu {
  return {
    wallSeconds: (b.at - a.at) / 1000,
    registrations: b.counts.ok - a.counts.ok,
    system: cpuBetween(a.system, b.system),
    phones: b.phones - a.phones,
    registrar: b.registrar - a.registrar,
  };
}

function failuresBetween(a: FleetCounts, b: FleetCounts): Partial<Record<FailureCause, number>> {
  const out: Partial<Record<FailureCause, number>> = {};
  for (const [k, v] of Object.entries(b.failures) as Array<[FailureCause, number]>) {
    const d = v - (a.failures[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

const upstreamPer = (a: Reading, b: Reading): number => {
  const ended = b.counts.ok + b.counts.failed - (a.counts.ok + a.counts.failed);
  return ended > 0 ? (b.upstream.registers - a.upstream.registers) / ended : Number.NaN;
};

async function saturate(sut: SystemUnderTest, phones: Phones, registrar: Registrar, s: RunSettings): Promise<SaturationFigures> {
  progress(NAME, `${sut.label}: saturation, ${s.window} in flight, ${s.warmupSeconds} s warm-up + ${s.seconds} s`);
  const start = await read(sut, phones, registrar);
  await phones.request({ type: 'closed-loop', window: s.window }, REPLY_TIMEOUT_MS);
  await sleep(s.warmupSeconds * 1000);
  const a = await read(sut, phones, registrar);
  await sleep(s.seconds * 1000);
  const b = await read(sut, phones, registrar);
  await phones.request({ type: 'stop', drainMs: DRAIN_MS }, DRAIN_MS + REPLY_TIMEOUT_MS);
  const end = await read(sut, phones, registrar);
  const cpu = cpuOf(a, b);
  return {
    cpu,
    perSecond: cpu.registrations / cpu.wallSeconds,
    started: end.counts.ok + end.counts.failed - (start.counts.ok + start.counts.failed),
    failed: end.counts.failed - start.counts.failed,
    failures: failuresBetween(start.counts, end.counts),
    retransmissions: end.counts.retransmissions - start.counts.retransmissions,
    upstreamPerRegistration: upstreamPer(start, end),
  };
}

async function fixedRate(sut: SystemUnderTest, phones: Phones, registrar: Registrar, s: RunSettings): Promise<FixedRateFigures> {
  progress(NAME, `${sut.label}: fixed rate, ${s.rate}/s for ${s.seconds} s`);
  const a = await read(sut, phones, registrar);
  const reply = await phones.request<FixedRateReply>({ type: 'fixed-rate', rate: s.rate, seconds: s.seconds }, s.seconds * 1000 + DRAIN_MS + REPLY_TIMEOUT_MS);
  const b = await read(sut, phones, registrar);
  const o: FixedRateOutcome = reply.outcome;
  const ok = o.counts.ok - a.counts.ok;
  return {
    cpu: cpuOf(a, b),
    rate: s.rate,
    asked: Math.max(1, Math.round(s.rate * s.seconds)),
    launched: o.launched,
    sentPerSecond: o.launched / (o.paceSeconds + 1 / s.rate),
    completedPerSecond: ok / Math.max(o.endSeconds, 1e-3),
    latency: o.latency,
    failed: o.counts.failed - a.counts.failed,
    failures: failuresBetween(a.counts, o.counts),
    retransmissions: o.counts.retransmissions - a.counts.retransmissions,
    upstreamPerRegistration: upstreamPer(a, b),
  };
}

/** Both phases against `sut`, with a phones child of its own; the child is stopped on every way out. */
export async function measureSystem(sut: SystemUnderTest, registrar: Registrar, s: RunSettings, runTag: string): Promise<SystemFigures> {
  const machine = machineLoad();
  const fleet: FleetOptions = { target: sut.target, phones: s.phones, sockets: s.sockets, digest: s.digest, runTag };
  const { peer: phones, first } = await ChildPeer.start<PhonesRequest, PhonesReply>('phones', join(import.meta.dirname, 'phones-child.ts'), { args: [JSON.stringify(fleet)] });
  try {
    if (first.type !== 'ready') throw new Error(`phones did not start: ${first.type === 'start-failed' ? first.error : first.type}`);
    const saturation = s.phases.saturation ? await saturate(sut, phones, registrar, s) : undefined;
    if (saturation && s.phases.fixedRate) await sleep(SETTLE_MS);
    const fixed = s.phases.fixedRate ? await fixedRate(sut, phones, registrar, s) : undefined;
    const last = await read(sut, phones, registrar);
    const self = await sut.selfReport();
    return {
      label: sut.label, machine, cpuNote: sut.cpuNote, ...(saturation ? { saturation } : {}), ...(fixed ? { fixedRate: fixed } : {}),
      distinctOk: last.counts.distinctOk, ...(self ? { self } : {}), complaints: sut.complaints(), socketErrors: last.counts.socketErrors,
    };
  } finally {
    await phones.stop();
  }
}

/**
 * Heap per parked call (issue #2): what one call costs pushwake while it waits for a phone to
 * wake, with 10,000 of them parked at once.
 *
 * pushwake runs alone in a child process started with --expose-gc, so the figure holds nothing
 * of the PBX, the phones or the push sink, which live here. Each call goes to its own sleeping
 * phone that never wakes (the push is sent and accepted, the phone does not re-register), so
 * every call stays parked: 180 sent, wake timer running, push sent, call in the CallBook.
 *
 *   baseline = heapUsed after a full GC, phones registered, a few warm-up calls come and gone
 *   parked   = heapUsed after a full GC, N calls parked
 *   per call = (parked - baseline) / N
 *
 * Then every call is cancelled, and the heap is read again once the calls are gone and once
 * more after the engine's transaction timers have run out.
 *
 *   npx tsx bench/parked-heap.ts [--parked 10000] [--log silent]
 */
import { join } from 'node:path';
import type { Phone } from '../lib/testkit/agents.js';
import { armDeadline, isEntryPoint, machineLoad, numberFlag, progress, stringFlag } from './support/flags.js';
import { LoopbackDeployment } from './support/loopback-deployment.js';
import { kib, verdict } from './support/stats.js';
import { ParkingPbx } from './support/parking-pbx.js';
import { pollUntil, sleep } from './support/windowed.js';

export interface ParkedHeapOptions {
  /** Calls parked at once. */
  parked: number;
  /** Calls parked and cancelled before the baseline, so one-time allocations are not counted. */
  warmup: number;
  /** INVITEs (and CANCELs) in progress at once: UDP from one PBX, so keep bursts modest. */
  window: number;
  /** Wait before the baseline and after the calls are gone: UDP Timers I and K are T4 = 5 s. */
  settleMs: number;
  pbxTransport: 'udp' | 'tcp';
  logLevel: string;
  /** The whole run is abandoned (exit 2) after this long. */
  deadlineMs: number;
  /** When set, heap snapshots of pushwake at the baseline and with the calls parked go here. */
  snapshotDir?: string;
}

export const PARKED_HEAP_DEFAULTS: ParkedHeapOptions = {
  parked: 10_000,
  warmup: 200,
  window: 100,
  settleMs: 6_000,
  pbxTransport: 'tcp',
  logLevel: 'silent',
  deadlineMs: 180_000,
};

/** Issue #2's target, bytes of heap per parked call. */
export const PARKED_HEAP_TARGET_BYTES = 10 * 1024;

export interface ParkedHeapResult {
  /** Cores and load average before the run. */
  machine: string;
  options: ParkedHeapOptions;
  /** Calls pushwake reported parked at the measurement. */
  parkedCalls: number;
  baselineHeap: number;
  parkedHeap: number;
  perCallBytes: number;
  /** Off-heap (ArrayBuffer) bytes per parked call: not the target's figure, but memory all the same. */
  perCallArrayBufferBytes: number;
  /** Calls whose 180 the PBX did not see within 10 s (they are cancelled all the same). */
  noRinging: number;
  /** How the parked calls ended once cancelled: 487 expected (status → count). */
  endings: Record<string, number>;
  callsAfterCancel: number;
  heapAfterCancel: number;
  heapAfterSettle: number;
  /** Heap snapshots written (with snapshotDir). */
  snapshots: string[];
  /** Seconds per phase, in order. */
  phases: Record<string, number>;
  seconds: number;
}

export async function runParkedHeap(options: ParkedHeapOptions = PARKED_HEAP_DEFAULTS): Promise<ParkedHeapResult> {
  const began = performance.now();
  const machine = machineLoad();
  const disarm = armDeadline('parked-heap', options.deadlineMs);
  const phases = new PhaseClock('parked-heap');
  const total = options.warmup + options.parked;
  const lab = await LoopbackDeployment.start({
    config: {
      // Nothing may end a parked call while it is measured.
      call: { wakeTimeoutMs: 300_000, ringTimeoutMs: 600_000, sendRinging: true, maxParkedCalls: total + 1000 },
    },
    trace: false,
    logLevel: options.logLevel,
    wakeDelayMs: 0,
    pbxTransport: options.pbxTransport,
  });
  try {
    const phones: Phone[] = [];
    for (let i = 0; i < total; i++) {
      const phone = lab.addPhone(`p${i}`);
      phone.wakeOnPush = false;
      phones.push(phone);
    }
    const registered = await lab.registerAll(phones, options.window * 2);
    if (registered !== total) throw new Error(`only ${registered} of ${total} phones registered`);
    phases.done('register');
    let pushes = 0;
    lab.onPush(() => pushes++);
    const pbx = new ParkingPbx(lab, options.window);
    const snapshots: string[] = [];
    const snapshot = async (name: string): Promise<void> => {
      if (options.snapshotDir) snapshots.push(await lab.pushwake.heapSnapshot(join(options.snapshotDir, `pushwake-${name}.heapsnapshot`)));
    };
    const childCallsAre = (n: number) => async (): Promise<boolean> => (await lab.pushwake.measure({ gc: false })).calls === n;

    await pbx.cancel(await pbx.park(phones.slice(0, options.warmup)));
    await pollUntil(childCallsAre(0), 10_000, 100);
    await pollUntil(() => pushes >= options.warmup, 5_000);
    // The upstream REGISTERs' client transactions (UDP Timer K) and the warm-up calls' server
    // transactions (Timer I) hold memory for a few seconds: let them go before the baseline.
    await sleep(options.settleMs);
    const baseline = await lab.pushwake.measure({ gc: true });
    await snapshot('baseline');
    phases.done('warm-up + settle');

    const calls = await pbx.park(phones.slice(options.warmup));
    // Every push answered, so no HTTP/2 stream of the sender is open at the reading.
    await pollUntil(childCallsAre(calls.length), 30_000, 250);
    await pollUntil(() => pushes >= total, 30_000, 100);
    const parked = await lab.pushwake.measure({ gc: true });
    await snapshot(`${calls.length}-parked`);
    phases.done('park');

    const endings = await pbx.cancel(calls);
    await pollUntil(childCallsAre(0), 30_000, 250);
    const afterCancel = await lab.pushwake.measure({ gc: true });
    phases.done('cancel');
    await sleep(options.settleMs);
    const afterSettle = await lab.pushwake.measure({ gc: true });

    return {
      machine,
      options,
      parkedCalls: parked.calls,
      baselineHeap: baseline.heapUsed,
      parkedHeap: parked.heapUsed,
      perCallBytes: parked.calls > 0 ? (parked.heapUsed - baseline.heapUsed) / parked.calls : NaN,
      perCallArrayBufferBytes: parked.calls > 0 ? (parked.arrayBuffers - baseline.arrayBuffers) / parked.calls : NaN,
      noRinging: pbx.noRinging,
      endings,
      callsAfterCancel: afterCancel.calls,
      heapAfterCancel: afterCancel.heapUsed,
      heapAfterSettle: afterSettle.heapUsed,
      phases: phases.seconds,
      snapshots,
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    await lab.stop();
    disarm();
  }
}

/** Seconds spent in each named phase, reported as they end. */
class PhaseClock {
  readonly seconds: Record<string, number> = {};
  private since = performance.now();

  constructor(private readonly bench: string) {}

  done(name: string): void {
    const now = performance.now();
    const s = (now - this.since) / 1000;
    this.seconds[name] = s;
    this.since = now;
    progress(this.bench, `${name}: ${s.toFixed(1)} s`);
  }
}

export function printParkedHeap(r: ParkedHeapResult): void {
  const o = r.options;
  const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(2)} MiB`;
  const signed = (b: number): string => `${b >= 0 ? '+' : '-'}${mib(Math.abs(b))}`;
  const endings = Object.entries(r.endings).map(([k, v]) => `${k}×${v}`).join(', ');
  const phases = Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
  console.log(`parked heap: ${o.parked} calls parked at once, one sleeping phone each (never wakes); PBX over ${o.pbxTransport}; pushwake alone in a child process; log: ${o.logLevel}`);
  console.log(`  machine: ${r.machine}`);
  console.log(`  heap baseline (phones registered, ${o.warmup} warm-up calls gone): ${mib(r.baselineHeap)}`);
  console.log(`  heap with ${r.parkedCalls} calls parked:${' '.repeat(Math.max(1, 24 - String(r.parkedCalls).length))}${mib(r.parkedHeap)} (${signed(r.parkedHeap - r.baselineHeap)})`);
  console.log(`  per parked call: ${kib(r.perCallBytes)} (${Math.round(r.perCallBytes)} bytes)   target < ${kib(PARKED_HEAP_TARGET_BYTES)}  ${verdict(r.parkedCalls > 0 && r.perCallBytes < PARKED_HEAP_TARGET_BYTES)}`);
  console.log(`  off the heap (Buffer backing stores): ${kib(r.perCallArrayBufferBytes)} per parked call more (not in the target's figure)`);
  if (r.noRinging > 0) console.log(`  ${r.noRinging} calls: no 180 seen by the PBX within 10 s`);
  console.log(`  after cancelling all: ${endings || 'none'}; pushwake holds ${r.callsAfterCancel} calls; heap ${mib(r.heapAfterCancel)} (${signed(r.heapAfterCancel - r.baselineHeap)} vs baseline), ${o.settleMs / 1000} s later ${mib(r.heapAfterSettle)} (${signed(r.heapAfterSettle - r.baselineHeap)})`);
  if (r.snapshots.length > 0) console.log(`  heap snapshots: ${r.snapshots.join(', ')} (compare them in Chrome DevTools → Memory)`);
  console.log(`  phases: ${phases}; ${r.seconds.toFixed(0)} s in all`);
}

export function parkedHeapOptionsFromFlags(): ParkedHeapOptions {
  const d = PARKED_HEAP_DEFAULTS;
  return {
    parked: Math.max(1, Math.floor(numberFlag('parked', d.parked))),
    warmup: Math.floor(numberFlag('heap-warmup', d.warmup)),
    window: Math.max(1, Math.floor(numberFlag('window', d.window))),
    settleMs: numberFlag('settle', d.settleMs),
    pbxTransport: stringFlag('pbx-transport', d.pbxTransport) === 'udp' ? 'udp' : 'tcp',
    logLevel: stringFlag('log', d.logLevel),
    // 3 minutes, or more for more than 12,000 calls.
    deadlineMs: numberFlag('deadline', 0) * 1000 || Math.max(d.deadlineMs, 15 * (Math.floor(numberFlag('parked', d.parked)) + d.warmup)),
    ...(stringFlag('heap-snapshots', undefined) ? { snapshotDir: stringFlag('heap-snapshots', '') } : {}),
  };
}

if (isEntryPoint(import.meta.url)) {
  runParkedHeap(parkedHeapOptionsFromFlags()).then(printParkedHeap, (err: unknown) => {
    console.error('parked-heap benchmark broke:', err);
    process.exitCode = 1;
  });
}

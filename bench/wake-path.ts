/**
 * What pushwake adds on the wake path, at a steady call rate (issue #2).
 *
 *   A: invite-received → push-sending. The PBX's INVITE reached pushwake's INVITE handler; the
 *      push for the callee's phone is handed to the APNs sender.
 *   B: upstream-register-ok → leg-sending. The woken phone's REGISTER came back 2xx from the
 *      upstream registrar; pushwake sends that phone its INVITE.
 *
 * pushwake runs alone in a child process (embedded engine, embedded store) and reports its
 * TraceEvents; the PBX, the phones and the push sink run here, as they would elsewhere. Each
 * call goes to its own sleeping phone, which re-registers when its push reaches the sink, rings,
 * answers; the PBX hangs up shortly after. Figures are printed, never asserted on.
 *
 *   npx tsx bench/wake-path.ts [--rate 100] [--calls 2000] [--warmup 200] [--log silent]
 */
import type { Phone } from '../lib/testkit/agents.js';
import type { ChildMeasure } from './support/child-protocol.js';
import { armDeadline, isEntryPoint, machineLoad, numberFlag, progress, stringFlag } from './support/flags.js';
import { LoopbackDeployment } from './support/loopback-deployment.js';
import { distributionOf, ms, verdict, type Distribution } from './support/stats.js';
import { WakeDelays } from './support/wake-delays.js';
import { pollUntil, sleep } from './support/windowed.js';

export interface WakePathOptions {
  /** pushwake's SIP engine (`--engine embedded|drachtio`). */
  engine: 'embedded' | 'drachtio';
  /** Calls started per second. */
  rate: number;
  /** Calls measured, after the warm-up. */
  calls: number;
  /** Calls run first and not counted (JIT, connections, store caches). */
  warmup: number;
  /** How long the PBX keeps an answered call before its BYE. */
  hangupAfterMs: number;
  /** How long a phone takes from its push to its REGISTER. */
  wakeDelayMs: number;
  /** A call not over after this long counts as failed. */
  callTimeoutMs: number;
  /** How the PBX reaches pushwake. */
  pbxTransport: 'udp' | 'tcp';
  /** pushwake's log level ('silent', or e.g. 'info', written to /dev/null). */
  logLevel: string;
  /** The whole run is abandoned (exit 2) after this long. */
  deadlineMs: number;
}

export const WAKE_PATH_DEFAULTS: WakePathOptions = {
  rate: 100,
  calls: 2000,
  warmup: 200,
  hangupAfterMs: 100,
  wakeDelayMs: 20,
  callTimeoutMs: 15_000,
  pbxTransport: 'udp',
  engine: 'embedded',
  logLevel: 'silent',
  deadlineMs: 120_000,
};

/** Issue #2's targets: p99 of each delay. */
export const WAKE_PATH_TARGET_P99_MS = 2;

export interface WakePathResult {
  /** Cores and load average before the run. */
  machine: string;
  options: WakePathOptions;
  /** invite-received → push-sending, measured calls only. */
  delayA: Distribution;
  /** upstream-register-ok → leg-sending, measured calls only. */
  delayB: Distribution;
  completed: number;
  failed: number;
  /** Failures by kind, e.g. `480`, `timeout`, `bye-failed`. */
  failures: Record<string, number>;
  /** Calls started per second over the measured part. */
  achievedRate: number;
  /** Most calls between INVITE and the end of the BYE at once. */
  peakInFlight: number;
  /** pushwake's CPU time (user + system, all its threads) per measured call, ms. */
  cpuPerCallMs: number;
  /** Share of the measured window pushwake's event loop was busy, 0..1: the queueing driver. */
  loopUtilization: number;
  /** This process's CPU (PBX, phones, their engine, push sink) per measured call, ms. */
  loadCpuPerCallMs: number;
  seconds: number;
}

/** 'completed', or why not: a final status ('480'), 'timeout', 'bye-failed', 'error'. */
type CallOutcome = string;

export async function runWakePath(options: WakePathOptions = WAKE_PATH_DEFAULTS): Promise<WakePathResult> {
  const began = performance.now();
  const machine = machineLoad();
  const disarm = armDeadline('wake-path', options.deadlineMs);
  const total = options.warmup + options.calls;
  const lab = await LoopbackDeployment.start({
    config: { call: { wakeTimeoutMs: 10_000, ringTimeoutMs: 20_000 } },
    trace: true,
    logLevel: options.logLevel,
    wakeDelayMs: options.wakeDelayMs,
    pbxTransport: options.pbxTransport,
    engine: options.engine,
  });
  try {
    const phones: Phone[] = [];
    const indexByAor = new Map<string, number>();
    for (let i = 0; i < total; i++) {
      const phone = lab.addPhone(`u${i}`);
      phones.push(phone);
      indexByAor.set(phone.aor, i);
    }
    const registered = await lab.registerAll(phones);
    if (registered !== total) throw new Error(`only ${registered} of ${total} phones registered`);
    progress('wake-path', `${total} phones registered in ${((performance.now() - began) / 1000).toFixed(1)} s; calling at ${options.rate}/s`);

    // The registrations' trace events are not wanted: drain them before listening.
    await lab.pushwake.flushTrace();
    const delays = new WakeDelays((aor) => (indexByAor.get(aor) ?? -1) >= options.warmup);
    lab.pushwake.onTrace((events) => delays.traced(events));
    lab.onPush((push, phone) => delays.pushArrived(push, phone?.aor));

    let inFlight = 0;
    let peakInFlight = 0;
    const outcomes: Array<Promise<CallOutcome>> = [];
    let window: MeasuredWindow | undefined;
    await startAtRate(total, options.rate, async (i) => {
      if (i === options.warmup) window = await MeasuredWindow.open(lab);
      const phone = phones[i];
      if (!phone) return;
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      outcomes.push(callAndHangUp(lab, phone, options).finally(() => inFlight--));
    });
    const startedSpan = window ? (performance.now() - window.openedAt) / 1000 : NaN;
    progress('wake-path', `all ${total} calls started; waiting for the last ones to end`);
    const results = await Promise.all(outcomes);
    const usage = window ? await window.close() : undefined;
    await lab.pushwake.flushTrace();
    // The last pushes may still be on their way into the sink's listener.
    await pollUntil(() => delays.measuredPushes >= options.calls, 2_000);

    const measured = results.slice(options.warmup);
    const failures: Record<string, number> = {};
    for (const r of measured) if (r !== 'completed') failures[r] = (failures[r] ?? 0) + 1;
    const completed = measured.filter((r) => r === 'completed').length;
    const perCall = (v: number | undefined): number => (v !== undefined && options.calls > 0 ? v / options.calls : NaN);
    return {
      machine,
      options,
      delayA: distributionOf(delays.inviteToPush()),
      delayB: distributionOf(delays.registerToLeg()),
      completed,
      failed: measured.length - completed,
      failures,
      achievedRate: options.calls > 1 && startedSpan > 0 ? (options.calls - 1) / startedSpan : NaN,
      peakInFlight,
      // Warm-up calls still finishing inside the window are a rounding error at these counts.
      cpuPerCallMs: perCall(usage?.pushwakeCpuMs),
      loopUtilization: usage?.loopUtilization ?? NaN,
      loadCpuPerCallMs: perCall(usage?.loadCpuMs),
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    await lab.stop();
    disarm();
  }
}

/** One call: INVITE to the user, answered by the woken phone, BYE from the PBX a little later. */
async function callAndHangUp(lab: LoopbackDeployment, phone: Phone, options: WakePathOptions): Promise<CallOutcome> {
  try {
    const attempt = lab.pbx.call(phone.aor);
    const result = await Promise.race([attempt.done, sleep(options.callTimeoutMs).then(() => undefined)]);
    if (!result) return 'timeout';
    if (result.status !== 200 || !result.dialog) return String(result.status);
    await sleep(options.hangupAfterMs);
    return await result.dialog.destroy().then(() => 'completed', () => 'bye-failed');
  } catch {
    return 'error';
  }
}

/** Calls `start(i)` for i = 0..count-1 at `rate` per second; late ticks catch up at once. */
async function startAtRate(count: number, rate: number, start: (i: number) => Promise<void>): Promise<void> {
  const interval = 1000 / rate;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait >= 1) await sleep(wait);
    await start(i);
  }
}

/** CPU and event-loop figures of both processes over the measured calls. */
class MeasuredWindow {
  private constructor(
    private readonly lab: LoopbackDeployment,
    private readonly child: ChildMeasure,
    private readonly load: NodeJS.CpuUsage,
    readonly openedAt: number,
  ) {}

  static async open(lab: LoopbackDeployment): Promise<MeasuredWindow> {
    const openedAt = performance.now();
    return new MeasuredWindow(lab, await lab.pushwake.measure({ gc: false }), process.cpuUsage(), openedAt);
  }

  async close(): Promise<{ pushwakeCpuMs: number; loopUtilization: number; loadCpuMs: number }> {
    const load = process.cpuUsage(this.load);
    const child = await this.lab.pushwake.measure({ gc: false });
    const active = child.loopActiveMs - this.child.loopActiveMs;
    const idle = child.loopIdleMs - this.child.loopIdleMs;
    return {
      pushwakeCpuMs: (child.cpuUserMicros + child.cpuSystemMicros - this.child.cpuUserMicros - this.child.cpuSystemMicros) / 1000,
      loopUtilization: active + idle > 0 ? active / (active + idle) : NaN,
      loadCpuMs: (load.user + load.system) / 1000,
    };
  }
}

export function printWakePath(r: WakePathResult): void {
  const o = r.options;
  const failures = Object.entries(r.failures).map(([k, v]) => `${k}×${v}`).join(', ');
  const row = (name: string, d: Distribution): string =>
    `  ${name.padEnd(36)}${String(d.count).padStart(7)}${ms(d.p50).padStart(11)}${ms(d.p90).padStart(11)}${ms(d.p99).padStart(11)}${ms(d.max).padStart(11)}   < ${WAKE_PATH_TARGET_P99_MS} ms  ${verdict(d.count > 0 && d.p99 < WAKE_PATH_TARGET_P99_MS)}`;
  console.log(`wake path (${o.engine} engine): ${o.calls} calls at ${o.rate}/s after ${o.warmup} warm-up calls; each to its own sleeping phone (wakes ${o.wakeDelayMs} ms after its push, PBX over ${o.pbxTransport} hangs up ${o.hangupAfterMs} ms after the answer); pushwake log: ${o.logLevel}`);
  console.log(`  machine: ${r.machine}`);
  console.log(`  calls: ${r.completed} answered and hung up, ${r.failed} failed${failures ? ` (${failures})` : ''}; achieved ${r.achievedRate.toFixed(1)} calls/s; peak ${r.peakInFlight} calls in flight`);
  console.log(`  pushwake: ${r.cpuPerCallMs.toFixed(2)} ms CPU per call (~${((r.cpuPerCallMs * o.rate) / 10).toFixed(0)}% of a core at ${o.rate}/s), event loop busy ${(r.loopUtilization * 100).toFixed(0)}% of the time; agents + sink here: ${r.loadCpuPerCallMs.toFixed(2)} ms CPU per call`);
  console.log(`  ${'delay'.padEnd(36)}${'samples'.padStart(7)}${'p50'.padStart(11)}${'p90'.padStart(11)}${'p99'.padStart(11)}${'max'.padStart(11)}   target p99`);
  console.log(row('A invite-received → push-sending', r.delayA));
  console.log(row('B upstream-register-ok → leg-sending', r.delayB));
}

export function wakePathOptionsFromFlags(): WakePathOptions {
  const d = WAKE_PATH_DEFAULTS;
  return {
    rate: Math.max(1, numberFlag('rate', d.rate)),
    calls: Math.floor(numberFlag('calls', d.calls)),
    warmup: Math.floor(numberFlag('warmup', d.warmup)),
    hangupAfterMs: numberFlag('hangup-after', d.hangupAfterMs),
    wakeDelayMs: numberFlag('wake-delay', d.wakeDelayMs),
    callTimeoutMs: numberFlag('call-timeout', d.callTimeoutMs),
    pbxTransport: stringFlag('pbx-transport', d.pbxTransport) === 'tcp' ? 'tcp' : 'udp',
    engine: stringFlag('engine', d.engine) === 'drachtio' ? 'drachtio' : 'embedded',
    logLevel: stringFlag('log', d.logLevel),
    deadlineMs: numberFlag('deadline', 0) * 1000 || defaultWakePathDeadline(),
  };
}

/** 2 minutes, or more when asked for a run that cannot fit in 2 minutes. */
function defaultWakePathDeadline(): number {
  const total = Math.floor(numberFlag('warmup', WAKE_PATH_DEFAULTS.warmup)) + Math.floor(numberFlag('calls', WAKE_PATH_DEFAULTS.calls));
  return Math.max(WAKE_PATH_DEFAULTS.deadlineMs, 60_000 + (2 * total * 1000) / Math.max(1, numberFlag('rate', WAKE_PATH_DEFAULTS.rate)));
}

if (isEntryPoint(import.meta.url)) {
  runWakePath(wakePathOptionsFromFlags()).then(printWakePath, (err: unknown) => {
    console.error('wake-path benchmark broke:', err);
    process.exitCode = 1;
  });
}

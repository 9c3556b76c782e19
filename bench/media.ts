/**
 * Announcements (issue 10): what they cost, side by side in one run on a real FreeSWITCH.
 *
 *   FREESWITCH_BIN=/path/to/freeswitch npm run bench:media [-- --calls 200 --rate 10 --wake-ms 800 --pairs 20 --talk-seconds 10]
 *
 * 1. The same calls twice, media off and media on, through pushwake in a child process (embedded
 *    engine): each call pushes a sleeping phone that wakes after --wake-ms, answers, and the
 *    caller hangs up once its media is with the phone. Printed: pushwake's CPU per call, the
 *    caller's INVITE to the 180, or to the 183 with FreeSWITCH's SDP, INVITE to
 *    200, the 200 to the re-INVITE that moves the caller's media to the phone, and FreeSWITCH's
 *    CPU per call (its /proc figures). The caller sends RTP to the 183's SDP, so FreeSWITCH plays.
 * 2. The alternative not taken, FreeSWITCH in the media path for the whole call: --pairs caller and
 *    phone endpoints bridged in FreeSWITCH, RTP both ways for --talk-seconds. Printed: FreeSWITCH's
 *    CPU per second of answered call, which the chosen design does not spend.
 *
 * Figures are printed, never asserted. Without FREESWITCH_BIN it says so and exits 0.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startEmbeddedEngine } from '../lib/engine/index.js';
import { createSipApp, newSrf } from '../lib/sip/srf.js';
import type { SipDialog } from '../lib/sip/srf.js';
import { freeswitchBin, startFreeswitch, type FreeswitchServer } from '../lib/testkit/freeswitch.js';
import { RtpAgent } from '../lib/testkit/rtp-agent.js';
import type { Phone } from '../lib/testkit/agents.js';
import { LoopbackDeployment } from './support/loopback-deployment.js';
import { armDeadline, isEntryPoint, machineLoad, numberFlag, progress } from './support/flags.js';
import { distributionOf, ms, type Distribution } from './support/stats.js';
import { inWindows, sleep } from './support/windowed.js';

const NAME = 'bench:media';

interface CallRun {
  media: boolean;
  completed: number;
  failed: number;
  pushwakeCpuPerCallMs: number;
  freeswitchCpuPerCallMs: number;
  firstProvisional: Distribution;
  toAnswer: Distribution;
  handover: Distribution;
  announced: number;
}

/** FreeSWITCH's CPU time so far, ms (utime + stime from /proc). */
function cpuOfPid(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  return (ticks * 1000) / clockTicks;
}
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

async function runCalls(fs: FreeswitchServer, media: boolean, opts: { calls: number; rate: number; wakeMs: number }): Promise<CallRun> {
  const d = await LoopbackDeployment.start({
    config: {
      call: { wakeTimeoutMs: 10_000, ringTimeoutMs: 10_000 },
      ...(media ? { media: { enabled: true, eventSocket: `${fs.address}:${fs.eslPort}`, eventSocketSecret: fs.eslSecret, maxAnnouncements: 2000 } } : {}),
    },
    trace: false,
    logLevel: 'silent',
    wakeDelayMs: opts.wakeMs,
    pbxTransport: 'tcp',
  });
  try {
    const phones: Phone[] = [];
    for (let i = 0; i < opts.calls; i++) phones.push(d.addPhone(`u${i}`));
    const registered = await d.registerAll(phones);
    if (registered !== phones.length) throw new Error(`only ${registered} of ${phones.length} phones registered`);
    // media on: wait for pushwake's connection to FreeSWITCH (it connects in the background)
    if (media) await waitForMediaUp(d);
    const firstProvisional: number[] = [];
    const toAnswer: number[] = [];
    const handover: number[] = [];
    let completed = 0;
    let failed = 0;
    let announced = 0;
    const before = await d.pushwake.measure({ gc: false });
    const fsBefore = cpuOfPid(fs.pid);
    const interval = 1000 / opts.rate;
    const started = performance.now();
    await inWindows(phones, opts.calls, async (phone, i) => {
      await sleep(Math.max(0, started + i * interval - performance.now()));
      const caller = await RtpAgent.open();
      try {
        const t0 = performance.now();
        const call = d.pbx.call(phone.aor, { sdp: caller.sdp('pbx') });
        let finished = false;
        const early = waitUntil(() => call.earlySdp ?? (finished ? '' : undefined), 10_000).then((sdp) => {
          if (sdp && !finished) caller.sendTo(sdp);
        });
        const result = await call.done;
        finished = true;
        const t200 = performance.now();
        // what the caller hears first: the 183 with the announcement, or the 180 (not the engine's 100)
        const first = call.provisionalAt.get(183) ?? call.provisionalAt.get(180);
        if (first !== undefined) firstProvisional.push(first - t0);
        if (result.status !== 200 || !result.dialog) {
          failed++;
          return;
        }
        toAnswer.push(t200 - t0);
        if (call.earlySdp !== undefined) {
          announced++;
          const moved = await waitUntil(() => (result.dialog && result.dialog.remote.sdp !== call.earlySdp ? true : undefined), 5000, 1);
          if (moved) handover.push(performance.now() - t200);
        }
        await early;
        await hangUp(result.dialog);
        completed++;
      } finally {
        caller.close();
      }
    });
    await sleep(500);
    const after = await d.pushwake.measure({ gc: false });
    const fsAfter = cpuOfPid(fs.pid);
    const cpuMs = (after.cpuUserMicros + after.cpuSystemMicros - before.cpuUserMicros - before.cpuSystemMicros) / 1000;
    return {
      media, completed, failed, announced,
      pushwakeCpuPerCallMs: cpuMs / Math.max(1, completed + failed),
      freeswitchCpuPerCallMs: (fsAfter - fsBefore) / Math.max(1, completed + failed),
      firstProvisional: distributionOf(firstProvisional), toAnswer: distributionOf(toAnswer), handover: distributionOf(handover),
    };
  } finally {
    await d.stop();
  }
}

async function waitForMediaUp(d: LoopbackDeployment): Promise<void> {
  // a probe call: once it gets a 183, media is up
  const probe = d.addPhone('probe');
  await d.registerAll([probe]);
  probe.wakeOnPush = false;
  for (let i = 0; i < 50; i++) {
    const call = d.pbx.call(probe.aor);
    const early = await waitUntil(() => call.earlySdp ?? (call.provisionals.includes(180) ? '' : undefined), 5000);
    call.cancel();
    await call.done;
    if (early) return;
    await sleep(200);
  }
  throw new Error('pushwake never connected to FreeSWITCH');
}

async function hangUp(dialog: SipDialog): Promise<void> {
  await dialog.destroy().catch(() => undefined);
}

async function waitUntil<T>(fn: () => T | undefined, timeoutMs: number, everyMs = 5): Promise<T | undefined> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (performance.now() > until) return undefined;
    await sleep(everyMs);
  }
}

/** FreeSWITCH in the media path: caller and phone endpoints bridged, RTP both ways. */
async function runTalk(fs: FreeswitchServer, pairs: number, seconds: number): Promise<{ cpuMsPerCallSecond: number; idleCpuMsPerSecond: number; packets: number }> {
  const { default: Mrf } = await import('drachtio-fsmrf');
  const engine = await startEmbeddedEngine({ sip: [{ address: '127.0.0.1', port: 0, transports: ['udp'] }], wire: { secret: 'bench' } });
  const srf = newSrf();
  const app = createSipApp(srf);
  await app.connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'bench', inProcess: () => engine.openAppLink() });
  const ms = await new Mrf(srf).connect({ address: fs.address, port: fs.eslPort, secret: fs.eslSecret, listenAddress: '127.0.0.1' });
  const agents: RtpAgent[] = [];
  const endpoints: Array<{ destroy(): Promise<void> }> = [];
  try {
    const idle0 = cpuOfPid(fs.pid);
    await sleep(2000);
    const idlePerSecond = (cpuOfPid(fs.pid) - idle0) / 2;
    for (let i = 0; i < pairs; i++) {
      const caller = await RtpAgent.open();
      const phone = await RtpAgent.open();
      agents.push(caller, phone);
      const a = await ms.createEndpoint({ remoteSdp: caller.sdp('pbx') });
      const b = await ms.createEndpoint({ remoteSdp: phone.sdp('phone') });
      endpoints.push(a, b);
      await a.bridge(b);
      caller.sendTo(a.local.sdp);
      phone.sendTo(b.local.sdp);
    }
    await sleep(1000);
    const fs0 = cpuOfPid(fs.pid);
    const heard0 = agents.reduce((n, a) => n + a.received, 0);
    await sleep(seconds * 1000);
    const used = cpuOfPid(fs.pid) - fs0;
    const packets = agents.reduce((n, a) => n + a.received, 0) - heard0;
    return { cpuMsPerCallSecond: (used - idlePerSecond * seconds) / (pairs * seconds), idleCpuMsPerSecond: idlePerSecond, packets };
  } finally {
    for (const ep of endpoints) await ep.destroy().catch(() => undefined);
    for (const a of agents) a.close();
    ms.disconnect();
    app.disconnect();
    await engine.stop();
  }
}

function printRuns(runs: CallRun[]): void {
  const row = (label: string, f: (r: CallRun) => string): void => console.log(`  ${label.padEnd(44)}${runs.map((r) => f(r).padStart(22)).join('')}`);
  console.log(`  ${''.padEnd(44)}${runs.map((r) => (r.media ? 'media on' : 'media off').padStart(22)).join('')}`);
  row('calls completed / failed', (r) => `${r.completed} / ${r.failed}`);
  row('calls that got the announcement (183)', (r) => String(r.announced));
  row('pushwake CPU per call', (r) => ms(r.pushwakeCpuPerCallMs));
  row('FreeSWITCH CPU per call', (r) => ms(r.freeswitchCpuPerCallMs));
  row('INVITE -> 180 or 183 (announcement) p50', (r) => ms(r.firstProvisional.p50));
  row('INVITE -> 180 or 183 (announcement) p99', (r) => ms(r.firstProvisional.p99));
  row('INVITE -> 200 p50 (includes the wake)', (r) => ms(r.toAnswer.p50));
  row('200 -> media moved to the phone p50', (r) => ms(r.handover.p50));
  row('200 -> media moved to the phone p99', (r) => ms(r.handover.p99));
}

export async function runMediaBench(): Promise<number> {
  const bin = freeswitchBin();
  if (!bin) {
    console.log(`${NAME}: SKIPPED: no FREESWITCH_BIN and no freeswitch on PATH (the announcements need a real FreeSWITCH).`);
    return 0;
  }
  const calls = numberFlag('calls', 200);
  const rate = numberFlag('rate', 10);
  const wakeMs = numberFlag('wake-ms', 800);
  const pairs = numberFlag('pairs', 20);
  const talkSeconds = numberFlag('talk-seconds', 10);
  const disarm = armDeadline(NAME, numberFlag('deadline', 600) * 1000);
  console.log(`${NAME}: ${calls} calls at ${rate}/s, phones wake after ${wakeMs} ms; ${machineLoad()}`);
  const fs = await startFreeswitch(bin);
  try {
    const runs: CallRun[] = [];
    for (const media of [false, true]) {
      progress(NAME, `calls with media ${media ? 'on' : 'off'}`);
      runs.push(await runCalls(fs, media, { calls, rate, wakeMs }));
    }
    printRuns(runs);
    progress(NAME, `FreeSWITCH in the media path: ${pairs} bridged calls for ${talkSeconds} s`);
    const talk = await runTalk(fs, pairs, talkSeconds);
    console.log(`  the alternative not taken, FreeSWITCH in the media path (${pairs} bridged calls, RTP both ways, ${talkSeconds} s):`);
    console.log(`    FreeSWITCH CPU per second of answered call   ${ms(talk.cpuMsPerCallSecond)}  (idle FreeSWITCH: ${ms(talk.idleCpuMsPerSecond)}/s; ${talk.packets} packets relayed to the agents)`);
    console.log(`    a 3-minute call would cost FreeSWITCH          ${ms(talk.cpuMsPerCallSecond * 180)}`);
  } finally {
    await fs.stop();
    disarm();
  }
  return 0;
}

if (isEntryPoint(import.meta.url)) {
  runMediaBench().then((code) => process.exit(code), (err: unknown) => {
    console.error(`${NAME} broke:`, err);
    process.exit(1);
  });
}

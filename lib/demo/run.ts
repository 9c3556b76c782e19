/**
 * `npm run demo`: one whole call to a sleeping iPhone on this machine, with no external
 * binaries. pushwake (embedded engine, embedded store in a temp dir), the push sink as APNs, and
 * a simulated PBX and phone on a second embedded engine. The phone registers with its token and
 * sleeps; the PBX calls; pushwake parks the call and pushes; the phone wakes, re-registers,
 * gets the INVITE and answers; the PBX hangs up. Prints the ladder of who sent what and when,
 * and the wake latency.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runClusterDemo } from './cluster.js';
import { pino } from 'pino';
import { loadConfig } from '../config/load.js';
import { startPushSink, type PushSink } from '../push-sink/index.js';
import { startPushwake, type RunningPushwake } from '../pushwake.js';
import type { SipApp } from '../sip/srf.js';
import { DemoPbx, DemoPhone } from './agents.js';
import { startAgentHost } from '../testkit/agents.js';
import { mergeTrees } from '../testkit/cleanups.js';
import { loopbackOverrides } from '../testkit/loopback-config.js';
import { defaultClock, Ladder, type LadderStep } from './ladder.js';
import { pushwakeLogTap, type LogEntry } from './log-tap.js';

export interface DemoOptions {
  /** How long the woken app takes to re-register (iOS launch + CallKit report). Default 150 ms. */
  wakeDelayMs?: number;
  /** How long the call lasts before the PBX hangs up. Default 300 ms. */
  holdMs?: number;
  /** The whole demo must end within this. Default 8000 ms. */
  deadlineMs?: number;
}

export interface WakeLatency {
  /** The PBX's INVITE to pushwake's push reaching APNs. */
  inviteToPushMs: number;
  /** The push reaching the phone to the phone's fresh REGISTER (includes wakeDelayMs). */
  pushToRegisterMs: number;
  /** The 200 to that REGISTER to pushwake's INVITE reaching the phone. */
  registeredToInviteMs: number;
  /** The PBX's INVITE to its 200 OK: what a caller waits. */
  inviteToAnswerMs: number;
}

export interface DemoResult {
  answered: boolean;
  ladder: Ladder;
  latency: WakeLatency | undefined;
  /** The ladder and the latency, as printed. */
  text: string;
}

type Cleanup = () => Promise<void> | void;

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const wakeDelayMs = options.wakeDelayMs ?? 150;
  const holdMs = options.holdMs ?? 300;
  const cleanups: Cleanup[] = [];
  let deadline: NodeJS.Timeout | undefined;
  try {
    const played = play(cleanups, wakeDelayMs, holdMs);
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new Error('the demo call did not finish in time')), options.deadlineMs ?? 8000);
    });
    return await Promise.race([played, timedOut]);
  } finally {
    clearTimeout(deadline);
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // Best effort: one failing cleanup must not leave the rest running.
      }
    }
  }
}

interface Stage {
  agents: SipApp;
  /** host:port of the agents' SIP engine: the PBX's registrar and the phone live there. */
  agentHost: string;
  sink: PushSink;
  pushwake: RunningPushwake;
  /** Resolves when pushwake logs that the call ended. */
  callEnded: Promise<void>;
}

/** Everything but the call: the agents' engine, the push sink and pushwake pointed at both. */
async function setUpStage(cleanups: Cleanup[], ladder: Ladder): Promise<Stage> {
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-demo-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

  const agentProcessHost = await startAgentHost();
  cleanups.push(() => agentProcessHost.stop());
  const { app: agents, host: agentHost } = agentProcessHost;

  const sink = await startPushSink({ output: 'none' });
  cleanups.push(() => sink.stop());

  const config = loadConfig({
    env: {},
    overrides: mergeTrees(loopbackOverrides(sink, dir, `sip:${agentHost}`), {
      call: { wakeTimeoutMs: 5000 },
      log: { level: 'info' },
    }),
  });
  let ended: () => void = () => undefined;
  const callEnded = new Promise<void>((resolve) => (ended = resolve));
  // pushwake's own account of its steps, timed on the ladder's clock.
  const log = pino(
    { level: config.log.level, base: { app: 'pushwake' }, timestamp: () => `,"time":${defaultClock()}` },
    pushwakeLogTap((entry) => {
      if (noteFromLog(ladder, entry)) ended();
    }),
  );
  const pushwake = await startPushwake(config, { log });
  cleanups.push(() => pushwake.stop());
  return { agents, agentHost, sink, pushwake, callEnded };
}

async function play(cleanups: Cleanup[], wakeDelayMs: number, holdMs: number): Promise<DemoResult> {
  const ladder = new Ladder();
  const { agents, agentHost, sink, pushwake, callEnded } = await setUpStage(cleanups, ladder);

  const aor = 'sip:alice@example.com';
  const pbx = new DemoPbx(agents, ladder);
  const phone = new DemoPhone(agents, ladder, aor, pushwake.advertisedHost, agentHost, wakeDelayMs);
  agents.onRequest('register', (req, res) => pbx.handleRegister(req, res));
  agents.onRequest('invite', (req, res) => phone.handleInvite(req, res));
  sink.on('push', (push) => {
    const aps = (push.payload['aps'] ?? {}) as Record<string, unknown>;
    ladder.message('pushwake', 'APNs sink', `POST ${push.pushType} ${push.token.slice(0, 8)}…`);
    phone.woken(String(aps['pushHint'] ?? ''), String(aps['callerName'] ?? ''));
  });

  ladder.note('phone', 'the app registers with its VoIP token');
  if ((await phone.register()) !== 200) throw new Error('the phone could not register');
  ladder.note('phone', 'the app is suspended: no SIP until a push');
  const status = await pbx.call(aor, `sip:${pushwake.advertisedHost}`, holdMs);
  if (status === 200) await phone.callOver;
  await callEnded;

  const latency = wakeLatency(ladder);
  const text = [
    `pushwake demo: one call to a sleeping iPhone, all on this machine (pushwake on ${pushwake.advertisedHost}, udp+tcp)`,
    '',
    ladder.render(),
    "  arrows: SIP, and the HTTP/2 push to the APNs sink;  ●: what a party did (pushwake's steps from its log)",
    '',
    ...describeLatency(latency, wakeDelayMs),
  ].join('\n');
  return { answered: status === 200, ladder, latency, text };
}

/** What pushwake's log says it did, as notes and as the APNs answer. True once the call ended. */
function noteFromLog(ladder: Ladder, entry: LogEntry): boolean {
  switch (entry.msg) {
    case 'call parked':
      ladder.note('pushwake', `call parked; ${String(entry['pushed'])} device(s) to push`, entry.time);
      return false;
    case 'VoIP push sent':
      ladder.message('APNs sink', 'pushwake', '200 apns-id', entry.time);
      return false;
    case 'device registered':
      ladder.note('pushwake', `binding stored (token ${String(entry['push'])})`, entry.time);
      return false;
    case 'device woke; ringing it':
      ladder.note('pushwake', 'the pushed phone is back: INVITE it', entry.time);
      return false;
    case 'call ended':
      ladder.note('pushwake', `call ended (${String(entry['how'])})`, entry.time);
      return true;
    default:
      return false;
  }
}

function wakeLatency(ladder: Ladder): WakeLatency | undefined {
  const at = (match: (s: LadderStep) => boolean): number | undefined => ladder.find(match)?.at;
  const isMessage = (s: LadderStep, from: string, to: string, label: string): boolean =>
    s.kind === 'message' && s.from === from && s.to === to && s.label.startsWith(label);
  const invite = at((s) => isMessage(s, 'PBX', 'pushwake', 'INVITE'));
  const push = at((s) => isMessage(s, 'pushwake', 'APNs sink', 'POST'));
  const pushed = at((s) => isMessage(s, 'APNs sink', 'phone', 'VoIP push'));
  const wakeRegister = at((s) => isMessage(s, 'phone', 'pushwake', 'REGISTER X-Token, X-PushHint'));
  const phoneInvite = at((s) => isMessage(s, 'pushwake', 'phone', 'INVITE'));
  const registered = ladder
    .ordered()
    .filter((s) => wakeRegister !== undefined && s.at >= wakeRegister && isMessage(s, 'pushwake', 'phone', '200'))
    .at(0)?.at;
  const answered = at((s) => isMessage(s, 'pushwake', 'PBX', '200 OK (SDP)'));
  if ([invite, push, pushed, wakeRegister, registered, phoneInvite, answered].some((v) => v === undefined)) return undefined;
  return {
    inviteToPushMs: push! - invite!,
    pushToRegisterMs: wakeRegister! - pushed!,
    registeredToInviteMs: phoneInvite! - registered!,
    inviteToAnswerMs: answered! - invite!,
  };
}

function describeLatency(l: WakeLatency | undefined, wakeDelayMs: number): string[] {
  if (!l) return ['wake latency: the call did not get as far as an answer'];
  const ms = (v: number): string => `${v.toFixed(1)} ms`.padStart(10);
  return [
    'wake latency',
    `  INVITE in -> VoIP push out            ${ms(l.inviteToPushMs)}`,
    `  push -> the phone's fresh REGISTER    ${ms(l.pushToRegisterMs)}   (${wakeDelayMs} ms of it: the simulated app launch)`,
    `  REGISTER 200 -> INVITE to the phone   ${ms(l.registeredToInviteMs)}`,
    `  INVITE -> 200 OK at the PBX           ${ms(l.inviteToAnswerMs)}   (what the caller waits)`,
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const nodes = nodesArg(process.argv.slice(2));
  const finish = (answered: boolean, text: string): void => {
    process.stdout.write(`${text}\n`);
    process.exitCode = answered ? 0 : 1;
    // Everything is stopped; should a socket linger anyway, do not hang the terminal.
    setTimeout(() => process.exit(), 2000).unref();
  };
  const demo = nodes === 2 ? runClusterDemo() : runDemo();
  demo.then(
    (result) => finish(result.answered, result.text),
    (err: unknown) => {
      process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
      setTimeout(() => process.exit(), 2000).unref();
    },
  );
}

/** `--nodes 1` (default) or `--nodes 2`. */
function nodesArg(args: string[]): 1 | 2 {
  const { values } = parseArgs({ args, options: { nodes: { type: 'string', default: '1' } }, strict: true });
  if (values.nodes !== '1' && values.nodes !== '2') throw new Error(`--nodes must be 1 or 2 (got ${values.nodes})`);
  return values.nodes === '2' ? 2 : 1;
}

/**
 * `npm run demo -- --nodes 2`: a call parked on one pushwake node, answered through the other.
 * Two pushwake nodes (embedded engines) share a redis-server started for the demo. The phone
 * registers at A and sleeps; the PBX calls through A; A parks the call and pushes; the woken phone
 * re-registers at B (where DNS sent it); B stores the binding and publishes it over Redis; A
 * INVITEs the phone through B, which holds its flow; the phone answers; the PBX hangs up.
 */
import { pino } from 'pino';
import { loadConfig } from '../config/load.js';
import { startPushSink } from '../push-sink/index.js';
import { startPushwake, type RunningPushwake } from '../pushwake.js';
import { DemoPbx, DemoPhone } from './agents.js';
import { startAgentHost } from '../testkit/agents.js';
import { mergeTrees, runCleanups, type Cleanup } from '../testkit/cleanups.js';
import { loopbackOverrides } from '../testkit/loopback-config.js';
import { startRedisServer } from '../testkit/redis-server.js';
import { defaultClock, Ladder } from './ladder.js';
import { pushwakeLogTap, type LogEntry } from './log-tap.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const A = 'pushwake A';
const B = 'pushwake B';
const PARTIES = ['PBX', A, B, 'APNs sink', 'phone'];

export interface ClusterDemoResult {
  answered: boolean;
  ladder: Ladder;
  /** B's 200 to the woken phone's REGISTER -> the INVITE from A reaching the phone through B. */
  crossNodeWakeMs: number | undefined;
  text: string;
}

export async function runClusterDemo(options: { wakeDelayMs?: number; holdMs?: number; deadlineMs?: number } = {}): Promise<ClusterDemoResult> {
  const cleanups: Cleanup[] = [];
  let deadline: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(() => reject(new Error('the demo call did not finish in time')), options.deadlineMs ?? 15_000);
    });
    return await Promise.race([play(cleanups, options.wakeDelayMs ?? 150, options.holdMs ?? 300), timedOut]);
  } finally {
    clearTimeout(deadline);
    await runCleanups(cleanups);
  }
}

async function play(cleanups: Cleanup[], wakeDelayMs: number, holdMs: number): Promise<ClusterDemoResult> {
  const ladder = new Ladder(defaultClock, PARTIES);
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-cluster-demo-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const redis = await startRedisServer({});
  if (!redis) throw new Error('--nodes 2 needs redis-server on PATH (apt-get install redis-server)');
  cleanups.push(() => redis.stop());
  const agentHost = await startAgentHost();
  cleanups.push(() => agentHost.stop());
  const sink = await startPushSink({ output: 'none' });
  cleanups.push(() => sink.stop());

  let ended: () => void = () => undefined;
  const callEnded = new Promise<void>((resolve) => (ended = resolve));
  const node = async (nodeId: string, lane: string): Promise<RunningPushwake> => {
    const config = loadConfig({
      env: {},
      overrides: mergeTrees(loopbackOverrides(sink, dir, `sip:${agentHost.host}`), {
        call: { wakeTimeoutMs: 5000 },
        store: { kind: 'redis', url: redis.url, keyPrefix: 'demo:' },
        cluster: { nodeId },
      }),
    });
    const log = pino({ level: 'info', base: { app: 'pushwake' }, timestamp: () => `,"time":${defaultClock()}` }, pushwakeLogTap((entry) => {
      if (noteFromLog(ladder, lane, entry)) ended();
    }));
    const running = await startPushwake(config, { log });
    cleanups.push(() => running.stop());
    return running;
  };
  const a = await node('A', A);
  const b = await node('B', B);
  const laneOfPort = new Map([[a.sipAddresses[0]?.port, A], [b.sipAddresses[0]?.port, B]]);

  const aor = 'sip:alice@example.com';
  const pbx = new DemoPbx(agentHost.app, ladder, (req) => laneOfPort.get(Number(req.source_port)) ?? A, A);
  const phone: DemoPhone = new DemoPhone(agentHost.app, ladder, aor, a.advertisedHost, agentHost.host, wakeDelayMs, A, () => {
    // iOS wakes the app on another network path: DNS SRV gives it node B this time
    phone.pushwakeHost = b.advertisedHost;
    phone.lane = B;
  });
  agentHost.app.onRequest('register', (req, res) => pbx.handleRegister(req, res));
  agentHost.app.onRequest('invite', (req, res) => phone.handleInvite(req, res));
  sink.on('push', (push) => {
    const aps = (push.payload['aps'] ?? {}) as Record<string, unknown>;
    ladder.message(A, 'APNs sink', `POST ${push.pushType} ${push.token.slice(0, 8)}…`);
    phone.woken(String(aps['pushHint'] ?? ''), String(aps['callerName'] ?? ''));
  });

  ladder.note('phone', 'the app registers with its VoIP token at node A');
  if ((await phone.register()) !== 200) throw new Error('the phone could not register');
  ladder.note('phone', 'the app is suspended: no SIP until a push');
  const status = await pbx.call(aor, `sip:${a.advertisedHost}`, holdMs);
  if (status === 200) await phone.callOver;
  await callEnded;

  const crossNodeWakeMs = crossNodeWake(ladder);
  const text = [
    `pushwake cluster demo: a call parked on node A (${a.advertisedHost}) answered through node B (${b.advertisedHost}); both on one Redis (${redis.url})`,
    '',
    ladder.render(),
    "  arrows: SIP, the HTTP/2 push to the APNs sink, and what the nodes' logs say passed between them;  ●: what a party did",
    '',
    crossNodeWakeMs === undefined ? 'cross-node wake: the call did not get that far' : `cross-node wake: B's 200 to the woken phone's REGISTER -> A's INVITE reaching the phone through B  ${crossNodeWakeMs.toFixed(1)} ms`,
  ].join('\n');
  return { answered: status === 200, ladder, crossNodeWakeMs, text };
}

function crossNodeWake(ladder: Ladder): number | undefined {
  const steps = ladder.ordered();
  const wake = steps.findIndex((s) => s.kind === 'message' && s.from === 'phone' && s.to === B && s.label.includes('X-PushHint'));
  const ok = steps.slice(wake + 1).find((s) => s.kind === 'message' && s.from === B && s.to === 'phone' && s.label.startsWith('200'));
  const invite = steps.slice(wake + 1).find((s) => s.kind === 'message' && s.from === B && s.to === 'phone' && s.label.startsWith('INVITE'));
  return wake >= 0 && ok && invite ? invite.at - ok.at : undefined;
}

/** A node's log, as notes on its lane and the messages between the nodes. True once the call ended. */
function noteFromLog(ladder: Ladder, lane: string, entry: LogEntry): boolean {
  switch (entry.msg) {
    case 'call parked':
      ladder.note(lane, `call parked; ${String(entry['pushed'])} device(s) to push`, entry.time);
      return false;
    case 'VoIP push sent':
      ladder.message('APNs sink', lane, '200 apns-id', entry.time);
      return false;
    case 'device registered':
      ladder.note(lane, lane === B ? 'binding stored; PUBLISH to the cluster (Redis)' : 'binding stored', entry.time);
      return false;
    case 'device woke; ringing it':
      ladder.note(lane, 'heard over Redis: the phone is back at B; INVITE it through B', entry.time);
      return false;
    case 'relaying a peer\'s INVITE over the phone\'s flow':
      ladder.message(A, B, 'INVITE + grant', entry.time);
      return false;
    case 'relayed call answered':
      ladder.message(B, A, '200 OK (SDP)', entry.time);
      return false;
    case 'call ended':
      ladder.note(lane, `call ended (${String(entry['how'])})`, entry.time);
      return true;
    default:
      return false;
  }
}

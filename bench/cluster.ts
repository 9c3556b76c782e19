/**
 * Scale-out (issue 12): one pushwake node against two on one Redis, in the same run, on this box.
 *
 *   npm run bench:cluster [-- --calls 300 --rates 25,50,100 --wake-delay 20]
 *
 * Each node is `pushwake start` in a process of its own (embedded engine, Redis store); the PBX,
 * the phones and the push sink run in this process. Every call goes to its own sleeping phone
 * (X-Token, TCP): pushwake pushes, the phone re-registers `--wake-delay` ms later, is INVITEd and
 * answers 50 ms later, and the PBX hangs up at once.
 *
 * - one node: the phone registered at A and wakes at A;
 * - two nodes: the phone registered at A and wakes at B; A rings it through B (the cross-node hop).
 *
 * Printed, per set-up and rate: calls answered and failed, achieved push-calls/s, the wake delay
 * at the phone (its REGISTER's 200 -> the INVITE reaching it) as p50/p99, and Redis commands per
 * call (INFO commandstats). The cross-node hop is the two-node delay minus the one-node one.
 * Target: under 2 ms p50 on loopback. Figures only; nothing is asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { startPushSink, type PushSink } from '../lib/push-sink/index.js';
import { parseSipUri } from '../lib/sip/name-addr.js';
import { CallAttempt, Phone, Pbx, startAgentHost, type AgentHost } from '../lib/testkit/agents.js';
import { mergeTrees, runCleanups, type Cleanup } from '../lib/testkit/cleanups.js';
import { freePort } from '../lib/testkit/free-port.js';
import { loopbackOverrides } from '../lib/testkit/loopback-config.js';
import { PushwakeDaemon } from '../lib/testkit/pushwake-daemon.js';
import { startRedisServer, type TestRedisServer } from '../lib/testkit/redis-server.js';
import { armDeadline, isEntryPoint, machineLoad, numberFlag, progress, stringFlag } from './support/flags.js';
import { distributionOf, ms, verdict, type Distribution } from './support/stats.js';
import { inWindows, sleep } from './support/windowed.js';

const NAME = 'cluster';
export const CROSS_NODE_TARGET_P50_MS = 2;

interface RunResult {
  nodes: 1 | 2;
  rate: number;
  answered: number;
  failed: number;
  achievedRate: number;
  wake: Distribution;
  redisCommandsPerCall: number;
}

/** A phone with the times the bench needs: its wake REGISTER's 200, and the INVITE after it. */
interface Timed {
  phone: Phone;
  registeredAt?: number;
  invitedAt?: number;
}

class Stage {
  readonly phones = new Map<string, Timed>();
  readonly byToken = new Map<string, Timed>();
  /** Where woken phones re-register. */
  wakeHost = '';
  wakeDelayMs = 20;

  private constructor(readonly agents: AgentHost, readonly sink: PushSink, readonly pbx: Pbx) {}

  static async start(cleanups: Cleanup[]): Promise<Stage> {
    const agents = await startAgentHost({ perSourceRatePerSec: 1_000_000 });
    cleanups.push(() => agents.stop());
    const sink = await startPushSink({ output: 'none' });
    cleanups.push(() => sink.stop());
    const pbx = new Pbx(agents.app, 'sip:unused');
    const stage = new Stage(agents, sink, pbx);
    agents.app.onRequest('register', (req, res) => pbx.handleRegister(req, res));
    agents.app.onRequest('invite', (req, res) => {
      const t = stage.phones.get(parseSipUri(req.uri)?.user ?? '');
      if (!t) return res.send(404, 'Not Found', {});
      t.invitedAt ??= performance.now();
      t.phone.handleInvite(req, res);
    });
    sink.on('push', (push) => {
      const t = stage.byToken.get(push.token);
      if (!t) return;
      setTimeout(() => {
        t.phone.pushwakeHost = stage.wakeHost;
        void t.phone.register().then((r) => {
          if (r.status === 200) t.registeredAt = performance.now();
        }, () => undefined);
      }, stage.wakeDelayMs);
    });
    return stage;
  }

  phone(user: string, at: string): Timed {
    const phone = new Phone(this.agents.app, user, 'example.com', 'tcp', at, 'x-token', this.agents.host);
    const t: Timed = { phone };
    this.phones.set(phone.contactUser, t);
    this.byToken.set(phone.token, t);
    return t;
  }
}

async function startNodes(dir: string, stage: Stage, redis: TestRedisServer, count: 1 | 2, cleanups: Cleanup[]): Promise<string[]> {
  const hosts: string[] = [];
  const keyPrefix = `bench${count}-${Date.now()}:`;
  for (const id of count === 2 ? ['a', 'b'] : ['a']) {
    const port = await freePort();
    const config = mergeTrees(loopbackOverrides(stage.sink, dir, `sip:${stage.agents.host}`), {
      sip: { listen: [{ address: '127.0.0.1', port, transports: ['udp', 'tcp'] }] },
      engine: { perSourceRatePerSec: 1_000_000, trustedSourceRatePerSec: 1_000_000, untrustedRatePerSec: 10_000_000 },
      upstream: { trustedSources: ['127.0.0.0/8'] },
      call: { wakeTimeoutMs: 10_000, ringTimeoutMs: 10_000, maxParkedCalls: 100_000 },
      store: { kind: 'redis', url: redis.url, keyPrefix },
      ...(count === 2 ? { cluster: { nodeId: id } } : {}),
      log: { level: 'warn' },
    });
    const daemon = await PushwakeDaemon.start(join(dir, `node-${count}-${id}.yaml`), config);
    cleanups.push(() => daemon.stop());
    hosts.push(`127.0.0.1:${port}`);
  }
  return hosts;
}

async function redisCommands(url: string): Promise<number> {
  const c = createClient({ url });
  await c.connect();
  const info = await c.info('commandstats');
  await c.close();
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function runOne(nodes: 1 | 2, rate: number, calls: number, wakeDelayMs: number): Promise<RunResult> {
  const cleanups: Cleanup[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-bench-cluster-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const redis = await startRedisServer({});
    if (!redis) throw new Error('redis-server not found (apt-get install redis-server)');
    cleanups.push(() => redis.stop());
    const stage = await Stage.start(cleanups);
    stage.wakeDelayMs = wakeDelayMs;
    const hosts = await startNodes(dir, stage, redis, nodes, cleanups);
    const [a, b] = [hosts[0] ?? '', hosts[1] ?? hosts[0] ?? ''];
    stage.wakeHost = b;
    progress(NAME, `${nodes} node(s), ${rate} calls/s: registering ${calls} phones`);
    const timed = Array.from({ length: calls }, (_, i) => stage.phone(`u${i}`, a));
    await inWindows(timed, 50, async (t) => {
      const r = await t.phone.register();
      if (r.status !== 200) throw new Error(`registration failed: ${r.status}`);
    });
    const before = await redisCommands(redis.url);
    progress(NAME, `${nodes} node(s): ${calls} calls at ${rate}/s`);
    const started = performance.now();
    const outcomes: Array<Promise<number>> = [];
    for (let i = 0; i < calls; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const t = timed[i] as Timed;
      const call = new CallAttempt(stage.agents.app, t.phone.aor, `sip:${a}`, {});
      outcomes.push(call.done.then(async (r) => {
        if (r.status === 200) await r.dialog?.destroy().catch(() => undefined);
        return r.status;
      }, () => 0));
    }
    const statuses = await Promise.all(outcomes);
    const elapsed = (performance.now() - started) / 1000;
    const after = await redisCommands(redis.url);
    const answered = statuses.filter((s) => s === 200).length;
    const wake = distributionOf(timed.filter((t) => t.registeredAt !== undefined && t.invitedAt !== undefined && t.invitedAt >= t.registeredAt).map((t) => (t.invitedAt ?? 0) - (t.registeredAt ?? 0)));
    return { nodes, rate, answered, failed: calls - answered, achievedRate: answered / elapsed, wake, redisCommandsPerCall: (after - before) / Math.max(1, answered) };
  } finally {
    await runCleanups(cleanups);
  }
}

export async function runCluster(): Promise<RunResult[]> {
  const calls = numberFlag('calls', 300);
  const wakeDelayMs = numberFlag('wake-delay', 20);
  const rates = stringFlag('rates', '25,50,100').split(',').map(Number).filter((r) => r > 0);
  const results: RunResult[] = [];
  for (const rate of rates) {
    for (const nodes of [1, 2] as const) results.push(await runOne(nodes, rate, calls, wakeDelayMs));
  }
  return results;
}

export function printCluster(results: RunResult[]): void {
  console.log(`cluster: one node against two on one Redis (${machineLoad()})`);
  console.log('  nodes  rate/s  answered  failed  achieved/s  wake p50     wake p99     Redis cmds/call');
  for (const r of results) {
    console.log(`  ${String(r.nodes).padStart(5)}  ${String(r.rate).padStart(6)}  ${String(r.answered).padStart(8)}  ${String(r.failed).padStart(6)}  ${r.achievedRate.toFixed(1).padStart(10)}  ${ms(r.wake.p50).padEnd(11)}  ${ms(r.wake.p99).padEnd(11)}  ${r.redisCommandsPerCall.toFixed(1).padStart(15)}`);
  }
  console.log('  wake: at the phone, its wake REGISTER\'s 200 -> the INVITE reaching it (two nodes: through B, from the call parked on A)');
  const rates = [...new Set(results.map((r) => r.rate))];
  for (const rate of rates) {
    const one = results.find((r) => r.rate === rate && r.nodes === 1);
    const two = results.find((r) => r.rate === rate && r.nodes === 2);
    if (!one || !two) continue;
    const hop = two.wake.p50 - one.wake.p50;
    console.log(`  at ${rate}/s the cross-node hop adds ${ms(hop)} p50, ${ms(two.wake.p99 - one.wake.p99)} p99  (target < ${CROSS_NODE_TARGET_P50_MS} ms p50: ${verdict(hop < CROSS_NODE_TARGET_P50_MS)})`);
  }
  const sustained = (n: 1 | 2): string => {
    const ok = results.filter((r) => r.nodes === n && r.failed === 0);
    return ok.length ? `${Math.max(...ok.map((r) => r.achievedRate)).toFixed(1)} push-calls/s` : 'none without failures';
  };
  console.log(`  sustained with 0 failures: one node ${sustained(1)}, two nodes ${sustained(2)} (highest rate tried: ${Math.max(...rates)}/s)`);
}

if (isEntryPoint(import.meta.url)) {
  const disarm = armDeadline(NAME, numberFlag('deadline', 900) * 1000);
  runCluster().then(
    (results) => {
      disarm();
      printCluster(results);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(`${NAME} benchmark broke:`, err);
      process.exit(1);
    },
  );
}

/**
 * A pushwake cluster on loopback, as a provider runs it: several `pushwake start` processes (each
 * on its own embedded engine, or each on its own drachtio-server), one real redis-server they
 * share, the push sink for APNs, and the agents playing the PBX and the phones.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPushSink, type PushSink, type ReceivedPush } from '../../../lib/push-sink/index.js';
import { parseSipUri } from '../../../lib/sip/name-addr.js';
import { CallAttempt, Pbx, Phone, startAgentHost, type AgentHost, type PushStyle } from '../../../lib/testkit/agents.js';
import { drachtioBin } from '../../../lib/testkit/binaries.js';
import { mergeTrees, runCleanups, type Cleanup } from '../../../lib/testkit/cleanups.js';
import { startDrachtioServer, type DrachtioServer } from '../../../lib/testkit/drachtio-server.js';
import { freePort } from '../../../lib/testkit/free-port.js';
import { loopbackOverrides } from '../../../lib/testkit/loopback-config.js';
import { PushwakeDaemon } from '../../../lib/testkit/pushwake-daemon.js';
import { REDIS_SERVER_MISSING, startRedisServer, type TestRedisServer } from '../../support/redis-server.js';
import { SENTINEL_MASTER, startSentinelSet, type TestSentinelSet } from '../../support/redis-sentinel.js';

export type EngineKind = 'embedded' | 'drachtio';

export interface ClusterNodeHandle {
  nodeId: string;
  /** 127.0.0.1:port phones and the PBX reach it at (UDP and TCP). */
  sipHost: string;
  daemon: PushwakeDaemon;
  drachtio?: DrachtioServer;
  config: Record<string, unknown>;
}

export class ClusterLab {
  readonly nodes = new Map<string, ClusterNodeHandle>();
  readonly phones: Phone[] = [];
  /** Where each phone re-registers when a push wakes it (default where it registered). */
  readonly wakeAt = new Map<Phone, string>();
  private readonly cleanups: Cleanup[] = [];

  private constructor(
    readonly engine: EngineKind,
    public redis: TestRedisServer,
    readonly sink: PushSink,
    readonly agents: AgentHost,
    readonly pbx: Pbx,
    readonly dir: string,
    readonly keyPrefix: string,
  ) {}

  /** Redis Sentinel set, when the lab runs on one (`start(..., { sentinel: true })`). */
  sentinel: TestSentinelSet | undefined;

  static async start(engine: EngineKind, nodeIds: string[], opts: { sentinel?: boolean } = {}): Promise<ClusterLab> {
    const cleanups: Cleanup[] = [];
    try {
      const dir = mkdtempSync(join(tmpdir(), 'pushwake-cluster-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      mkdirSync(join(dir, 'redis'));
      let sentinel: TestSentinelSet | undefined;
      let redis: TestRedisServer | undefined;
      if (opts.sentinel) {
        const set = await startSentinelSet();
        cleanups.push(() => set.stop());
        sentinel = set;
        redis = set.master;
      } else {
        const single = await startRedisServer({ durable: true, dir: join(dir, 'redis') });
        if (!single) throw new Error(REDIS_SERVER_MISSING);
        cleanups.push(() => single.stop());
        redis = single;
      }
      const sink = await startPushSink({ output: 'none' });
      cleanups.push(() => sink.stop());
      const agents = await startAgentHost();
      cleanups.push(() => agents.stop());
      const pbx = new Pbx(agents.app, 'sip:unused');
      const lab = new ClusterLab(engine, redis, sink, agents, pbx, dir, `lab${Date.now()}:`);
      lab.sentinel = sentinel;
      lab.cleanups.push(...cleanups);
      agents.app.onRequest('register', (req, res) => pbx.handleRegister(req, res));
      agents.app.onRequest('invite', (req, res) => {
        const phone = lab.phones.find((p) => p.contactUser === parseSipUri(req.uri)?.user);
        if (phone) phone.handleInvite(req, res);
        else res.send(404, 'Not Found', {});
      });
      sink.on('push', (push) => lab.onPush(push));
      for (const id of nodeIds) await lab.startNode(id);
      return lab;
    } catch (err) {
      await runCleanups(cleanups);
      throw err;
    }
  }

  node(id: string): ClusterNodeHandle {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Start (or start again) node `id` as a `pushwake start` process of its own. */
  async startNode(id: string): Promise<ClusterNodeHandle> {
    let drachtio: DrachtioServer | undefined;
    if (this.engine === 'drachtio') {
      drachtio = await startDrachtioServer(drachtioBin() ?? '', `cluster-${id}`);
      const d = drachtio;
      this.cleanups.push(() => d.stop());
    }
    const sipPort = drachtio?.sipPort ?? (await freePort());
    const base = loopbackOverrides(this.sink, this.dir, `sip:${this.agents.host}`);
    const config = mergeTrees(base, {
      sip: { listen: [{ address: '127.0.0.1', port: sipPort, transports: ['udp', 'tcp'] }] },
      ...(drachtio ? { engine: { mode: 'external', host: '127.0.0.1', port: drachtio.wirePort, secret: drachtio.secret } } : {}),
      upstream: { trustedSources: ['127.0.0.0/8'] },
      apns: { retryBaseDelayMs: 20 },
      call: { wakeTimeoutMs: 6000, ringTimeoutMs: 10_000 },
      store: this.sentinel
        ? { kind: 'redis', url: 'redis://127.0.0.1:1', sentinels: [this.sentinel.sentinelAddress], sentinelMasterName: SENTINEL_MASTER, keyPrefix: this.keyPrefix }
        : { kind: 'redis', url: this.redis.url, keyPrefix: this.keyPrefix },
      cluster: { nodeId: id, nodeTimeoutSeconds: 2 },
    });
    const daemon = await PushwakeDaemon.start(join(this.dir, `node-${id}.yaml`), config);
    this.cleanups.push(() => daemon.kill());
    const handle: ClusterNodeHandle = { nodeId: id, sipHost: `127.0.0.1:${sipPort}`, daemon, config, ...(drachtio ? { drachtio } : {}) };
    this.nodes.set(id, handle);
    return handle;
  }

  /** A phone that registers through node `at`. */
  phone(user: string, at: string, opts: { transport?: 'udp' | 'tcp'; push?: PushStyle } = {}): Phone {
    const p = new Phone(this.agents.app, user, 'example.com', opts.transport ?? 'tcp', this.node(at).sipHost, opts.push ?? 'x-token', this.agents.host);
    this.phones.push(p);
    return p;
  }

  /** The PBX calls `target` through node `via` (the node its routing picked). */
  call(via: string, target: string, headers: Record<string, string> = {}): CallAttempt {
    return new CallAttempt(this.agents.app, target, `sip:${this.node(via).sipHost}`, { headers });
  }

  /** kill -9 the Redis server and start it again on the same port and data (AOF, fsync always). */
  async restartRedis(downMs: number): Promise<void> {
    await this.redis.kill();
    await new Promise((r) => setTimeout(r, downMs));
    const again = await startRedisServer({ durable: true, dir: this.redis.dir, port: this.redis.port });
    if (!again) throw new Error(REDIS_SERVER_MISSING);
    this.redis = again;
    this.cleanups.push(() => again.stop());
  }

  pushesFor(phone: Phone): ReceivedPush[] {
    return this.sink.pushes.filter((p) => p.token === phone.token);
  }

  private onPush(push: ReceivedPush): void {
    const phone = this.phones.find((p) => p.token === push.token);
    if (!phone?.wakeOnPush) return;
    const at = this.wakeAt.get(phone);
    if (at) phone.pushwakeHost = this.node(at).sipHost;
    setTimeout(() => void phone.register().catch(() => undefined), 30);
  }

  async stop(): Promise<void> {
    await runCleanups(this.cleanups);
  }
}

/** Which engines the cluster suite runs on here. */
export function clusterEngines(): EngineKind[] {
  return drachtioBin() ? ['embedded', 'drachtio'] : ['embedded'];
}

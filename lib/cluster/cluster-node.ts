/**
 * This node's membership of a pushwake cluster, over the Redis the nodes share:
 *
 * - presence: every third of `nodeTimeoutMs` the node sets `<prefix>cluster:node:<id>` (expiring
 *   after `nodeTimeoutMs`) and reads which peers are alive. A phone whose flow is held by a node
 *   that is gone is pushed, not rung over the dead connection;
 * - the bus: a REGISTER stored here is published on `<prefix>cluster:registered`, so a call parked
 *   on any node rings the woken phone (Flexisip's design, over pub/sub);
 * - the key that signs relay grants: `cluster.secret`, or one the first node made and kept in Redis.
 *
 * Redis going away never throws out of here: publishing and presence fail with a throttled log
 * line, and node-redis reconnects (and subscribes again) with backoff.
 */
import { randomBytes } from 'node:crypto';
import { connectRedis, type RedisConnection, type RedisTarget } from '../store/redis-connection.js';
import type { Binding, Edge } from '../domain/binding.js';
import { ThrottledWarning, type Logger } from '../log.js';
import { parseBinding } from '../store/stored-record.js';
import { GRANT_LIFETIME_MS, checkGrant, signGrant, type GrantCheck, type RelayGrant } from './relay-grant.js';

export interface ClusterOptions {
  nodeId: string;
  redis: RedisTarget;
  keyPrefix: string;
  /** '' = the key kept in Redis. */
  secret: string;
  nodeTimeoutMs: number;
  /** Where peers reach this node (read at each use: it may be learned after start). */
  edge: () => { host: string; transport: Edge['transport'] };
  log: Logger;
}

/** A phone registered at another node. */
export interface RemoteRegistration {
  binding: Binding;
  pushHint?: string;
  fromNodeId: string;
}

type Client = RedisConnection;

/** Close gracefully, or drop the connection when Redis does not answer within a second. */
async function shut(c: Client): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 1_000)));
  const done = await Promise.race([c.close().then(() => 'closed' as const, () => 'late' as const), late]);
  clearTimeout(timer);
  if (done === 'late') c.destroy();
}

/** Published messages larger than this are ignored (a binding is well under 2 KB). */
const MAX_MESSAGE_CHARS = 64 * 1024;

export class ClusterNode {
  private readonly alive = new Set<string>();
  private readonly listeners: Array<(r: RemoteRegistration) => void> = [];
  private readonly redisDown: ThrottledWarning;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private readonly opts: ClusterOptions,
    private readonly key: Buffer,
    private readonly cmd: Client,
    private readonly sub: Client,
  ) {
    this.redisDown = new ThrottledWarning(opts.log, 'cluster: Redis unavailable; peers do not hear of this node\'s registrations until it is back', 5_000);
  }

  /** Join: connect, read (or make) the cluster key, subscribe, announce this node. */
  static async join(opts: ClusterOptions): Promise<ClusterNode> {
    const connect = async (): Promise<Client> => {
      let down = false;
      return connectRedis(opts.redis, {
        // the failing commands report it (throttled); here only note that it went away
        onError: () => {
          down = true;
        },
        onReady: () => {
          if (down) opts.log.info('cluster: Redis connection is back');
          down = false;
        },
      });
    };
    const cmd = await connect();
    let sub: Client | undefined;
    try {
      sub = await connect();
      const key = opts.secret !== '' ? Buffer.from(opts.secret) : await sharedKey(cmd, `${opts.keyPrefix}cluster:secret`);
      const node = new ClusterNode(opts, key, cmd, sub);
      await sub.subscribe(node.channel, (message) => node.onMessage(message));
      await node.beat();
      node.timer = setInterval(() => void node.beat(), Math.max(100, Math.floor(opts.nodeTimeoutMs / 3)));
      node.timer.unref();
      opts.log.info({ nodeId: opts.nodeId, peers: [...node.alive].filter((n) => n !== opts.nodeId) }, 'joined the cluster');
      return node;
    } catch (err) {
      await shut(cmd);
      if (sub) await shut(sub);
      throw err;
    }
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** This node as the edge of the phones registered here. */
  edge(): Edge {
    const { host, transport } = this.opts.edge();
    return { nodeId: this.opts.nodeId, host, transport };
  }

  /** Peers heard from within nodeTimeoutMs (this node always). */
  isAlive(nodeId: string): boolean {
    return nodeId === this.opts.nodeId || this.alive.has(nodeId);
  }

  /** Hear of phones registered at other nodes. */
  onRemoteRegistration(fn: (r: RemoteRegistration) => void): void {
    this.listeners.push(fn);
  }

  /** Tell the peers a phone registered here. Never rejects. */
  publishRegistered(binding: Binding, pushHint: string | undefined): void {
    const message = JSON.stringify({ v: 1, from: this.opts.nodeId, binding, ...(pushHint ? { pushHint } : {}) });
    this.cmd.sendCommand(['PUBLISH', this.channel, message]).catch((err: unknown) => this.redisDown.warn({ err: (err as Error).message }));
  }

  /** A grant for `edge` to deliver to this binding's flow. */
  grant(b: Binding & { edge: Edge }): string {
    const grant: RelayGrant = { nodeId: b.edge.nodeId, fromNodeId: this.opts.nodeId, flow: b.flow, contact: b.contact, aor: b.aor, deviceKey: b.deviceKey, expiresAt: Date.now() + GRANT_LIFETIME_MS };
    return signGrant(this.key, grant);
  }

  check(token: string | undefined): GrantCheck {
    return checkGrant(this.key, token, this.opts.nodeId, Date.now());
  }

  /** Leave: peers stop ringing through this node at once rather than after nodeTimeoutMs. */
  async leave(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.cmd.sendCommand(['DEL', this.nodeKey(this.opts.nodeId)]).catch(() => undefined);
    await shut(this.sub);
    await shut(this.cmd);
  }

  private get channel(): string {
    return `${this.opts.keyPrefix}cluster:registered`;
  }

  private nodeKey(nodeId: string): string {
    return `${this.opts.keyPrefix}cluster:node:${nodeId}`;
  }

  /** Say this node is alive, and read which peers are. */
  private async beat(): Promise<void> {
    if (this.stopped) return;
    const members = `${this.opts.keyPrefix}cluster:nodes`;
    try {
      const edge = this.edge();
      await this.cmd.sendCommand(['SET', this.nodeKey(this.opts.nodeId), JSON.stringify({ host: edge.host, transport: edge.transport }), 'PX', String(this.opts.nodeTimeoutMs)]);
      await this.cmd.sendCommand(['SADD', members, this.opts.nodeId]);
      const ids = (await this.cmd.sendCommand(['SMEMBERS', members])) as string[];
      const values = ids.length > 0 ? ((await this.cmd.sendCommand(['MGET', ...ids.map((id) => this.nodeKey(id))])) as Array<string | null>) : [];
      const before = new Set(this.alive);
      this.alive.clear();
      ids.forEach((id, i) => {
        if (values[i] !== null && values[i] !== undefined) this.alive.add(id);
        // a node gone for good leaves the set (it adds itself again if it comes back)
        else void this.cmd.sendCommand(['SREM', members, id]).catch(() => undefined);
      });
      for (const id of this.alive) if (!before.has(id) && id !== this.opts.nodeId) this.opts.log.info({ peer: id }, 'cluster: peer joined');
      for (const id of before) if (!this.alive.has(id)) this.opts.log.warn({ peer: id }, 'cluster: peer gone; its phones are pushed, not rung over its connections');
    } catch (err) {
      this.redisDown.warn({ err: (err as Error).message });
    }
  }

  private onMessage(message: string): void {
    if (message.length > MAX_MESSAGE_CHARS) return;
    let r: RemoteRegistration;
    try {
      const m = JSON.parse(message) as { v?: unknown; from?: unknown; binding?: unknown; pushHint?: unknown };
      if (m.v !== 1 || typeof m.from !== 'string' || m.from === this.opts.nodeId) return;
      const binding = parseBinding(JSON.stringify(m.binding));
      r = { binding, fromNodeId: m.from, ...(typeof m.pushHint === 'string' && m.pushHint.length <= 128 ? { pushHint: m.pushHint } : {}) };
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'cluster: unreadable registration message ignored');
      return;
    }
    this.alive.add(r.fromNodeId);
    for (const fn of this.listeners) {
      try {
        fn(r);
      } catch (err) {
        this.opts.log.error({ err }, 'cluster: a remote registration could not be handled');
      }
    }
  }
}

/** The cluster key in Redis: the first node to ask makes it. */
async function sharedKey(cmd: Client, key: string): Promise<Buffer> {
  await cmd.sendCommand(['SET', key, randomBytes(32).toString('hex'), 'NX']);
  const value = await cmd.sendCommand(['GET', key]);
  if (typeof value !== 'string' || value.length < 32) throw new Error(`cluster: no usable key at ${key}`);
  return Buffer.from(value);
}

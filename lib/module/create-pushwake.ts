/**
 * pushwake mounted in a host's drachtio-srf app: `createPushwake({ srf, ... })` gives REGISTER and
 * INVITE middleware for `srf.use`. The host owns the Srf and its connection (drachtio-server or the
 * embedded engine); pushwake takes the requests that are its business and calls `next()` for the
 * rest. `pushwake start` is this, mounted on an Srf of its own with `unclaimed: 'answer'`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Binding } from '../domain/binding.js';
import { compilePayloadTemplate } from '../push/payload.js';
import type Srf from 'drachtio-srf';
import { ConfigError } from '../config/load.js';
import type { PushwakeConfig } from '../config/types.js';
import { createLogger, tokenPrefix, type Logger } from '../log.js';
import type { CallEnding } from '../call/call-types.js';
import type { IncomingCall } from '../call/incoming-call.js';
import type { PushSender } from '../push/push-outcome.js';
import type { DeviceRegistered } from '../registration/registration-relay.js';
import { claimRegister, settleClaim } from '../registration/register-claim.js';
import { LocalAddress } from '../sip/local-address.js';
import { prepareRequest, sipAppOf, type InboundRequest, type ServerResponse } from '../sip/srf.js';
import { isStoreUnavailable, storeUnavailableAnswer } from '../store/guarded-store.js';
import type { BindingStore } from '../store/binding-store.js';
import type { Trace } from '../trace.js';
import type { Registry } from 'prom-client';
import { PushwakeMetrics, type MetricSources } from '../ops/metrics.js';
import { applyLive, buildCallPath, buildSender, openStore, redisTarget, type CallPath } from './assemble.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { EdgeRelay } from '../cluster/edge-relay.js';
import { resolveOptions, type PushwakeOptions, type Unclaimed } from './options.js';
import { FreeswitchMedia } from '../media/freeswitch-media.js';

/**
 * srf middleware: mount with `srf.use('register', pushwake.register)` (arity 3, as drachtio-srf
 * requires). `next` is typed as drachtio-srf's `use` types it; pushwake calls it with no argument.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- drachtio-srf's own type for next
export type SrfMiddleware = (req: Srf.SrfRequest, res: Srf.SrfResponse, next: Function) => void;

/** A call pushwake parked has ended. */
export interface CallEndedEvent {
  /** The caller's Call-ID. */
  callId: string;
  /** The UUID pushed to the phone (CallKit's call UUID). */
  callUuid: string;
  /** The called user, `sip:user@domain`. */
  aor: string;
  ending: CallEnding;
}

/** A device registered through pushwake (the registrar said 2xx, the binding is stored). */
export interface DeviceRegisteredEvent {
  aor: string;
  deviceKey: string;
  /** False when it registered without usable push data (it is rung while awake, never pushed). */
  pushable: boolean;
  /** Epoch ms until which the binding lives. */
  expiresAt: number;
}

export interface PushwakeEvents {
  callEnded: CallEndedEvent;
  deviceRegistered: DeviceRegisteredEvent;
}

export type { CallEnding } from '../call/call-types.js';

/** One mounted pushwake. */
export interface Pushwake {
  readonly name: string;
  /** REGISTER middleware: relays push REGISTERs (and those of devices it holds) upstream; `next()` for the rest. */
  readonly register: SrfMiddleware;
  /** INVITE middleware: parks, pushes and forks calls for its devices; `next()` for the rest. */
  readonly invite: SrfMiddleware;
  /** `srf.use('register', register)` and `srf.use('invite', invite)`: mount before the host's own handlers. */
  attach(): void;
  /** host:port pushwake puts in the Contact it registers upstream (learned from the Srf's connection). */
  readonly advertisedHost: string;
  /** Calls parked or ringing now. */
  readonly activeCalls: number;
  /** pushwake's Prometheus metrics (prom-client), on a registry of its own: serve or merge it. */
  readonly metrics: Registry;
  on<E extends keyof PushwakeEvents>(event: E, fn: (e: PushwakeEvents[E]) => void): this;
  off<E extends keyof PushwakeEvents>(event: E, fn: (e: PushwakeEvents[E]) => void): this;
  /**
   * Ends every call it holds (callers get 503, devices CANCEL), sends the ended notices owed, and
   * closes the store and push sender it opened (not injected ones). The Srf stays as it is; after
   * close the middleware passes everything on (or answers 503 with `unclaimed: 'answer'`).
   */
  close(): Promise<void>;
}

/**
 * A pushed device that has not registered this long after its push, when its call ends, counts
 * as an unanswered push (iOS wakes an app in 1-3 s; a caller hanging up sooner proves nothing).
 */
const UNANSWERED_AFTER_MS = 10_000;

/** Hooks `pushwake start` and tests use; not part of the public API. */
export interface Internals {
  /** Where pushwake is reached, when the caller knows better than the Srf (the embedded engine's listeners). */
  local?: LocalAddress;
  trace?: Trace;
  /** The embedded engine's counters, when pushwake started it (metrics). */
  engine?: MetricSources['engine'];
}

/**
 * Announcements on FreeSWITCH (media.enabled): drachtio-fsmrf on the host's Srf, connected in the
 * background. drachtio-fsmrf is loaded only then: with media off nothing of it runs.
 */
async function openMedia(srf: Srf, config: PushwakeConfig, log: Logger, metrics: PushwakeMetrics): Promise<FreeswitchMedia> {
  const { default: Mrf } = await import('drachtio-fsmrf');
  const media = new FreeswitchMedia(new Mrf(srf), config.media, log.child({ component: 'media' }), {
    unavailable: (code) => metrics.mediaUnavailable(code),
    connected: (up) => metrics.mediaConnected(up),
  });
  metrics.mediaConnected(false);
  media.start();
  return media;
}

/** Create a pushwake on the host's Srf. Rejects with ConfigError (code PUSHWAKE_CONFIG) naming a bad option. */
export async function createPushwake(options: PushwakeOptions): Promise<Pushwake> {
  return createInstance(options, {});
}

/** The same, with the internal hooks; resolves with the instance (its call book is visible to tests). */
export async function createInstance(options: PushwakeOptions, internals: Internals): Promise<PushwakeInstance> {
  const { config, name, unclaimed } = resolveOptions(options);
  const base = options.logger ?? createLogger('info');
  const log = options.name !== undefined ? base.child({ pushwake: name }) : base;
  const srf = options.srf;
  const mount = claimMount(srf, name, config, options.bindingStore);
  let opened: BindingStore | undefined;
  let cluster: ClusterNode | undefined;
  let media: FreeswitchMedia | undefined;
  try {
    const { store, onStoreUnavailable } = await openStore(config, options.bindingStore, log);
    if (!options.bindingStore) opened = store;
    const local = internals.local ?? new LocalAddress({ host: config.sip.advertisedHost, transport: config.sip.advertisedTransport }, []);
    if (config.cluster.nodeId !== '') {
      cluster = await ClusterNode.join({
        nodeId: config.cluster.nodeId, redis: redisTarget(config), keyPrefix: config.store.keyPrefix, secret: config.cluster.secret,
        nodeTimeoutMs: config.cluster.nodeTimeoutSeconds * 1000, log,
        edge: () => ({ host: config.cluster.relayHost || local.host, transport: local.transport }),
      });
    }
    let parked = (): number => 0;
    let announcements: (() => number) | undefined;
    const metrics = new PushwakeMetrics({
      parkedCalls: () => parked(),
      countBindings: () => store.countBindings(),
      ...(internals.engine ? { engine: internals.engine } : {}),
      ...(config.media.enabled ? { announcements: () => announcements?.() ?? 0 } : {}),
    });
    if (config.media.enabled) {
      media = await openMedia(srf, config, log, metrics);
      const m = media;
      announcements = () => m.activeAnnouncements;
    }
    const sender = metrics.metered(options.pushSender ?? buildSender(config, log));
    const instance = new PushwakeInstance({
      srf, name, unclaimed, config, log, store, sender, onStoreUnavailable, internals: { ...internals, local }, learnLocal: !internals.local, cluster,
      release: mount, ownsStore: !options.bindingStore, ownsSender: !options.pushSender, metrics, media,
    });
    parked = () => instance.activeCalls;
    return instance;
  } catch (err) {
    // nothing it opened may outlive a failed creation
    await cluster?.leave();
    media?.close();
    await opened?.close().catch(() => undefined);
    mount();
    throw err;
  }
}

interface InstanceParts {
  srf: Srf;
  name: string;
  unclaimed: Unclaimed;
  config: PushwakeConfig;
  log: Logger;
  store: BindingStore;
  sender: PushSender;
  onStoreUnavailable: (err: Error) => void;
  internals: Internals;
  release: () => void;
  ownsStore: boolean;
  ownsSender: boolean;
  /** Learn the advertised host from the Srf (the caller gave none). */
  learnLocal: boolean;
  cluster: ClusterNode | undefined;
  metrics: PushwakeMetrics;
  media: FreeswitchMedia | undefined;
}

type Listener<E extends keyof PushwakeEvents> = (e: PushwakeEvents[E]) => void;

export class PushwakeInstance implements Pushwake {
  readonly name: string;
  readonly path: CallPath;
  readonly store: BindingStore;
  private readonly local: LocalAddress;
  private readonly listeners: { [E in keyof PushwakeEvents]: Set<Listener<E>> } = { callEnded: new Set(), deviceRegistered: new Set() };
  /** Calls' endings with the call itself (pushwake start and tests). */
  private readonly callEndedHooks: Array<(call: IncomingCall, how: CallEnding) => void> = [];
  private readonly stopLearning: () => void;
  private closed = false;

  constructor(private readonly parts: InstanceParts) {
    const { srf, config, log, internals } = parts;
    this.name = parts.name;
    this.store = parts.store;
    const app = sipAppOf(srf);
    this.local = internals.local ?? new LocalAddress({ host: config.sip.advertisedHost, transport: config.sip.advertisedTransport }, []);
    this.stopLearning = parts.learnLocal ? learnFromSrf(srf, this.local, config, log) : () => undefined;
    this.path = buildCallPath({
      config, app, store: parts.store, sender: parts.sender, local: this.local, log, trace: internals.trace, onStoreUnavailable: parts.onStoreUnavailable, cluster: parts.cluster, metrics: parts.metrics, media: parts.media,
      onCallEnded: (call, how) => this.callEnded(call, how),
      onDeviceRegistered: (r) => this.deviceRegistered(r),
    });
  }

  readonly register: SrfMiddleware = (req, res, next) => {
    const [request, plain] = prepareRequest(req, res);
    const response = countedRegister(plain, this.parts.metrics);
    if (this.closed) return this.refuseClosed(response, next);
    if (this.parts.unclaimed === 'answer') return this.path.relay.handle(request, response);
    const claim = claimRegister((n) => request.get(n), this.path.relay.settings);
    if (claim.kind === 'ours') return this.path.relay.handle(request, response);
    if (claim.kind === 'not-ours') return next();
    settleClaim(claim, this.store).then(
      (ours) => (ours ? this.path.relay.handle(request, response) : next()),
      (err: unknown) => this.storeFailed(err, request, response),
    );
  };

  readonly invite: SrfMiddleware = (req, res, next) => {
    const [request, response] = prepareRequest(req, res);
    if (this.closed) return this.refuseClosed(response, next);
    if (EdgeRelay.asks(request)) {
      // a peer's INVITE for a phone whose flow this node holds (or a forged one: refused)
      if (this.path.edgeRelay) return this.path.edgeRelay.handle(request, response);
      this.parts.log.warn({ callId: request.callId, source: request.source_address }, 'relay request refused: this node is in no cluster');
      return response.send(403, 'Forbidden', { headers: { Warning: '399 pushwake "relay refused: not a cluster node"' } });
    }
    this.path.intake.handle(request, response, this.parts.unclaimed === 'pass' ? () => next() : undefined);
  };

  attach(): void {
    this.parts.srf.use('register', this.register);
    this.parts.srf.use('invite', this.invite);
  }

  get advertisedHost(): string {
    return this.local.host;
  }

  get activeCalls(): number {
    return this.path.calls.size;
  }

  get metrics(): Registry {
    return this.parts.metrics.registry;
  }

  /** The media server connection for announcements (media.enabled), else undefined. */
  get media(): FreeswitchMedia | undefined {
    return this.parts.media;
  }

  /** The metric families themselves (the admin server, tests). */
  get meters(): PushwakeMetrics {
    return this.parts.metrics;
  }

  on<E extends keyof PushwakeEvents>(event: E, fn: Listener<E>): this {
    (this.listeners[event] as Set<Listener<E>>).add(fn);
    return this;
  }

  off<E extends keyof PushwakeEvents>(event: E, fn: Listener<E>): this {
    (this.listeners[event] as Set<Listener<E>>).delete(fn);
    return this;
  }

  /**
   * A test VoIP push to one device (operators: `pushwake push`). The phone shows it as a call, so
   * it is owed an ended notice at once: CallKit's call ends when the phone next registers.
   */
  async testPush(b: Binding): Promise<Record<string, unknown>> {
    if (!b.push) return { deviceKey: b.deviceKey, result: 'no push token' };
    const { config } = this.parts;
    const call = { callUuid: randomUUID(), pushHint: randomBytes(8).toString('hex'), callId: `test-push-${randomBytes(6).toString('hex')}` };
    const payload = compilePayloadTemplate(config.call.payloadTemplate).render({
      ...call, callerNumber: 'pushwake', callerName: 'pushwake test push', withVideo: false, aor: b.aor,
    });
    const outcome = await this.parts.sender.send({ token: b.push, payload, collapseId: call.callUuid, expiresAt: Date.now() + config.apns.ttlSeconds * 1000 });
    this.parts.log.warn({ aor: b.aor, deviceKey: b.deviceKey, token: tokenPrefix(b.push.token), result: outcome.kind, callUuid: call.callUuid }, 'test VoIP push sent by an operator (the phone shows it as a call)');
    if (outcome.kind === 'delivered') {
      this.path.courier.owe({
        aor: b.aor, deviceKey: b.deviceKey, callUuid: call.callUuid, callId: call.callId, pushHint: call.pushHint,
        reason: 'SIP;cause=487;text="pushwake test push"', callerNumber: 'pushwake', callerName: 'pushwake test push',
        expiresAt: Date.now() + config.endedNotice.windowSeconds * 1000,
      });
    }
    return { deviceKey: b.deviceKey, token: tokenPrefix(b.push.token), result: outcome.kind, ...(outcome.kind === 'delivered' ? { callUuid: call.callUuid } : { status: outcome.status, code: outcome.code, reason: outcome.reason }) };
  }

  /** A reloaded config's live keys, applied in place (pushwake start's reload). */
  applyLive(config: PushwakeConfig): void {
    applyLive(this.path.live, config);
  }

  /** Hears each call's ending with the call itself (pushwake start, tests). */
  onCallEndedInternal(fn: (call: IncomingCall, how: CallEnding) => void): void {
    this.callEndedHooks.push(fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopLearning();
    this.path.calls.abortAll();
    await this.path.courier.flush();
    await this.parts.cluster?.leave();
    this.parts.media?.close();
    if (this.parts.ownsSender) await this.parts.sender.close();
    if (this.parts.ownsStore) await this.store.close();
    this.parts.release();
  }

  private callEnded(call: IncomingCall, how: CallEnding): void {
    this.path.alerts.callEnded(call, how);
    // devices pushed for this call that never registered within the wake window
    const unanswered = call.unansweredPushes(Date.now(), Math.min(this.parts.config.call.wakeTimeoutMs, UNANSWERED_AFTER_MS));
    for (const b of unanswered) this.path.watch.unanswered(b.aor, b.deviceKey);
    this.parts.metrics.callEnded(how, {
      callId: call.identity.callId, aor: call.identity.aor, createdAt: call.createdAt,
      unansweredDevices: unanswered.map((b) => b.deviceKey),
    });
    for (const fn of this.callEndedHooks) fn(call, how);
    const event: CallEndedEvent = { callId: call.identity.callId, callUuid: call.identity.callUuid, aor: call.identity.aor, ending: how };
    this.emit('callEnded', event);
  }

  private deviceRegistered({ binding }: DeviceRegistered): void {
    this.path.watch.answered(binding.aor, binding.deviceKey);
    this.parts.metrics.deviceRegistered(binding.push?.token);
    this.emit('deviceRegistered', { aor: binding.aor, deviceKey: binding.deviceKey, pushable: binding.push !== undefined, expiresAt: binding.upstreamExpiresAt });
  }

  /** A listener's throw is logged, never let into the SIP path. */
  private emit<E extends keyof PushwakeEvents>(event: E, payload: PushwakeEvents[E]): void {
    for (const fn of this.listeners[event] as Set<Listener<E>>) {
      try {
        fn(payload);
      } catch (err) {
        this.parts.log.error({ err, event }, 'a pushwake event listener threw');
      }
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- drachtio-srf's own type for next
  private refuseClosed(res: ServerResponse, next: Function): void {
    if (this.parts.unclaimed === 'pass') next();
    else res.send(503, 'Service Unavailable', {});
  }

  private storeFailed(err: unknown, req: InboundRequest, res: ServerResponse): void {
    if (isStoreUnavailable(err)) {
      this.parts.onStoreUnavailable(err);
      const answer = storeUnavailableAnswer(this.parts.config.store.unavailableRetryAfterSeconds);
      if (!res.finalResponseSent) res.send(answer.status, answer.reason, { headers: answer.headers });
      return;
    }
    this.parts.log.error({ err, callId: req.callId }, 'REGISTER claim failed');
    if (!res.finalResponseSent) res.send(500, 'Server Internal Error', {});
  }
}

/** The REGISTER's response, counting the final status it gets (once). */
function countedRegister(res: ServerResponse, metrics: PushwakeMetrics): ServerResponse {
  let counted = false;
  const send = res.send.bind(res) as (status: number, ...rest: unknown[]) => void;
  return new Proxy(res, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return (status: number, ...rest: unknown[]) => {
        if (!counted && status >= 200) {
          counted = true;
          metrics.registration(status);
        }
        send(status, ...rest);
      };
    },
  });
}

/* Where drachtio-srf keeps its connections' hostports (srf._app.client.mapServer). */
interface RawAgentHostports {
  _app?: { client?: { mapServer?: Map<unknown, { hostport?: string | null }> } };
}

/**
 * The advertised host, learned from the Srf: now when it is connected, and on each (re)connect.
 * Returns what stops the learning.
 */
function learnFromSrf(srf: Srf, local: LocalAddress, config: PushwakeConfig, log: Logger): () => void {
  const learn = (hostports: string): void => {
    if (!local.learn(hostports)) log.warn({ hostports, advertisedTransport: config.sip.advertisedTransport }, 'the SIP engine has no listener for sip.advertisedTransport; set sip.advertisedHost');
  };
  const servers = (srf as unknown as RawAgentHostports)._app?.client?.mapServer;
  const known = [...(servers?.values() ?? [])].map((s) => s.hostport).filter((h): h is string => typeof h === 'string' && h !== '');
  for (const h of known) learn(h);
  if (known.length === 0 && !config.sip.advertisedHost) log.info('the Srf is not connected yet: the host advertised upstream is learned when it connects (or set sip.advertisedHost)');
  const onConnect = (err: Error | null, hostports: string): void => {
    if (!err && typeof hostports === 'string') learn(hostports);
  };
  srf.on('connect', onConnect);
  return () => srf.removeListener('connect', onConnect);
}

/* What is mounted on each Srf, and which embedded store paths are open in this process. */
interface Mounted {
  name: string;
  prefix: string;
  redis?: string;
}
const mountedOn = new WeakMap<object, Mounted[]>();
const openPaths = new Map<string, string>();

/**
 * Two instances share state only when told to (one `bindingStore` given to both). Anything else
 * they would share by accident is refused with the key to change. Returns what releases the claim.
 */
function claimMount(srf: Srf, name: string, config: PushwakeConfig, injected: BindingStore | undefined): () => void {
  const mounted = mountedOn.get(srf) ?? [];
  const redis = !injected && config.store.kind === 'redis' ? `${config.store.url}\n${config.store.keyPrefix}` : undefined;
  const path = !injected && config.store.kind === 'embedded' ? resolve(config.store.path) : undefined;
  for (const other of mounted) {
    if (other.name === name) throw new ConfigError('name', `is taken by another pushwake on this Srf ("${name}"): name each instance`);
    if (other.prefix === config.registration.contactUserPrefix) {
      throw new ConfigError('registration.contactUserPrefix', `"${other.prefix}" is used by pushwake "${other.name}" on this Srf: each instance needs its own, or the first would answer the other's device contacts`);
    }
    if (redis && other.redis === redis) {
      throw new ConfigError('store.keyPrefix', `"${config.store.keyPrefix}" on ${config.store.url} is used by pushwake "${other.name}" on this Srf: give each its own keyPrefix, or pass one bindingStore to both to share`);
    }
  }
  if (path && openPaths.has(path)) {
    throw new ConfigError('store.path', `${path} is open already (pushwake "${openPaths.get(path)}" in this process): give each instance its own store.path, or pass one bindingStore to both to share`);
  }
  const entry: Mounted = { name, prefix: config.registration.contactUserPrefix, ...(redis ? { redis } : {}) };
  mountedOn.set(srf, [...mounted, entry]);
  if (path) openPaths.set(path, name);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    mountedOn.set(srf, (mountedOn.get(srf) ?? []).filter((m) => m !== entry));
    if (path) openPaths.delete(path);
  };
}

/**
 * pushwake, assembled: the SIP engine (embedded or an external drachtio-server), drachtio-srf,
 * the store, the APNs sender, the registration relay and the call path.
 */
import type { PushwakeConfig } from './config/types.js';
import { ThrottledWarning, type Logger } from './log.js';
import { CallBook } from './call/call-book.js';
import { CallIntake } from './call/call-intake.js';
import type { CallEnding, CallPorts, CallSettings } from './call/call-types.js';
import { DeviceWaker, noApnsKey } from './call/device-waker.js';
import { SrfLegs } from './call/sip-side.js';
import { EndedNoticeCourier } from './call/ended-notices.js';
import { IncomingCall } from './call/incoming-call.js';
import { TrustedSources } from './call/trusted-sources.js';
import { startEmbeddedEngine, type EmbeddedEngine } from './engine/index.js';
import { ApnsSender } from './push/apns-sender.js';
import { compilePayloadTemplate } from './push/payload.js';
import type { PushSender } from './push/push-outcome.js';
import { RegistrationRelay, type DeviceRegistered } from './registration/registration-relay.js';
import { createSipApp, type SipApp } from './sip/srf.js';
import { LocalAddress } from './sip/local-address.js';
import type { Trace } from './trace.js';
import { GuardedStore, openBindingStore } from './store/index.js';
import type { BindingStore } from './store/binding-store.js';

export interface RunningPushwake {
  app: SipApp;
  store: BindingStore;
  calls: CallBook;
  /** The SIP addresses actually listened on (embedded engine); empty with an external engine. */
  sipAddresses: Array<{ transport: 'udp' | 'tcp' | 'tls'; address: string; port: number }>;
  /** host:port put in the Contact registered upstream. */
  advertisedHost: string;
  /** Re-reads the SIP TLS certificate and key (SIGHUP); false when there is none or the files are bad. */
  reloadTls(): boolean;
  /** Resolves with each call's ending (tests, metrics later). */
  onCallEnded(fn: (call: IncomingCall, how: CallEnding) => void): void;
  stop(): Promise<void>;
}

export type { TraceEvent } from './trace.js';

export interface StartOptions {
  /** Called synchronously at each TraceEvent; keep it cheap. */
  onTrace?: Trace;
  log: Logger;
  /** Use this store instead of opening the configured one (tests). */
  store?: BindingStore;
  /** Use this push sender instead of building one from `apns` (tests). */
  pushSender?: PushSender;
}

/** An ended-notice INVITE that gets no final answer is given up after RFC 3261 Timer B (64*T1). */
const NOTICE_INVITE_TIMEOUT_MS = 32_000;

/** What pushwake takes out of dialog, plus what the engine handles within its calls. */
const ALLOW = 'INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS';

/** Assembles the parts; each is built by one function below. */
export async function startPushwake(config: PushwakeConfig, opts: StartOptions): Promise<RunningPushwake> {
  const { log, onTrace: trace } = opts;
  const { store, onStoreUnavailable } = await openStore(config, opts, log);
  const sender = opts.pushSender ?? buildSender(config, log);
  const trusted = new TrustedSources(config.upstream.trustedSources);
  const engine = config.engine.mode === 'embedded' ? await startEngine(config, trusted, log) : undefined;
  const local = new LocalAddress({ host: config.sip.advertisedHost, transport: config.sip.advertisedTransport }, engine?.sipAddresses ?? [], config.sip.listen[0]);
  const app = createSipApp();
  const path = buildCallPath({ config, app, store, sender, trusted, local, log, trace, onStoreUnavailable });
  const relay = new RegistrationRelay({
    app, store, log, trace, onStoreUnavailable,
    storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds,
    settings: { ...config.registration, pushHintHeader: config.call.pushHintHeader, pushHintParam: config.call.pushHintParam, registrar: config.upstream.registrar, upstreamExpires: config.upstream.registerExpires, registerTimeoutMs: config.upstream.registerTimeoutMs, local },
    onDeviceRegistered: path.deviceRegistered,
  });
  routeRequests(app, relay, path.intake, log);
  try {
    await connectApp(app, config, engine, local, log);
  } catch (err) {
    // nothing half-started may outlive a failed start (the CLI would never exit)
    try {
      app.disconnect();
    } catch {
      // never connected
    }
    await engine?.stop();
    await sender.close();
    if (!opts.store) await store.close();
    throw err;
  }
  if (config.endedNotice.mode === 'push') {
    log.warn('endedNotice.mode is push: a second VoIP push per ended call; the app must report and end it in CallKit, or iOS may stop delivering its pushes');
  }
  log.info({ mode: config.engine.mode, sip: engine?.sipAddresses ?? [], advertisedHost: local.host, store: config.store.kind }, 'pushwake started');
  return {
    app,
    store,
    calls: path.calls,
    sipAddresses: engine?.sipAddresses ?? [],
    get advertisedHost() {
      return local.host;
    },
    reloadTls: () => engine?.reloadTls() ?? false,
    onCallEnded: (fn) => path.endedListeners.push(fn),
    async stop() {
      path.calls.abortAll();
      await path.courier.flush();
      try {
        app.disconnect();
      } catch (err) {
        log.debug({ err }, 'engine connection already closed');
      }
      await engine?.stop();
      await sender.close();
      if (!opts.store) await store.close();
      log.info('pushwake stopped');
    },
  };
}

/** Connect drachtio-srf to the engine; resolves once the engine confirmed the routes. */
function connectApp(app: SipApp, config: PushwakeConfig, engine: EmbeddedEngine | undefined, local: LocalAddress, log: Logger): Promise<string> {
  return app.connect({
    host: config.engine.host,
    port: engine?.wirePort ?? config.engine.port,
    secret: config.engine.secret,
    // with an external drachtio-server, what it listens on is known only now
    onHostports: (hostports) => {
      if (!engine && !local.learn(hostports)) log.warn({ hostports, advertisedTransport: config.sip.advertisedTransport }, 'drachtio-server has no listener for sip.advertisedTransport; set sip.advertisedHost');
    },
  });
}

/** The configured store behind the guard that turns its failures into 503s; an outage logs every 5 s. */
async function openStore(config: PushwakeConfig, opts: StartOptions, log: Logger): Promise<{ store: BindingStore; onStoreUnavailable: (err: Error) => void }> {
  const storeDown = new ThrottledWarning(log, 'binding store unavailable; REGISTERs and INVITEs get 503 with Retry-After until it is back', 5_000);
  const onStoreUnavailable = (err: Error): void => storeDown.error({ store: config.store.kind, err: err.message });
  let readyOnce = false;
  const inner = opts.store ?? (await openBindingStore(
    config.store.kind === 'redis' ? { kind: 'redis', url: config.store.url, keyPrefix: config.store.keyPrefix } : { kind: 'embedded', path: config.store.path },
    {
      onCorruptRecord: (key, err) => log.error({ key, err }, 'corrupt store record skipped'),
      onConnectionError: onStoreUnavailable,
      onReady: () => {
        if (readyOnce) log.info({ store: config.store.kind }, 'binding store connection is back');
        readyOnce = true;
      },
    },
  ));
  return { store: new GuardedStore(inner), onStoreUnavailable };
}

function startEngine(config: PushwakeConfig, trusted: TrustedSources, log: Logger): Promise<EmbeddedEngine> {
  const e = config.engine;
  const tls = config.sip.tlsCertFile
    ? { certFile: config.sip.tlsCertFile, keyFile: config.sip.tlsKeyFile, ...(config.sip.tlsCaFile ? { caFile: config.sip.tlsCaFile } : {}), watch: config.sip.tlsWatchFiles }
    : undefined;
  return startEmbeddedEngine({
    sip: config.sip.listen.map((l) => ({ address: l.address, port: l.port, transports: l.transports, ...(l.tlsPort !== undefined ? { tlsPort: l.tlsPort } : {}) })),
    wire: { address: e.host, port: e.port, secret: e.secret },
    ...(tls ? { tls } : {}),
    isTrusted: (address) => trusted.allows(address),
    limits: {
      maxMessageBytes: e.maxMessageBytes,
      perSourceRatePerSec: e.perSourceRatePerSec,
      trustedSourceRatePerSec: e.trustedSourceRatePerSec,
      untrustedRatePerSec: e.untrustedRatePerSec,
      tcpHeaderTimeoutMs: e.tcpHeaderTimeoutMs,
      tcpIdleMs: e.tcpIdleMs,
      connectTimeoutMs: e.connectTimeoutMs,
      maxConnections: e.maxConnections,
      udpReceiveBufferBytes: e.udpReceiveBufferBytes,
      maxTransactions: e.maxTransactions,
    },
    log: (level, msg, fields) => log[level](fields ?? {}, `engine: ${msg}`),
  });
}

interface CallPathParts {
  config: PushwakeConfig;
  app: SipApp;
  store: BindingStore;
  sender: PushSender;
  trusted: TrustedSources;
  local: LocalAddress;
  log: Logger;
  trace: Trace | undefined;
  onStoreUnavailable: (err: Error) => void;
}

/** Everything an INVITE meets: the intake, the calls, their pushes, legs and ended notices. */
function buildCallPath(p: CallPathParts) {
  const { config, app, store, sender, log, trace } = p;
  const template = compilePayloadTemplate(config.call.payloadTemplate);
  const calls = new CallBook(config.call.maxParkedCalls);
  const endedListeners: Array<(call: IncomingCall, how: CallEnding) => void> = [];
  const waker = new DeviceWaker(sender, template, store, {
    ttlMs: config.apns.ttlSeconds * 1000,
    retryBaseDelayMs: config.apns.retryBaseDelayMs,
    retryMaxAttempts: config.apns.retryMaxAttempts,
  }, log, trace);
  const courier = new EndedNoticeCourier(app, store, sender, template, {
    mode: config.endedNotice.mode,
    pushHintHeader: config.call.pushHintHeader,
    callUuidHeader: config.call.callUuidHeader,
    pushTtlMs: config.apns.ttlSeconds * 1000,
    inviteTimeoutMs: NOTICE_INVITE_TIMEOUT_MS,
    localHost: () => p.local.host,
  }, log);
  const callSettings: CallSettings = {
    wakeTimeoutMs: config.call.wakeTimeoutMs,
    ringTimeoutMs: config.call.ringTimeoutMs,
    sendRinging: config.call.sendRinging,
    skipPushWithinMs: config.call.skipPushWithinSeconds * 1000,
    endedNoticeWindowMs: config.endedNotice.windowSeconds * 1000,
  };
  const legs = new SrfLegs(app, config.call, trace);
  // Shared by every call (one object, not a set of closures per call: parked calls are many).
  const callPorts: CallPorts = {
    now: Date.now,
    startLeg: (b, call, offer, callLog, onEvent) => legs.start(b, call, offer, callLog, onEvent),
    wake: (b, call, deadline, signal) => waker.wake(b, call, deadline, signal),
    oweEndedNotice: (n) => courier.owe(n),
  };
  const onCallEnded = (call: IncomingCall, how: CallEnding): void => {
    calls.remove(call);
    for (const fn of endedListeners) fn(call, how);
  };
  const intake = new CallIntake({
    app,
    store,
    book: calls,
    trusted: p.trusted,
    contactUserPrefix: config.registration.contactUserPrefix,
    retryAfterSeconds: config.call.retryAfterSeconds,
    storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds,
    onStoreUnavailable: p.onStoreUnavailable,
    log,
    trace,
    createCall: (identity, caller, callLog) => new IncomingCall(identity, caller, callPorts, callSettings, callLog, onCallEnded),
  });
  /** A device registered afresh: the calls waiting for it ring it, and it gets what it is owed. */
  const deviceRegistered = ({ binding, pushHint }: DeviceRegistered): void => {
    calls.deviceRegistered(binding, pushHint);
    void courier.deviceRegistered(binding);
  };
  return { calls, intake, courier, endedListeners, deviceRegistered };
}

function routeRequests(app: SipApp, relay: RegistrationRelay, intake: CallIntake, log: Logger): void {
  app.onRequest('register', relay.handle);
  app.onRequest('invite', intake.handle);
  app.onRequest('options', (_req, res) => res.send(200, 'OK', { headers: { Allow: ALLOW } }));
  // Out of dialog these mean nothing to pushwake: 405 with what it takes, the same on both engines
  // (drachtio-server would answer 503 for a method no app routes).
  for (const method of ['message', 'info', 'notify', 'subscribe', 'publish'] as const) {
    app.onRequest(method, (_req, res) => res.send(405, 'Method Not Allowed', { headers: { Allow: ALLOW } }));
  }
  app.onDisconnect(() => log.warn('lost the SIP engine connection; drachtio-srf reconnects'));
}

function buildSender(config: PushwakeConfig, log: Logger): PushSender {
  if (!config.apns.keyFile) {
    log.warn('apns.keyFile is not set: pushes will not be sent and sleeping phones cannot be woken');
    return noApnsKey;
  }
  return new ApnsSender({
    signingKeyFile: config.apns.keyFile,
    keyId: config.apns.keyId,
    teamId: config.apns.teamId,
    ...(config.apns.host ? { host: config.apns.host, port: config.apns.port } : {}),
    ...(config.apns.caFile ? { caFile: config.apns.caFile } : {}),
    requestTimeoutMs: config.apns.requestTimeoutMs,
    logger: log,
  });
}

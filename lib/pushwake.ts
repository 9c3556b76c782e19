/**
 * pushwake, assembled: the SIP engine (embedded or an external drachtio-server), drachtio-srf,
 * the store, the APNs sender, the registration relay and the call path.
 */
import type { PushwakeConfig } from './config/types.js';
import { ThrottledWarning, type Logger } from './log.js';
import { CallBook } from './call/call-book.js';
import { CallIntake } from './call/call-intake.js';
import type { CallEnding, CallPorts } from './call/call-types.js';
import { DeviceWaker, noApnsKey } from './call/device-waker.js';
import { SrfLegs } from './call/sip-side.js';
import { EndedNoticeCourier } from './call/ended-notices.js';
import { IncomingCall } from './call/incoming-call.js';
import { TrustedSources } from './call/trusted-sources.js';
import { startEmbeddedEngine, type EmbeddedEngine } from './engine/index.js';
import { ApnsSender } from './push/apns-sender.js';
import { compilePayloadTemplate } from './push/payload.js';
import type { PushSender } from './push/push-outcome.js';
import { RegistrationRelay } from './registration/registration-relay.js';
import { createSipApp, type SipApp } from './sip/srf.js';
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

/**
 * Moments on the wake path, for benchmarks and (later) metrics. `at` is performance.now().
 * invite-received → push-sending is what pushwake adds before the push; upstream-register-ok →
 * leg-sending is what it adds between the phone's fresh registration and its INVITE.
 */
export type TraceEvent =
  | { kind: 'invite-received'; callId: string; at: number }
  | { kind: 'push-sending'; collapseId: string; token: string; at: number }
  | { kind: 'upstream-register-ok'; aor: string; deviceKey: string; at: number }
  | { kind: 'leg-sending'; callId: string; deviceKey: string; at: number };

export interface StartOptions {
  /** Called synchronously at each TraceEvent; keep it cheap. */
  onTrace?: (ev: TraceEvent) => void;
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

export async function startPushwake(config: PushwakeConfig, opts: StartOptions): Promise<RunningPushwake> {
  const log = opts.log;
  const template = compilePayloadTemplate(config.call.payloadTemplate);
  // An outage is one error line every 5 s (with the count), not one per REGISTER.
  const storeDown = new ThrottledWarning(log, 'binding store unavailable; REGISTERs and INVITEs get 503 with Retry-After until it is back', 5_000);
  let storeReadyOnce = false;
  const store = new GuardedStore(opts.store ?? (await openBindingStore(
    config.store.kind === 'redis' ? { kind: 'redis', url: config.store.url, keyPrefix: config.store.keyPrefix } : { kind: 'embedded', path: config.store.path },
    {
      onCorruptRecord: (key, err) => log.error({ key, err }, 'corrupt store record skipped'),
      onConnectionError: (err) => storeDown.error({ store: config.store.kind, err: err.message }),
      onReady: () => {
        if (storeReadyOnce) log.info({ store: config.store.kind }, 'binding store connection is back');
        storeReadyOnce = true;
      },
    },
  )));
  const onStoreUnavailable = (err: Error): void => storeDown.error({ store: config.store.kind, err: err.message });
  const trace = opts.onTrace;
  const baseSender = opts.pushSender ?? buildSender(config, log);
  const sender: PushSender = trace
    ? {
        send: (push) => {
          trace({ kind: 'push-sending', collapseId: push.collapseId, token: push.token.token, at: performance.now() });
          return baseSender.send(push);
        },
        close: () => baseSender.close(),
      }
    : baseSender;

  const trusted = new TrustedSources(config.upstream.trustedSources);
  let engine: EmbeddedEngine | undefined;
  let wire = { host: config.engine.host, port: config.engine.port };
  if (config.engine.mode === 'embedded') {
    const e = config.engine;
    engine = await startEmbeddedEngine({
      sip: config.sip.listen.map((l) => ({ address: l.address, port: l.port, transports: l.transports, ...(l.tlsPort !== undefined ? { tlsPort: l.tlsPort } : {}) })),
      wire: { address: e.host, port: e.port, secret: e.secret },
      ...(config.sip.tlsCertFile ? {
        tls: {
          certFile: config.sip.tlsCertFile,
          keyFile: config.sip.tlsKeyFile,
          ...(config.sip.tlsCaFile ? { caFile: config.sip.tlsCaFile } : {}),
          watch: config.sip.tlsWatchFiles,
        },
      } : {}),
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
    wire = { host: config.engine.host, port: engine.wirePort };
  }
  const sipAddresses = engine?.sipAddresses ?? [];
  const advertisedTransport = config.sip.advertisedTransport || defaultTransport(sipAddresses);
  const advertisedHost = config.sip.advertisedHost || defaultAdvertised(sipAddresses.filter((a) => a.transport === advertisedTransport), config);

  const app = createSipApp();
  const calls = new CallBook(config.call.maxParkedCalls);
  const endedListeners: Array<(call: IncomingCall, how: CallEnding) => void> = [];
  const waker = new DeviceWaker(sender, template, store, {
    ttlMs: config.apns.ttlSeconds * 1000,
    retryBaseDelayMs: config.apns.retryBaseDelayMs,
    retryMaxAttempts: config.apns.retryMaxAttempts,
  }, log);
  const courier = new EndedNoticeCourier(app, store, sender, template, {
    mode: config.endedNotice.mode,
    pushHintHeader: config.call.pushHintHeader,
    callUuidHeader: config.call.callUuidHeader,
    pushTtlMs: config.apns.ttlSeconds * 1000,
    inviteTimeoutMs: NOTICE_INVITE_TIMEOUT_MS,
    localHost: () => relaySettings.advertisedHost,
  }, log);

  const callSettings = {
    wakeTimeoutMs: config.call.wakeTimeoutMs,
    ringTimeoutMs: config.call.ringTimeoutMs,
    sendRinging: config.call.sendRinging,
    skipPushWithinMs: config.call.skipPushWithinSeconds * 1000,
    endedNoticeWindowMs: config.endedNotice.windowSeconds * 1000,
  };
  const legs = new SrfLegs(app, config.call, trace ? (callId, deviceKey) => trace({ kind: 'leg-sending', callId, deviceKey, at: performance.now() }) : undefined);
  // Shared by every call (one object, not a set of closures per call: parked calls are many).
  const callPorts: CallPorts = {
    now: Date.now,
    startLeg: (b, call, callLog, onEvent) => legs.start(b, call, callLog, onEvent),
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
    trusted,
    contactUserPrefix: config.registration.contactUserPrefix,
    retryAfterSeconds: config.call.retryAfterSeconds,
    storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds,
    onStoreUnavailable,
    log,
    createCall: (identity, caller, callLog) => new IncomingCall(identity, caller, callPorts, callSettings, callLog, onCallEnded),
  });
  const relaySettings = {
      ...config.registration,
      pushHintHeader: config.call.pushHintHeader,
      pushHintParam: config.call.pushHintParam,
      registrar: config.upstream.registrar,
      upstreamExpires: config.upstream.registerExpires,
      registerTimeoutMs: config.upstream.registerTimeoutMs,
      advertisedHost,
      advertisedTransport,
      selfAddresses: [advertisedHost, ...sipAddresses.map((a) => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`))],
  };
  const relay = new RegistrationRelay({
    app,
    store,
    log,
    storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds,
    onStoreUnavailable,
    settings: relaySettings,
    ...(trace ? { onUpstreamOk: (aor: string, deviceKey: string) => trace({ kind: 'upstream-register-ok', aor, deviceKey, at: performance.now() }) } : {}),
    onDeviceRegistered: ({ binding, pushHint }) => {
      calls.deviceRegistered(binding, pushHint);
      void courier.deviceRegistered(binding);
    },
  });

  app.onRequest('register', relay.handle);
  app.onRequest('invite', trace ? (req, res) => {
    trace({ kind: 'invite-received', callId: req.callId, at: performance.now() });
    intake.handle(req, res);
  } : intake.handle);
  app.onRequest('options', (_req, res) => res.send(200, 'OK', { headers: { Allow: ALLOW } }));
  // Out of dialog these mean nothing to pushwake: 405 with what it takes, the same on both engines
  // (drachtio-server would answer 503 for a method no app routes).
  for (const method of ['message', 'info', 'notify', 'subscribe', 'publish'] as const) {
    app.onRequest(method, (_req, res) => res.send(405, 'Method Not Allowed', { headers: { Allow: ALLOW } }));
  }
  app.onDisconnect(() => log.warn('lost the SIP engine connection; drachtio-srf reconnects'));
  try {
    const hostport = await app.connect({ host: wire.host, port: wire.port, secret: config.engine.secret });
    // With an external drachtio-server, advertise what it listens on unless told otherwise.
    if (!engine) {
      const announced = advertisedFromHostport(hostport, config.sip.advertisedTransport || undefined);
      if (announced && !config.sip.advertisedTransport) relaySettings.advertisedTransport = announced.transport;
      if (announced && !config.sip.advertisedHost) relaySettings.advertisedHost = announced.hostport;
    }
    if (!engine) relaySettings.selfAddresses.push(...allFromHostport(hostport));
  } catch (err) {
    await engine?.stop();
    await store.close();
    throw err;
  }
  if (config.endedNotice.mode === 'push') {
    log.warn('endedNotice.mode is push: a second VoIP push per ended call; the app must report and end it in CallKit, or iOS may stop delivering its pushes');
  }
  log.info({ mode: config.engine.mode, sip: sipAddresses, advertisedHost: relaySettings.advertisedHost, store: config.store.kind }, 'pushwake started');

  return {
    app,
    store,
    calls,
    sipAddresses,
    // Read at each use: with an external drachtio-server it is known only after connecting.
    get advertisedHost() {
      return relaySettings.advertisedHost;
    },
    reloadTls: () => engine?.reloadTls() ?? false,
    onCallEnded: (fn) => endedListeners.push(fn),
    async stop() {
      calls.abortAll();
      await courier.flush();
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

/** drachtio-server announces `udp/1.2.3.4:5060,tcp/1.2.3.4:5060`: take the first address. */
/**
 * What to advertise from drachtio-server's `tls/h:p,tcp/h:p,udp/h:p` (in no set order: it keeps
 * them in a hash map): the listener of `transport` when given, else UDP, then TCP, then TLS, as
 * the embedded engine does. Taking the first entry advertised a TLS port as UDP. Pure.
 */
export function advertisedFromHostport(hostport: string, transport?: 'udp' | 'tcp' | 'tls'): { transport: 'udp' | 'tcp' | 'tls'; hostport: string } | undefined {
  const listeners = [...hostport.matchAll(/(?:^|,)\s*(udp|tcp|tls)\/([^,\s]+)/gi)].map((m) => ({ transport: (m[1] ?? '').toLowerCase() as 'udp' | 'tcp' | 'tls', hostport: m[2] ?? '' }));
  for (const want of transport ? [transport] : ['udp', 'tcp', 'tls'] as const) {
    const found = listeners.find((l) => l.transport === want);
    if (found) return found;
  }
  return undefined;
}

function allFromHostport(hostport: string): string[] {
  return [...hostport.matchAll(/(?:udp|tcp|tls|wss?)\/([^,\s]+)/gi)].map((m) => m[1] ?? '').filter(Boolean);
}

/** What the PBX is told to use by default: UDP when listened on, else TCP, else TLS. */
function defaultTransport(addrs: Array<{ transport: 'udp' | 'tcp' | 'tls' }>): 'udp' | 'tcp' | 'tls' {
  if (addrs.length === 0 || addrs.some((a) => a.transport === 'udp')) return 'udp';
  return addrs.some((a) => a.transport === 'tcp') ? 'tcp' : 'tls';
}

function defaultAdvertised(addrs: Array<{ address: string; port: number }>, config: PushwakeConfig): string {
  const first = addrs[0] ?? config.sip.listen[0];
  if (!first) return '127.0.0.1';
  const host = first.address.includes(':') ? `[${first.address}]` : first.address;
  return `${host}:${first.port}`;
}

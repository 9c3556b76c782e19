/**
 * `pushwake start`: pushwake mounted on an Srf of its own, which connects to the SIP engine
 * (embedded, or an external drachtio-server). Built on `createPushwake`, the module's API, with
 * `unclaimed: 'answer'`: every REGISTER and INVITE is pushwake's to answer.
 */
import type { PushwakeConfig } from './config/types.js';
import { ConfigError, loadConfig } from './config/load.js';
import { startAdminServer, type RunningAdmin } from './ops/admin-server.js';
import { adminTarget } from './ops/admin-target.js';
import { SwappableSender } from './ops/live-parts.js';
import { changedKeys, isLive, mergeLive } from './ops/reload.js';
import { PACKAGE_VERSION } from './version.js';
import type { Logger } from './log.js';
import type { CallBook } from './call/call-book.js';
import type { CallEnding } from './call/call-types.js';
import type { IncomingCall } from './call/incoming-call.js';
import { TrustedSources } from './call/trusted-sources.js';
import { startEmbeddedEngine, type EmbeddedEngine } from './engine/index.js';
import type { PushSender } from './push/push-outcome.js';
import { createSipApp, newSrf, type SipApp } from './sip/srf.js';
import { LocalAddress } from './sip/local-address.js';
import type { Trace } from './trace.js';
import { hostPort } from './net-address.js';
import type { BindingStore } from './store/binding-store.js';
import { buildSender } from './module/assemble.js';
import { createInstance, type PushwakeInstance } from './module/create-pushwake.js';
import type { PushwakeSettings } from './module/options.js';

export interface RunningPushwake {
  app: SipApp;
  store: BindingStore;
  calls: CallBook;
  /** The SIP addresses actually listened on (embedded engine); empty with an external engine. */
  sipAddresses: Array<{ transport: 'udp' | 'tcp' | 'tls'; address: string; port: number }>;
  /** host:port put in the Contact registered upstream. */
  advertisedHost: string;
  /** Re-reads the SIP TLS certificate and key; false when there is none or the files are bad. */
  reloadTls(): boolean;
  /** Re-reads the config file (SIGHUP, `pushwake reload`). */
  reload(): Promise<ReloadReport>;
  /** The admin server's URL, when it listens. */
  adminUrl: string | undefined;
  /** The mounted pushwake itself (metrics, tests). */
  pushwake: PushwakeInstance;
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
  /** The file the config came from: a reload reads it again (with the environment). */
  configFile?: string;
  /** How a reload reads the config instead (tests). */
  reloadConfig?: () => PushwakeConfig;
}

/** What pushwake takes out of dialog, plus what the engine handles within its calls. */
const ALLOW = 'INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS';

/** Starts the engine, mounts pushwake on a new Srf, routes the rest, connects, serves the admin API. */
export async function startPushwake(startConfig: PushwakeConfig, opts: StartOptions): Promise<RunningPushwake> {
  const { log } = opts;
  let config = startConfig;
  const sender = new SwappableSender(opts.pushSender ?? buildSender(config, log));
  const srf = newSrf();
  const app = createSipApp(srf);
  const engineTrusted = new TrustedSources(config.upstream.trustedSources);
  let engine: EmbeddedEngine | undefined;
  let pushwake: PushwakeInstance | undefined;
  let admin: RunningAdmin | undefined;
  let connected = false;
  try {
    const local = new LocalAddress({ host: config.sip.advertisedHost, transport: config.sip.advertisedTransport }, [], config.sip.listen[0]);
    pushwake = await createInstance(
      { srf, logger: log, unclaimed: 'answer', pushSender: sender, ...settingsOf(config), ...(opts.store ? { bindingStore: opts.store } : {}) },
      {
        local, ...(opts.onTrace ? { trace: opts.onTrace } : {}),
        engine: () => (engine ? { stats: engine.stats, connections: engine.connectionsByTransport() } : undefined),
      },
    );
    if (config.engine.mode === 'embedded') {
      engine = await startEngine(config, engineTrusted, log);
      local.learn(engine.sipAddresses.map((a) => `${a.transport}/${hostPort(a.address, a.port)}`).join(','));
    }
    pushwake.attach();
    routeOthers(app, log, (up) => (connected = up));
    await connectApp(app, config, engine, local, log);
    connected = true;
    const running = pushwake;
    if (config.admin.listen !== '') {
      admin = await startAdminServer(config.admin.listen, config.admin.token, adminTarget({
        pushwake: running,
        config: () => config,
        engineConnected: () => connected,
        sipListeners: () => engine?.sipAddresses ?? [],
        version: PACKAGE_VERSION,
        reload: () => reload(),
      }), (err) => log.error({ err }, 'admin request failed'));
    }
  } catch (err) {
    // nothing half-started may outlive a failed start (the CLI would never exit)
    try {
      app.disconnect();
    } catch {
      // never connected
    }
    await admin?.stop();
    await engine?.stop();
    await pushwake?.close();
    await sender.close();
    throw err;
  }
  const running = pushwake;

  /** Re-read the config file: live keys applied in place, the rest named for a restart. A bad file changes nothing. */
  const reload = async (): Promise<ReloadReport> => {
    if (!opts.configFile && !opts.reloadConfig) return { applied: [], restartNeeded: [], error: 'started without a config file: nothing to re-read' };
    let next: PushwakeConfig;
    try {
      next = opts.reloadConfig ? opts.reloadConfig() : loadConfig({ file: opts.configFile });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error({ err: message, key: err instanceof ConfigError ? err.key : undefined }, 'config reload refused; the running config is kept');
      return { applied: [], restartNeeded: [], error: message };
    }
    const changed = changedKeys(config, next);
    const applied = changed.filter(isLive);
    const restartNeeded = changed.filter((k) => !isLive(k));
    const merged = mergeLive(config, next, changed);
    if (applied.some((k) => (k.startsWith('apns.') && !['apns.ttlSeconds', 'apns.retryBaseDelayMs', 'apns.retryMaxAttempts'].includes(k)) || k.startsWith('fcm.'))) {
      try {
        sender.swap(buildSender(merged, log));
      } catch (err) {
        const message = `apns: ${(err as Error).message}`;
        log.error({ err: message }, 'config reload refused; the running config is kept');
        return { applied: [], restartNeeded: [], error: message };
      }
    }
    config = merged;
    running.applyLive(config);
    engineTrusted.replace(config.upstream.trustedSources);
    log.level = config.log.level;
    const tlsReloaded = engine?.reloadTls() ?? false;
    log.info({ applied, restartNeeded, tlsReloaded }, changed.length === 0 ? 'config reloaded: nothing changed' : 'config reloaded');
    if (restartNeeded.length > 0) log.warn({ keys: restartNeeded }, 'config keys changed that only a restart applies; they keep their running values');
    return { applied, restartNeeded, tlsReloaded };
  };

  if (config.endedNotice.mode === 'push') {
    log.warn('endedNotice.mode is push: a second VoIP push per ended call; the app must report and end it in CallKit, or iOS may stop delivering its pushes');
  }
  for (const l of engine?.sipAddresses ?? []) log.info({ transport: l.transport, address: l.address, port: l.port }, `listening for SIP on ${l.transport}/${hostPort(l.address, l.port)}`);
  if (!engine) log.info({ host: config.engine.host, port: config.engine.port }, `using drachtio-server at ${hostPort(config.engine.host, config.engine.port)}`);
  if (admin) log.info({ url: admin.url }, `admin API and metrics on ${admin.url}`);
  log.info({ store: config.store.kind }, config.store.kind === 'redis'
    ? `bindings kept in Redis at ${config.store.sentinels.length > 0 ? `the master "${config.store.sentinelMasterName}" of sentinels ${config.store.sentinels.join(', ')}` : config.store.url.replace(/\/\/([^@/]*)@/, '//(credentials)@')} (key prefix ${config.store.keyPrefix})`
    : `bindings kept in ${config.store.path} (embedded LevelDB)`);
  log.info({ mode: config.engine.mode, sip: engine?.sipAddresses ?? [], advertisedHost: running.advertisedHost, store: config.store.kind, admin: admin?.url ?? null }, 'pushwake started');
  return {
    app,
    store: running.store,
    calls: running.path.calls,
    sipAddresses: engine?.sipAddresses ?? [],
    get advertisedHost() {
      return running.advertisedHost;
    },
    adminUrl: admin?.url,
    pushwake: running,
    reloadTls: () => engine?.reloadTls() ?? false,
    reload,
    onCallEnded: (fn) => running.onCallEndedInternal(fn),
    async stop() {
      await admin?.stop();
      await running.close();
      try {
        app.disconnect();
      } catch (err) {
        log.debug({ err }, 'engine connection already closed');
      }
      await engine?.stop();
      await sender.close();
      log.info('pushwake stopped');
    },
  };
}

/** What a reload did. */
export interface ReloadReport {
  applied: string[];
  restartNeeded: string[];
  tlsReloaded?: boolean;
  error?: string;
}

/** The config sections a mounted pushwake takes (the rest is the standalone's: engine, listeners, log). */
function settingsOf(config: PushwakeConfig): PushwakeSettings {
  const { upstream, registration, apns, fcm, call, alerts, devices, endedNotice, media, store, cluster } = config;
  return { sip: { advertisedHost: config.sip.advertisedHost, advertisedTransport: config.sip.advertisedTransport }, upstream, registration, apns, fcm, call, alerts, devices, endedNotice, media, store, cluster };
}

/** Connect drachtio-srf to the engine; resolves once the engine confirmed the routes. */
function connectApp(app: SipApp, config: PushwakeConfig, engine: EmbeddedEngine | undefined, local: LocalAddress, log: Logger): Promise<string> {
  return app.connect({
    host: config.engine.host,
    port: engine?.wirePort ?? config.engine.port,
    secret: config.engine.secret,
    ...(engine && config.engine.appLink === 'in-process' ? { inProcess: () => engine.openAppLink() } : {}),
    // with an external drachtio-server, what it listens on is known only now
    onHostports: (hostports) => {
      if (!engine && !local.learn(hostports)) log.warn({ hostports, advertisedTransport: config.sip.advertisedTransport }, 'drachtio-server has no listener for sip.advertisedTransport; set sip.advertisedHost');
    },
  });
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

/** What a standalone proxy answers besides REGISTER and INVITE; the engine connection's loss is logged. */
function routeOthers(app: SipApp, log: Logger, onConnection: (up: boolean) => void): void {
  app.onRequest('options', (_req, res) => res.send(200, 'OK', { headers: { Allow: ALLOW } }));
  // Out of dialog these mean nothing to pushwake: 405 with what it takes, the same on both engines
  // (drachtio-server would answer 503 for a method no app routes).
  for (const method of ['message', 'info', 'notify', 'subscribe', 'publish'] as const) {
    app.onRequest(method, (_req, res) => res.send(405, 'Method Not Allowed', { headers: { Allow: ALLOW } }));
  }
  app.onDisconnect(() => {
    onConnection(false);
    log.warn('lost the SIP engine connection; drachtio-srf reconnects');
  });
  app.onConnect(() => onConnection(true));
}

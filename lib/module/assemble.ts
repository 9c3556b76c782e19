/**
 * The parts of one pushwake, built from its validated config: the store behind its guard, the push
 * sender, the call path (intake, calls, pushes, legs, ended notices) and the registration relay.
 * Used by `createPushwake` (mounted in a host's srf app) and so by `pushwake start`.
 */
import type { ApnsApp, EndedNoticeMode, PushwakeConfig } from '../config/types.js';
import type { PushwakeMetrics } from '../ops/metrics.js';
import { ThrottledWarning, type Logger } from '../log.js';
import { CallBook } from '../call/call-book.js';
import { CallIntake } from '../call/call-intake.js';
import type { CallEnding, CallPorts, CallSettings } from '../call/call-types.js';
import { DeviceWaker, noApnsKey } from '../call/device-waker.js';
import { SrfLegs, viaOwnFlow, type LegRoute } from '../call/sip-side.js';
import type { Binding } from '../domain/binding.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { EdgeAwareStore } from '../cluster/edge-aware-store.js';
import { EdgeRelay } from '../cluster/edge-relay.js';
import { RecentBindings, StoreWithRecent } from '../cluster/recent-bindings.js';
import { RELAY_HEADER } from '../cluster/relay-grant.js';
import { EndedNoticeCourier, type NoticeSettings } from '../call/ended-notices.js';
import { AlertCourier } from '../call/alert-notices.js';
import { LiveTemplate } from '../ops/live-parts.js';
import { RestrictionWatch, type RestrictionSettings } from '../push/restriction-watch.js';
import { IncomingCall } from '../call/incoming-call.js';
import { MediaAnnouncement } from '../call/call-announcement.js';
import type { AnnouncementMedia } from '../media/announcement-media.js';
import { TrustedSources } from '../call/trusted-sources.js';
import { readFileSync } from 'node:fs';
import { ApnsSender } from '../push/apns-sender.js';
import { FcmSender, readServiceAccount } from '../push/fcm-sender.js';
import { RoutingSender, TopicRoutedSender } from '../push/routing-sender.js';
import { compilePayloadTemplate } from '../push/payload.js';
import type { PushSender } from '../push/push-outcome.js';
import { RegistrationRelay, type DeviceRegistered } from '../registration/registration-relay.js';
import type { SipApp } from '../sip/srf.js';
import type { LocalAddress } from '../sip/local-address.js';
import type { Trace } from '../trace.js';
import { GuardedStore, openBindingStore } from '../store/index.js';
import { parseSentinels, type RedisTarget } from '../store/redis-connection.js';

/** The Redis the config names: a server, or the master behind Sentinel. */
export function redisTarget(config: PushwakeConfig): RedisTarget {
  const { store } = config;
  return store.sentinels.length > 0
    ? { kind: 'sentinel', sentinels: parseSentinels(store.sentinels), masterName: store.sentinelMasterName, url: store.url }
    : { kind: 'server', url: store.url };
}
import type { BindingStore } from '../store/binding-store.js';

/** An ended-notice INVITE that gets no final answer is given up after RFC 3261 Timer B (64*T1). */
const NOTICE_INVITE_TIMEOUT_MS = 32_000;

/** The configured store behind the guard that turns its failures into 503s; an outage logs every 5 s. */
export async function openStore(config: PushwakeConfig, injected: BindingStore | undefined, log: Logger): Promise<{ store: BindingStore; onStoreUnavailable: (err: Error) => void }> {
  const storeDown = new ThrottledWarning(log, 'binding store unavailable; REGISTERs and INVITEs get 503 with Retry-After until it is back', 5_000);
  const onStoreUnavailable = (err: Error): void => storeDown.error({ store: config.store.kind, err: err.message });
  let readyOnce = false;
  const inner = injected ?? (await openBindingStore(
    config.store.kind === 'redis'
      ? { kind: 'redis', url: config.store.url, keyPrefix: config.store.keyPrefix, ...(config.store.sentinels.length > 0 ? { sentinel: { sentinels: parseSentinels(config.store.sentinels), masterName: config.store.sentinelMasterName } } : {}) }
      : { kind: 'embedded', path: config.store.path },
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

export function buildSender(config: PushwakeConfig, log: Logger): PushSender {
  const a = config.apns;
  /** One app's sender: its .p8 key, or its push certificate. */
  const apnsFor = (app: ApnsApp): PushSender => new ApnsSender({
    ...(app.certFile ? { certificate: certificateOf(app) } : { signingKeyFile: app.keyFile ?? '' }),
    keyId: app.keyId ?? '', teamId: app.teamId ?? '',
    ...(a.host ? { host: a.host, port: a.port } : {}),
    ...(a.caFile ? { caFile: a.caFile } : {}),
    requestTimeoutMs: a.requestTimeoutMs,
    logger: log,
  });
  let fallback: PushSender;
  if (!a.keyFile && !a.certFile) {
    if (a.apps.length === 0) log.warn('apns.keyFile is not set: pushes will not be sent and sleeping iPhones cannot be woken');
    fallback = noApnsKey;
  } else {
    fallback = apnsFor({ topics: [], keyFile: a.keyFile, keyId: a.keyId, teamId: a.teamId, certFile: a.certFile, certKeyFile: a.certKeyFile, certPassphrase: a.certPassphrase });
  }
  const apns = a.apps.length === 0 ? fallback : new TopicRoutedSender(fallback, a.apps.map((app) => ({ topics: app.topics, sender: apnsFor(app) })));
  const fcm = new Map<string, PushSender>();
  const files = config.fcm.serviceAccountFile ? [config.fcm.serviceAccountFile, ...config.fcm.moreServiceAccountFiles] : [];
  for (const file of files) {
    const account = readServiceAccount(file);
    fcm.set(account.project_id, new FcmSender({
      serviceAccount: account,
      ...(config.fcm.endpoint ? { endpoint: config.fcm.endpoint } : {}),
      ...(config.fcm.tokenUri ? { tokenUri: config.fcm.tokenUri } : {}),
      ...(config.fcm.caFile ? { ca: readFileSync(config.fcm.caFile, 'utf8') } : {}),
      requestTimeoutMs: config.fcm.requestTimeoutMs,
      logger: log,
    }));
  }
  return fcm.size > 0 ? new RoutingSender(apns, fcm) : apns;
}

/** An app's push certificate: .p12/.pfx, or PEM (key beside it, or in the same file). */
function certificateOf(app: ApnsApp): { pfx?: Buffer; passphrase?: string; cert?: string; key?: string } {
  const file = app.certFile ?? '';
  if (/\.(p12|pfx)$/i.test(file)) return { pfx: readFileSync(file), ...(app.certPassphrase ? { passphrase: app.certPassphrase } : {}) };
  const cert = readFileSync(file, 'utf8');
  return { cert, key: app.certKeyFile ? readFileSync(app.certKeyFile, 'utf8') : cert };
}

/** The push services REGISTERs may name (RFC 8599 pn-provider), and the FCM projects served. */
export function pushServices(config: PushwakeConfig): { pns: string[]; fcmProjects: string[]; apnsTopics?: string[] } {
  // with apns.topics set, a topic no key serves is refused (relayed without push)
  const topics = config.apns.topics.length > 0 ? { apnsTopics: [...config.apns.topics, ...config.apns.apps.flatMap((app) => app.topics)] } : {};
  if (!config.fcm.serviceAccountFile) return { pns: ['apns'], fcmProjects: [], ...topics };
  const files = [config.fcm.serviceAccountFile, ...config.fcm.moreServiceAccountFiles];
  return { pns: ['apns', 'fcm'], fcmProjects: files.map((f) => readServiceAccount(f).project_id), ...topics };
}

export interface PathParts {
  config: PushwakeConfig;
  app: SipApp;
  store: BindingStore;
  sender: PushSender;
  local: LocalAddress;
  log: Logger;
  trace: Trace | undefined;
  onStoreUnavailable: (err: Error) => void;
  onCallEnded: (call: IncomingCall, how: CallEnding) => void;
  onDeviceRegistered: (registered: DeviceRegistered) => void;
  /** This node's cluster membership; absent on a single node. */
  cluster?: ClusterNode | undefined;
  metrics?: PushwakeMetrics | undefined;
  /** Announcements (media.enabled); absent, calls touch no media server. */
  media?: AnnouncementMedia | undefined;
}

export interface CallPath {
  calls: CallBook;
  intake: CallIntake;
  relay: RegistrationRelay;
  courier: EndedNoticeCourier;
  /** Delivers peers' INVITEs over the flows this node holds (cluster only). */
  edgeRelay?: EdgeRelay;
  /** What a config reload changes in place. */
  live: LiveSettings;
  /** Devices whose VoIP pushes go unanswered (and every device's push rate). */
  watch: RestrictionWatch;
  /** Missed-call and answered-elsewhere alert pushes. */
  alerts: AlertCourier;
}

export interface LiveSettings {
  template: LiveTemplate;
  wakeSettings: { ttlMs: number; retryBaseDelayMs: number; retryMaxAttempts: number };
  noticeSettings: NoticeSettings;
  callSettings: CallSettings;
  trusted: TrustedSources;
  restrictionSettings: RestrictionSettings;
  alerts: AlertCourier;
}

/** Apply the live keys of a reloaded config in place: calls parked now see them at their next step. */
export function applyLive(live: LiveSettings, config: PushwakeConfig): void {
  live.template.replace(compilePayloadTemplate(config.call.payloadTemplate));
  Object.assign(live.wakeSettings, { ttlMs: config.apns.ttlSeconds * 1000, retryBaseDelayMs: config.apns.retryBaseDelayMs, retryMaxAttempts: config.apns.retryMaxAttempts });
  Object.assign(live.noticeSettings, { mode: config.endedNotice.mode, pushTtlMs: config.apns.ttlSeconds * 1000 });
  Object.assign(live.callSettings, {
    wakeTimeoutMs: config.call.wakeTimeoutMs, ringTimeoutMs: config.call.ringTimeoutMs, sendRinging: config.call.sendRinging,
    skipPushWithinMs: config.call.skipPushWithinSeconds * 1000, endedNoticeWindowMs: config.endedNotice.windowSeconds * 1000,
  });
  live.trusted.replace(config.upstream.trustedSources);
  live.alerts.configure(config.alerts);
  Object.assign(live.restrictionSettings, {
    suspectAfter: config.devices.suspectAfterUnansweredPushes,
    suspectedIntervalMs: config.devices.suspectedPushIntervalSeconds * 1000,
    maxPerMinute: config.devices.maxVoipPushesPerMinute,
  });
}

/** In a cluster, a phone whose flow another node holds is reached through that node, with a grant. */
function legRoute(cluster: ClusterNode | undefined): (b: Binding) => LegRoute {
  if (!cluster) return viaOwnFlow;
  return (b) => {
    const edge = b.edge;
    if (!edge || edge.nodeId === cluster.nodeId) return viaOwnFlow(b);
    // addressed to the edge node itself: a stack with a connection to the phone must not take a shortcut
    return { uri: `sip:${b.localContactUser}@${edge.host};transport=${edge.transport}`, headers: { [RELAY_HEADER]: cluster.grant({ ...b, edge }) } };
  };
}

/** Everything a REGISTER and an INVITE meet: the relay, the intake, the calls, their pushes, legs and ended notices. */
export function buildCallPath(p: PathParts): CallPath {
  const { config, app, store, sender, log, trace } = p;
  const template = new LiveTemplate(compilePayloadTemplate(config.call.payloadTemplate));
  const wakeSettings = { ttlMs: config.apns.ttlSeconds * 1000, retryBaseDelayMs: config.apns.retryBaseDelayMs, retryMaxAttempts: config.apns.retryMaxAttempts };
  const calls = new CallBook(config.call.maxParkedCalls);
  const waker = new DeviceWaker(sender, template, store, wakeSettings, log, trace);
  const restrictionSettings = {
    suspectAfter: config.devices.suspectAfterUnansweredPushes,
    suspectedIntervalMs: config.devices.suspectedPushIntervalSeconds * 1000,
    maxPerMinute: config.devices.maxVoipPushesPerMinute,
  };
  const watch = new RestrictionWatch(restrictionSettings, log, () => p.metrics?.deviceSuspected());
  waker.watchRestrictions(watch, (code) => p.metrics?.pushWithheld(code));
  const noticeSettings: NoticeSettings = {
    mode: config.endedNotice.mode,
    pushHintHeader: config.call.pushHintHeader,
    callUuidHeader: config.call.callUuidHeader,
    pushTtlMs: config.apns.ttlSeconds * 1000,
    inviteTimeoutMs: NOTICE_INVITE_TIMEOUT_MS,
    localHost: () => p.local.host,
    ...(p.metrics ? { onNotice: (mode: EndedNoticeMode, result: 'delivered' | 'failed') => p.metrics?.endedNotice(mode, result) } : {}),
  };
  const courier = new EndedNoticeCourier(app, store, sender, template, noticeSettings, log);
  const callSettings: CallSettings = {
    wakeTimeoutMs: config.call.wakeTimeoutMs,
    ringTimeoutMs: config.call.ringTimeoutMs,
    sendRinging: config.call.sendRinging,
    skipPushWithinMs: config.call.skipPushWithinSeconds * 1000,
    endedNoticeWindowMs: config.endedNotice.windowSeconds * 1000,
  };
  const { cluster } = p;
  const trusted = new TrustedSources(config.upstream.trustedSources);
  const legs = new SrfLegs(app, config.call, trace, legRoute(cluster));
  // Shared by every call (one object, not a set of closures per call: parked calls are many).
  const callPorts: CallPorts = {
    now: Date.now,
    startLeg: (b, call, offer, callLog, onEvent) => legs.start(b, call, offer, callLog, onEvent),
    wake: (b, call, deadline, signal) => waker.wake(b, call, deadline, signal),
    oweEndedNotice: (n) => courier.owe(n),
  };
  const { media } = p;
  if (media) callPorts.announce = (call, callerSdp, callLog) => new MediaAnnouncement(media, call.callId, callerSdp, callLog);
  const onCallEnded = (call: IncomingCall, how: CallEnding): void => {
    calls.remove(call);
    p.onCallEnded(call, how);
  };
  // in a cluster, while Redis is away, a call can still ring a phone whose flow this node holds
  const recent = cluster ? new RecentBindings() : undefined;
  const storeAway = new ThrottledWarning(log, 'store unavailable: ringing awake phones from this node\'s own recent registrations (no pushes until it is back)', 5_000);
  const intakeStore = cluster && recent
    ? new EdgeAwareStore(new StoreWithRecent(store, recent, () => storeAway.warn({})), (id) => cluster.isAlive(id))
    : store;
  const intake = new CallIntake({
    app,
    store: intakeStore,
    book: calls,
    trusted,
    contactUserPrefix: config.registration.contactUserPrefix,
    retryAfterSeconds: config.call.retryAfterSeconds,
    storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds,
    onStoreUnavailable: p.onStoreUnavailable,
    log,
    trace,
    createCall: (identity, caller, callLog) => new IncomingCall(identity, caller, callPorts, callSettings, callLog, onCallEnded),
  });
  const relay = new RegistrationRelay({
    app, store, log, trace, onStoreUnavailable: p.onStoreUnavailable,
    storeRetryAfterSeconds: config.store.unavailableRetryAfterSeconds,
    settings: {
      ...config.registration, ...pushServices(config), pushHintHeader: config.call.pushHintHeader, pushHintParam: config.call.pushHintParam, registrar: config.upstream.registrar,
      upstreamExpires: config.upstream.registerExpires, registerTimeoutMs: config.upstream.registerTimeoutMs, local: p.local,
      ...(cluster ? { edge: () => cluster.edge() } : {}),
    },
    /** A device registered afresh: the calls waiting for it ring it, and it gets what it is owed. */
    ...(recent ? { onDeviceUnregistered: (aor: string, deviceKey?: string) => recent.unregistered(aor, deviceKey) } : {}),
    onDeviceRegistered: (registered) => {
      calls.deviceRegistered(registered.binding, registered.pushHint);
      void courier.deviceRegistered(registered.binding);
      // the calls parked on other nodes hear of it too
      cluster?.publishRegistered(registered.binding, registered.pushHint);
      recent?.registered(registered.binding);
      p.onDeviceRegistered(registered);
    },
  });
  const alerts = new AlertCourier(sender, config.alerts, log);
  const live = { template, wakeSettings, noticeSettings, callSettings, trusted, restrictionSettings, alerts };
  if (!cluster) return { calls, intake, relay, courier, live, watch, alerts };
  cluster.onRemoteRegistration((r) => calls.deviceRegistered(r.binding, r.pushHint));
  const edgeRelay = new EdgeRelay({ app, check: (grant) => cluster.check(grant), pairingHeaders: [config.call.pushHintHeader, config.call.callUuidHeader], log }, config.call.maxParkedCalls);
  return { calls, intake, relay, courier, edgeRelay, live, watch, alerts };
}

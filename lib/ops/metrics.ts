/**
 * pushwake's Prometheus metrics (prom-client), on a registry of its own: a host app mounting
 * pushwake can merge it into its own, and two instances never share counters. The families'
 * names are what docs/operations.md and deploy/grafana/pushwake.json rely on.
 *
 * The call path only bumps counters (a labelled counter increment is a map lookup); gauges that
 * need a look (bindings, parked calls, SIP connections, the engine's message counts) are read at
 * scrape time.
 */
import { trimOldest } from '../bounded-map.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallEnding } from '../call/call-types.js';
import type { EngineStats } from '../engine/transport/engine-stats.js';
import type { PushOutcome, PushSender, VoipPush } from '../push/push-outcome.js';

/** Registration results, from the final status a phone's REGISTER got. */
export type RegistrationResult = 'ok' | 'challenged' | 'rejected' | 'unavailable' | 'timeout' | 'error';

export function registrationResultOf(status: number): RegistrationResult {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 401 || status === 407) return 'challenged';
  if (status === 503) return 'unavailable';
  if (status === 504 || status === 408) return 'timeout';
  if (status >= 400 && status < 500) return 'rejected';
  return 'error';
}

/** What metrics read at scrape time. */
export interface MetricSources {
  parkedCalls: () => number;
  /** Live bindings in the store (a full read: cached, see BINDINGS_CACHE_MS). */
  countBindings: () => Promise<number>;
  /** The embedded engine's counters; absent with drachtio-server (use its own metrics). */
  engine?: () => { stats: EngineStats; connections: Record<string, number> } | undefined;
  /** Announcement endpoints held now; absent with media off (and so are the media families). */
  announcements?: () => number;
}

/** Counting bindings reads the whole store: at most once per this interval. */
const BINDINGS_CACHE_MS = 30_000;

/** Push latency buckets, in seconds: APNs answers in tens of ms; a retry ladder in seconds. */
const PUSH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Push sent -> fresh REGISTER: iOS wakes an app in about a second; the wake window is 25 s. */
const WAKE_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13, 20, 30];

export class PushwakeMetrics {
  readonly registry = new Registry();
  private readonly registrations: Counter<'result'>;
  private readonly pushes: Counter<'provider' | 'result' | 'reason'>;
  private readonly pushSeconds: Histogram<'provider'>;
  readonly wakeSeconds: Histogram;
  private readonly calls: Counter<'ending'>;
  private readonly notices: Counter<'mode' | 'result'>;
  private readonly withheld: Counter<'reason'>;
  private readonly suspected: Counter;
  private readonly mediaSkipped: Counter<'code'> | undefined;
  private readonly mediaUp: Gauge | undefined;
  /** Push sent -> by token, to time the wake (bounded: oldest dropped past MAX_PENDING_WAKES). */
  private readonly pushedAt = new Map<string, number>();
  /** The last calls' endings, newest last (the status page). */
  readonly recentCalls: RecentCall[] = [];
  /** Devices pushed for a call that never registered within the wake window, by aor + device. */
  readonly unanswered = new Map<string, UnansweredDevice>();

  constructor(sources: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.registrations = new Counter({ name: 'pushwake_registrations_total', help: 'REGISTERs from phones, by the result the phone got', labelNames: ['result'], registers });
    let cached: { at: number; value: number } | undefined;
    new Gauge({
      name: 'pushwake_bindings', help: 'Live bindings (devices) in the store, read at most every 30 s', registers,
      async collect() {
        if (!cached || Date.now() - cached.at > BINDINGS_CACHE_MS) {
          try {
            cached = { at: Date.now(), value: await sources.countBindings() };
          } catch {
            // the store is away: keep the last figure (readyz says why)
          }
        }
        if (cached) this.set(cached.value);
      },
    });
    this.pushes = new Counter({ name: 'pushwake_pushes_total', help: 'Pushes sent, by provider, result and reason (a PUSH_* code)', labelNames: ['provider', 'result', 'reason'], registers });
    this.pushSeconds = new Histogram({ name: 'pushwake_push_request_seconds', help: 'One push request to the provider, until its answer', labelNames: ['provider'], buckets: PUSH_BUCKETS, registers });
    this.wakeSeconds = new Histogram({ name: 'pushwake_wake_seconds', help: 'A VoIP push sent -> the pushed phone\'s fresh REGISTER', buckets: WAKE_BUCKETS, registers });
    this.calls = new Counter({ name: 'pushwake_calls_total', help: 'Calls pushwake parked, by how they ended', labelNames: ['ending'], registers });
    new Gauge({ name: 'pushwake_parked_calls', help: 'Calls parked or ringing now', registers, collect() {
      this.set(sources.parkedCalls());
    } });
    this.notices = new Counter({ name: 'pushwake_ended_notices_total', help: 'Ended notices delivered to phones, by mode and result', labelNames: ['mode', 'result'], registers });
    this.withheld = new Counter({ name: 'pushwake_pushes_withheld_total', help: 'VoIP pushes not sent to protect the device: rate_limited (devices.maxVoipPushesPerMinute) or suspected_restricted', labelNames: ['reason'], registers });
    this.suspected = new Counter({ name: 'pushwake_devices_suspected_total', help: 'Devices that became suspected restricted by iOS (VoIP pushes unanswered in a row)', registers });
    const announcements = sources.announcements;
    if (announcements) {
      // only with media.enabled: a 0 here would read as "media down" where there is no media
      this.mediaSkipped = new Counter({ name: 'pushwake_media_unavailable_total', help: 'Calls that went on without an announcement (media.enabled), by code: MEDIA_DOWN, MEDIA_SLOW, MEDIA_BUSY, MEDIA_ERROR, or MEDIA_LOST mid-announcement', labelNames: ['code'], registers });
      this.mediaUp = new Gauge({ name: 'pushwake_media_up', help: '1 while connected to the media server (FreeSWITCH) for announcements, 0 when not (media.enabled only)', registers });
      new Gauge({ name: 'pushwake_announcements', help: 'Announcement endpoints held on the media server now (media.maxAnnouncements bounds it)', registers, collect() {
        this.set(announcements());
      } });
    }
    const engine = sources.engine;
    new Counter({ name: 'pushwake_sip_messages_total', help: 'SIP messages through the embedded engine, by direction and method (response for responses)', labelNames: ['direction', 'method'], registers, collect() {
      const e = engine?.();
      if (!e) return;
      this.reset();
      for (const [method, n] of e.stats.received) this.inc({ direction: 'in', method }, n);
      for (const [method, n] of e.stats.sent) this.inc({ direction: 'out', method }, n);
    } });
    new Gauge({ name: 'pushwake_sip_connections', help: 'TCP and TLS connections the embedded engine holds', labelNames: ['transport'], registers, collect() {
      const e = engine?.();
      if (!e) return;
      for (const [transport, n] of Object.entries(e.connections)) this.set({ transport }, n);
    } });
    new Counter({ name: 'pushwake_sip_rejected_total', help: 'SIP messages and connections the embedded engine refused, by reason', labelNames: ['reason'], registers, collect() {
      const e = engine?.();
      if (!e) return;
      this.reset();
      for (const [reason, n] of e.stats.rejected) this.inc({ reason }, n);
    } });
  }

  pushWithheld(code: string): void {
    this.withheld.inc({ reason: code === 'WAKE_RATE_LIMITED' ? 'rate_limited' : 'suspected_restricted' });
  }

  /** A call went on without its announcement. */
  mediaUnavailable(code: string): void {
    this.mediaSkipped?.inc({ code });
  }

  mediaConnected(up: boolean): void {
    this.mediaUp?.set(up ? 1 : 0);
  }

  deviceSuspected(): void {
    this.suspected.inc();
  }

  registration(status: number): void {
    this.registrations.inc({ result: registrationResultOf(status) });
  }

  callEnded(ending: CallEnding, call?: { callId: string; aor: string; createdAt: number; unansweredDevices: string[] }): void {
    this.calls.inc({ ending });
    if (!call) return;
    const now = Date.now();
    this.recentCalls.push({ callId: call.callId, aor: call.aor, ending, endedAt: now, durationMs: now - call.createdAt });
    if (this.recentCalls.length > MAX_RECENT_CALLS) this.recentCalls.shift();
    for (const deviceKey of call.unansweredDevices) {
      const key = `${call.aor}\n${deviceKey}`;
      const seen = this.unanswered.get(key) ?? { aor: call.aor, deviceKey, count: 0, lastAt: 0 };
      this.unanswered.delete(key);
      this.unanswered.set(key, { ...seen, count: seen.count + 1, lastAt: now });
      trimOldest(this.unanswered, MAX_UNANSWERED);
    }
  }

  /** What the status page shows, from the same figures /metrics serves. */
  async overview(): Promise<{ wakeHistogram: Array<{ le: string; count: number }>; pushResults: Array<{ result: string; reason: string; count: number }> }> {
    const wake = await this.wakeSeconds.get();
    const wakeHistogram = wake.values.filter((v) => v.metricName === 'pushwake_wake_seconds_bucket').map((v) => ({ le: String(v.labels['le']), count: v.value }));
    const pushes = await this.pushes.get();
    const pushResults = pushes.values.map((v) => ({ result: String(v.labels['result']), reason: String(v.labels['reason']), count: v.value }));
    return { wakeHistogram, pushResults };
  }

  endedNotice(mode: string, result: 'delivered' | 'failed'): void {
    this.notices.inc({ mode, result });
  }

  /** A device registered: if a push woke it, how long that took. */
  deviceRegistered(token: string | undefined, now = Date.now()): void {
    if (token === undefined) return;
    const at = this.pushedAt.get(token);
    if (at === undefined) return;
    this.pushedAt.delete(token);
    this.wakeSeconds.observe((now - at) / 1000);
  }

  /** The sender, counted and timed. */
  metered(sender: PushSender): PushSender {
    return {
      send: async (push: VoipPush): Promise<PushOutcome> => {
        const provider = push.token.provider;
        const end = this.pushSeconds.startTimer({ provider });
        const outcome = await sender.send(push);
        end();
        this.pushes.inc({ provider, result: outcome.kind, reason: outcome.kind === 'delivered' ? 'none' : outcome.code });
        if (outcome.kind === 'delivered' && push.payload['cancel'] !== true) this.notePushed(push.token.token);
        return outcome;
      },
      close: () => sender.close(),
    };
  }

  private notePushed(token: string): void {
    this.pushedAt.delete(token);
    this.pushedAt.set(token, Date.now());
    trimOldest(this.pushedAt, MAX_PENDING_WAKES);
  }
}

/** Pushed devices whose wake is being timed; past it the oldest is no longer timed. */
const MAX_PENDING_WAKES = 100_000;
/** Calls kept for the status page's "last calls". */
const MAX_RECENT_CALLS = 50;
/** Devices kept in "pushes unanswered"; past it the one seen longest ago goes. */
const MAX_UNANSWERED = 1000;

export interface RecentCall {
  callId: string;
  aor: string;
  ending: CallEnding;
  endedAt: number;
  durationMs: number;
}

export interface UnansweredDevice {
  aor: string;
  deviceKey: string;
  count: number;
  lastAt: number;
}

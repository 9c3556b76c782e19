/**
 * What the admin server shows and does, over one running pushwake: readiness, a status summary,
 * bindings (tokens shown as a prefix only), calls, a test push and a reload.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { PushwakeConfig } from '../config/types.js';
import type { Binding } from '../domain/binding.js';
import { tokenPrefix } from '../log.js';
import type { PushwakeInstance } from '../module/create-pushwake.js';
import { AdminError, type AdminTarget, type Check } from './admin-server.js';

export interface AdminTargetParts {
  pushwake: PushwakeInstance;
  config: () => PushwakeConfig;
  /** Is the SIP engine connection up? */
  engineConnected: () => boolean;
  sipListeners: () => unknown[];
  reload: () => Promise<unknown>;
  version: string;
}

function mediaDetail(pushwake: PushwakeInstance, config: PushwakeConfig): string {
  return pushwake.media?.isUp
    ? `connected to FreeSWITCH at ${config.media.eventSocket}; ${pushwake.media.activeAnnouncements} announcements`
    : `FreeSWITCH at ${config.media.eventSocket} not connected: calls go on without announcements`;
}

/** A store check that takes longer than this counts as unreachable. */
const STORE_CHECK_MS = 2_000;

export function adminTarget(p: AdminTargetParts): AdminTarget {
  const { pushwake } = p;
  return {
    metrics: pushwake.metrics,
    async readiness() {
      const config = p.config();
      const checks: Record<string, Check> = {
        engine: p.engineConnected() ? { ok: true, detail: `connected (${config.engine.mode})` } : { ok: false, detail: 'not connected to the SIP engine' },
        store: await storeCheck(pushwake),
        apns: config.apns.keyFile
          ? { ok: true, detail: `key ${config.apns.keyId} of team ${config.apns.teamId} loaded` }
          : { ok: true, detail: 'no key configured: sleeping phones cannot be woken' },
      };
      // never unready for it: a call never waits on FreeSWITCH (it goes on without announcements)
      if (config.media.enabled) checks['media'] = { ok: true, detail: mediaDetail(pushwake, config) };
      return checks;
    },
    async status() {
      const config = p.config();
      let bindings: number | string;
      try {
        bindings = await within(pushwake.store.countBindings(), STORE_CHECK_MS);
      } catch (err) {
        bindings = `unavailable (${(err as Error).message})`;
      }
      return {
        version: p.version,
        uptimeSeconds: Math.round(process.uptime()),
        engine: { mode: config.engine.mode, connected: p.engineConnected(), listeners: p.sipListeners() },
        advertisedHost: pushwake.advertisedHost,
        store: config.store.kind,
        cluster: config.cluster.nodeId || null,
        apns: config.apns.keyFile ? 'key loaded' : 'no key',
        bindings,
        calls: pushwake.activeCalls,
        media: config.media.enabled ? { up: pushwake.media?.isUp ?? false, announcements: pushwake.media?.activeAnnouncements ?? 0, eventSocket: config.media.eventSocket } : 'off',
      };
    },
    async bindings({ aor, limit }) {
      const list = aor ? await pushwake.store.listBindings(aor) : await pushwake.store.scanBindings(limit);
      return list.slice(0, limit).map((b) => ({ ...view(b), restriction: pushwake.path.watch.state(b.aor, b.deviceKey) ?? null }));
    },
    async removeBindings(aor, deviceKey) {
      if (deviceKey) return (await pushwake.store.removeBinding(aor, deviceKey)) ? 1 : 0;
      let removed = 0;
      for (const b of await pushwake.store.listBindings(aor)) if (await pushwake.store.removeBinding(b.aor, b.deviceKey)) removed++;
      return removed;
    },
    calls() {
      const now = Date.now();
      return pushwake.path.calls.list().map((c) => ({
        callId: c.identity.callId,
        callUuid: c.identity.callUuid,
        aor: c.identity.aor,
        state: c.currentState,
        awaitedDevices: c.awaitedDevices,
        caller: c.identity.caller.callerNumber,
        ageSeconds: Math.round((now - c.createdAt) / 1000),
      }));
    },
    async overview() {
      const meters = pushwake.meters;
      const { wakeHistogram, pushResults } = await meters.overview();
      return {
        now: Date.now(),
        calls: this.calls(),
        recentCalls: [...meters.recentCalls].reverse(),
        wakeHistogram,
        pushResults,
        unansweredDevices: [...meters.unanswered.values()].sort((a, b) => b.lastAt - a.lastAt).slice(0, 50),
      };
    },
    async testPush(target) {
      const config = p.config();
      if (target.aor) {
        const devices = (await pushwake.store.listBindings(target.aor)).filter((b) => b.push);
        if (devices.length === 0) throw new AdminError(404, 'ADMIN_NOT_FOUND', `no device of ${target.aor} has a push token`);
        return { results: await Promise.all(devices.map((b) => pushwake.testPush(b))) };
      }
      const topic = target.topic ?? config.registration.defaultTopic;
      if (!topic) throw new AdminError(400, 'ADMIN_BAD_REQUEST', 'no topic: give one, or set registration.defaultTopic');
      const token = (target.token ?? '').toLowerCase();
      if (!/^(?:[0-9a-f]{2}){32,100}$/.test(token)) throw new AdminError(400, 'ADMIN_BAD_REQUEST', 'token must be an APNs token (64-200 hex digits)');
      const now = Date.now();
      const b: Binding = {
        aor: 'sip:test-push@pushwake.invalid', deviceKey: `token:${token}`, contact: 'sip:test-push@pushwake.invalid',
        flow: { transport: 'udp', sourceAddress: '0.0.0.0', sourcePort: 0 }, localContactUser: 'test-push', upstreamCallId: randomBytes(8).toString('hex'),
        deviceExpiresAt: now, upstreamExpiresAt: now + 60_000, createdAt: now, registeredAt: now,
        push: { provider: 'apns', token, topic, environment: config.registration.defaultEnvironment },
      };
      return { results: [await pushwake.testPush(b)] };
    },
    reload: () => p.reload(),
  };
}

function view(b: Binding): Record<string, unknown> {
  return {
    aor: b.aor,
    deviceKey: b.deviceKey,
    contact: b.contact,
    flow: `${b.flow.transport}/${b.flow.sourceAddress}:${b.flow.sourcePort}`,
    push: b.push ? { token: tokenPrefix(b.push.token), topic: b.push.topic, environment: b.push.environment } : null,
    localContact: b.localContactUser,
    ...(b.edge ? { edge: b.edge.nodeId } : {}),
    deviceExpiresAt: new Date(b.deviceExpiresAt).toISOString(),
    upstreamExpiresAt: new Date(b.upstreamExpiresAt).toISOString(),
    registeredAt: new Date(b.registeredAt).toISOString(),
  };
}

async function storeCheck(pushwake: PushwakeInstance): Promise<Check> {
  try {
    await within(pushwake.store.getBinding('sip:readyz@pushwake.invalid', 'readyz'), STORE_CHECK_MS);
    return { ok: true, detail: 'reachable' };
  } catch (err) {
    return { ok: false, detail: `unreachable: ${(err as Error).message}` };
  }
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

export const newTestCall = (): { callUuid: string; pushHint: string } => ({ callUuid: randomUUID(), pushHint: randomBytes(8).toString('hex') });

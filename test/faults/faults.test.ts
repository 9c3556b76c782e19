/**
 * Faults with real components: pushwake runs as operators run it (`pushwake start --config`, its
 * own process, so it can be killed -9), the registrar and the phones are SIP agents on their own
 * engines, APNs is the push sink, and Redis is a real redis-server. Each fault checks that
 * pushwake stays alive, says what is wrong in its log, serves other peers meanwhile, and comes
 * back by itself; and that no binding a phone was told about (200) is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate, startPushSink, type PushSink } from '../../lib/push-sink/index.js';
import { Pbx, Phone, startAgentHost, waitFor, type AgentHost } from '../../lib/testkit/agents.js';
import { runCleanups, mergeTrees, type Cleanup } from '../../lib/testkit/cleanups.js';
import { freePort } from '../../lib/testkit/free-port.js';
import { loopbackOverrides } from '../../lib/testkit/loopback-config.js';
import { PushwakeDaemon } from '../../lib/testkit/pushwake-daemon.js';
import { parseSipUri } from '../../lib/sip/name-addr.js';
import { LevelBindingStore, RedisBindingStore, type BindingStore } from '../../lib/store/index.js';
import { findRedisServer, startRedisServer, type TestRedisServer } from '../support/redis-server.js';

/** One deployment: registrar host, phones host, push sink and a pushwake process. */
class FaultLab {
  readonly cleanups: Cleanup[] = [];
  readonly phones: Phone[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'pushwake-faults-'));
  pushwake!: PushwakeDaemon;
  registrarHost!: AgentHost;
  registrar!: Pbx;
  phonesHost!: AgentHost;
  caller!: Pbx;
  sink!: PushSink;
  sinkTls!: { certPem: string; keyPem: string };
  sipPort = 0;
  registrarPort = 0;
  config: Record<string, unknown> = {};

  async start(overrides: Record<string, unknown> = {}): Promise<this> {
    this.cleanups.push(() => rmSync(this.dir, { recursive: true, force: true }));
    this.registrarPort = await freePort();
    await this.startRegistrar();
    this.phonesHost = await startAgentHost();
    this.cleanups.push(() => this.phonesHost.stop());
    this.sinkTls = await selfSignedCertificate(['127.0.0.1']);
    this.sink = await startPushSink({ output: 'none', tls: this.sinkTls });
    this.cleanups.push(() => this.sink.stop());
    this.sipPort = await freePort();
    this.config = mergeTrees(loopbackOverrides(this.sink, this.dir, `sip:127.0.0.1:${this.registrarPort}`), {
      sip: { listen: [{ address: '127.0.0.1', port: this.sipPort, transports: ['udp', 'tcp'] }] },
      apns: { retryBaseDelayMs: 20, requestTimeoutMs: 1000 },
      call: { wakeTimeoutMs: 3000, ringTimeoutMs: 6000 },
      upstream: { registerTimeoutMs: 1500 },
      log: { level: 'info' },
      ...overrides,
    });
    this.caller = new Pbx(this.phonesHost.app, `sip:127.0.0.1:${this.sipPort}`);
    this.phonesHost.app.onRequest('invite', (req, res) => {
      const user = parseSipUri(req.uri)?.user;
      const phone = this.phones.find((p) => p.contactUser === user);
      if (phone) phone.handleInvite(req, res);
      else res.send(404, 'Not Found', {});
    });
    this.wakePhonesOnPush();
    await this.startPushwake();
    return this;
  }

  private wakePhonesOnPush(): void {
    this.sink.on('push', (push) => {
      const phone = this.phones.find((p) => p.token === push.token);
      if (phone?.wakeOnPush) setTimeout(() => void phone.register().catch(() => undefined), 30);
    });
  }

  /** APNs back: the same address, certificate and signing key. */
  async restartSink(): Promise<void> {
    const { keyPem, keyId, teamId } = this.sink;
    this.sink = await startPushSink({ output: 'none', port: this.sink.port, tls: this.sinkTls, providerKey: { keyPem, keyId: keyId ?? '', teamId: teamId ?? '' } });
    const sink = this.sink;
    this.cleanups.push(() => sink.stop());
    this.wakePhonesOnPush();
  }

  async startRegistrar(): Promise<void> {
    // a registrar takes a burst from pushwake: no flood guard of its own in the way
    this.registrarHost = await startAgentHost({ perSourceRatePerSec: 100_000 }, undefined, this.registrarPort);
    const host = this.registrarHost;
    this.cleanups.push(() => host.stop());
    this.registrar = new Pbx(host.app, 'sip:127.0.0.1:1');
    host.app.onRequest('register', (req, res) => this.registrar.handleRegister(req, res));
  }

  async startPushwake(): Promise<void> {
    this.pushwake = await PushwakeDaemon.start(join(this.dir, 'pushwake.yaml'), this.config);
    const daemon = this.pushwake;
    this.cleanups.push(() => daemon.kill());
  }

  phone(user: string, transport: 'udp' | 'tcp' = 'tcp'): Phone {
    const p = new Phone(this.phonesHost.app, user, 'example.com', transport, `127.0.0.1:${this.sipPort}`, 'x-token', this.phonesHost.host);
    this.phones.push(p);
    return p;
  }

  /** OPTIONS to pushwake from another peer: is it still serving? */
  async optionsStatus(): Promise<number> {
    const res = await new Promise<number>((resolve) => {
      void this.phonesHost.app.request(`sip:127.0.0.1:${this.sipPort}`, { method: 'OPTIONS', headers: {} }, (r) => {
        if (r.status >= 200) resolve(r.status);
      });
    });
    return res;
  }

  logged(msg: RegExp): boolean {
    return this.pushwake.lines.some((l) => msg.test(l.msg));
  }

  async stop(): Promise<void> {
    await runCleanups(this.cleanups);
  }
}

const statusOf = async (p: Promise<{ status: number }>, timeoutMs: number): Promise<number | 'none'> =>
  Promise.race([p.then((r) => r.status), new Promise<'none'>((resolve) => setTimeout(() => resolve('none'), timeoutMs))]);

describe('faults with real components', () => {
  let lab: FaultLab;
  const extraCleanups: Cleanup[] = [];
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      process.stderr.write(`--- pushwake log tail ---\n${lab.pushwake.lines.slice(-40).map((l) => JSON.stringify(l)).join('\n')}\n${lab.pushwake.errorOutput}\n`);
    }
    await lab.stop();
    await runCleanups(extraCleanups.splice(0));
  });

  describe('kill -9 during a burst of 200 REGISTERs', () => {
    const burst = async (store: () => Promise<BindingStore>): Promise<void> => {
      const phones = Array.from({ length: 200 }, (_, i) => lab.phone(`burst${i}`));
      const ok = new Set<Phone>();
      for (const p of phones) void p.register().then((r) => r.status === 200 && ok.add(p), () => undefined);
      await waitFor('a quarter of the burst answered', () => ok.size >= 50, 20_000);
      await lab.pushwake.kill('SIGKILL');
      const answered = [...ok];
      console.log(`[faults] pushwake killed -9 with ${answered.length} of 200 REGISTERs answered 200`);
      expect(answered.length).toBeGreaterThanOrEqual(50);
      // every phone that got its 200 is in the store the killed process left behind
      const s = await store();
      try {
        const missing: string[] = [];
        for (const p of answered) if ((await s.listBindings(p.aor)).length !== 1) missing.push(p.aor);
        expect(missing).toEqual([]);
      } finally {
        await s.close();
      }
      // and a restarted pushwake serves from it: a call to one of them wakes it
      await lab.startPushwake();
      const first = answered[0] as Phone;
      const call = await lab.caller.call(first.aor).done;
      expect(call.status).toBe(200);
      await call.dialog?.destroy();
    };

    it('embedded store: no phone that got 200 loses its binding', async () => {
      lab = await new FaultLab().start();
      await burst(() => LevelBindingStore.open({ path: join(lab.dir, 'store') }));
    }, 60_000);

    it.skipIf(!findRedisServer())('redis store: no phone that got 200 loses its binding', async () => {
      const redis = (await startRedisServer({ durable: true })) as TestRedisServer;
      extraCleanups.push(() => redis.stop());
      lab = await new FaultLab().start({ store: { kind: 'redis', url: redis.url, keyPrefix: 'faults:' } });
      await burst(() => RedisBindingStore.connect({ url: redis.url, keyPrefix: 'faults:' }));
    }, 60_000);
  });

  it('registrar down: phones get 504 (UDP) or 503 (TCP) and a warn line; other peers are served; it recovers when the registrar returns', async () => {
    lab = await new FaultLab().start();
    // an awake phone without push: its calls need no fresh REGISTER (a pushed phone's do, and
    // pushwake waits for the registrar's 2xx to it: no call reaches a sleeping phone meanwhile)
    const before = new Phone(lab.phonesHost.app, 'carol', 'example.com', 'tcp', `127.0.0.1:${lab.sipPort}`, 'none', lab.phonesHost.host);
    lab.phones.push(before);
    expect((await before.register()).status).toBe(200);
    await lab.registrarHost.stop();
    const started = Date.now();
    const res = await lab.phone('dave').register();
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(4000);
    await waitFor('registrar warning', () => lab.logged(/registrar did not answer/));
    expect(await lab.optionsStatus()).toBe(200);
    // calls come from the PBX, not the registrar
    const call = await lab.caller.call(before.aor).done;
    expect(call.status).toBe(200);
    await call.dialog?.destroy();
    await lab.startRegistrar();
    expect((await lab.phone('erin').register()).status).toBe(200);
    expect(lab.pushwake.alive).toBe(true);
  }, 60_000);

  it('registrar down over TCP: the refused connection gives the phone 503 at once', async () => {
    lab = await new FaultLab().start();
    lab.config = mergeTrees(lab.config, { upstream: { registrar: `sip:127.0.0.1:${lab.registrarPort};transport=tcp` } });
    await lab.pushwake.stop();
    await lab.startPushwake();
    expect((await lab.phone('carol').register()).status).toBe(200);
    await lab.registrarHost.stop();
    const started = Date.now();
    const status = await statusOf(lab.phone('dave').register(), 5000);
    expect([503, 504]).toContain(status);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(await lab.optionsStatus()).toBe(200);
    await lab.startRegistrar();
    expect((await lab.phone('erin').register()).status).toBe(200);
  }, 60_000);

  it('APNs down: the caller gets 480 "Push notification failed" within the wake window, the log says why; pushes resume when APNs returns', async () => {
    lab = await new FaultLab().start();
    const phone = lab.phone('alice', 'udp');
    expect((await phone.register()).status).toBe(200);
    // asleep: its old flow no longer answers, so only a push could reach it
    phone.behaviour = 'ring';
    await lab.sink.stop();
    const started = Date.now();
    const result = await lab.caller.call(phone.aor).done;
    expect(result.status).toBe(480);
    expect(result.reasonHeader).toContain('Push notification failed');
    expect(Date.now() - started).toBeLessThan(3000 + 2000);
    await waitFor('push failure logged', () => lab.pushwake.lines.some((l) => /push/i.test(l.msg) && l.level >= 40));
    expect(await lab.optionsStatus()).toBe(200);
    expect(lab.pushwake.alive).toBe(true);
    // APNs is back: the next call is pushed, the phone wakes and answers
    await lab.restartSink();
    phone.behaviour = 'answer';
    const next = await lab.caller.call(phone.aor).done;
    expect(next.status).toBe(200);
    expect(lab.sink.pushes.filter((p) => p.token === phone.token)).toHaveLength(1);
    await next.dialog?.destroy();
  }, 60_000);

  it.skipIf(!findRedisServer())('Redis killed -9 and restarted under traffic: 503s with a clear error while it is down, traffic back within 2 s of its return, no binding lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushwake-faults-redis-'));
    extraCleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let redis = (await startRedisServer({ durable: true, dir })) as TestRedisServer;
    extraCleanups.push(() => redis.stop());
    lab = await new FaultLab().start({ store: { kind: 'redis', url: redis.url, keyPrefix: 'faults:' } });
    const phones = Array.from({ length: 20 }, (_, i) => lab.phone(`steady${i}`));
    for (const p of phones) expect((await p.register()).status).toBe(200);

    // traffic: a REGISTER refresh every 40 ms, round robin, each recorded with when it was sent
    const results: Array<{ sentAt: number; doneAt: number; status: number | 'none' }> = [];
    let running = true;
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        const sentAt = Date.now();
        const phone = phones[i % phones.length] as Phone;
        void statusOf(phone.register(), 3000).then((status) => results.push({ sentAt, doneAt: Date.now(), status }));
        await new Promise((r) => setTimeout(r, 40));
      }
    })();

    await new Promise((r) => setTimeout(r, 300));
    await redis.kill();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    // while it is down: fast 503s, an INVITE gets 503 too, the log says why, other peers are served
    const invite = await lab.caller.call(phones[0]?.aor ?? '').done;
    expect(invite.status).toBe(503);
    expect(await lab.optionsStatus()).toBe(200);
    expect(lab.logged(/binding store unavailable/)).toBe(true);
    expect(lab.pushwake.alive).toBe(true);
    const duringOutage = results.filter((r) => r.sentAt > downAt + 200);
    expect(duringOutage.length).toBeGreaterThan(10);
    expect(duringOutage.every((r) => r.status === 503)).toBe(true);
    expect(Math.max(...duringOutage.map((r) => r.doneAt - r.sentAt))).toBeLessThan(1000);

    redis = (await startRedisServer({ durable: true, dir, port: redis.port })) as TestRedisServer;
    extraCleanups.push(() => redis.stop());
    const backAt = Date.now();
    const firstOk = await waitFor('a REGISTER answered 200 after Redis returned', () => results.find((r) => r.sentAt >= backAt && r.status === 200), 5000);
    running = false;
    await traffic;
    console.log(`[faults] Redis down ${backAt - downAt} ms; first 200 ${firstOk.doneAt - backAt} ms after it was back`);
    expect(firstOk.doneAt - backAt).toBeLessThan(2000);
    await waitFor('store back logged', () => lab.logged(/binding store connection is back/));

    // every binding Redis kept is still there, and calls work again
    const store = await RedisBindingStore.connect({ url: redis.url, keyPrefix: 'faults:' });
    try {
      for (const p of phones) expect(await store.listBindings(p.aor)).toHaveLength(1);
    } finally {
      await store.close();
    }
    const call = await lab.caller.call(phones[1]?.aor ?? '').done;
    expect(call.status).toBe(200);
    await call.dialog?.destroy();
  }, 60_000);
});

describe('the store as the SIP side sees it', () => {
  it('any failure underneath becomes STORE_UNAVAILABLE; the store\'s own outcomes pass through', async () => {
    const { GuardedStore, StoreConflictError, isStoreUnavailable, storeUnavailableAnswer } = await import('../../lib/store/index.js');
    const failing = (err: Error): BindingStore => new Proxy({} as BindingStore, { get: () => () => Promise.reject(err) });
    const down = await new GuardedStore(failing(new Error('connect ECONNREFUSED 127.0.0.1:6379'))).listBindings('sip:a@b').catch((e: unknown) => e);
    expect(isStoreUnavailable(down)).toBe(true);
    expect((down as Error).message).toContain('listBindings');
    const conflict = await new GuardedStore(failing(new StoreConflictError('k'))).putBinding({} as never).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(StoreConflictError);
    expect(storeUnavailableAnswer(7)).toEqual({ status: 503, reason: 'Service Unavailable', headers: { 'Retry-After': '7', Warning: '399 pushwake "binding store unavailable"' } });
  });
});

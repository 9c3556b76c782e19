/**
 * pushwake mounted in a host's srf app (createPushwake + srf.use), over real SIP on loopback:
 * what is pushwake's is taken, the rest reaches the host's own handlers unanswered.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/testkit/agents.js';
import { ConfigError, createPushwake, type BindingStore, type CallEndedEvent, type DeviceRegisteredEvent, type Pushwake } from '../../lib/index.js';
import { HostApp } from './support/host-app.js';

let host: HostApp | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

async function hostWithPushwake(settings: (h: HostApp) => Parameters<HostApp['mount']>[0] = (h) => h.settings('pw')): Promise<{ host: HostApp; pw: Pushwake }> {
  let pw: Pushwake | undefined;
  host = await HostApp.start({ mount: async (h) => void (pw = await h.mount(settings(h))) });
  if (!pw) throw new Error('not mounted');
  return { host, pw };
}

describe('pushwake mounted in a host srf app', () => {
  it('a REGISTER with push data is relayed upstream by pushwake; one without reaches the host unanswered', async () => {
    const { host: h, pw } = await hostWithPushwake();
    const registered: DeviceRegisteredEvent[] = [];
    pw.on('deviceRegistered', (e) => registered.push(e));
    const pushPhone = h.phone('alice');
    const res = await pushPhone.register();
    expect(res.status).toBe(200);
    expect(res.reason).toBe('OK');
    expect(h.pbx.registers.at(-1)?.contact).toMatch(/^sip:pw-[0-9a-f]{20}@127\.0\.0\.1:\d+;transport=udp$/);
    // the advertised host was learned from the host's Srf connection
    expect(h.pbx.registers.at(-1)?.contact).toContain(`@${h.sipHost};`);
    expect(pw.advertisedHost).toBe(h.sipHost);
    expect(registered).toEqual([expect.objectContaining({ aor: 'sip:alice@example.com', pushable: true })]);

    const plain = h.phone('desk', { push: 'none' });
    const other = await plain.register();
    expect(other.status).toBe(200);
    expect(other.reason).toBe('Host Registrar');
    expect(h.saw).toEqual([{ method: 'REGISTER', uri: expect.any(String), answered: false }]);
    expect(h.pbx.registers).toHaveLength(1);
  });

  it('RFC 8599 and xToken REGISTERs are pushwake\'s too; a bad token is pushwake\'s (relayed with a Warning), not the host\'s', async () => {
    const { host: h } = await hostWithPushwake();
    for (const push of ['rfc8599', 'xtoken', 'bad-token'] as const) {
      const res = await h.phone(`u-${push}`, { push }).register();
      expect(res.status).toBe(200);
      expect(res.reason).toBe('OK');
    }
    expect(h.pbx.registers).toHaveLength(3);
    expect(h.saw).toEqual([]);
  });

  it('a device pushwake holds stays pushwake\'s when it refreshes or unregisters without its token', async () => {
    const { host: h, pw } = await hostWithPushwake();
    const phone = h.phone('alice');
    await phone.register();
    const bare = h.phone('alice', { push: 'none' });
    // the same device (same +sip.instance and contact), its push data left out
    Object.assign(bare, { instance: phone.instance });
    Object.defineProperty(bare, 'contactUser', { value: phone.contactUser });
    expect((await bare.register()).reason).toBe('OK');
    expect((await bare.register({ expires: 0 })).reason).toBe('OK');
    expect(h.saw).toEqual([]);
    expect(h.pbx.registers.map((r) => r.expires)).toEqual([3600, 3600, 0]);
    expect(pw.activeCalls).toBe(0);
  });

  it('a call for a user with devices is woken and answered; an unknown user and an untrusted source go to the host', async () => {
    const { host: h, pw } = await hostWithPushwake();
    const ended: CallEndedEvent[] = [];
    pw.on('callEnded', (e) => ended.push(e));
    const phone = h.phone('alice');
    await phone.register();

    const call = h.pbx.call('sip:alice@example.com');
    const result = await call.done;
    expect(result.status).toBe(200);
    expect(call.provisionals).toContain(180);
    expect(h.sink.pushes.filter((p) => p.token === phone.token)).toHaveLength(1);
    expect(pw.activeCalls).toBe(1);
    await result.dialog?.destroy();
    await waitFor('call ended', () => ended.length === 1);
    expect(ended[0]).toMatchObject({ aor: 'sip:alice@example.com', ending: 'answered-hangup' });
    expect(ended[0]?.callUuid).toMatch(/^[0-9a-f-]{36}$/);

    const unknown = await h.pbx.call('sip:nobody@example.com').done;
    expect(unknown).toMatchObject({ status: 486, reason: 'Host Busy' });
    expect(h.saw).toEqual([{ method: 'INVITE', uri: 'sip:nobody@example.com', answered: false }]);
    expect(h.sink.pushes).toHaveLength(1);
  });

  it('with trustedSources that exclude the caller, a call to a user is the host\'s, a call to a device contact is refused 403', async () => {
    const { host: h } = await hostWithPushwake((x) => ({ ...x.settings('pw'), upstream: { registrar: `sip:${x.agents.host}`, trustedSources: ['10.9.9.9'] } }));
    const phone = h.phone('alice');
    await phone.register();
    const contact = h.pbx.registers.at(-1)?.contact ?? '';
    const toUser = await h.pbx.call('sip:alice@example.com').done;
    expect(toUser).toMatchObject({ status: 486, reason: 'Host Busy' });
    const toDevice = await h.pbx.call(contact.replace(/;transport=udp$/, '')).done;
    expect(toDevice.status).toBe(403);
    expect(h.saw.map((s) => s.uri)).toEqual(['sip:alice@example.com']);
    expect(h.sink.pushes).toHaveLength(0);
  });

  it('unclaimed: answer makes it answer what it would pass on (404, 403), as the standalone proxy does', async () => {
    const { host: h } = await hostWithPushwake((x) => ({ ...x.settings('pw'), unclaimed: 'answer' }));
    const unknown = await h.pbx.call('sip:nobody@example.com').done;
    expect(unknown.status).toBe(404);
    const plain = await h.phone('desk', { push: 'none' }).register();
    // relayed upstream by pushwake, as the standalone proxy relays every REGISTER
    expect(plain.reason).toBe('OK');
    expect(h.saw).toEqual([]);
  });

  it('the host\'s other routes keep working, and after close() everything goes to the host', async () => {
    const { host: h, pw } = await hostWithPushwake();
    const options = await new Promise<number>((resolve, reject) => {
      h.agents.app.request(`sip:${h.sipHost}`, { method: 'OPTIONS', headers: {} }, (res) => resolve(res.status)).catch(reject);
    });
    expect(options).toBe(200);
    await pw.close();
    const res = await h.phone('alice').register();
    expect(res.reason).toBe('Host Registrar');
    expect((await h.pbx.call('sip:alice@example.com').done).reason).toBe('Host Busy');
    expect(h.saw.map((s) => s.method)).toEqual(['OPTIONS', 'REGISTER', 'INVITE']);
  });

  it('mounted after the Srf connected, it learns the advertised host from the live connection', async () => {
    let pw: Pushwake | undefined;
    host = await HostApp.start({ mountAfterConnect: true, mount: async (h) => void (pw = await h.mount(h.settings('late'))) });
    expect(pw?.advertisedHost).toBe(host.sipHost);
    expect((await host.phone('alice').register()).reason).toBe('OK');
    expect(host.pbx.registers.at(-1)?.contact).toContain(`@${host.sipHost};`);
  });

  it('its log lines go through the host\'s pino logger as a child naming the instance', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'info', base: { app: 'host-sbc' } }, sink);
    const { host: h } = await hostWithPushwake((x) => ({ ...x.settings('tenant-a'), logger }));
    await h.phone('alice').register();
    await waitFor('log line', () => lines.some((l) => l['msg'] === 'device registered'));
    expect(lines.find((l) => l['msg'] === 'device registered')).toMatchObject({ app: 'host-sbc', pushwake: 'tenant-a', aor: 'sip:alice@example.com' });
  });

  it('a store that fails while deciding whose a request is gives 503 with Retry-After; the host never gets it', async () => {
    const failing = new Proxy({} as BindingStore, {
      get: (_t, prop) => (prop === 'close' ? () => Promise.resolve() : () => Promise.reject(new Error('connection refused'))),
    });
    const { host: h } = await hostWithPushwake((x) => ({ ...x.settings('pw'), bindingStore: failing, store: { unavailableRetryAfterSeconds: 7 } }));
    const reg = await h.phone('desk', { push: 'none' }).register();
    expect(reg.status).toBe(503);
    expect(reg.get('Retry-After')).toBe('7');
    const call = await h.pbx.call('sip:alice@example.com').done;
    expect(call.status).toBe(503);
    expect(h.saw).toEqual([]);
  });

  it('middleware has arity 3, as drachtio-srf needs to call it as middleware rather than as an error handler', async () => {
    const { pw } = await hostWithPushwake();
    expect(pw.register.length).toBe(3);
    expect(pw.invite.length).toBe(3);
  });
});

describe('two pushwakes in one app', () => {
  it('each tenant keeps its own bindings: the host routes by domain, each wakes only its own phones', async () => {
    const pws: Pushwake[] = [];
    host = await HostApp.start({
      mount: async (h) => {
        for (const [name, prefix] of [['tenant-a', 'pwa-'], ['tenant-b', 'pwb-']] as const) {
          const pw = await createPushwake({ srf: h.srf, ...h.settings(name), registration: { ...h.settings(name).registration, contactUserPrefix: prefix } });
          pws.push(pw);
        }
        const [a, b] = pws as [Pushwake, Pushwake];
        // the host decides which tenant a request is for: by the domain of the To
        const tenantOf = (to: string | undefined): Pushwake => (to?.includes('@b.example') ? b : a);
        h.srf.use('register', (req, res, next) => tenantOf(req.get('To')).register(req, res, next));
        h.srf.use('invite', (req, res, next) => tenantOf(req.get('To')).invite(req, res, next));
      },
    });
    const [a, b] = pws as [Pushwake, Pushwake];
    const alice = host.phone('alice', { domain: 'a.example' });
    const bob = host.phone('bob', { domain: 'b.example' });
    await alice.register();
    await bob.register();
    expect(host.pbx.registers.map((r) => r.contact.slice(4, 8))).toEqual(['pwa-', 'pwb-']);
    // tenant b holds no alice: a call to alice@b.example is the host's
    expect((await host.pbx.call('sip:alice@b.example').done).reason).toBe('Host Busy');
    const call = host.pbx.call('sip:bob@b.example');
    expect((await call.done).status).toBe(200);
    expect(b.activeCalls).toBe(1);
    expect(a.activeCalls).toBe(0);
    expect(host.sink.pushes.map((p) => p.token)).toEqual([bob.token]);
    for (const pw of pws) await pw.close();
  });

  it('what two instances would share by accident is refused with the key to change; one bindingStore given to both is shared', async () => {
    host = await HostApp.start();
    const h = host;
    const a = await h.mount(h.settings('a'));
    const same = (): Promise<unknown> => createPushwake({ srf: h.srf, ...h.settings('b') });
    await expect(same()).rejects.toMatchObject({ code: 'PUSHWAKE_CONFIG', key: 'registration.contactUserPrefix' });
    await expect(createPushwake({ srf: h.srf, ...h.settings('a'), registration: { contactUserPrefix: 'x-' } })).rejects.toMatchObject({ key: 'name' });
    await expect(createPushwake({ srf: h.srf, ...h.settings('c'), registration: { contactUserPrefix: 'c-' }, store: { kind: "embedded", path: `${h.dir}/store-a` } }))
      .rejects.toMatchObject({ key: 'store.path' });
    // a store passed to both is shared on purpose
    const { openBindingStore } = await import('../../lib/index.js');
    const shared = await openBindingStore({ kind: 'embedded', path: `${h.dir}/shared` });
    const one = await createPushwake({ srf: h.srf, ...h.settings('one'), registration: { contactUserPrefix: 'one-' }, bindingStore: shared });
    const two = await createPushwake({ srf: h.srf, ...h.settings('two'), registration: { contactUserPrefix: 'two-' }, bindingStore: shared });
    await one.close();
    await two.close();
    // the injected store is the caller's: still open
    expect(await shared.listBindings('sip:x@example.com')).toEqual([]);
    await shared.close();
    // closing releases the name, prefix and path
    await a.close();
    const again = await createPushwake({ srf: h.srf, ...h.settings('a') });
    await again.close();
  });
});

describe('createPushwake options', () => {
  it('are validated by the config rules, with the messages the YAML file gets, naming the key', async () => {
    host = await HostApp.start();
    const srf = host.srf;
    const bad = async (options: Record<string, unknown>): Promise<ConfigError> => {
      try {
        await createPushwake({ srf, ...options } as Parameters<typeof createPushwake>[0]);
      } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
      }
      throw new Error('accepted');
    };
    expect((await bad({ call: { wakeTimeoutMs: 'fast' } })).message).toBe('config call.wakeTimeoutMs: must be an integer from 1000 to 300000 (got "fast")');
    expect((await bad({ engine: { mode: 'external' } })).message).toBe('config engine: is not a module option: the host app owns the Srf and its connection');
    expect((await bad({ sip: { listen: [] } })).key).toBe('sip.listen');
    expect((await bad({ log: { level: 'debug' } })).key).toBe('log');
    expect((await bad({ wakeTimeoutMs: 5 })).message).toBe('config wakeTimeoutMs: unknown option');
    expect((await bad({ upstream: { registrar: 'http://x' } })).key).toBe('upstream.registrar');
    expect((await bad({ unclaimed: 'drop' })).key).toBe('unclaimed');
    expect((await bad({ name: 'two words' })).key).toBe('name');
    expect((await bad({ logger: console })).key).toBe('logger');
    expect((await bad({ bindingStore: {} })).key).toBe('bindingStore');
    expect((await bad({ apns: { keyFile: '/k.p8' } })).key).toBe('apns.keyId');
    await expect(createPushwake({ srf: {} as never })).rejects.toMatchObject({ key: 'srf', code: 'PUSHWAKE_CONFIG' });
  });
});

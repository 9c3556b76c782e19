/**
 * The REGISTER relay against a fake SipApp: the test sees every REGISTER pushwake sends upstream
 * and answers it as a registrar would (or does not). The store is the real embedded one.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger } from '../../lib/log.js';
import { RegistrationRelay, type DeviceRegistered, type RelaySettings } from '../../lib/registration/registration-relay.js';
import type { InboundRequest, InboundResponse, OutboundRequest, OutOfDialogRequest, ResponseOptions, ServerResponse, SipApp } from '../../lib/sip/srf.js';
import { GuardedStore } from '../../lib/store/guarded-store.js';
import { LocalAddress } from '../../lib/sip/local-address.js';
import { LevelBindingStore } from '../../lib/store/level-store.js';
import type { BindingStore } from '../../lib/store/binding-store.js';

const TOKEN = 'ab'.repeat(32);
const AOR = 'sip:alice@example.com';

class Message {
  protected readonly headers: Map<string, string>;
  constructor(headers: Record<string, string>, readonly body = '') {
    this.headers = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  }
  get(name: string): string | undefined {
    return this.headers.get(name.toLowerCase());
  }
  has(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }
}

class FakeRegister extends Message implements InboundRequest {
  readonly method = 'REGISTER';
  readonly uri = 'sip:example.com';
  readonly source_address = '10.0.0.7';
  readonly source_port = 40000;
  readonly protocol = 'tcp';
  readonly callId: string;
  constructor(cseq: number, headers: Record<string, string> = {}, callId = 'reg-1@phone') {
    super({
      From: `<${AOR}>;tag=f1`,
      To: `<${AOR}>`,
      'Call-ID': callId,
      CSeq: `${cseq} REGISTER`,
      Contact: `<sip:alice@10.0.0.7:40000;transport=tcp>;expires=600;+sip.instance="<urn:uuid:00000000-0000-4000-8000-000000000001>"`,
      'X-Token': TOKEN,
      'Max-Forwards': '70',
      Supported: 'outbound, gruu, path',
      ...headers,
    });
    this.callId = callId;
  }
  on(): this {
    return this;
  }
  removeListener(): this {
    return this;
  }
}

class FakeResponse implements ServerResponse {
  readonly sent: Array<{ status: number; reason: string; headers: Record<string, string> }> = [];
  private readonly done = new EventEmitter();
  get finalResponseSent(): boolean {
    return this.sent.some((s) => s.status >= 200);
  }
  send(status: number, reasonOrOpts?: string | ResponseOptions, opts?: ResponseOptions): void {
    const o = typeof reasonOrOpts === 'object' ? reasonOrOpts : opts;
    this.sent.push({ status, reason: typeof reasonOrOpts === 'string' ? reasonOrOpts : '', headers: o?.headers ?? {} });
    if (status >= 200) this.done.emit('final');
  }
  final(): Promise<{ status: number; reason: string; headers: Record<string, string> }> {
    const now = this.sent.find((s) => s.status >= 200);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.done.once('final', () => resolve(this.sent.find((s) => s.status >= 200)!)));
  }
}

interface Upstream {
  uri: string;
  opts: OutOfDialogRequest;
  answer(status: number, headers?: Record<string, string>): void;
}

/** The registrar side: every upstream REGISTER, answered by the test. */
class FakeApp {
  readonly upstream: Upstream[] = [];
  private readonly arrived = new EventEmitter();
  refuseToSend = false;

  asApp(): SipApp {
    const unused = (): never => {
      throw new Error('not used by the relay');
    };
    return {
      request: (uri, opts, onResponse) => {
        if (this.refuseToSend) return Promise.reject(new Error('no route to the registrar'));
        this.upstream.push({
          uri,
          opts,
          answer: (status, headers = {}) => {
            const res = new Message(headers) as Message & InboundResponse;
            Object.assign(res, { status, reason: status === 200 ? 'OK' : 'Refused' });
            onResponse?.(res);
          },
        });
        this.arrived.emit('request');
        return Promise.resolve({} as OutboundRequest);
      },
      onRequest: unused,
      createUac: unused,
      createUas: unused,
      connect: unused,
      disconnect: unused,
      onDisconnect: unused,
      onConnect: unused,
    };
  }

  async next(count: number): Promise<Upstream> {
    while (this.upstream.length < count) await new Promise((r) => this.arrived.once('request', r));
    return this.upstream[count - 1]!;
  }
}

describe('RegistrationRelay against a fake SipApp', () => {
  let dir: string;
  let level: LevelBindingStore;
  let app: FakeApp;
  let registered: DeviceRegistered[];
  let logLines: Array<{ level: number; msg: string }>;

  const config = loadConfig({ env: {}, overrides: { registration: { defaultTopic: 'com.example.voip' } } });
  const settings: RelaySettings = {
    ...config.registration,
    pushHintHeader: config.call.pushHintHeader,
    pushHintParam: config.call.pushHintParam,
    registrar: 'sip:10.0.0.1:5060',
    upstreamExpires: 3600,
    registerTimeoutMs: 80,
    local: new LocalAddress({ host: '192.0.2.1:5060', transport: 'udp' }, []),
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-'));
    level = await LevelBindingStore.open({ path: dir });
    app = new FakeApp();
    registered = [];
    logLines = [];
  });
  afterEach(async () => {
    await level.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function relay(store: BindingStore = new GuardedStore(level), extra: { onStoreUnavailable?: (err: Error) => void } = {}): RegistrationRelay {
    const sink = new (class extends EventEmitter {
      write(line: string): boolean {
        logLines.push(JSON.parse(line) as { level: number; msg: string });
        return true;
      }
    })();
    return new RegistrationRelay({
      app: app.asApp(),
      store,
      settings,
      log: createLogger('info', sink as unknown as NodeJS.WritableStream),
      storeRetryAfterSeconds: 9,
      onDeviceRegistered: (e) => registered.push(e),
      ...extra,
    });
  }

  it('relays with its own per-device contact, one hop less and no phone-only options; stores the binding only after the 2xx', async () => {
    const r = relay();
    const res = new FakeResponse();
    r.handle(new FakeRegister(1), res);
    const up = await app.next(1);
    expect(up.opts.proxy).toBe('sip:10.0.0.1:5060');
    expect(up.opts.headers?.['Contact']).toMatch(/^<sip:pw-[0-9a-f]+@192\.0\.2\.1:5060;transport=udp>;expires=3600$/);
    expect(up.opts.headers?.['Max-Forwards']).toBe('69');
    expect(up.opts.headers?.['Supported']).toBe('path');
    expect(await level.listBindings(AOR)).toHaveLength(0);
    up.answer(200, { Contact: `${up.opts.headers?.['Contact']?.replace(/;expires=\d+$/, '')};expires=300` });
    const final = await res.final();
    expect(final.status).toBe(200);
    // the phone's 600 s is capped at what the registrar granted pushwake
    expect(final.headers['Contact']).toMatch(/;expires=300$/);
    const [b] = await level.listBindings(AOR);
    expect(b?.push?.token).toBe(TOKEN);
    expect(registered).toHaveLength(1);
  });

  it('passes a 401 back with its challenge and stores nothing', async () => {
    const r = relay();
    const res = new FakeResponse();
    r.handle(new FakeRegister(1), res);
    (await app.next(1)).answer(401, { 'WWW-Authenticate': 'Digest realm="pbx", nonce="n1"' });
    const final = await res.final();
    expect(final).toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Digest realm="pbx", nonce="n1"' } });
    expect(await level.listBindings(AOR)).toHaveLength(0);
    expect(registered).toHaveLength(0);
  });

  it('retries a 423 once with the registrar\'s Min-Expires and a higher CSeq', async () => {
    const r = relay();
    const res = new FakeResponse();
    r.handle(new FakeRegister(1), res);
    const first = await app.next(1);
    first.answer(423, { 'Min-Expires': '7200' });
    const second = await app.next(2);
    expect(second.opts.headers?.['Expires']).toBe('7200');
    expect(Number(second.opts.headers?.['CSeq']?.split(' ')[0])).toBeGreaterThan(Number(first.opts.headers?.['CSeq']?.split(' ')[0]));
    second.answer(200);
    expect((await res.final()).status).toBe(200);
  });

  it('a registrar that does not answer: 504 after registerTimeoutMs and one warn line for a run of them', async () => {
    const r = relay();
    const a = new FakeResponse();
    const b = new FakeResponse();
    r.handle(new FakeRegister(1), a);
    r.handle(new FakeRegister(1, {}, 'reg-2@phone'), b);
    expect((await a.final()).status).toBe(504);
    expect((await b.final()).status).toBe(504);
    expect(logLines.filter((l) => /registrar did not answer/.test(l.msg))).toHaveLength(1);
  });

  it('a REGISTER that cannot be sent upstream gets 504 and a warn line', async () => {
    app.refuseToSend = true;
    const res = new FakeResponse();
    relay().handle(new FakeRegister(1), res);
    expect((await res.final()).status).toBe(504);
    expect(logLines.some((l) => l.msg === 'cannot send REGISTER upstream')).toBe(true);
  });

  it('Max-Forwards 0 gets 483 and nothing goes upstream', async () => {
    const res = new FakeResponse();
    relay().handle(new FakeRegister(1, { 'Max-Forwards': '0' }), res);
    expect((await res.final()).status).toBe(483);
    expect(app.upstream).toHaveLength(0);
  });

  it('a store that fails after the registrar\'s 2xx gets the phone 503 with the store Retry-After', async () => {
    const broken: BindingStore = new Proxy(level, {
      get: (target, prop, receiver) => (prop === 'putBinding' || prop === 'getBinding' ? () => Promise.reject(new Error('ECONNREFUSED')) : Reflect.get(target, prop, receiver)),
    });
    const failures: Error[] = [];
    const res = new FakeResponse();
    relay(new GuardedStore(broken), { onStoreUnavailable: (e) => failures.push(e) }).handle(new FakeRegister(1), res);
    (await app.next(1)).answer(200);
    expect(await res.final()).toMatchObject({ status: 503, headers: { 'Retry-After': '9' } });
    expect(failures).toHaveLength(1);
  });

  it('one device\'s REGISTERs go upstream one at a time, in arrival order', async () => {
    const r = relay();
    const first = new FakeResponse();
    const second = new FakeResponse();
    r.handle(new FakeRegister(1), first);
    r.handle(new FakeRegister(2, { Expires: '0', Contact: '<sip:alice@10.0.0.7:40000;transport=tcp>;expires=0' }), second);
    const up1 = await app.next(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(app.upstream).toHaveLength(1);
    up1.answer(200);
    expect((await first.final()).status).toBe(200);
    (await app.next(2)).answer(200);
    expect((await second.final()).status).toBe(200);
    // the unregister came last, so nothing is left
    expect(await level.listBindings(AOR)).toHaveLength(0);
  });
});

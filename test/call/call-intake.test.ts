/**
 * The checks before a call exists, against a fake SipApp request and response and a store whose
 * answers the test controls: no sockets, no engine.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { CallBook } from '../../lib/call/call-book.js';
import { CallIntake } from '../../lib/call/call-intake.js';
import type { CallIdentity } from '../../lib/call/call-types.js';
import { TrustedSources } from '../../lib/call/trusted-sources.js';
import type { Binding } from '../../lib/domain/binding.js';
import { silentLogger } from '../../lib/log.js';
import type { InboundRequest, ResponseOptions, ServerResponse, SipApp, SipMessageView } from '../../lib/sip/srf.js';
import type { BindingStore } from '../../lib/store/binding-store.js';
import { GuardedStore } from '../../lib/store/guarded-store.js';
import { CallFixture, binding } from './call-fixture.js';

const OFFER = ['v=0', 'o=pbx 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', ''].join('\r\n');

class FakeInvite extends EventEmitter implements InboundRequest {
  readonly method = 'INVITE';
  readonly source_port = 5060;
  readonly protocol = 'udp';
  private readonly headers: Map<string, string>;

  constructor(
    readonly uri: string,
    readonly callId: string,
    readonly source_address = '10.0.0.1',
    headers: Record<string, string> = {},
    readonly body = OFFER,
  ) {
    super();
    this.headers = new Map(Object.entries({ 'content-type': 'application/sdp', to: `<${uri}>`, from: '"Bob" <sip:1000@pbx>;tag=1', 'max-forwards': '70', ...headers }).map(([k, v]) => [k.toLowerCase(), v]));
  }

  get(name: string): string | undefined {
    return this.headers.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }

  cancel(reason?: string): void {
    const msg: SipMessageView = { body: '', get: (n) => (n.toLowerCase() === 'reason' ? reason : undefined), has: () => reason !== undefined };
    this.emit('cancel', msg);
  }
}

class FakeResponse implements ServerResponse {
  readonly sent: Array<{ status: number; reason: string; headers: Record<string, string> }> = [];
  get finalResponseSent(): boolean {
    return this.sent.some((s) => s.status >= 200);
  }
  send(status: number, reasonOrOpts?: string | ResponseOptions, opts?: ResponseOptions): void {
    const reason = typeof reasonOrOpts === 'string' ? reasonOrOpts : '';
    const o = typeof reasonOrOpts === 'object' ? reasonOrOpts : opts;
    this.sent.push({ status, reason, headers: o?.headers ?? {} });
  }
  get final(): number | undefined {
    return this.sent.find((s) => s.status >= 200)?.status;
  }
}

/** A store whose look-ups the test releases by hand (or fails). */
class HeldStore {
  private readonly waiting: Array<() => void> = [];
  failWith: Error | undefined;
  constructor(private readonly bindings: Binding[]) {}
  async lookup<T>(value: () => T): Promise<T> {
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failWith) throw this.failWith;
    return value();
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
  get pending(): number {
    return this.waiting.length;
  }
  asStore(): BindingStore {
    const unused = (): Promise<never> => Promise.reject(new Error('not used by the intake'));
    return {
      listBindings: (aor) => this.lookup(() => this.bindings.filter((b) => b.aor === aor)),
      findByLocalContact: (user) => this.lookup(() => this.bindings.find((b) => b.localContactUser === user)),
      putBinding: unused,
      getBinding: unused,
      removeBinding: unused,
      clearPushToken: unused,
      claimPush: unused,
      addEndedNotice: unused,
      takeEndedNotices: unused,
      scanBindings: unused,
      countBindings: unused,
      close: () => Promise.resolve(),
    };
  }
}

describe('CallIntake: the checks before a call exists', () => {
  const fixtures: CallFixture[] = [];
  afterEach(() => {
    for (const f of fixtures.splice(0)) f.call.abort();
  });

  function setup(opts: { bindings?: Binding[]; capacity?: number } = {}) {
    const held = new HeldStore(opts.bindings ?? [binding(1), binding(2)]);
    const book = new CallBook(opts.capacity ?? 10);
    const created: CallIdentity[] = [];
    const storeErrors: Error[] = [];
    const intake = new CallIntake({
      app: {} as SipApp, // the intake itself sends nothing through the app
      store: new GuardedStore(held.asStore()),
      book,
      trusted: new TrustedSources(['10.0.0.0/24']),
      contactUserPrefix: 'pw-',
      retryAfterSeconds: 5,
      storeRetryAfterSeconds: 7,
      onStoreUnavailable: (err) => storeErrors.push(err),
      log: silentLogger(),
      createCall: (identity) => {
        created.push(identity);
        const f = new CallFixture({}, identity, (c) => book.remove(c));
        fixtures.push(f);
        return f.call;
      },
    });
    const offer = async (req: FakeInvite, release = true, pass?: () => void): Promise<FakeResponse> => {
      const res = new FakeResponse();
      intake.handle(req, res, pass);
      // the callee look-up may take several store round trips (Request-URI, then To)
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setImmediate(r));
        if (release) held.release();
      }
      return res;
    };
    return { held, book, created, intake, offer, storeErrors };
  }

  it('a CANCEL while the callee is being looked up ends it there: no call, so no push', async () => {
    const { held, created, offer, book } = setup();
    const req = new FakeInvite('sip:alice@example.com', 'c1');
    await offer(req, false);
    expect(held.pending).toBe(1);
    req.cancel('SIP;cause=487');
    held.release();
    await new Promise((r) => setImmediate(r));
    expect(created).toHaveLength(0);
    expect(book.size).toBe(0);
  });

  it('an untrusted source gets 403 and nothing is looked up', async () => {
    const { held, offer } = setup();
    const res = await offer(new FakeInvite('sip:alice@example.com', 'c1', '192.0.2.9'), false);
    expect(res.final).toBe(403);
    expect(held.pending).toBe(0);
  });

  it('the same Call-ID to the same Request-URI again is a merged request (482); to another device contact it is another call', async () => {
    const { offer, created } = setup();
    await offer(new FakeInvite('sip:pw-1@pushwake', 'c1'));
    expect((await offer(new FakeInvite('sip:pw-1@pushwake', 'c1'))).final).toBe(482);
    expect((await offer(new FakeInvite('sip:pw-2@pushwake', 'c1'))).final).toBeUndefined();
    expect(created.map((c) => c.aor)).toEqual(['sip:alice@example.com', 'sip:alice@example.com']);
  });

  it('Max-Forwards 0 gets 483; a body that is not SDP 415; a broken offer 488', async () => {
    const { offer, created } = setup();
    expect((await offer(new FakeInvite('sip:alice@example.com', 'm', '10.0.0.1', { 'max-forwards': '0' }), false)).final).toBe(483);
    expect((await offer(new FakeInvite('sip:alice@example.com', 't', '10.0.0.1', { 'content-type': 'text/plain' }, 'v=0\r\n'), false)).final).toBe(415);
    expect((await offer(new FakeInvite('sip:alice@example.com', 'g', '10.0.0.1', {}, 'v=0\r\ngarbage\r\n'), false)).final).toBe(488);
    expect(created).toHaveLength(0);
  });

  it('an unknown callee gets 404; a full book 503 with Retry-After', async () => {
    const { offer } = setup({ capacity: 1 });
    expect((await offer(new FakeInvite('sip:nobody@example.com', 'u'))).final).toBe(404);
    await offer(new FakeInvite('sip:alice@example.com', 'first'));
    const res = await offer(new FakeInvite('sip:alice@example.com', 'second'), false);
    expect(res.sent.at(-1)).toMatchObject({ status: 503, headers: { 'Retry-After': '5' } });
  });

  it('a CANCEL during a look-up that then fails gets no second final response', async () => {
    const { held, offer } = setup();
    held.failWith = new Error('connect ECONNREFUSED');
    const req = new FakeInvite('sip:alice@example.com', 'cf');
    const res = await offer(req, false);
    req.cancel();
    held.release();
    await new Promise((r) => setImmediate(r));
    expect(res.sent.filter((s) => s.status >= 200)).toEqual([]);
  });

  it('with 1000 callee look-ups still in the store, the next INVITE gets 503 at once instead of piling up', async () => {
    const { held, offer, created } = setup({ capacity: 5000 });
    for (let i = 0; i < 1000; i++) await offer(new FakeInvite('sip:alice@example.com', `slow-${i}`), false);
    expect(held.pending).toBe(1000);
    const res = await offer(new FakeInvite('sip:alice@example.com', 'one-too-many'), false);
    expect(res.sent.at(-1)).toMatchObject({ status: 503, headers: { 'Retry-After': '5' } });
    expect(held.pending).toBe(1000);
    held.release();
    await new Promise((r) => setImmediate(r));
    expect(created).toHaveLength(1000);
  });

  it('a store that fails gets the caller 503 with the store Retry-After, and the failure is reported', async () => {
    const { held, offer, storeErrors } = setup();
    held.failWith = new Error('connect ECONNREFUSED');
    const res = await offer(new FakeInvite('sip:alice@example.com', 's'));
    expect(res.sent.at(-1)).toMatchObject({ status: 503, headers: { 'Retry-After': '7' } });
    expect(storeErrors).toHaveLength(1);
  });

  describe('mounted with unclaimed: pass (the host takes what is not pushwake\'s)', () => {
    const passes = (): { count: number; pass: () => void } => {
      const p = { count: 0, pass: () => void p.count++ };
      return p;
    };

    it('an untrusted source calling a user is passed on unanswered, with no look-up; calling a device contact it gets 403', async () => {
      const { held, offer } = setup();
      const p = passes();
      const res = await offer(new FakeInvite('sip:alice@example.com', 'u1', '192.0.2.9'), false, p.pass);
      expect(p.count).toBe(1);
      expect(res.sent).toEqual([]);
      expect(held.pending).toBe(0);
      const device = await offer(new FakeInvite('sip:pw-1@pushwake', 'u2', '192.0.2.9'), false, p.pass);
      expect(device.final).toBe(403);
      expect(p.count).toBe(1);
    });

    it('a user without devices is passed on unanswered; a device contact that is gone still gets 404 (pushwake\'s own namespace)', async () => {
      const { offer, created } = setup();
      const p = passes();
      const res = await offer(new FakeInvite('sip:nobody@example.com', 'n1'), true, p.pass);
      expect(p.count).toBe(1);
      expect(res.sent).toEqual([]);
      expect((await offer(new FakeInvite('sip:pw-99@pushwake', 'n2'), true, p.pass)).final).toBe(404);
      expect(p.count).toBe(1);
      expect(created).toHaveLength(0);
    });

    it('a user with devices is taken: the checks that need no store run after the look-up (415 only for pushwake\'s calls)', async () => {
      const { offer, created } = setup();
      const p = passes();
      expect((await offer(new FakeInvite('sip:alice@example.com', 'y1'), true, p.pass)).final).toBeUndefined();
      expect(created.map((c) => c.aor)).toEqual(['sip:alice@example.com']);
      const notSdp = await offer(new FakeInvite('sip:nobody@example.com', 'y2', '10.0.0.1', { 'content-type': 'text/plain' }, 'hi'), true, p.pass);
      expect(notSdp.sent).toEqual([]);
      expect(p.count).toBe(1);
      expect((await offer(new FakeInvite('sip:alice@example.com', 'y3', '10.0.0.1', { 'content-type': 'text/plain' }, 'hi'), true, p.pass)).final).toBe(415);
      // the same call again on a new transaction is still a merged request
      expect((await offer(new FakeInvite('sip:alice@example.com', 'y1'), true, p.pass)).final).toBe(482);
    });

    it('a CANCEL during the look-up: neither passed on nor answered (the engine answered 487)', async () => {
      const { held, offer, created } = setup();
      const p = passes();
      const req = new FakeInvite('sip:nobody@example.com', 'c1');
      const res = await offer(req, false, p.pass);
      expect(held.pending).toBe(1);
      req.cancel();
      for (let i = 0; i < 3; i++) {
        held.release();
        await new Promise((r) => setImmediate(r));
      }
      expect(p.count).toBe(0);
      expect(res.sent).toEqual([]);
      expect(created).toHaveLength(0);
      expect(req.listenerCount('cancel')).toBe(0);
    });

    it('a store that fails the look-up gives 503 with Retry-After, not a pass', async () => {
      const { held, offer, storeErrors } = setup();
      held.failWith = new Error('connect ECONNREFUSED');
      const p = passes();
      const res = await offer(new FakeInvite('sip:alice@example.com', 'f1'), true, p.pass);
      expect(res.sent.at(-1)).toMatchObject({ status: 503, headers: { 'Retry-After': '7' } });
      expect(p.count).toBe(0);
      expect(storeErrors).toHaveLength(1);
    });

    it('past 1000 look-ups in flight the next INVITE gets 503 at once', async () => {
      const { held, offer } = setup({ capacity: 5000 });
      const p = passes();
      for (let i = 0; i < 1000; i++) await offer(new FakeInvite('sip:alice@example.com', `slow-${i}`), false, p.pass);
      expect(held.pending).toBe(1000);
      const res = await offer(new FakeInvite('sip:bob@example.com', 'one-too-many'), false, p.pass);
      expect(res.sent.at(-1)).toMatchObject({ status: 503, headers: { 'Retry-After': '5' } });
      expect(held.pending).toBe(1000);
      expect(p.count).toBe(0);
      held.release();
    });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  startHarness, type Harness, type TestRequestOptions, type TestSrf, type TestSrfRequest, type TestSrfResponse,
} from './support/harness.js';

function send(srf: TestSrf, uri: string, opts: TestRequestOptions): Promise<{ req: TestSrfRequest; final: Promise<TestSrfResponse> }> {
  return srf.request(uri, opts).then((req) => ({
    req,
    final: new Promise((resolve) => req.on('response', (res) => { if (res.status >= 200) resolve(res); })),
  }));
}

const CHALLENGE = 'Digest realm="example.com", nonce="abc123", algorithm=MD5, qop="auth"';

describe('srf.request outside a dialog', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  for (const method of ['MESSAGE', 'OPTIONS'] as const) {
    it(`sends ${method} and reports the response`, async () => {
      h = await startHarness();
      const ua = await h.ua('udp');
      const { final } = await send(h.srf, `sip:bob@${ua.local.address}:${ua.local.port}`, {
        method, headers: { 'X-Trace': 't1', Subject: 'hi', 'Content-Type': 'text/plain' }, body: method === 'MESSAGE' ? 'hello' : undefined,
      });
      const req = await ua.request(method);
      expect(req.headers.get('x-trace')).toBe('t1');
      expect(req.fromTag).toBeTruthy();
      expect(req.headers.get('to')).toContain(`sip:bob@${ua.local.address}`);
      ua.respond(req, 202, { toTag: 'm1' });
      expect((await final).status).toBe(202);
    });
  }

  it('keeps the app\'s Call-ID, CSeq, From and To; a 401 then a retry with a higher CSeq', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    const uri = `sip:registrar@${ua.local.address}:${ua.local.port}`;
    const headers = {
      'Call-ID': 'reg-call-1@pushwake', CSeq: '7 REGISTER', From: '<sip:dev@example.com>', To: '<sip:dev@example.com>',
      Contact: '<sip:dev@127.0.0.1:5099>', Expires: '600',
    };
    const first = await send(h.srf, uri, { method: 'REGISTER', headers });
    const r1 = await ua.request('REGISTER');
    expect(r1.callId).toBe('reg-call-1@pushwake');
    expect(r1.cseq.seq).toBe(7);
    expect(r1.headers.get('from')).toMatch(/^<sip:dev@example.com>;tag=/);
    expect(r1.headers.get('to')).toBe('<sip:dev@example.com>');
    expect(r1.headers.get('contact')).toBe('<sip:dev@127.0.0.1:5099>');
    ua.respond(r1, 401, { toTag: 'x', headers: { 'WWW-Authenticate': CHALLENGE } });
    const challenge = await first.final;
    expect(challenge.status).toBe(401);
    expect(challenge.get('WWW-Authenticate')).toContain('nonce="abc123"');
    const second = await send(h.srf, uri, { method: 'REGISTER', headers: { ...headers, CSeq: '8 REGISTER', Authorization: 'Digest x' } });
    const r2 = await ua.request('REGISTER');
    expect(r2.callId).toBe('reg-call-1@pushwake');
    expect(r2.cseq.seq).toBe(8);
    expect(r2.headers.get('authorization')).toBe('Digest x');
    ua.respond(r2, 200, { toTag: 'y', headers: { Contact: '<sip:dev@127.0.0.1:5099>;expires=600' } });
    expect((await second.final).status).toBe(200);
  });

  it('answers a digest challenge itself when the app gives credentials (srf auth option)', async () => {
    h = await startHarness();
    const ua = await h.ua('tcp');
    const { final } = await send(h.srf, `sip:registrar@${ua.local.address}:${ua.local.port};transport=tcp`, {
      method: 'REGISTER', headers: { Contact: '<sip:dev@127.0.0.1:5099>', From: '<sip:dev@example.com>', To: '<sip:dev@example.com>' },
      auth: { username: 'dev', password: 'secret' },
    });
    const r1 = await ua.request('REGISTER');
    ua.respond(r1, 401, { toTag: 'x', headers: { 'WWW-Authenticate': CHALLENGE } });
    const r2 = await ua.request('REGISTER');
    expect(r2.callId).toBe(r1.callId);
    expect(r2.cseq.seq).toBe(r1.cseq.seq + 1);
    expect(r2.headers.get('authorization')).toContain('username="dev"');
    ua.respond(r2, 200, { toTag: 'y' });
    expect((await final).status).toBe(200);
  });

  it('is refused when the request-uri is the engine itself', async () => {
    h = await startHarness();
    await expect(h.srf.request(`sip:me@${h.udp.address}:${h.udp.port}`, { method: 'OPTIONS' })).rejects.toThrow(/myself/);
  });
});

describe('srf.request with a body and no Content-Type', () => {
  it('is refused like drachtio-server does (missing content-type)', async () => {
    const h = await startHarness();
    try {
      const ua = await h.ua('udp');
      await expect(h.srf.request(`sip:bob@${ua.local.address}:${ua.local.port}`, { method: 'MESSAGE', body: 'hi' }))
        .rejects.toThrow(/missing content-type/);
    } finally {
      await h.close();
    }
  });
});

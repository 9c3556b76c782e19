/**
 * SIP over TLS in the embedded engine (RFC 3261 26): the listener, flow reuse for registered
 * contacts, certificate reload without dropping connections, outbound TLS with certificate
 * checks, and hostile handshakes. Certificates come from a CA made by the test.
 */
import net from 'node:net';
import tls from 'node:tls';
import { copyFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildResponse, parseMessage, SipStreamFramer } from '../../lib/engine/messages/index.js';
import type { EngineLogLevel } from '../../lib/engine/index.js';
import { createTestPki, type IssuedCertificate, type TestPki } from '../../lib/testkit/test-pki.js';
import { settle, startHarness, type Harness } from './support/harness.js';
import { TestUa } from './support/test-ua.js';

let pki: TestPki;
let good: IssuedCertificate;
let renewed: IssuedCertificate;
let expired: IssuedCertificate;
let wrongName: IssuedCertificate;

beforeAll(async () => {
  pki = await createTestPki();
  // one at a time: `openssl ca` keeps its serial and index in files
  good = await pki.issue('good');
  renewed = await pki.issue('renewed');
  expired = await pki.issue('expired', { expired: true });
  wrongName = await pki.issue('wrong', { names: ['other.example.net'] });
});
afterAll(async () => { await pki.remove(); });

interface LogLine { level: EngineLogLevel; msg: string; fields?: Record<string, unknown> }

describe('SIP over TLS', () => {
  let h: Harness | undefined;
  let logs: LogLine[] = [];
  afterEach(async () => { await h?.close(); h = undefined; logs = []; });

  async function start(opts: { limits?: Record<string, number>; certFile?: string; keyFile?: string; watchIntervalMs?: number } = {}): Promise<Harness> {
    // the engine reads the files it is given; tests that rotate them get their own copies
    const certFile = opts.certFile ?? good.certFile;
    const keyFile = opts.keyFile ?? good.keyFile;
    const harness = await startHarness({
      sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp', 'tls'], tlsPort: 0 }],
      tls: { certFile, keyFile, caFile: pki.caCertFile, watch: opts.watchIntervalMs !== undefined, watchIntervalMs: opts.watchIntervalMs ?? 5000 },
      limits: opts.limits ?? {},
      log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }),
    });
    harness.srf.options((_req, res) => res.send(200));
    await settle();
    return harness;
  }

  async function tlsUa(harness: Harness, localAddress = '127.0.0.1'): Promise<TestUa> {
    const ua = await TestUa.tls(harness.tls!, pki.caCertPem, localAddress);
    harness.uas.push(ua);
    return ua;
  }

  async function optionsOk(ua: TestUa): Promise<void> {
    const req = ua.makeRequest('OPTIONS', `sip:${ua.target.address}:${ua.target.port};transport=tls`);
    ua.send(req);
    await ua.response(req.callId, 200);
  }

  it('listens on its own port, presents the certificate, and answers over the connection', async () => {
    h = await start();
    expect(h.engine.sipAddresses.map((a) => a.transport)).toEqual(['udp', 'tcp', 'tls']);
    expect(h.tls!.port).not.toBe(h.udp.port);
    const ua = await tlsUa(h);
    expect(ua.peerCertificate?.serialNumber).toBeTruthy();
    const req = ua.makeRequest('OPTIONS', `sip:${h.tls!.address}:${h.tls!.port};transport=tls`);
    ua.send(req);
    const res = await ua.response(req.callId, 200);
    expect(res.headers.get('via')).toMatch(/^SIP\/2\.0\/TLS /);
  });

  it('reuses a registered TLS flow for a request to that contact, with a TLS Via and Contact', async () => {
    h = await start();
    h.srf.register((req, res) => res.send(200, { headers: { Contact: req.get('Contact')!, Expires: '300' } }));
    await settle();
    const ua = await tlsUa(h);
    const reg = ua.makeRequest('REGISTER', `sip:${h.tls!.address}:${h.tls!.port};transport=tls`, { headers: { Expires: '300' } });
    ua.send(reg);
    await ua.response(reg.callId, 200);
    // the phone has no listener of its own: the INVITE must come over the registered connection
    void h.srf.createUAC(ua.contact().slice(1, -1), { localSdp: 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n' }).catch(() => undefined);
    const invite = await ua.request('INVITE');
    expect(invite.headers.get('via')).toMatch(/^SIP\/2\.0\/TLS /);
    expect(invite.headers.get('contact')).toContain('transport=tls');
    ua.respond(invite, 486, { toTag: 't1' });
    expect(h.engine.connectionCount).toBe(1);
  });

  it('reloads the certificate on request without dropping live connections; a bad file keeps the old one', async () => {
    const dir = pki.dir;
    const certFile = `${dir}/live-cert.pem`;
    const keyFile = `${dir}/live-key.pem`;
    copyFileSync(good.certFile, certFile);
    copyFileSync(good.keyFile, keyFile);
    h = await start({ certFile, keyFile });
    const before = await tlsUa(h);
    copyFileSync(renewed.certFile, certFile);
    copyFileSync(renewed.keyFile, keyFile);
    expect(h.engine.reloadTls()).toBe(true);
    const after = await tlsUa(h);
    expect(after.peerCertificate?.serialNumber).not.toBe(before.peerCertificate?.serialNumber);
    await optionsOk(before);
    await optionsOk(after);
    writeFileSync(keyFile, 'not a key');
    expect(h.engine.reloadTls()).toBe(false);
    expect(logs.some((l) => l.level === 'error' && l.msg.includes('reload failed'))).toBe(true);
    const third = await tlsUa(h);
    expect(third.peerCertificate?.serialNumber).toBe(after.peerCertificate?.serialNumber);
    await optionsOk(before);
  });

  it('picks up renewed files by itself (a Let\'s Encrypt renewal needs no restart)', async () => {
    const certFile = `${pki.dir}/watched-cert.pem`;
    const keyFile = `${pki.dir}/watched-key.pem`;
    copyFileSync(good.certFile, certFile);
    copyFileSync(good.keyFile, keyFile);
    h = await start({ certFile, keyFile, watchIntervalMs: 100 });
    const before = await tlsUa(h);
    await settle(50);
    copyFileSync(renewed.keyFile, keyFile);
    copyFileSync(renewed.certFile, certFile);
    const deadline = Date.now() + 5000;
    let serial = before.peerCertificate?.serialNumber;
    while (serial === before.peerCertificate?.serialNumber && Date.now() < deadline) {
      await settle(150);
      const probe = await tlsUa(h);
      serial = probe.peerCertificate?.serialNumber;
    }
    expect(serial).not.toBe(before.peerCertificate?.serialNumber);
    await optionsOk(before);
  });

  it('closes a connection that sends plaintext garbage instead of a handshake, logs it, and serves others', async () => {
    h = await start();
    const sock = net.connect({ host: h.tls!.address, port: h.tls!.port });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => undefined);
    sock.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:1;branch=z9hG4bKx\r\n\r\n');
    await closed;
    expect(logs.some((l) => l.msg === 'tls handshake failed')).toBe(true);
    await optionsOk(await tlsUa(h, '127.0.0.3'));
  });

  it('closes a client that stalls its handshake after connectTimeoutMs, serving others meanwhile', async () => {
    h = await start({ limits: { connectTimeoutMs: 300 } });
    const sock = net.connect({ host: h.tls!.address, port: h.tls!.port });
    sock.on('error', () => undefined);
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now())));
    const opened = Date.now();
    await optionsOk(await tlsUa(h, '127.0.0.3'));
    const at = await closed;
    expect(at - opened).toBeGreaterThanOrEqual(250);
    expect(at - opened).toBeLessThan(3000);
    await optionsOk(await tlsUa(h, '127.0.0.4'));
  });

  it('refuses a TLS listener without a certificate, with a coded error', async () => {
    await expect(startHarness({ sip: [{ address: '127.0.0.1', port: 0, transports: ['tls'], tlsPort: 0 }] })).rejects.toMatchObject({ code: 'ENGINE_NO_TLS' });
  });

  it('refuses unreadable certificate files with a coded error', async () => {
    await expect(startHarness({
      sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tls'], tlsPort: 0 }],
      tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' },
    })).rejects.toMatchObject({ code: 'ENGINE_TLS_CONFIG' });
  });
});

/** A TLS peer playing an upstream registrar: answers 200 to whatever request it is sent. */
async function tlsRegistrar(cert: IssuedCertificate): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    const framer = new SipStreamFramer(1 << 16);
    sock.on('error', () => undefined);
    sock.on('data', (chunk) => {
      for (const ev of framer.push(chunk)) {
        if (ev.type !== 'message') continue;
        const parsed = parseMessage(ev.bytes, { datagram: false });
        if (!parsed.ok || parsed.message.kind !== 'request') continue;
        requests.push(parsed.message.method);
        sock.write(buildResponse(parsed.message, 200, undefined, 'reg1').serialize());
      }
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe('outbound SIP over TLS (a sips: registrar)', () => {
  let h: Harness | undefined;
  let logs: LogLine[] = [];
  afterEach(async () => { await h?.close(); h = undefined; logs = []; });

  async function start(): Promise<Harness> {
    // no TLS listener: the engine only connects out over TLS
    const harness = await startHarness({
      sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }],
      tls: { certFile: good.certFile, keyFile: good.keyFile, caFile: pki.caCertFile, watch: false },
      log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }),
    });
    await settle();
    return harness;
  }

  function register(harness: Harness, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      harness.srf.request(`sip:127.0.0.1:${port};transport=tls`, {
        method: 'REGISTER',
        headers: { From: '<sip:pw@localhost>', To: '<sip:pw@localhost>', Contact: '<sip:pw@localhost>', Expires: '60' },
      }, (err, req) => {
        if (err) return reject(err);
        req.on('response', (res) => { if (res.status >= 200) resolve(res.status); });
      });
    });
  }

  it('registers over TLS with a registrar whose certificate chains to the configured CA', async () => {
    h = await start();
    const reg = await tlsRegistrar(good);
    try {
      expect(await register(h, reg.port)).toBe(200);
      expect(reg.requests).toEqual(['REGISTER']);
    } finally { await reg.close(); }
  });

  for (const [what, cert, code] of [['an expired', () => expired, 'CERT_HAS_EXPIRED'], ['a wrong-name', () => wrongName, 'ERR_TLS_CERT_ALTNAME_INVALID']] as const) {
    it(`refuses ${what} registrar certificate: the request fails with 503 and the log says why`, async () => {
      h = await start();
      const reg = await tlsRegistrar(cert());
      try {
        expect(await register(h, reg.port)).toBe(503);
        expect(reg.requests).toEqual([]);
        const line = logs.find((l) => l.msg === 'outbound tls connection failed');
        expect(String(line?.fields?.['err'])).toContain(code);
        // the engine is still there for everyone else
        const ua = await TestUa.udp(h.udp, '127.0.0.3');
        h.uas.push(ua);
        h.srf.options((_req, res) => res.send(200));
        await settle();
        const req = ua.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
        ua.send(req);
        await ua.response(req.callId, 200);
      } finally { await reg.close(); }
    });
  }
});

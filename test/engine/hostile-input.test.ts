import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestPki, type IssuedCertificate, type TestPki } from '../../lib/testkit/test-pki.js';
import { settle, startHarness, type Harness } from './support/harness.js';
import { TestUa } from './support/test-ua.js';
import type { EmbeddedEngineOptions } from '../../lib/engine/index.js';

function rawRequest(ua: TestUa, opts: { startLine?: string; extra?: string; body?: string; contentLength?: string | null } = {}): string {
  const callId = `hostile-${Math.random().toString(36).slice(2)}`;
  const lines = [
    opts.startLine ?? `OPTIONS sip:${ua.target.address}:${ua.target.port} SIP/2.0`,
    `Via: SIP/2.0/${ua.transport.toUpperCase()} ${ua.local.address}:${ua.local.port};branch=z9hG4bK${callId};rport`,
    'From: <sip:x@example.com>;tag=1',
    `To: <sip:${ua.target.address}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
  ];
  if (opts.extra) lines.push(opts.extra);
  const body = opts.body ?? '';
  if (opts.contentLength !== null) lines.push(`Content-Length: ${opts.contentLength ?? Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

function callIdOf(raw: string): string {
  return /Call-ID: (\S+)/.exec(raw)![1]!;
}

/** After every attack a well-behaved peer (from another loopback address) is still served. */
async function stillServes(harness: Harness, transport: 'udp' | 'tcp' = 'udp', from = '127.0.0.3'): Promise<void> {
  const ua = transport === 'udp' ? await TestUa.udp(harness.udp, from) : await TestUa.tcp(harness.tcp, from);
  harness.uas.push(ua);
  const req = ua.makeRequest('OPTIONS', `sip:${harness.udp.address}:${harness.udp.port}`);
  ua.send(req);
  await ua.response(req.callId, 200);
}

describe('hostile input', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  async function start(limits: EmbeddedEngineOptions['limits'] = {}): Promise<Harness> {
    const harness = await startHarness({ limits });
    harness.srf.options((_req, res) => res.send(200));
    await settle();
    return harness;
  }

  it('answers 400 to a malformed start line over UDP when the Via is readable', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua, { startLine: 'OPTIONS  sip:broken SIP/3.0 extra' });
    ua.sendRaw(raw);
    const res = await ua.response(callIdOf(raw), 400);
    expect(res.headers.get('warning')).toContain('SIP_BAD_START_LINE');
    await stillServes(h);
  });

  it('drops a malformed start line over UDP when no Via is readable', async () => {
    h = await start();
    const ua = await h.ua('udp');
    ua.sendRaw('HELLO WORLD\r\nFoo: bar\r\n\r\n');
    expect(await ua.nothing(() => true, 300)).toBe(true);
    await stillServes(h);
  });

  it('answers 400 to a malformed header line', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua, { extra: 'This line has no colon' });
    ua.sendRaw(raw);
    const res = await ua.response(callIdOf(raw), 400);
    expect(res.headers.get('warning')).toContain('SIP_BAD_HEADER');
    await stillServes(h);
  });

  it('answers 400 to a bad CSeq', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE');
    ua.sendRaw(raw);
    const res = await ua.response(callIdOf(raw), 400);
    expect(res.headers.get('warning')).toContain('SIP_BAD_CSEQ');
    await stillServes(h);
  });

  for (const [name, contentLength] of [['missing', null], ['invalid', 'abc']] as const) {
    it(`answers 400 and closes a TCP connection with a ${name} Content-Length`, async () => {
      h = await start();
      const ua = await h.ua('tcp');
      const raw = rawRequest(ua, { contentLength });
      ua.sendRaw(raw);
      await ua.response(callIdOf(raw), 400);
      await settle(100);
      expect(ua.isClosed).toBe(true);
      await stillServes(h, 'tcp');
    });
  }

  it('truncates a UDP body longer than Content-Length (RFC 3261 18.3) and serves the request', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua, { body: 'hello world', contentLength: '5', extra: 'Content-Type: text/plain' });
    ua.sendRaw(raw);
    await ua.response(callIdOf(raw), 200);
  });

  it('answers 400 to a UDP body shorter than Content-Length', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua, { body: 'hi', contentLength: '50', extra: 'Content-Type: text/plain' });
    ua.sendRaw(raw);
    const res = await ua.response(callIdOf(raw), 400);
    expect(res.headers.get('warning')).toContain('SIP_BODY_TRUNCATED');
    await stillServes(h);
  });

  it('closes a TCP connection whose body overruns Content-Length into garbage', async () => {
    h = await start();
    const ua = await h.ua('tcp');
    // the overrun becomes the start of a next message that cannot be framed
    const raw = rawRequest(ua, { body: 'hello world\r\n\r\n', contentLength: '5', extra: 'Content-Type: text/plain' });
    ua.sendRaw(raw);
    await settle(100);
    expect(ua.isClosed).toBe(true);
    await stillServes(h, 'tcp');
  });

  it('answers 413 to an oversize UDP message', async () => {
    h = await start({ maxMessageBytes: 2000 });
    const ua = await h.ua('udp');
    const raw = rawRequest(ua, { extra: `X-Padding: ${'a'.repeat(3000)}` });
    ua.sendRaw(raw);
    await ua.response(callIdOf(raw), 413);
    await stillServes(h);
  });

  it('answers 413 and closes a TCP connection announcing an oversize message', async () => {
    h = await start({ maxMessageBytes: 2000 });
    const ua = await h.ua('tcp');
    const raw = rawRequest(ua, { contentLength: '5000' });
    ua.sendRaw(raw);
    await ua.response(callIdOf(raw), 413);
    await settle(100);
    expect(ua.isClosed).toBe(true);
    await stillServes(h, 'tcp');
  });

  it('closes a TCP connection that never finishes its headers, serving others meanwhile', async () => {
    h = await start({ tcpHeaderTimeoutMs: 300 });
    const slow = await h.ua('tcp');
    slow.sendRaw('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKslow\r\n');
    await stillServes(h, 'tcp');
    expect(slow.isClosed).toBe(false);
    await settle(450);
    expect(slow.isClosed).toBe(true);
    await stillServes(h, 'tcp');
  });

  it('closes an idle TCP connection after tcpIdleMs', async () => {
    h = await start({ tcpIdleMs: 300 });
    const idle = await h.ua('tcp');
    await settle(500);
    expect(idle.isClosed).toBe(true);
  });

  it('answers one 503 with Retry-After to a flooding source, then drops, and serves other sources', async () => {
    h = await start({ perSourceRatePerSec: 20 });
    const ua = await h.ua('udp');
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const req = ua.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
      ids.push(req.callId);
      ua.send(req);
    }
    const rejected = await ua.next((m) => m.kind === 'response' && m.status === 503);
    expect(rejected.kind === 'response' && rejected.headers.get('retry-after')).toBeTruthy();
    await settle(300);
    const all = [...ua.received];
    expect(all.filter((m) => m.kind === 'response' && m.status === 503)).toHaveLength(0);
    expect(all.filter((m) => m.kind === 'response' && m.status === 200).length).toBeLessThanOrEqual(20);
    await stillServes(h);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`survives garbage binary bytes over ${transport}`, async () => {
      h = await start();
      const ua = await h.ua(transport);
      const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37 + 11) % 256));
      ua.sendRaw(garbage);
      if (transport === 'tcp') ua.sendRaw('\r\n\r\n');
      await settle(200);
      await stillServes(h, transport);
    });
  }

  it('answers a CRLF keepalive ping on TCP with a pong and keeps the connection', async () => {
    h = await start();
    const ua = await h.ua('tcp');
    ua.sendRaw('\r\n\r\n');
    await settle(100);
    expect(ua.isClosed).toBe(false);
    const req = ua.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
    ua.send(req);
    await ua.response(req.callId, 200);
  });
});

describe('hostile input found at the edge (issue 11)', () => {
  let h: Harness | undefined;
  let pki: TestPki | undefined;
  let cert: IssuedCertificate | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });
  afterAll(async () => { await pki?.remove(); });

  /** Engine options for a TLS listener, with a certificate from a CA made once for this suite. */
  async function tlsListener(): Promise<Partial<EmbeddedEngineOptions>> {
    pki ??= await createTestPki();
    cert ??= await pki.issue('edge');
    return {
      sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp', 'tls'], tlsPort: 0 }],
      tls: { certFile: cert.certFile, keyFile: cert.keyFile, watch: false },
    };
  }

  async function start(limits: EmbeddedEngineOptions['limits'] = {}, extra: Partial<EmbeddedEngineOptions> = {}): Promise<Harness> {
    const harness = await startHarness({ limits, ...extra });
    harness.srf.options((_req, res) => res.send(200));
    await settle();
    return harness;
  }

  /**
   * The 400 copies what it can of the request (no From when there was none, the bad Via), so a
   * strict parser may refuse it: then its bytes are read instead.
   */
  async function bad400(ua: TestUa, callId: string, code: string, status = 400): Promise<void> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const parsed = ua.received.find((m) => m.kind === 'response' && m.status === status && m.callId === callId);
      if (parsed) {
        expect(parsed.headers.get('warning')).toContain(code);
        return;
      }
      const raw = ua.unparsed.find((t) => t.startsWith(`SIP/2.0 ${status} `));
      if (raw) {
        expect(raw).toContain(code);
        return;
      }
      if (Date.now() > deadline) throw new Error(`no ${status} (${code}) arrived`);
      await settle(20);
    }
  }

  it('never follows a received= the client wrote: the 200 goes back to the real sender', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua).replace(';rport', ';received=127.0.0.5');
    ua.sendRaw(raw);
    await ua.response(callIdOf(raw), 200);
    await stillServes(h);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`refuses two conflicting Content-Length headers with 400 (${transport}); on TCP the smuggled request is never served`, async () => {
      h = await start();
      const ua = await h.ua(transport);
      const inner = rawRequest(ua);
      const raw = rawRequest(ua, { extra: `Content-Length: ${Buffer.byteLength(inner)}`, contentLength: '0', body: inner });
      ua.sendRaw(raw);
      const res = await ua.response(callIdOf(raw), 400);
      expect(res.headers.get('warning')).toContain('SIP_BAD_CONTENT_LENGTH');
      expect(await ua.nothing((m) => m.kind === 'response' && m.callId === callIdOf(inner), 300)).toBe(true);
      if (transport === 'tcp') expect(ua.isClosed).toBe(true);
      await stillServes(h, transport);
    });
  }

  const malformed: Array<[string, (ua: TestUa) => string, string]> = [
    ['a missing From', (ua) => rawRequest(ua).replace(/From: .*\r\n/, ''), 'SIP_MISSING_HEADER'],
    ['a CSeq method that differs from the request', (ua) => rawRequest(ua).replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'), 'SIP_BAD_CSEQ'],
    ['a bare sip: Request-URI', (ua) => rawRequest(ua, { startLine: 'OPTIONS sip: SIP/2.0' }), 'SIP_BAD_URI'],
    ['SIP/3.0', (ua) => rawRequest(ua, { startLine: `OPTIONS sip:${ua.target.address} SIP/3.0` }), 'SIP_BAD_START_LINE'],
    ['a NUL in a header', (ua) => rawRequest(ua, { extra: 'Subject: a\u0000b' }), 'SIP_BINARY_GARBAGE'],
    ['an invalid IPv6 literal', (ua) => rawRequest(ua, { startLine: 'OPTIONS sip:alice@[zz::zz] SIP/2.0' }), 'SIP_BAD_URI'],
    ['an unknown Via transport', (ua) => rawRequest(ua).replace(/SIP\/2\.0\/(UDP|TCP|TLS) /, 'SIP/2.0/FOO '), 'SIP_BAD_VIA'],
    ['a bad host in the Request-URI', (ua) => rawRequest(ua, { startLine: 'OPTIONS sip:alice@exa mple SIP/2.0' }), 'SIP_BAD_'],
    ['a missing To', (ua) => rawRequest(ua).replace(/To: .*\r\n/, ''), 'SIP_MISSING_HEADER'],
    ['a missing Call-ID', (ua) => rawRequest(ua).replace(/Call-ID: (\S+)\r\n/, 'X-Was-Call-ID: $1\r\n'), 'SIP_MISSING_HEADER'],
    ['a missing CSeq', (ua) => rawRequest(ua).replace(/CSeq: .*\r\n/, ''), 'SIP_MISSING_HEADER'],
    ['a CSeq number over 2^32', (ua) => rawRequest(ua).replace('CSeq: 1 OPTIONS', 'CSeq: 99999999999 OPTIONS'), 'SIP_BAD_CSEQ'],
    ['a CSeq without a method', (ua) => rawRequest(ua).replace('CSeq: 1 OPTIONS', 'CSeq: 1'), 'SIP_BAD_CSEQ'],
    ['a non-numeric Max-Forwards', (ua) => rawRequest(ua).replace('Max-Forwards: 70', 'Max-Forwards: many'), 'SIP_BAD_HEADER'],
    ['a Via port over 65535', (ua) => rawRequest(ua).replace(/(SIP\/2\.0\/(?:UDP|TCP|TLS) [\d.]+):\d+/, '$1:99999'), 'SIP_BAD_VIA'],
    ['a Via IPv6 literal that is not one', (ua) => rawRequest(ua).replace(/(SIP\/2\.0\/(?:UDP|TCP|TLS)) [\d.]+:\d+/, '$1 [zz::1]:5060'), 'SIP_BAD_VIA'],
    ['an unterminated < in From', (ua) => rawRequest(ua).replace('From: <sip:x@example.com>;tag=1', 'From: <sip:x@example.com;tag=1'), 'SIP_BAD_HEADER'],
    ['a header name with a space', (ua) => rawRequest(ua, { extra: 'Bad Name: x' }), 'SIP_BAD_HEADER'],
    ['a request URI with a port over 65535', (ua) => rawRequest(ua, { startLine: 'OPTIONS sip:alice@127.0.0.1:70000 SIP/2.0' }), 'SIP_BAD_URI'],
    ['a request URI with an unclosed IPv6 bracket', (ua) => rawRequest(ua, { startLine: 'OPTIONS sip:alice@[::1 SIP/2.0' }), 'SIP_BAD_URI'],
    ['a control character in the start line', (ua) => rawRequest(ua, { startLine: `OPTIONS sip:a\u0007b@${ua.target.address} SIP/2.0` }), 'SIP_BINARY_GARBAGE'],
    ['two CSeq headers that differ', (ua) => rawRequest(ua, { extra: 'CSeq: 2 OPTIONS' }), 'SIP_DUPLICATE_HEADER'],
    ['two Call-IDs that differ', (ua) => rawRequest(ua, { extra: 'Call-ID: another-call' }), 'SIP_DUPLICATE_HEADER'],
    ['two From headers', (ua) => rawRequest(ua, { extra: 'From: <sip:y@example.com>;tag=2' }), 'SIP_DUPLICATE_HEADER'],
    ['two To headers', (ua) => rawRequest(ua, { extra: 'To: <sip:other@example.com>' }), 'SIP_DUPLICATE_HEADER'],
    ['an unterminated quote in the To display name', (ua) => rawRequest(ua).replace(/To: <(.*)>/, 'To: "Bob <$1>'), 'SIP_BAD_HEADER'],
    ['a Call-ID with white space in it', (ua) => rawRequest(ua).replace(/Call-ID: (\S+)/, 'Call-ID: $1 x'), 'SIP_BAD_HEADER'],
    ['an empty From tag', (ua) => rawRequest(ua).replace(';tag=1', ';tag='), 'SIP_BAD_HEADER'],
    ['a Via rport that is not a port', (ua) => rawRequest(ua).replace(';rport', ';rport=abc'), 'SIP_BAD_VIA'],
    ['a bad %-escape in the Request-URI user', (ua) => rawRequest(ua, { startLine: `OPTIONS sip:al%zzice@${ua.target.address} SIP/2.0` }), 'SIP_BAD_URI'],
    ['a Via without SIP/2.0', (ua) => rawRequest(ua).replace(/SIP\/2\.0\/(UDP|TCP|TLS) /, 'SIP/$1 '), 'SIP_BAD_VIA'],
    ['a negative CSeq', (ua) => rawRequest(ua).replace('CSeq: 1 OPTIONS', 'CSeq: -1 OPTIONS'), 'SIP_BAD_CSEQ'],
    ['a header line without a colon', (ua) => rawRequest(ua, { extra: 'NoColonHere' }), 'SIP_BAD_HEADER'],
    ['a start line with two spaces', (ua) => rawRequest(ua, { startLine: `OPTIONS  sip:${ua.target.address} SIP/2.0` }), 'SIP_BAD_START_LINE'],
    ['a CSeq with trailing words', (ua) => rawRequest(ua).replace('CSeq: 1 OPTIONS', 'CSeq: 1 OPTIONS EXTRA'), 'SIP_BAD_CSEQ'],
    ['an unterminated < in Contact', (ua) => rawRequest(ua, { extra: 'Contact: <sip:x@127.0.0.1:5060' }), 'SIP_BAD_HEADER'],
    ['a | in the Call-ID (the drachtio wire delimiter)', (ua) => rawRequest(ua).replace(/Call-ID: (\S+)/, 'Call-ID: $1|x'), 'SIP_BAD_HEADER'],
  ];
  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    for (const [what, make, code] of malformed) {
      it(`answers 400 to ${what} over ${transport}${transport !== 'udp' ? ', then closes' : ''}`, async () => {
        h = await start({}, transport === 'tls' ? await tlsListener() : {});
        const ua = transport === 'tls' ? await TestUa.tls(h.tls!, pki!.caCertPem) : await h.ua(transport);
        if (transport === 'tls') h.uas.push(ua);
        const raw = make(ua);
        ua.sendRaw(raw);
        await bad400(ua, callIdOf(raw), code);
        if (transport !== 'udp') {
          await settle(100);
          expect(ua.isClosed).toBe(true);
        }
        await stillServes(h, transport === 'tls' ? 'tcp' : transport);
      });
    }
  }

  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    it(`answers 416 to a Request-URI scheme it does not serve (http:) over ${transport}, and keeps serving`, async () => {
      h = await start({}, transport === 'tls' ? await tlsListener() : {});
      const ua = transport === 'tls' ? await TestUa.tls(h.tls!, pki!.caCertPem) : await h.ua(transport);
      if (transport === 'tls') h.uas.push(ua);
      const raw = rawRequest(ua, { startLine: 'OPTIONS http://example.com/ SIP/2.0' });
      ua.sendRaw(raw);
      await bad400(ua, callIdOf(raw), 'SIP_UNSUPPORTED_URI_SCHEME', 416);
      // well formed, only for a scheme it does not serve: the connection stays
      if (transport !== 'udp') {
        await settle(100);
        expect(ua.isClosed).toBe(false);
      }
      await stillServes(h, transport === 'tls' ? 'tcp' : transport);
    });
  }

  it('treats methods as case-sensitive: a lower-case options gets 405, not 200', async () => {
    h = await start();
    const ua = await h.ua('udp');
    const raw = rawRequest(ua, { startLine: `options sip:${ua.target.address}:${ua.target.port} SIP/2.0` }).replace('CSeq: 1 OPTIONS', 'CSeq: 1 options');
    ua.sendRaw(raw);
    const res = await ua.response(callIdOf(raw), 405);
    expect(res.headers.get('allow')).toContain('OPTIONS');
    await stillServes(h);
  });

  it('at the connection limit, makes room by closing the idlest connection instead of crashing', async () => {
    h = await start({ maxConnections: 10 });
    const idle: TestUa[] = [];
    for (let i = 0; i < 15; i++) idle.push(await h.ua('tcp'));
    await settle(100);
    expect(h.engine.connectionCount).toBeLessThanOrEqual(10);
    // the oldest went first, the newest are still open
    expect(idle[0]!.isClosed).toBe(true);
    expect(idle[14]!.isClosed).toBe(false);
    await stillServes(h, 'tcp');
    await stillServes(h, 'udp');
  });

  it('at the connection limit with every connection carrying a registration, refuses the newcomer and keeps the phones', async () => {
    h = await start({ maxConnections: 3 });
    h.srf.register((req, res) => res.send(200, { headers: { Contact: req.get('Contact')!, Expires: '300' } }));
    await settle();
    const phones: TestUa[] = [];
    for (let i = 0; i < 3; i++) {
      const ua = await h.ua('tcp');
      const reg = ua.makeRequest('REGISTER', `sip:${h.tcp.address}:${h.tcp.port}`, { headers: { Expires: '300' } });
      ua.send(reg);
      await ua.response(reg.callId, 200);
      phones.push(ua);
    }
    const late = await TestUa.tcp(h.tcp, '127.0.0.3');
    h.uas.push(late);
    await settle(150);
    expect(late.isClosed).toBe(true);
    expect(phones.every((p) => !p.isClosed)).toBe(true);
    await stillServes(h, 'udp');
  });

  it('gives a trusted source (the PBX) its own budget: a flood from a phone address cannot starve it', async () => {
    h = await start({ perSourceRatePerSec: 50, untrustedRatePerSec: 100 }, { isTrusted: (a) => a === '127.0.0.2' });
    const flooder = await h.ua('udp');
    const pbx = await TestUa.udp(h.udp, '127.0.0.2');
    h.uas.push(pbx);
    for (let i = 0; i < 2000; i++) flooder.sendRaw(rawRequest(flooder));
    const rejected = await flooder.next((m) => m.kind === 'response' && m.status === 503);
    expect(rejected.kind === 'response' && rejected.headers.get('retry-after')).toBeTruthy();
    for (let i = 0; i < 20; i++) {
      const req = pbx.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
      pbx.send(req);
      await pbx.response(req.callId, 200);
    }
  });

  it('caps all untrusted sources together: many phone addresses flooding at once still leave the PBX served', async () => {
    h = await start({ perSourceRatePerSec: 1000, untrustedRatePerSec: 30 }, { isTrusted: (a) => a === '127.0.0.2' });
    const floods: TestUa[] = [];
    for (const addr of ['127.0.0.5', '127.0.0.6', '127.0.0.7']) floods.push(await TestUa.udp(h.udp, addr));
    h.uas.push(...floods);
    for (let i = 0; i < 300; i++) for (const f of floods) f.sendRaw(rawRequest(f));
    await settle(200);
    const answered = floods.reduce((n, f) => n + f.received.filter((m) => m.kind === 'response' && m.status === 200).length, 0);
    expect(answered).toBeLessThanOrEqual(31);
    const pbx = await TestUa.udp(h.udp, '127.0.0.2');
    h.uas.push(pbx);
    const req = pbx.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
    pbx.send(req);
    await pbx.response(req.callId, 200);
  });

  it('closes a TCP peer that sends 10 MB without ever ending its headers, and serves others', async () => {
    h = await start();
    const ua = await h.ua('tcp');
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 160 && !ua.isClosed; i++) ua.sendRaw(chunk);
    await settle(200);
    expect(ua.isClosed).toBe(true);
    await stillServes(h, 'tcp');
  });

  it('survives half-open connections (peer gone without FIN) and serves others', async () => {
    h = await start({ tcpIdleMs: 300 });
    const uas: TestUa[] = [];
    for (let i = 0; i < 5; i++) uas.push(await h.ua('tcp'));
    for (const ua of uas) ua.sendRaw('OPTIONS sip:x SIP/2.0\r\n');
    await settle(600);
    expect(h.engine.connectionCount).toBe(0);
    await stillServes(h, 'tcp');
  });
});

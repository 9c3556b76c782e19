import { afterEach, describe, expect, it } from 'vitest';
import { settle, startHarness, type AnySrf, type Harness } from './support/harness.js';
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

describe('hostile input', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  async function start(limits: EmbeddedEngineOptions['limits'] = {}): Promise<Harness> {
    const harness = await startHarness({ limits });
    harness.srf.options((_req: AnySrf, res: AnySrf) => res.send(200));
    await settle();
    return harness;
  }

  /** After every attack a well-behaved peer (from another loopback address) is still served. */
  async function stillServes(harness: Harness, transport: 'udp' | 'tcp' = 'udp'): Promise<void> {
    const ua = transport === 'udp' ? await TestUa.udp(harness.udp, '127.0.0.3') : await TestUa.tcp(harness.tcp, '127.0.0.3');
    harness.uas.push(ua);
    const req = ua.makeRequest('OPTIONS', `sip:${harness.udp.address}:${harness.udp.port}`);
    ua.send(req);
    await ua.response(req.callId, 200);
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

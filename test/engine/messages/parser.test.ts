import { describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr, parseUri, parseVia, splitHeaderList, SipStreamFramer } from '../../../lib/engine/messages/index.js';

const INVITE = [
  'INVITE sip:bob@example.com SIP/2.0',
  'v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK0',
  'f: "Alice, A." <sip:alice@example.com>;tag=a1',
  't: <sip:bob@example.com>',
  'i: call-1',
  'CSeq: 5 INVITE',
  'Subject: folded',
  '  over two lines',
  'm: <sip:alice@10.0.0.1>;expires=60, <sip:alice@10.0.0.9>',
  'c: application/sdp',
  'l: 4',
  '',
  'v=0\r\n',
].join('\r\n');

describe('the SIP parser', () => {
  it('reads compact forms, folded lines and multi-value headers', () => {
    const r = parseMessage(Buffer.from(INVITE), { datagram: true });
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.kind !== 'request') return;
    const m = r.message;
    expect(m.method).toBe('INVITE');
    expect(m.callId).toBe('call-1');
    expect(m.fromTag).toBe('a1');
    expect(m.headers.get('subject')).toBe('folded over two lines');
    expect(m.vias).toHaveLength(2);
    expect(m.topVia.params['branch']).toBe('z9hG4bK1');
    expect(m.headers.getAll('contact')).toHaveLength(2);
    expect(m.body.toString()).toBe('v=0\r');
    expect(m.toString()).toContain('Call-ID: call-1');
    expect(m.toString()).toContain('Content-Length: 4');
  });

  it('parses status lines with empty reasons', () => {
    const raw = 'SIP/2.0 200 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';
    const r = parseMessage(Buffer.from(raw), { datagram: false });
    expect(r.ok && r.message.kind === 'response' && r.message.status).toBe(200);
  });

  it.each([
    ['SIP_BAD_START_LINE', INVITE.replace('INVITE sip:bob@example.com SIP/2.0', 'INVITE sip:bob SIP/1.0')],
    ['SIP_MISSING_HEADER', INVITE.replace('i: call-1\r\n', '')],
    ['SIP_BAD_CSEQ', INVITE.replace('CSeq: 5 INVITE', 'CSeq: 5 BYE')],
    ['SIP_BAD_VIA', INVITE.replace('SIP/2.0/UDP 10.0.0.1:5060', 'SIP/2.0/UDP 10.0.0.1:99999')],
    ['SIP_BAD_CONTENT_LENGTH', INVITE.replace('l: 4', 'l: -1')],
    ['SIP_BODY_TRUNCATED', INVITE.replace('l: 4', 'l: 40')],
    ['SIP_BAD_HEADER', INVITE.replace('Subject: folded', 'Subj ect: folded')],
    ['SIP_BINARY_GARBAGE', INVITE.replace('Subject', 'Sub\u0001ject')],
    ['SIP_EMPTY', ''],
  ])('rejects with %s', (code, raw) => {
    const r = parseMessage(Buffer.from(raw), { datagram: true });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  });

  it('keeps a readable Via on a message with a bad start line, so a 400 can be routed', () => {
    const r = parseMessage(Buffer.from(INVITE.replace('INVITE sip:bob@example.com SIP/2.0', 'garbage')), { datagram: true });
    expect(!r.ok && r.partial?.headers.get('via')).toContain('10.0.0.1');
  });
});

describe('header value parsers', () => {
  it('splits lists outside quotes and brackets', () => {
    expect(splitHeaderList('"a, b" <sip:x>, <sip:y;p=1,2>')).toEqual(['"a, b" <sip:x>', '<sip:y;p=1,2>']);
  });

  it('parses name-addr and addr-spec forms', () => {
    expect(parseNameAddr('"Bob" <sip:bob@h;transport=tcp>;tag=9')).toEqual({
      displayName: 'Bob', uri: 'sip:bob@h;transport=tcp', params: { tag: '9' },
    });
    expect(parseNameAddr('sip:bob@h;tag=9').params['tag']).toBe('9');
  });

  it('parses sip URIs with IPv6 hosts, ports and params', () => {
    const u = parseUri('sips:alice:pw@[::1]:5061;transport=tcp;lr?subject=x');
    expect(u).toMatchObject({ scheme: 'sips', user: 'alice', password: 'pw', host: '[::1]', port: 5061 });
    expect(u.params).toEqual({ transport: 'tcp', lr: '' });
    expect(() => parseUri('bob@example.com')).toThrow(/scheme/);
  });

  it('parses Via sent-by and params', () => {
    expect(parseVia('SIP/2.0/tcp [::1]:5070;branch=z9hG4bKa;rport')).toMatchObject({ transport: 'TCP', host: '[::1]', port: 5070 });
  });
});

describe('the TCP stream framer', () => {
  const msg = 'OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabc';

  it('cuts messages split across chunks and glued together', () => {
    const f = new SipStreamFramer(65535);
    expect(f.push(Buffer.from(msg.slice(0, 10)))).toEqual([]);
    const evs = f.push(Buffer.from(msg.slice(10) + '\r\n' + msg));
    expect(evs.map((e) => e.type)).toEqual(['message', 'message']);
  });

  it('reports keepalive pings', () => {
    expect(new SipStreamFramer(100).push(Buffer.from('\r\n\r\n'))[0]?.type).toBe('ping');
  });

  it('fails on oversize header sections and missing Content-Length', () => {
    const big = new SipStreamFramer(10).push(Buffer.from('x'.repeat(20)));
    expect(big[0]?.type === 'error' && big[0].error.code).toBe('SIP_TOO_LARGE');
    const nocl = new SipStreamFramer(100).push(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n'));
    expect(nocl[0]?.type === 'error' && nocl[0].error.code).toBe('SIP_BAD_CONTENT_LENGTH');
  });
});

describe('name-addr display names (issue 11 siblings)', () => {
  it('finds the URI after a quoted display name that holds a < of its own', () => {
    expect(parseNameAddr('"a<b \\"c\\"" <sip:x@example.com>;tag=9')).toMatchObject({ uri: 'sip:x@example.com', params: { tag: '9' } });
    expect(() => parseNameAddr('"Bob <sip:x@example.com>')).toThrow(/unterminated quoted display name/);
  });

  it('reads parameters with one grammar: a quoted value may hold ; and a flag has no value', () => {
    expect(parseNameAddr('<sip:a@h>;q="a;b";expires=60;lr').params).toEqual({ q: '"a;b"', expires: '60', lr: '' });
    expect(parseVia('SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport').params).toEqual({ branch: 'z9hG4bK1', rport: '' });
  });
});

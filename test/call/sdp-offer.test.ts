import { describe, expect, it } from 'vitest';
import { readOffer } from '../../lib/call/sdp-offer.js';
import { nextHop } from '../../lib/sip/max-forwards.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n';

describe('which INVITE bodies are SDP offers a phone can answer', () => {
  it('accepts an application/sdp offer (with parameters, any case)', () => {
    expect(readOffer('application/sdp', SDP)).toEqual({ kind: 'offer', sdp: SDP });
    expect(readOffer('Application/SDP; charset=utf-8', SDP).kind).toBe('offer');
    expect(readOffer('application/sdp', SDP.replace(/\r\n/g, '\n')).kind).toBe('offer');
  });

  it('accepts the SDP part of a multipart body, and forwards only that part', () => {
    const body = `preamble\r\n--b1\r\nContent-Type: application/sdp\r\n\r\n${SDP}\r\n--b1\r\nContent-Type: application/isup\r\n\r\nxyz\r\n--b1--\r\n`;
    const r = readOffer('multipart/mixed; boundary="b1"', body);
    expect(r.kind).toBe('offer');
    expect(r.kind === 'offer' && r.sdp).toBe(SDP);
  });

  it('refuses a body that is not SDP with 415 and an Accept header, whatever it contains', () => {
    for (const [type, body] of [['text/plain', SDP], ['application/json', '{"v":0}'], [undefined, SDP], ['not a type', SDP]] as const) {
      const r = readOffer(type, body);
      expect(r).toMatchObject({ kind: 'refused', status: 415 });
      expect(r.kind === 'refused' && r.headers['Accept']).toContain('application/sdp');
    }
    expect(readOffer('multipart/mixed; boundary=x', '--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--')).toMatchObject({ status: 415 });
    expect(readOffer('multipart/mixed', SDP)).toMatchObject({ status: 415 });
  });

  it('refuses SDP that is not a usable offer with 488', () => {
    const cases = [
      '',
      'v=0\r\ngarbage\r\n',
      'v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n',
      SDP.replace('o=- 1 1 IN IP4 192.0.2.1\r\n', ''),
      SDP.replace('s=-\r\n', ''),
      SDP.replace('t=0 0\r\n', ''),
      SDP.replace(/m=audio.*\r\n/, ''),
      SDP.replace('c=IN IP4 192.0.2.1\r\n', ''),
      SDP.replace('m=audio 4000 RTP/AVP 0 8', 'm=audio port RTP/AVP'),
      SDP.replace('c=IN IP4 192.0.2.1', 'c=IN XX nowhere'),
      SDP + '\r\nv=0\r\n',
      'v=0\r\n'.repeat(20_000),
    ];
    for (const body of cases) expect(readOffer('application/sdp', body)).toMatchObject({ kind: 'refused', status: 488 });
  });

  it('accepts a c= line per media section instead of a session-level one', () => {
    const perMedia = 'v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP6 ::1\r\nm=video 4002 RTP/AVP 96\r\nc=IN IP6 ::1\r\n';
    expect(readOffer('application/sdp', perMedia).kind).toBe('offer');
    expect(readOffer('application/sdp', perMedia.replace(/c=IN IP6 ::1\r\n$/, '')).kind).toBe('refused');
  });
});

describe('Max-Forwards across the B2BUA', () => {
  it('carries the count over one less, starts at 70 when absent, and is exhausted at 0', () => {
    expect(nextHop('70')).toEqual({ kind: 'forward', maxForwards: 69 });
    expect(nextHop('1')).toEqual({ kind: 'forward', maxForwards: 0 });
    expect(nextHop(undefined)).toEqual({ kind: 'forward', maxForwards: 70 });
    expect(nextHop('0')).toEqual({ kind: 'exhausted' });
    expect(nextHop('255')).toEqual({ kind: 'forward', maxForwards: 70 });
  });
});

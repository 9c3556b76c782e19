import { describe, expect, it } from 'vitest';
import { bestFinalResponse } from '../../lib/call/final-response.js';
import { callerInfoOf, hasVideo } from '../../lib/call/caller-info.js';
import { TrustedSources } from '../../lib/call/trusted-sources.js';
import { sanitizeReason } from '../../lib/call/reason.js';

const o = (status: number, reason = 'x') => ({ status, reason });

describe('best final response (RFC 3261 16.7)', () => {
  it('prefers 6xx, then the lowest class, then informative 4xx', () => {
    expect(bestFinalResponse([o(486), o(603)])?.status).toBe(603);
    expect(bestFinalResponse([o(500), o(486)])?.status).toBe(486);
    expect(bestFinalResponse([o(487), o(408), o(480)])?.status).toBe(480);
    expect(bestFinalResponse([o(487), o(408)])?.status).toBe(408);
    expect(bestFinalResponse([o(503), o(502)])).toEqual({ status: 500, reason: 'Server Internal Error' });
    expect(bestFinalResponse([o(302), o(486)])?.status).toBe(480);
    expect(bestFinalResponse([o(401)])?.status).toBe(480);
    expect(bestFinalResponse([o(415), o(487)])?.status).toBe(480);
    expect(bestFinalResponse([])).toBeUndefined();
  });
});

describe('caller info for the push', () => {
  const h = (m: Record<string, string>) => (n: string) => m[n];
  it('reads number and name from P-Asserted-Identity, else From', () => {
    expect(callerInfoOf(h({ From: '"Bob" <sip:1000@pbx>;tag=1' }), '')).toEqual({ callerNumber: '1000', callerName: 'Bob', withVideo: false });
    expect(callerInfoOf(h({ From: '<sip:1@pbx>', 'P-Asserted-Identity': '"Carol" <sip:+4420@pbx>' }), '')).toMatchObject({ callerNumber: '+4420', callerName: 'Carol' });
  });
  it('is safe with hostile names', () => {
    const i = callerInfoOf(h({ From: `"${'\u0007x'.repeat(500)}" <sip:1@p>` }), '');
    expect(i.callerName.length).toBeLessThanOrEqual(64);
    expect(i.callerName).not.toMatch(/\u0007/);
    expect(callerInfoOf(h({ From: 'garbage<<' }), '')).toEqual({ callerNumber: 'anonymous', callerName: 'Unknown', withVideo: false });
  });
  it('sees video only on an active m=video line', () => {
    expect(hasVideo('v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\n')).toBe(true);
    expect(hasVideo('v=0\r\nm=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n')).toBe(false);
  });
});

describe('trusted sources', () => {
  const t = new TrustedSources(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
  it('allows listed addresses and CIDRs only', () => {
    expect(t.allows('10.1.2.3')).toBe(true);
    expect(t.allows('192.0.2.7')).toBe(true);
    expect(t.allows('192.0.2.8')).toBe(false);
    expect(t.allows('::ffff:10.9.9.9')).toBe(true);
    expect(t.allows('2001:db8::1')).toBe(true);
    expect(t.allows('not-an-ip')).toBe(false);
  });
});

describe('Reason headers from the network', () => {
  it('passes only sane ones', () => {
    expect(sanitizeReason('SIP;cause=200;text="Call completed elsewhere"')).toBe('SIP;cause=200;text="Call completed elsewhere"');
    expect(sanitizeReason('Q.850;cause=16')).toBe('Q.850;cause=16');
    expect(sanitizeReason('garbage')).toBeUndefined();
    expect(sanitizeReason(`SIP;cause=1;text="${'x'.repeat(400)}"`)).toBeUndefined();
  });
});

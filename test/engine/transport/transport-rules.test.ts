import { describe, expect, it } from 'vitest';
import { fdLimitWarning, softOpenFileLimit } from '../../../lib/engine/transport/fd-limit.js';
import { parseVia } from '../../../lib/engine/messages/index.js';
import { SourceRateLimiter } from '../../../lib/engine/transport/rate-limiter.js';
import { contactKey, RegisteredFlows } from '../../../lib/engine/transport/registered-flows.js';
import { responseDestination, stampReceived } from '../../../lib/engine/transport/response-routing.js';
import { resolveTarget } from '../../../lib/engine/transport/target-resolution.js';

describe('response routing (RFC 3261 18.2.2, RFC 3581)', () => {
  const source = { transport: 'udp' as const, address: '192.0.2.7', port: 40000 };

  it('stamps received and rport on the top Via', () => {
    const via = stampReceived(parseVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport'), source);
    expect(via.params).toMatchObject({ received: '192.0.2.7', rport: '40000' });
  });

  it('answers to the source port when rport was asked, else to the sent-by port', () => {
    const withRport = stampReceived(parseVia('SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport'), source);
    expect(responseDestination(withRport, source)).toMatchObject({ address: '192.0.2.7', port: 40000 });
    const without = stampReceived(parseVia('SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa'), source);
    expect(responseDestination(without, source)).toMatchObject({ address: '192.0.2.7', port: 5062 });
  });

  it('ignores a received= the client wrote itself and answers the real source (no reflection)', () => {
    const via = stampReceived(parseVia('SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKa;received=127.0.0.5'), source);
    expect(via.params['received']).toBeUndefined();
    expect(responseDestination(via, source)).toMatchObject({ address: '192.0.2.7', port: 5060 });
    const unstamped = parseVia('SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKa;received=198.51.100.9;rport=9');
    expect(responseDestination(unstamped, source)).toMatchObject({ address: '192.0.2.7' });
  });

  it('reuses the connection for TCP', () => {
    const tcp = { transport: 'tcp' as const, address: '192.0.2.7', port: 40001 };
    expect(responseDestination(parseVia('SIP/2.0/TCP x:5060;branch=z9hG4bKa'), tcp, 'flow-1')).toMatchObject({ flowId: 'flow-1', port: 40001 });
  });
});

describe('flow reuse for registered contacts', () => {
  it('pins a contact to its flow until the registration expires', () => {
    let now = 0;
    const flows = new RegisteredFlows(10, () => now);
    flows.remember('sip:alice@192.0.2.7:5060;transport=tcp', 'f1', 'tcp', 60);
    flows.remember('sip:bob@192.0.2.8:5061;transport=tls', 'f2', 'tls', 60);
    const lookup = { registeredFlow: (uri: string) => flows.flowFor(uri) };
    expect(resolveTarget('sip:alice@192.0.2.7:5060;transport=tcp;ob', lookup)).toMatchObject({ transport: 'tcp', flowId: 'f1' });
    expect(resolveTarget('sip:bob@192.0.2.8:5061;transport=tls', lookup)).toMatchObject({ transport: 'tls', flowId: 'f2' });
    expect(flows.isPinned('f1')).toBe(true);
    now = 61_000;
    expect(flows.flowFor('sip:alice@192.0.2.7:5060')).toBeUndefined();
  });

  it('keys contacts without scheme case and parameters', () => {
    expect(contactKey('<SIPS:Alice@H:5;transport=tcp?x=y>')).toBe('alice@h:5');
  });
});

describe('target resolution', () => {
  it('defaults sips: and transport=tls to TLS on 5061, naming a hostname for the certificate check', () => {
    expect(resolveTarget('sips:registrar.example.com')).toMatchObject({ transport: 'tls', port: 5061, serverName: 'registrar.example.com' });
    expect(resolveTarget('sip:192.0.2.1;transport=tls')).toMatchObject({ transport: 'tls', port: 5061 });
    expect(resolveTarget('sip:192.0.2.1;transport=tls').serverName).toBeUndefined();
    expect(resolveTarget('sip:192.0.2.1')).toMatchObject({ transport: 'udp', port: 5060 });
  });
});

describe('the per-source rate limiter', () => {
  const budgets = { perSource: 2, trustedPerSource: 4, untrustedTotal: 100 };

  it('accepts the limit, rejects the next once, drops the rest, and resets each second', () => {
    let now = 0;
    const limiter = new SourceRateLimiter(budgets, () => false, 10, () => now);
    expect(['a', 'a', 'a', 'a'].map((s) => limiter.check(s))).toEqual(['accept', 'accept', 'reject-once', 'drop']);
    expect(limiter.check('b')).toBe('accept');
    now = 1000;
    expect(limiter.check('a')).toBe('accept');
  });

  it('gives a trusted source (the PBX) its own larger budget', () => {
    const limiter = new SourceRateLimiter(budgets, (a) => a === 'pbx', 10, () => 0);
    expect(Array.from({ length: 6 }, () => limiter.check('pbx'))).toEqual(['accept', 'accept', 'accept', 'accept', 'reject-once', 'drop']);
  });

  it('caps all untrusted sources together, while the trusted one is still served', () => {
    const limiter = new SourceRateLimiter({ perSource: 5, trustedPerSource: 5, untrustedTotal: 3 }, (a) => a === 'pbx', 100, () => 0);
    expect(['p1', 'p2', 'p3', 'p4', 'p5'].map((s) => limiter.check(s))).toEqual(['accept', 'accept', 'accept', 'reject-once', 'drop']);
    expect(limiter.check('pbx')).toBe('accept');
  });

  it('stays bounded under a spoofed flood of distinct addresses', () => {
    const limiter = new SourceRateLimiter(budgets, () => false, 50, () => 0);
    for (let i = 0; i < 10_000; i++) limiter.check(`198.51.${i >> 8}.${i & 255}`);
    expect(limiter.trackedSources).toBeLessThanOrEqual(50);
  });
});

describe('the open-file limit against engine.maxConnections', () => {
  const limits = (soft: string): string => `Limit                     Soft Limit           Hard Limit           Units     \nMax open files            ${soft}                20000                files     \n`;
  it('warns when maxConnections cannot be reached under the fd limit, and not otherwise', () => {
    expect(fdLimitWarning(50_000, () => limits('20000'))).toEqual({ maxConnections: 50_000, openFileLimit: 20_000, usable: 19_800 });
    expect(fdLimitWarning(10_000, () => limits('20000'))).toBeUndefined();
    expect(fdLimitWarning(50_000, () => limits('unlimited'))).toBeUndefined();
    expect(fdLimitWarning(50_000, () => { throw new Error('no /proc'); })).toBeUndefined();
    expect(softOpenFileLimit('garbage')).toBeUndefined();
  });
});

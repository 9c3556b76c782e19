import { describe, expect, it } from 'vitest';
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

  it('reuses the connection for TCP', () => {
    const tcp = { transport: 'tcp' as const, address: '192.0.2.7', port: 40001 };
    expect(responseDestination(parseVia('SIP/2.0/TCP x:5060;branch=z9hG4bKa'), tcp, 'flow-1')).toMatchObject({ flowId: 'flow-1', port: 40001 });
  });
});

describe('flow reuse for registered contacts', () => {
  it('pins a contact to its flow until the registration expires', () => {
    let now = 0;
    const flows = new RegisteredFlows(10, () => now);
    flows.remember('sip:alice@192.0.2.7:5060;transport=tcp', 'f1', 60);
    expect(resolveTarget('sip:alice@192.0.2.7:5060;transport=tcp;ob', flows)).toMatchObject({ transport: 'tcp', flowId: 'f1' });
    expect(flows.isPinned('f1')).toBe(true);
    now = 61_000;
    expect(flows.flowFor('sip:alice@192.0.2.7:5060')).toBeUndefined();
  });

  it('keys contacts without scheme case and parameters', () => {
    expect(contactKey('<SIPS:Alice@H:5;transport=tcp?x=y>')).toBe('alice@h:5');
  });
});

describe('the per-source rate limiter', () => {
  it('accepts the limit, rejects the next once, drops the rest, and resets each second', () => {
    let now = 0;
    const limiter = new SourceRateLimiter(2, 10, () => now);
    expect(['a', 'a', 'a', 'a'].map((s) => limiter.check(s))).toEqual(['accept', 'accept', 'reject-once', 'drop']);
    expect(limiter.check('b')).toBe('accept');
    now = 1000;
    expect(limiter.check('a')).toBe('accept');
  });
});

/** The edge's bound on relayed INVITEs in flight, and its refusals, without sockets. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EdgeRelay } from '../../lib/cluster/edge-relay.js';
import { RELAY_HEADER, type GrantCheck } from '../../lib/cluster/relay-grant.js';
import { silentLogger } from '../../lib/log.js';
import type { InboundRequest, ServerResponse, SipApp } from '../../lib/sip/srf.js';

class FakeInvite extends EventEmitter {
  readonly method = 'INVITE';
  readonly uri = 'sip:pw-1@10.0.0.2:5060';
  readonly callId = 'c1';
  readonly source_address = '10.0.0.1';
  readonly source_port = 5060;
  readonly protocol = 'udp';
  readonly body = '';
  constructor(private readonly headers: Record<string, string>) {
    super();
  }
  get(name: string): string | undefined {
    return this.headers[name];
  }
  has(name: string): boolean {
    return name in this.headers;
  }
}

function respond(): { res: ServerResponse; sent: Array<{ status: number; headers: Record<string, string> }> } {
  const sent: Array<{ status: number; headers: Record<string, string> }> = [];
  const res = {
    get finalResponseSent() {
      return sent.some((s) => s.status >= 200);
    },
    send: (status: number, _reason?: unknown, opts?: { headers?: Record<string, string> }) => void sent.push({ status, headers: opts?.headers ?? {} }),
  } as unknown as ServerResponse;
  return { res, sent };
}

const granted: GrantCheck = { kind: 'granted', grant: { nodeId: 'b', fromNodeId: 'a', flow: { transport: 'udp', sourceAddress: '10.0.0.9', sourcePort: 5060 }, contact: 'sip:x@10.0.0.9', aor: 'sip:x@example.com', deviceKey: 'd', expiresAt: Date.now() + 10_000 } };

describe('EdgeRelay', () => {
  it('at its bound of relayed INVITEs in flight, the next gets 503 with Retry-After', () => {
    const relay = new EdgeRelay({ app: {} as SipApp, check: () => granted, pairingHeaders: [], log: silentLogger() }, 0);
    const { res, sent } = respond();
    relay.handle(new FakeInvite({ [RELAY_HEADER]: 'g', 'Max-Forwards': '70' }) as unknown as InboundRequest, res);
    expect(sent).toEqual([{ status: 503, headers: { 'Retry-After': '5' } }]);
  });

  it('a refused grant gets 403 with the reason in a Warning; Max-Forwards 0 gets 483', () => {
    const refuse = new EdgeRelay({ app: {} as SipApp, check: () => ({ kind: 'refused', why: 'grant expired' }), pairingHeaders: [], log: silentLogger() }, 10);
    const a = respond();
    refuse.handle(new FakeInvite({ [RELAY_HEADER]: 'g' }) as unknown as InboundRequest, a.res);
    expect(a.sent).toEqual([{ status: 403, headers: { Warning: '399 pushwake "relay refused: grant expired"' } }]);
    const loop = new EdgeRelay({ app: {} as SipApp, check: () => granted, pairingHeaders: [], log: silentLogger() }, 10);
    const b = respond();
    loop.handle(new FakeInvite({ [RELAY_HEADER]: 'g', 'Max-Forwards': '0' }) as unknown as InboundRequest, b.res);
    expect(b.sent[0]?.status).toBe(483);
  });
});

/** The grant a node puts on the INVITE it asks a peer to deliver: only a signed, live grant for that peer passes. */
import { describe, expect, it } from 'vitest';
import { checkGrant, signGrant, type RelayGrant } from '../../lib/cluster/relay-grant.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef');
const grant: RelayGrant = {
  nodeId: 'b', fromNodeId: 'a', contact: 'sip:alice@10.0.0.7:40000;transport=tcp', aor: 'sip:alice@example.com', deviceKey: 'inst:1',
  flow: { transport: 'tcp', sourceAddress: '10.0.0.7', sourcePort: 40000 }, expiresAt: 2_000_000,
};

describe('relay grants', () => {
  it('a grant signed with the cluster key, for this node, alive: granted as signed', () => {
    expect(checkGrant(key, signGrant(key, grant), 'b', 1_000_000)).toEqual({ kind: 'granted', grant });
  });

  it.each([
    ['missing', undefined, 'no grant'],
    ['empty', '', 'no grant'],
    ['no signature', 'abc', 'grant is not payload.signature'],
    ['too long', 'a'.repeat(3000), 'grant too long'],
    ['signed with another key', signGrant(Buffer.from('another key, another cluster....'), grant), 'bad signature'],
    ['payload changed after signing', (() => {
      const [, sig] = signGrant(key, grant).split('.');
      return `${Buffer.from(JSON.stringify({ ...grant, flow: { ...grant.flow, sourceAddress: '192.0.2.1' } })).toString('base64url')}.${sig}`;
    })(), 'bad signature'],
    ['for another node', signGrant(key, { ...grant, nodeId: 'c' }), 'grant is for node "c"'],
    ['expired', signGrant(key, { ...grant, expiresAt: 999_999 }), 'grant expired'],
    ['signed garbage', (() => {
      const payload = Buffer.from('not json').toString('base64url');
      const sig = signGrant(key, grant).split('.')[1] ?? '';
      return `${payload}.${sig}`;
    })(), 'bad signature'],
  ])('%s: refused', (_what, token, why) => {
    const check = checkGrant(key, token, 'b', 1_000_000);
    expect(check.kind).toBe('refused');
    expect(check.kind === 'refused' ? check.why : '').toContain(why);
  });

  it('a signed payload of the wrong shape is refused, not trusted', () => {
    const bad = { ...grant, flow: { transport: 'carrier-pigeon', sourceAddress: '10.0.0.7', sourcePort: 1 } } as unknown as RelayGrant;
    const check = checkGrant(key, signGrant(key, bad), 'b', 1_000_000);
    expect(check).toEqual({ kind: 'refused', why: 'grant payload has the wrong shape' });
  });
});

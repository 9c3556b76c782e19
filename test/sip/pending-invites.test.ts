import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { PendingInvites, inviteForCancel, topViaBranch, type PendingInvite } from '../../lib/sip/pending-invites.js';
import { inviteKeyOf } from '../../lib/call/call-intake.js';

class FakeRequest extends EventEmitter {
  constructor(readonly uri: string, private readonly via: string) {
    super();
  }
  get(name: string): string | undefined {
    return name.toLowerCase() === 'via' ? this.via : undefined;
  }
}

const invite = (user: string, branch: string): PendingInvite & { req: FakeRequest; res: { status?: number } } => ({
  req: new FakeRequest(`sip:${user}@127.0.0.1:5060`, `SIP/2.0/UDP 127.0.0.3:5060;branch=${branch}, SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcaller`),
  res: {},
});

const cancelFor = (p: { req: FakeRequest }): { uri: string; get(name: string): string | undefined } => ({
  uri: p.req.uri,
  get: (name) => (name.toLowerCase() === 'via' ? p.req.get('via')?.split(',')[0] : undefined),
});

describe('pending INVITEs behind a forking proxy (drachtio-srf keys them by Call-ID)', () => {
  it('a CANCEL reaches the fork it names by its top Via branch, and only that one is forgotten', () => {
    const pending = new PendingInvites();
    const a = invite('pw-a', 'z9hG4bKa');
    const b = invite('pw-b', 'z9hG4bKb');
    pending.set('call-1', a).set('call-1', b);
    const seen: string[] = [];
    a.req.on('cancel', () => seen.push('a'));
    b.req.on('cancel', () => seen.push('b'));
    pending.get('call-1')?.req.emit('cancel', cancelFor(a));
    pending.delete('call-1');
    expect(seen).toEqual(['a']);
    pending.get('call-1')?.req.emit('cancel', cancelFor(b));
    pending.delete('call-1');
    expect(seen).toEqual(['a', 'b']);
    expect(pending.has('call-1')).toBe(false);
  });

  it('a CANCEL whose branch matches no pending INVITE reaches none, even a lone one with its Call-ID', () => {
    const pending = new PendingInvites();
    const a = invite('pw-a', 'z9hG4bKa');
    const b = invite('pw-b', 'z9hG4bKb');
    pending.set('call-1', b);
    let cancelled = false;
    b.req.on('cancel', () => (cancelled = true));
    // A was answered (and forgotten) as the PBX cancelled it: its CANCEL must not end B
    expect(pending.get('call-1')?.req.emit('cancel', cancelFor(a))).toBe(false);
    pending.delete('call-1');
    expect(cancelled).toBe(false);
    expect(pending.has('call-1')).toBe(true);
  });

  it('the final response to one fork forgets that fork, and the CANCEL for the other still reaches it', () => {
    const pending = new PendingInvites();
    const a = invite('pw-a', 'z9hG4bKa');
    const b = invite('pw-b', 'z9hG4bKb');
    pending.set('call-1', a).set('call-1', b);
    b.res.status = 200;
    pending.delete('call-1');
    let cancelled = false;
    a.req.on('cancel', () => (cancelled = true));
    expect(pending.has('call-1')).toBe(true);
    pending.get('call-1')?.req.emit('cancel', cancelFor(a));
    pending.delete('call-1');
    expect(cancelled).toBe(true);
    expect(pending.has('call-1')).toBe(false);
    expect(pending.size).toBe(0);
  });

  it('one INVITE per Call-ID: forgotten after its final response, and only then', () => {
    const a = invite('pw-a', 'z9hG4bKa');
    const pending = new PendingInvites([['call-1', a]]);
    expect(pending.has('call-1')).toBe(true);
    // a final response to another INVITE with this Call-ID (a 482 to a merged copy) leaves it
    expect(pending.delete('call-1')).toBe(false);
    expect(pending.has('call-1')).toBe(true);
    a.res.status = 200;
    expect(pending.delete('call-1')).toBe(true);
    expect(pending.get('call-1')).toBeUndefined();
    expect(pending.size).toBe(0);
  });

  it('matches a CANCEL without a usable branch by its Request-URI, and refuses to guess between two', () => {
    const a = invite('pw-a', 'z9hG4bKa');
    const b = invite('pw-b', 'z9hG4bKb');
    expect(inviteForCancel([a, b], { uri: b.req.uri, get: () => 'SIP/2.0/UDP 127.0.0.3' })).toBe(b);
    expect(inviteForCancel([a, b], { uri: 'sip:someone@else', get: () => undefined })).toBeUndefined();
    expect(topViaBranch('SIP/2.0/TCP h;rport;Branch=Z9hG4bKX , SIP/2.0/UDP g;branch=y')).toBe('z9hg4bkx');
    expect(topViaBranch(undefined)).toBe('');
  });
});

describe('which INVITEs are one call', () => {
  it('forks to two device contacts are two calls; the same contact again is a merged request', () => {
    expect(inviteKeyOf('c1', 'sip:pw-a@127.0.0.1')).not.toBe(inviteKeyOf('c1', 'sip:pw-b@127.0.0.1'));
    expect(inviteKeyOf('c1', 'sip:pw-a@127.0.0.1')).toBe(inviteKeyOf('c1', 'sip:pw-a@127.0.0.1;transport=tcp'));
    expect(inviteKeyOf('c1', 'not a uri')).toBe(inviteKeyOf('c1', 'also not'));
  });
});

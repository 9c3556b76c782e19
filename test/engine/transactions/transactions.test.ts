import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildResponse, SipRequest } from '../../../lib/engine/messages/index.js';
import { InviteClientTransaction } from '../../../lib/engine/transactions/invite-client.js';
import { InviteServerTransaction } from '../../../lib/engine/transactions/invite-server.js';
import { NonInviteClientTransaction } from '../../../lib/engine/transactions/non-invite-client.js';
import { NonInviteServerTransaction } from '../../../lib/engine/transactions/non-invite-server.js';
import { InviteState, NonInviteState } from '../../../lib/engine/transactions/transaction-base.js';

const timers = { t1: 500, t2: 4000, t4: 5000 };

/** server transactions resend a response's bytes, not the response object */
function statusOf(bytes: Buffer): number {
  return Number(/^SIP\/2\.0 (\d{3})/.exec(bytes.toString('utf8'))![1]);
}

function request(method: string): SipRequest {
  const r = new SipRequest(method, 'sip:bob@example.com');
  r.headers.append('via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKt1');
  r.headers.append('from', '<sip:a@b>;tag=f');
  r.headers.append('to', '<sip:bob@example.com>');
  r.headers.append('call-id', 'c1');
  r.headers.append('cseq', `1 ${method}`);
  r.headers.append('route', '<sip:proxy;lr>');
  return r;
}

describe('client transactions over UDP', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('INVITE: retransmits on Timer A, stops on a provisional, ACKs a non-2xx itself', () => {
    const sent: SipRequest[] = [];
    const seen: number[] = [];
    const req = request('INVITE');
    const tx = new InviteClientTransaction(req, {
      reliable: false, timers, sendRequest: (r) => sent.push(r), onResponse: (r) => seen.push(r.status), onTerminated: () => undefined,
    });
    tx.start();
    vi.advanceTimersByTime(500 + 1000 + 10);
    expect(sent).toHaveLength(3);
    tx.receive(buildResponse(req, 180, undefined, 'x'));
    vi.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(3);
    tx.receive(buildResponse(req, 486, undefined, 'x'));
    expect(tx.state).toBe(InviteState.Completed);
    const ack = sent[3]!;
    expect(ack.method).toBe('ACK');
    expect(ack.headers.get('via')).toBe(req.headers.get('via'));
    expect(ack.headers.get('to')).toContain('tag=x');
    expect(ack.headers.get('route')).toBe('<sip:proxy;lr>');
    tx.receive(buildResponse(req, 486, undefined, 'x'));
    expect(sent.filter((r) => r.method === 'ACK')).toHaveLength(2);
    expect(seen).toEqual([180, 486]);
    vi.advanceTimersByTime(32_000);
    expect(tx.state).toBe(InviteState.Terminated);
  });

  it('INVITE: Timer B gives the TU a 408', () => {
    const seen: number[] = [];
    const req = request('INVITE');
    const tx = new InviteClientTransaction(req, {
      reliable: false, timers, sendRequest: () => undefined, onResponse: (r) => seen.push(r.status), onTerminated: () => undefined,
    });
    tx.start();
    vi.advanceTimersByTime(64 * 500);
    expect(seen).toEqual([408]);
    expect(tx.state).toBe(InviteState.Terminated);
  });

  it('INVITE: every 2xx reaches the TU while Accepted (RFC 6026)', () => {
    const seen: number[] = [];
    const req = request('INVITE');
    const tx = new InviteClientTransaction(req, {
      reliable: true, timers, sendRequest: () => undefined, onResponse: (r) => seen.push(r.status), onTerminated: () => undefined,
    });
    tx.start();
    tx.receive(buildResponse(req, 200, undefined, 'x'));
    tx.receive(buildResponse(req, 200, undefined, 'x'));
    expect(seen).toEqual([200, 200]);
    expect(tx.state).toBe(InviteState.Accepted);
  });

  it('non-INVITE: Timer E backs off to T2, Timer F times out with 408', () => {
    const sent: number[] = [];
    const seen: number[] = [];
    const req = request('OPTIONS');
    const tx = new NonInviteClientTransaction(req, {
      reliable: false, timers, sendRequest: () => sent.push(Date.now()), onResponse: (r) => seen.push(r.status), onTerminated: () => undefined,
    });
    tx.start();
    vi.advanceTimersByTime(64 * 500);
    // 0, 500, 1500, 3500, 7500, then every 4 s
    expect(sent.length).toBeGreaterThanOrEqual(10);
    expect(seen).toEqual([408]);
    expect(tx.state).toBe(NonInviteState.Terminated);
  });

  it('non-INVITE over TCP: no retransmissions, final ends the transaction at once', () => {
    let sends = 0;
    const req = request('MESSAGE');
    const tx = new NonInviteClientTransaction(req, {
      reliable: true, timers, sendRequest: () => sends++, onResponse: () => undefined, onTerminated: () => undefined,
    });
    tx.start();
    vi.advanceTimersByTime(5000);
    expect(sends).toBe(1);
    tx.receive(buildResponse(req, 200));
    vi.advanceTimersByTime(0);
    expect(tx.state).toBe(NonInviteState.Terminated);
  });
});

describe('server transactions over UDP', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('INVITE non-2xx: retransmits on Timer G until the ACK, then Confirmed and Timer I', () => {
    const sent: number[] = [];
    const timeouts: number[] = [];
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, {
      reliable: false, timers, sendResponse: (r) => sent.push(r.status), resendResponse: (b) => sent.push(statusOf(b)), onTerminated: () => undefined,
    }, { onAckTimeout: (s) => timeouts.push(s) });
    tx.respond(buildResponse(req, 100));
    tx.respond(buildResponse(req, 486, undefined, 't'));
    vi.advanceTimersByTime(500 + 1000 + 10);
    expect(sent).toEqual([100, 486, 486, 486]);
    tx.onRetransmission();
    expect(sent).toHaveLength(5);
    tx.onAck();
    expect(tx.state).toBe(InviteState.Confirmed);
    vi.advanceTimersByTime(5000);
    expect(tx.state).toBe(InviteState.Terminated);
    expect(timeouts).toEqual([]);
  });

  it('INVITE: Timer H reports a missing ACK', () => {
    const timeouts: number[] = [];
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, {
      reliable: false, timers, sendResponse: () => undefined, resendResponse: () => undefined, onTerminated: () => undefined,
    }, { onAckTimeout: (s) => timeouts.push(s) });
    tx.respond(buildResponse(req, 603, undefined, 't'));
    vi.advanceTimersByTime(64 * 500);
    expect(timeouts).toEqual([603]);
  });

  it('INVITE 2xx: resent until the ACK is reported (Accepted)', () => {
    const sent: number[] = [];
    const req = request('INVITE');
    const tx = new InviteServerTransaction(req, {
      reliable: false, timers, sendResponse: (r) => sent.push(r.status), resendResponse: (b) => sent.push(statusOf(b)), onTerminated: () => undefined,
    }, { onAckTimeout: () => undefined });
    tx.respond(buildResponse(req, 200, undefined, 't'));
    expect(tx.state).toBe(InviteState.Accepted);
    vi.advanceTimersByTime(1600);
    expect(sent.length).toBe(3);
    tx.onAck();
    vi.advanceTimersByTime(10_000);
    expect(sent.length).toBe(3);
  });

  it('non-INVITE: absorbs retransmissions with the last response, Timer J ends it', () => {
    const sent: number[] = [];
    const req = request('OPTIONS');
    const tx = new NonInviteServerTransaction(req, {
      reliable: false, timers, sendResponse: (r) => sent.push(r.status), resendResponse: (b) => sent.push(statusOf(b)), onTerminated: () => undefined,
    });
    tx.onRetransmission();
    expect(sent).toEqual([]);
    tx.respond(buildResponse(req, 200, undefined, 't'));
    tx.onRetransmission();
    expect(sent).toEqual([200, 200]);
    expect(tx.respond(buildResponse(req, 404))).toBe(false);
    expect(tx.state).toBe(NonInviteState.Completed);
    vi.advanceTimersByTime(64 * 500);
    expect(tx.state).toBe(NonInviteState.Terminated);
  });

  it('keeps only the final response bytes once it is sent, and resends exactly them', () => {
    const resent: Buffer[] = [];
    const req = request('OPTIONS');
    const tx = new NonInviteServerTransaction(req, {
      reliable: false, timers, sendResponse: () => undefined, resendResponse: (b) => resent.push(b), onTerminated: () => undefined,
    });
    const res = buildResponse(req, 200, undefined, 't');
    tx.respond(res);
    expect(() => tx.request).toThrow();
    expect(tx.finalStatus).toBe(200);
    tx.onRetransmission();
    expect(resent[0]!.equals(res.serialize())).toBe(true);
  });
});

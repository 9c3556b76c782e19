import { describe, expect, it } from 'vitest';
import { buildResponse, SipRequest } from '../../../lib/engine/messages/index.js';
import { Dialog } from '../../../lib/engine/dialogs/dialog.js';
import { DialogTable } from '../../../lib/engine/dialogs/dialog-table.js';

function invite(): SipRequest {
  const r = new SipRequest('INVITE', 'sip:bob@example.com');
  r.headers.append('via', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKd');
  r.headers.append('from', '<sip:alice@example.com>;tag=A');
  r.headers.append('to', '<sip:bob@example.com>');
  r.headers.append('call-id', 'call-9');
  r.headers.append('cseq', '10 INVITE');
  r.headers.append('contact', '<sip:alice@10.0.0.1:5070>');
  r.headers.append('record-route', '<sip:p1;lr>, <sip:p2;lr>');
  return r;
}

describe('dialogs', () => {
  it('UAS: id from both tags, route set in order, requests to the remote target', () => {
    const d = Dialog.fromRequest(invite(), 'B', '<sip:me>', 'udp');
    expect(d.id).toBe('call-9;from-tag=A;to-tag=B');
    const bye = d.createRequest('BYE');
    expect(bye.uri).toBe('sip:alice@10.0.0.1:5070');
    expect(bye.headers.getAll('route')).toEqual(['<sip:p1;lr>', '<sip:p2;lr>']);
    expect(bye.headers.get('from')).toContain('tag=B');
    expect(bye.headers.get('to')).toContain('tag=A');
    expect(d.nextHopUri()).toBe('sip:p1;lr');
  });

  it('UAS: two forks of one INVITE (same Call-ID and From tag) make two dialogs with their own ids', () => {
    const a = Dialog.fromRequest(invite(), 'B1', '<sip:me>', 'udp');
    const b = Dialog.fromRequest(invite(), 'B2', '<sip:me>', 'udp');
    expect(a.id).not.toBe(b.id);
  });

  it('UAC: route set reversed, CSeq increments, ACK reuses the INVITE number', () => {
    const req = invite();
    req.headers.remove('record-route');
    const res = buildResponse(req, 200, undefined, 'B');
    res.headers.append('contact', '<sip:bob@10.0.0.2>');
    res.headers.append('record-route', '<sip:p1;lr>, <sip:p2;lr>');
    const d = Dialog.fromResponse(req, res, 'udp');
    expect(d.id).toBe('call-9;from-tag=A');
    expect(d.routeSet).toEqual(['<sip:p2;lr>', '<sip:p1;lr>']);
    expect(d.createRequest('ACK', 10).cseq.seq).toBe(10);
    expect(d.createRequest('INFO').cseq.seq).toBe(11);
  });

  it('strict routing puts the first route in the Request-URI', () => {
    const req = invite();
    req.headers.set('record-route', '<sip:strict.example.com>');
    const d = Dialog.fromRequest(req, 'B', '<sip:me>', 'udp');
    const bye = d.createRequest('BYE');
    expect(bye.uri).toBe('sip:strict.example.com');
    expect(bye.headers.getAll('route')).toEqual(['<sip:alice@10.0.0.1:5070>']);
  });

  it('rejects out-of-order remote CSeqs and is found by its tags', () => {
    const d = Dialog.fromRequest(invite(), 'B', '<sip:me>', 'udp');
    const table = new DialogTable(2);
    expect(table.add(d)).toBe(true);
    const info = new SipRequest('INFO', 'sip:me');
    info.headers.append('from', '<sip:alice@example.com>;tag=A');
    info.headers.append('to', '<sip:bob@example.com>;tag=B');
    info.headers.append('call-id', 'call-9');
    info.headers.append('cseq', '9 INFO');
    expect(table.match(info)).toBe(d);
    expect(d.acceptsRemoteCSeq(info)).toBe(false);
    info.headers.set('cseq', '11 INFO');
    expect(d.acceptsRemoteCSeq(info)).toBe(true);
    // a second fork of the same INVITE is a dialog of its own, found by its own tag
    const fork = Dialog.fromRequest(invite(), 'C', '<sip:me>', 'udp');
    expect(table.add(fork)).toBe(true);
    info.headers.set('to', '<sip:bob@example.com>;tag=C');
    expect(table.match(info)).toBe(fork);
    expect(table.size).toBe(2);
    const other = invite();
    other.headers.set('call-id', 'other');
    expect(table.add(Dialog.fromRequest(other, 'C', '<sip:me>', 'udp'))).toBe(false);
  });
});

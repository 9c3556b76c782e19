import { afterEach, describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse } from '../../lib/engine/messages/index.js';
import { settle, startHarness, type Harness, type TestDialog } from './support/harness.js';
import { SDP, type TestUa } from './support/test-ua.js';

const SDP2 = SDP.replace('o=- 1 1', 'o=- 1 2').replace('4000', '4002');

interface Call { ua: TestUa; invite: SipRequest; ok: SipResponse; dialog: TestDialog }

/** UA calls the app; the app answers with createUAS. */
async function callIn(h: Harness, transport: 'udp' | 'tcp'): Promise<Call> {
  let dialog: TestDialog | undefined;
  h.srf.invite(async (req, res) => { dialog = await h.srf.createUAS(req, res, { localSdp: SDP }); });
  await settle();
  const ua = await h.ua(transport);
  const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
  ua.send(invite);
  const ok = await ua.response(invite.callId, 200);
  ua.send(ua.ackFor(invite, ok));
  await settle(100);
  return { ua, invite, ok, dialog: dialog! };
}

describe('requests inside a dialog', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  it('relays a re-INVITE from the network to dlg.on(modify) and the ACK back', async () => {
    h = await startHarness();
    const c = await callIn(h, 'udp');
    const modified = new Promise<string>((resolve) => c.dialog.on('modify', (req, res) => {
      res.send(200, { body: SDP });
      resolve(req.body);
    }));
    const reinvite = c.ua.inDialog('INVITE', c.invite, c.ok, 2, SDP2);
    c.ua.send(reinvite);
    expect(await modified).toContain('4002');
    const ok2 = await c.ua.response(c.invite.callId, 200, 'INVITE');
    expect(ok2.cseq.seq).toBe(2);
    c.ua.send(c.ua.ackFor(reinvite, ok2));
  });

  const events = { INFO: 'info', UPDATE: 'update' } as const;
  for (const method of ['INFO', 'UPDATE'] as const) {
    it(`relays ${method} from the network to dlg.on('${method.toLowerCase()}')`, async () => {
      h = await startHarness();
      const c = await callIn(h, 'tcp');
      const seen = new Promise<string>((resolve) => c.dialog.on(events[method], (req, res) => {
        res.send(200, { headers: { 'X-Seen': method } });
        resolve(req.method);
      }));
      c.ua.send(c.ua.inDialog(method, c.invite, c.ok, 3, method === 'INFO' ? 'Signal=5\r\n' : SDP2));
      expect(await seen).toBe(method);
      const res = await c.ua.response(c.invite.callId, 200, method);
      expect(res.headers.get('x-seen')).toBe(method);
    });
  }

  it('sends dlg.request INFO and dlg.modify re-INVITE from the app, with ACK', async () => {
    h = await startHarness();
    const c = await callIn(h, 'udp');
    const infoP = c.dialog.request({ method: 'INFO', headers: { 'Content-Type': 'application/dtmf-relay' }, body: 'Signal=1\r\n' });
    const info = await c.ua.request('INFO', c.invite.callId);
    expect(info.headers.get('to')).toContain(`tag=${c.invite.fromTag}`);
    expect(info.uri).toContain(`${c.ua.local.port}`);
    c.ua.respond(info, 200);
    expect((await infoP).status).toBe(200);
    const modifyP = c.dialog.modify(SDP2);
    const reinvite = await c.ua.request('INVITE', c.invite.callId);
    expect(reinvite.cseq.seq).toBe(info.cseq.seq + 1);
    c.ua.respond(reinvite, 200, { body: SDP });
    await modifyP;
    const ack = await c.ua.request('ACK', c.invite.callId);
    expect(ack.cseq.seq).toBe(reinvite.cseq.seq);
  });

  it('sends UPDATE from the app with dlg.request', async () => {
    h = await startHarness();
    const c = await callIn(h, 'tcp');
    const p = c.dialog.request({ method: 'UPDATE', body: SDP2 });
    const update = await c.ua.request('UPDATE', c.invite.callId);
    expect(update.headers.get('content-type')).toBe('application/sdp');
    c.ua.respond(update, 200, { body: SDP });
    expect((await p).status).toBe(200);
  });
});

describe('requests that match nothing', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  for (const method of ['BYE', 'INFO', 'INVITE'] as const) {
    it(`${method} with an unknown To tag gets 481`, async () => {
      h = await startHarness();
      h.srf.invite((_req, res) => res.send(486));
      await settle();
      const ua = await h.ua('udp');
      const req = ua.makeRequest(method, `sip:bob@${h.udp.address}:${h.udp.port}`, { toTag: 'nope', body: method === 'INVITE' ? SDP : undefined });
      ua.send(req);
      await ua.response(req.callId, 481);
    });
  }

  it('an INVITE with no app connected gets 100 then 503', async () => {
    h = await startHarness();
    h.srf.disconnect();
    await settle();
    const ua = await h.ua('udp');
    const req = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
    ua.send(req);
    await ua.response(req.callId, 100);
    const res = await ua.response(req.callId, 503);
    ua.send(ua.ackForFailure(req, res));
  });

  for (const method of ['MESSAGE', 'INFO', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH']) {
    it(`a method no app routed (${method} while only INVITE is routed) gets 405 with Allow`, async () => {
      h = await startHarness();
      h.srf.invite((_req, res) => res.send(486));
      await settle();
      const ua = await h.ua('tcp');
      const req = ua.makeRequest(method, `sip:bob@${h.udp.address}:${h.udp.port}`, { body: 'x', headers: { 'Content-Type': 'text/plain', Event: 'presence' } });
      ua.send(req);
      const res = await ua.response(req.callId, 405);
      expect(res.headers.get('allow')).toBe('INVITE, ACK, CANCEL, BYE');
    });
  }

  it('an unknown or lower-case method gets 405 with Allow (methods are case-sensitive)', async () => {
    h = await startHarness();
    h.srf.options((_req, res) => res.send(200));
    await settle();
    const ua = await h.ua('udp');
    for (const method of ['options', 'FOO']) {
      const req = ua.makeRequest(method, `sip:${h.udp.address}:${h.udp.port}`);
      ua.send(req);
      const res = await ua.response(req.callId, 405);
      expect(res.headers.get('allow')).toBe('OPTIONS');
    }
  });

  it('a response from the app to a finished transaction is refused over the wire', async () => {
    h = await startHarness();
    let second: Promise<unknown> | undefined;
    h.srf.options((_req, res) => {
      res.send(200);
      second = new Promise((resolve) => res.send(404, (err: unknown) => resolve(err)));
    });
    await settle();
    const ua = await h.ua('udp');
    const req = ua.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
    ua.send(req);
    await ua.response(req.callId, 200);
    await settle();
    expect(await ua.nothing((m) => m.kind === 'response' && m.status === 404, 200)).toBe(true);
    void second;
  });
});

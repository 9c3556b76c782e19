import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type TestSrfRequest } from './support/harness.js';
import { SDP } from './support/test-ua.js';

describe('srf.createUAC from the app to a user agent', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`rings, answers, is ACKed by srf and hung up by the app (${transport})`, async () => {
      h = await startHarness();
      const ua = await h.ua(transport);
      const provisional: number[] = [];
      const uri = `sip:bob@${ua.local.address}:${ua.local.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      const uacP = h.srf.createUAC(uri, { localSdp: SDP, headers: { From: '<sip:app@localhost>' } }, {
        cbProvisional: (res) => provisional.push(res.status),
      });
      const invite = await ua.request('INVITE');
      expect(invite.headers.get('from')).toContain(`@127.0.0.1:${h.udp.port}`);
      expect(invite.headers.get('contact')).toContain(`127.0.0.1:${h.udp.port}`);
      ua.respond(invite, 180, { toTag: 'b1' });
      ua.respond(invite, 200, { toTag: 'b1', body: SDP });
      const dlg = await uacP;
      const ack = await ua.request('ACK', invite.callId);
      expect(ack.cseq.seq).toBe(invite.cseq.seq);
      expect(provisional).toContain(180);
      const done = dlg.destroy();
      const bye = await ua.request('BYE', invite.callId);
      expect(bye.cseq.seq).toBe(invite.cseq.seq + 1);
      ua.respond(bye, 200);
      await done;
    });
  }

  it('is hung up by the far end; the app dialog emits destroy', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    const uacP = h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, { localSdp: SDP });
    const invite = await ua.request('INVITE');
    const ok = ua.respond(invite, 200, { toTag: 'b2', body: SDP });
    const dlg = await uacP;
    await ua.request('ACK', invite.callId);
    const destroyed = new Promise<void>((r) => dlg.on('destroy', () => r()));
    const bye = ua.makeRequest('BYE', invite.headers.get('contact') ? invite.contactUri()! : invite.uri, {
      callId: invite.callId, from: '<sip:bob@example.com>', fromTag: 'b2', to: invite.headers.get('from')!.replace(/;tag=.*/, ''),
      toTag: invite.fromTag, cseq: 1,
    });
    ua.send(bye);
    await ua.response(invite.callId, 200, 'BYE');
    await destroyed;
    void ok;
  });

  it('CANCELs through req.cancel() from cbRequest and rejects with 487', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    let sent: TestSrfRequest | undefined;
    const uacP = h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, { localSdp: SDP }, {
      cbRequest: (_err, req) => { sent = req; },
    });
    const invite = await ua.request('INVITE');
    ua.respond(invite, 180, { toTag: 'c1' });
    await new Promise((r) => setTimeout(r, 50));
    sent!.cancel({ headers: { Reason: 'SIP;cause=200;text="Call completed elsewhere"' } });
    const cancel = await ua.request('CANCEL', invite.callId);
    expect(cancel.topVia.params['branch']).toBe(invite.topVia.params['branch']);
    expect(cancel.headers.get('reason')).toContain('Call completed elsewhere');
    ua.respond(cancel, 200);
    ua.respond(invite, 487, { toTag: 'c1' });
    await expect(uacP).rejects.toMatchObject({ status: 487 });
    const ack = await ua.request('ACK', invite.callId);
    expect(ack.topVia.params['branch']).toBe(invite.topVia.params['branch']);
  });

  it('holds a CANCEL sent before any provisional until one arrives (RFC 3261 9.1)', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    let sent: TestSrfRequest | undefined;
    const uacP = h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, { localSdp: SDP }, {
      cbRequest: (_err, req) => { sent = req; },
    });
    const invite = await ua.request('INVITE');
    sent!.cancel();
    expect(await ua.nothing((m) => m.kind === 'request' && m.method === 'CANCEL', 200)).toBe(true);
    ua.respond(invite, 100);
    const cancel = await ua.request('CANCEL', invite.callId);
    ua.respond(cancel, 200);
    ua.respond(invite, 487, { toTag: 'q1' });
    await expect(uacP).rejects.toMatchObject({ status: 487 });
  });

  for (const status of [486, 603]) {
    it(`rejects with ${status} and the engine ACKs the failure`, async () => {
      h = await startHarness();
      const ua = await h.ua('udp');
      const uacP = h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, { localSdp: SDP });
      const invite = await ua.request('INVITE');
      ua.respond(invite, status, { toTag: 'r1' });
      await expect(uacP).rejects.toMatchObject({ status });
      const ack = await ua.request('ACK', invite.callId);
      expect(ack.headers.get('to')).toContain('tag=r1');
    });
  }

  it('times out with 408 when nobody answers over UDP', async () => {
    h = await startHarness();
    const uacP = h.srf.createUAC('sip:nobody@127.0.0.1:9', { localSdp: SDP });
    await expect(uacP).rejects.toMatchObject({ status: 408 });
  });
});

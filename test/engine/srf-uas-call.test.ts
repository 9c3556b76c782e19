import { afterEach, describe, expect, it } from 'vitest';
import { settle, startHarness, type Harness, type TestDialog } from './support/harness.js';
import { SDP } from './support/test-ua.js';

describe('an INVITE from the network answered with srf.createUAS', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`rings, answers, is ACKed and ends with a BYE from the caller (${transport})`, async () => {
      h = await startHarness();
      const dialogs: TestDialog[] = [];
      h.srf.invite(async (req, res) => {
        res.send(180);
        const dlg = await h!.srf.createUAS(req, res, { localSdp: SDP });
        dialogs.push(dlg);
      });
      await settle();
      const ua = await h.ua(transport);
      const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
      ua.send(invite);
      await ua.response(invite.callId, 100);
      const ringing = await ua.response(invite.callId, 180);
      const ok = await ua.response(invite.callId, 200);
      expect(ok.toTag).toBe(ringing.toTag);
      expect(ok.body.toString()).toContain('v=0');
      expect(ok.headers.get('contact')).toContain(`127.0.0.1:${h.udp.port}`);
      ua.send(ua.ackFor(invite, ok));
      await settle(100);
      expect(dialogs).toHaveLength(1);
      const destroyed = new Promise<void>((r) => dialogs[0]!.on('destroy', () => r()));
      const bye = ua.inDialog('BYE', invite, ok, 2);
      ua.send(bye);
      await ua.response(invite.callId, 200, 'BYE');
      await destroyed;
    });
  }

  it('ends with a BYE from the app, reusing the caller\'s TCP connection', async () => {
    h = await startHarness();
    let dialog: TestDialog | undefined;
    h.srf.invite(async (req, res) => { dialog = await h!.srf.createUAS(req, res, { localSdp: SDP }); });
    await settle();
    const ua = await h.ua('tcp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.tcp.address}:${h.tcp.port}`, { body: SDP });
    ua.send(invite);
    const ok = await ua.response(invite.callId, 200);
    ua.send(ua.ackFor(invite, ok));
    await settle(100);
    const done = dialog!.destroy();
    const bye = await ua.request('BYE', invite.callId);
    expect(bye.headers.get('to')).toContain(`tag=${invite.fromTag}`);
    expect(bye.cseq.seq).toBeGreaterThan(0);
    ua.respond(bye, 200);
    await done;
  });

  it('retransmits the 2xx over UDP until the ACK arrives', async () => {
    h = await startHarness();
    h.srf.invite((req, res) => h!.srf.createUAS(req, res, { localSdp: SDP }));
    await settle();
    const ua = await h.ua('udp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
    ua.send(invite);
    const first = await ua.response(invite.callId, 200);
    await ua.response(invite.callId, 200);
    ua.send(ua.ackFor(invite, first));
    await settle(150);
    ua.received.length = 0;
    expect(await ua.nothing((m) => m.kind === 'response', 500)).toBe(true);
  });
});

describe('a CANCEL from the network', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  it('is answered 200 and the INVITE 487 by the engine; the app request emits cancel', async () => {
    h = await startHarness();
    const cancelled = new Promise<void>((resolve) => {
      h!.srf.invite((req, res) => {
        req.on('cancel', () => resolve());
        res.send(180);
      });
    });
    await settle();
    const ua = await h.ua('udp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
    ua.send(invite);
    await ua.response(invite.callId, 180);
    const cancel = ua.makeRequest('CANCEL', invite.uri, {
      callId: invite.callId, branch: invite.topVia.params['branch'], fromTag: invite.fromTag, cseq: 1, contact: null,
    });
    ua.send(cancel);
    await ua.response(invite.callId, 200, 'CANCEL');
    const terminated = await ua.response(invite.callId, 487, 'INVITE');
    await cancelled;
    ua.send(ua.ackForFailure(invite, terminated));
    await settle(300);
    ua.received.length = 0;
    expect(await ua.nothing((m) => m.kind === 'response', 400)).toBe(true);
  });

  it('that matches nothing gets 481', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    const cancel = ua.makeRequest('CANCEL', `sip:bob@${h.udp.address}:${h.udp.port}`, { contact: null });
    ua.send(cancel);
    await ua.response(cancel.callId, 481);
  });
});

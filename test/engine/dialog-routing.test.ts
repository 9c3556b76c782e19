/**
 * Dialogs through record-routing proxies (RFC 3261 12.1, 12.2, 16.12): what the engine puts in
 * dialog-forming responses and in-dialog requests, on both the UAS and the UAC side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { settle, startHarness, type Harness, type TestDialog } from './support/harness.js';
import { SDP, type TestUa } from './support/test-ua.js';

function rr(ua: TestUa, name: string): string {
  return `<sip:${ua.local.address}:${ua.local.port};lr;${name}=1${ua.transport === 'tcp' ? ';transport=tcp' : ''}>`;
}

describe('dialogs behind a record-routing proxy', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`copies Record-Route, in order, into the 180 and 200 of an INVITE, and routes its own BYE by it (${transport})`, async () => {
      h = await startHarness();
      const dialogs: TestDialog[] = [];
      h.srf.invite(async (req, res) => {
        res.send(180);
        dialogs.push(await h!.srf.createUAS(req, res, { localSdp: SDP }));
      });
      await settle();
      const ua = await h.ua(transport);
      const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
      invite.headers.append('Record-Route', rr(ua, 'p1'));
      invite.headers.append('Record-Route', rr(ua, 'p2'));
      ua.send(invite);
      const trying = await ua.response(invite.callId, 100);
      expect(trying.headers.getAll('record-route')).toEqual([]);
      const ringing = await ua.response(invite.callId, 180);
      expect(ringing.headers.getAll('record-route')).toEqual([rr(ua, 'p1'), rr(ua, 'p2')]);
      const ok = await ua.response(invite.callId, 200);
      expect(ok.headers.getAll('record-route')).toEqual([rr(ua, 'p1'), rr(ua, 'p2')]);
      // the ACK comes back through the proxy: with Route headers, to the engine's Contact
      const ack = ua.ackFor(invite, ok);
      ack.headers.append('Route', rr(ua, 'p2'));
      ua.send(ack);
      await settle(100);
      expect(dialogs).toHaveLength(1);
      const done = dialogs[0]!.destroy();
      const bye = await ua.request('BYE', invite.callId);
      // UAS route set = Record-Route in request order (RFC 3261 12.1.1)
      expect(bye.headers.getAll('route')).toEqual([rr(ua, 'p1'), rr(ua, 'p2')]);
      expect(bye.uri).toBe(invite.contactUri());
      ua.respond(bye, 200);
      await done;
    });
  }

  it('answers a caller BYE that arrives with Route headers, and the app dialog ends', async () => {
    h = await startHarness();
    let dialog: TestDialog | undefined;
    h.srf.invite(async (req, res) => { dialog = await h!.srf.createUAS(req, res, { localSdp: SDP }); });
    await settle();
    const ua = await h.ua('udp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
    invite.headers.append('Record-Route', rr(ua, 'p1'));
    ua.send(invite);
    const ok = await ua.response(invite.callId, 200);
    const ack = ua.ackFor(invite, ok);
    ack.headers.append('Route', rr(ua, 'p1'));
    ua.send(ack);
    await settle(100);
    const destroyed = new Promise<void>((r) => dialog!.on('destroy', () => r()));
    const bye = ua.inDialog('BYE', invite, ok, 2);
    bye.headers.append('Route', rr(ua, 'p1'));
    ua.send(bye);
    await ua.response(invite.callId, 200, 'BYE');
    await destroyed;
  });

  it('takes the UAC route set from the 2xx, reversed, for the ACK and the BYE', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    const uacP = h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, { localSdp: SDP });
    const invite = await ua.request('INVITE');
    ua.respond(invite, 200, { toTag: 'rr1', body: SDP, headers: { 'Record-Route': `${rr(ua, 'near')}, ${rr(ua, 'far')}` } });
    const dlg = await uacP;
    const ack = await ua.request('ACK', invite.callId);
    expect(ack.headers.getAll('route')).toEqual([rr(ua, 'far'), rr(ua, 'near')]);
    const done = dlg.destroy();
    const bye = await ua.request('BYE', invite.callId);
    expect(bye.headers.getAll('route')).toEqual([rr(ua, 'far'), rr(ua, 'near')]);
    ua.respond(bye, 200);
    await done;
  });

  it('keeps the spelling of headers the app sets on an INVITE (X-PushHint, X-Call-UUID)', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    void h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, {
      localSdp: SDP, headers: { 'X-PushHint': 'abc', 'X-Call-UUID': 'u-1' },
    }).catch(() => undefined);
    const invite = await ua.request('INVITE');
    const spellings = invite.headers.entries.map((e) => e.spelling);
    expect(spellings).toContain('X-PushHint');
    expect(spellings).toContain('X-Call-UUID');
    ua.respond(invite, 486, { toTag: 'sp1' });
  });
});

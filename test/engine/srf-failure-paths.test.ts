import { afterEach, describe, expect, it } from 'vitest';
import { settle, startHarness, type Harness } from './support/harness.js';
import { SDP } from './support/test-ua.js';

describe('failure paths the engine handles for the app', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  it('a 2xx never ACKed over UDP: BYE to the caller and destroy on the app dialog', async () => {
    h = await startHarness({ timers: { t1: 20, t2: 80, t4: 100 } });
    const destroyed = new Promise<void>((resolve) => {
      h!.srf.invite(async (req, res) => {
        const dlg = await h!.srf.createUAS(req, res, { localSdp: SDP });
        dlg.on('destroy', () => resolve());
      });
    });
    await settle();
    const ua = await h.ua('udp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
    ua.send(invite);
    await ua.response(invite.callId, 200);
    const bye = await ua.request('BYE', invite.callId, 3000);
    expect(bye.headers.get('reason')).toContain('ACK timeout');
    ua.respond(bye, 200);
    await destroyed;
  });

  it('re-ACKs a retransmitted 2xx after srf sent the ACK', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    const uacP = h.srf.createUAC(`sip:bob@${ua.local.address}:${ua.local.port}`, { localSdp: SDP });
    const invite = await ua.request('INVITE');
    const ok = ua.respond(invite, 200, { toTag: 'rt', body: SDP });
    await uacP;
    await ua.request('ACK', invite.callId);
    ua.send(ok);
    const again = await ua.request('ACK', invite.callId);
    expect(again.cseq.method).toBe('ACK');
  });

  it('an app that disconnects mid-call leaves its pending INVITE answered 503', async () => {
    h = await startHarness();
    const gotIt = new Promise<void>((resolve) => h!.srf.invite(() => resolve()));
    await settle();
    const ua = await h.ua('udp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
    ua.send(invite);
    await gotIt;
    h.srf.disconnect();
    const res = await ua.response(invite.callId, 503);
    ua.send(ua.ackForFailure(invite, res));
  });

  it('rejects an INVITE the app answers 486, and the engine absorbs the ACK', async () => {
    h = await startHarness();
    h.srf.invite((_req, res) => res.send(486, { headers: { 'X-Why': 'busy' } }));
    await settle();
    const ua = await h.ua('tcp');
    const invite = ua.makeRequest('INVITE', `sip:bob@${h.tcp.address}:${h.tcp.port}`, { body: SDP });
    ua.send(invite);
    const res = await ua.response(invite.callId, 486);
    expect(res.headers.get('x-why')).toBe('busy');
    ua.send(ua.ackForFailure(invite, res));
    expect(await ua.nothing((m) => m.kind === 'response' && m.status === 486, 300)).toBe(true);
  });
});

describe('srf.proxyRequest', () => {
  it('is refused with an error naming proxy, and the app can still answer the request', async () => {
    const h = await startHarness();
    try {
      const outcome = new Promise<string>((resolve) => {
        h.srf.invite((req, res) => {
          h.srf.proxyRequest(req, ['sip:127.0.0.1:9']).catch((err: unknown) => {
            res.send(480);
            resolve(String(err));
          });
        });
      });
      await settle();
      const ua = await h.ua('udp');
      const invite = ua.makeRequest('INVITE', `sip:bob@${h.udp.address}:${h.udp.port}`, { body: SDP });
      ua.send(invite);
      expect(await outcome).toContain('proxy is not supported');
      const res = await ua.response(invite.callId, 480);
      ua.send(ua.ackForFailure(invite, res));
    } finally {
      await h.close();
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { settle, startHarness, type Harness, type TestSrf } from './support/harness.js';
import { SDP } from './support/test-ua.js';

describe('REGISTER answered by the app pins its TCP connection', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  async function register(h: Harness, expires = 300) {
    const srf: TestSrf = h.srf;
    srf.register((req, res) => {
      res.send(200, { headers: { Contact: `${req.get('Contact')};expires=${expires}`, Expires: String(expires) } });
    });
    await settle();
    const ua = await h.ua('tcp');
    const reg = ua.makeRequest('REGISTER', `sip:${h.tcp.address}:${h.tcp.port}`, { headers: { Expires: String(expires) } });
    ua.send(reg);
    const ok = await ua.response(reg.callId, 200);
    expect(ok.headers.get('contact')).toContain('expires=');
    return ua;
  }

  it('sends a later srf.request to the contact over the REGISTER connection', async () => {
    h = await startHarness();
    const ua = await register(h);
    const sent = h.srf.request(`sip:alice@${ua.local.address}:${ua.local.port};transport=tcp`, {
      method: 'MESSAGE', headers: { 'Content-Type': 'text/plain' }, body: 'wake up',
    });
    const req = await sent;
    const responded = new Promise<number>((resolve) => req.on('response', (res) => resolve(res.status)));
    const msg = await ua.request('MESSAGE');
    expect(msg.body.toString()).toBe('wake up');
    ua.respond(msg, 200, { toTag: 'x1' });
    expect(await responded).toBe(200);
  });

  it('sends a createUAC INVITE over the REGISTER connection and completes the call', async () => {
    h = await startHarness();
    const ua = await register(h);
    const uacP = h.srf.createUAC(`sip:alice@${ua.local.address}:${ua.local.port};transport=tcp`, { localSdp: SDP });
    const invite = await ua.request('INVITE');
    ua.respond(invite, 180, { toTag: 'uas1' });
    ua.respond(invite, 200, { toTag: 'uas1', body: SDP });
    const dlg = await uacP;
    await ua.request('ACK', invite.callId);
    const destroyed = dlg.destroy();
    const bye = await ua.request('BYE', invite.callId);
    ua.respond(bye, 200);
    await destroyed;
  });

  it('answers the app 503 when the registered connection has gone away', async () => {
    h = await startHarness();
    const ua = await register(h);
    ua.close();
    await settle();
    await expect(h.srf.request(`sip:alice@${ua.local.address}:${ua.local.port};transport=tcp`, {
      method: 'OPTIONS',
    }).then((req) => new Promise((resolve) => req.on('response', (res) => resolve(res.status)))))
      .resolves.toBe(503);
  });
});

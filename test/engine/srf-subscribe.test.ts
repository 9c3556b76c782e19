import { afterEach, describe, expect, it } from 'vitest';
import { settle, startHarness, type Harness, type TestDialog } from './support/harness.js';

describe('SUBSCRIBE dialogs', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  it('a subscription answered with createUAS gets NOTIFYs from the app and ends on a terminated NOTIFY', async () => {
    h = await startHarness();
    let dialog: TestDialog | undefined;
    h.srf.subscribe(async (req, res) => {
      dialog = await h!.srf.createUAS(req, res, { headers: { Expires: '60' } });
    });
    await settle();
    const ua = await h.ua('tcp');
    const sub = ua.makeRequest('SUBSCRIBE', `sip:bob@${h.tcp.address}:${h.tcp.port}`, { headers: { Event: 'presence', Expires: '60' } });
    ua.send(sub);
    const ok = await ua.response(sub.callId, (s) => s >= 200 && s < 300, 'SUBSCRIBE');
    expect(ok.headers.get('contact')).toContain(';transport=tcp');
    await settle();
    const p1 = dialog!.request({ method: 'NOTIFY', headers: { Event: 'presence', 'Subscription-State': 'active;expires=60' } });
    const n1 = await ua.request('NOTIFY', sub.callId);
    ua.respond(n1, 200);
    expect((await p1).status).toBe(200);
    const p2 = dialog!.request({ method: 'NOTIFY', headers: { Event: 'presence', 'Subscription-State': 'terminated;reason=timeout' } });
    const n2 = await ua.request('NOTIFY', sub.callId);
    expect(n2.cseq.seq).toBe(n1.cseq.seq + 1);
    ua.respond(n2, 200);
    await p2;
    await settle();
    const late = ua.inDialog('SUBSCRIBE', sub, ok, 2);
    ua.send(late);
    await ua.response(sub.callId, 481, 'SUBSCRIBE');
  });
});

/**
 * One pushwake for several apps: two iOS apps (two teams, two .p8 keys, each key allowed only its
 * own topics by the sink, as APNs does) and two Android apps in two Firebase projects, in one run. Each push is signed
 * with its app's key; a phone of an app no key serves is relayed without push, with a Warning.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_FCM_PROJECT } from '../../lib/testkit/agents.js';
import { SipLab } from '../e2e/support/sip-lab.js';

describe('several apps in one deployment', () => {
  let lab: SipLab;
  let brand2KeyId = '';
  beforeEach(async () => {
    lab = await SipLab.start({
      engine: 'embedded',
      withSink: (sink, dir) => {
        const key = sink.addProviderKey({ topics: ['com.brand2.phone'] });
        brand2KeyId = key.keyId;
        const keyFile = join(dir, 'brand2.p8');
        writeFileSync(keyFile, key.keyPem, { mode: 0o600 });
        const second = join(dir, 'second-project.json');
        writeFileSync(second, JSON.stringify(sink.fcm.addProject('second-app-2')), { mode: 0o600 });
        return {
          apns: { topics: ['com.example.phone'], apps: [{ topics: ['com.brand2.phone'], keyFile, keyId: key.keyId, teamId: key.teamId }] },
          fcm: { moreServiceAccountFiles: [second] },
        };
      },
    });
  });
  afterEach(async () => {
    await lab.stop();
  });

  it('signs each iOS push with its app\'s key, wakes the Android phone through FCM, and refuses push for an unknown app', async () => {
    const brand1 = lab.phone('ann', { push: 'rfc8599' });
    const brand2 = lab.phone('ben', { push: 'rfc8599' });
    brand2.pnParam = 'TEAM222222.com.brand2.phone.voip';
    const android = lab.phone('cat', { push: 'fcm' });
    const android2 = lab.phone('eve', { push: 'fcm' });
    android2.fcmProject = 'second-app-2';
    const stranger = lab.phone('dan', { push: 'rfc8599' });
    stranger.pnParam = 'TEAM333333.com.unknown.app.voip';
    for (const p of [brand1, brand2, android, android2]) expect((await p.register()).status).toBe(200);
    const refused = await stranger.register();
    expect(refused.status).toBe(200);
    expect(refused.get('Warning')).toContain('APNs topic com.unknown.app.voip is not configured');
    expect((await lab.pushwake.store.listBindings(stranger.aor))[0]?.push).toBeUndefined();

    for (const p of [brand1, brand2, android, android2]) {
      const result = await lab.pbx.call(p.aor).done;
      expect(result.status, p.user).toBe(200);
      await result.dialog?.destroy();
    }
    const [p1, p2, p3] = [brand1, brand2, android].map((p) => lab.pushesFor(p));
    expect(p1).toEqual([expect.objectContaining({ topic: 'com.example.phone.voip', providerKeyId: lab.sink.keyId })]);
    expect(p2).toEqual([expect.objectContaining({ topic: 'com.brand2.phone.voip', providerKeyId: brand2KeyId })]);
    expect(p3).toEqual([expect.objectContaining({ provider: 'fcm', topic: TEST_FCM_PROJECT })]);
    expect(lab.pushesFor(android2)).toEqual([expect.objectContaining({ provider: 'fcm', topic: 'second-app-2' })]);
    expect(brand2KeyId).not.toBe(lab.sink.keyId);
  }, 60_000);
});

describe('RFC 8599 end to end', () => {
  it('a push service pushwake does not serve gets 555 with Feature-Caps, and nothing is relayed upstream', async () => {
    const lab = await SipLab.start({ engine: 'embedded' });
    try {
      const before = lab.pbx.registers.length;
      const res = await new Promise<{ status: number; caps: string | undefined }>((resolve, reject) => {
        lab.agentApp.request('sip:example.com', {
          method: 'REGISTER',
          proxy: `sip:${lab.pushwakeHost};transport=tcp`,
          headers: {
            From: '<sip:web@example.com>;tag=w1', To: '<sip:web@example.com>', 'Call-ID': 'webpush-1', CSeq: '1 REGISTER',
            Contact: '<sip:web@127.0.0.1:5999;transport=tcp;pn-provider=webpush;pn-prid=abc;pn-param=x>', Expires: '600',
          },
        }, (r) => {
          if (r.status >= 200) resolve({ status: r.status, caps: r.get('Feature-Caps') });
        }).catch(reject);
      });
      expect(res).toEqual({ status: 555, caps: '*;+sip.pns="apns,fcm"' });
      expect(lab.pbx.registers.length).toBe(before);
    } finally {
      await lab.stop();
    }
  }, 30_000);
});

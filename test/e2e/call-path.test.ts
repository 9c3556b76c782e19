/**
 * The call path end to end over real SIP on loopback: agents (PBX, phones) ↔ SIP engine ↔
 * pushwake ↔ push sink. Runs against the embedded engine always, and against a real
 * drachtio-server too when DRACHTIO_BIN names one.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipLab, enginesUnderTest } from './support/sip-lab.js';
import { OFFER_SDP, TEST_FCM_PROJECT, waitFor } from '../../lib/testkit/agents.js';
import { requestFinal } from '../../lib/sip/srf.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { findRedisServer, startRedisServer, type TestRedisServer } from '../support/redis-server.js';

if (!drachtioBin()) {
  console.log('[e2e] SKIPPED the drachtio-server run: no DRACHTIO_BIN and no drachtio on PATH. The call-path suite runs on the embedded engine only.');
}

describe.each(enginesUnderTest())('call path over %s engine', (engine) => {
  let lab: SipLab;
  beforeEach(async () => {
    lab = await SipLab.start({ engine });
  });
  afterEach(async () => {
    await lab.stop();
  });

  it('relays a REGISTER upstream with a per-device contact and stores the binding after the 2xx', async () => {
    const phone = lab.phone('alice');
    const res = await phone.register();
    expect(res.status).toBe(200);
    const up = lab.pbx.registers.at(-1);
    expect(up?.contact).toMatch(/^sip:pw-[0-9a-f]{20}@/);
    expect(up?.expires).toBe(3600);
    const bindings = await lab.pushwake.store.listBindings('sip:alice@example.com');
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.push?.token).toBe(phone.token);
    expect(bindings[0]?.instanceId).toBe(phone.instance);
  });

  it('one phone wakes and answers; BYE from the caller ends both legs', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    const call = lab.pbx.call('sip:alice@example.com');
    const result = await call.done;
    expect(result.status).toBe(200);
    expect(call.provisionals).toContain(180);
    const pushes = lab.pushesFor(phone);
    expect(pushes).toHaveLength(1);
    const aps = pushes[0]?.payload['aps'] as Record<string, unknown>;
    expect(aps).toMatchObject({ callerNumber: '1000', callerName: 'Bob Caller', withVideo: false });
    expect(pushes[0]).toMatchObject({ pushType: 'voip', priority: 10, topic: 'com.example.phone.voip' });
    expect(pushes[0]?.collapseId).toBe(pushes[0]?.payload['callUuid']);
    expect((pushes[0]?.expiration ?? 0) * 1000).toBeGreaterThan(Date.now() + 20_000);
    const invite = phone.invites[0];
    expect(invite?.pushHint).toBe(aps['pushHint']);
    expect(invite?.callUuid).toBe(pushes[0]?.payload['callUuid']);
    expect(invite?.protocol.toLowerCase()).toBe('tcp');
    await result.dialog?.destroy();
    await waitFor('device leg hangup', () => lab.pushwake.calls.size === 0);
  });

  it('a re-INVITE from the PBX after the answer is relayed to the phone and answered 200', async () => {
    const phone = lab.phone('alice', { push: 'none' });
    await phone.register();
    const result = await lab.pbx.call('sip:alice@example.com').done;
    expect(result.status).toBe(200);
    const dialog = result.dialog;
    if (!dialog) throw new Error('no dialog');
    const reinvite = await requestFinal(dialog, { method: 'INVITE', headers: { 'Content-Type': 'application/sdp' }, body: OFFER_SDP.replace('o=pbx 1 1', 'o=pbx 1 2') });
    expect(reinvite.status).toBe(200);
    expect(reinvite.body).toContain('m=audio');
    await dialog.destroy();
    await waitFor('hangup', () => lab.pushwake.calls.size === 0);
  });

  it('an INVITE without an SDP offer gets 488 and no push', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    expect((await lab.pbx.call('sip:alice@example.com', { sdp: '' }).done).status).toBe(488);
    expect(lab.sink.pushes).toHaveLength(0);
  });

  it('the caller cancels before the wake; the phone gets INVITE+CANCEL with the Reason when it wakes', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    phone.wakeOnPush = false;
    const call = lab.pbx.call('sip:alice@example.com');
    await waitFor('push', () => lab.pushesFor(phone).length === 1);
    call.cancel('SIP;cause=487;text="ORIGINATOR_CANCEL"');
    expect((await call.done).status).toBe(487);
    await waitFor('call gone', () => lab.pushwake.calls.size === 0);
    await phone.register();
    const notice = await waitFor('ended notice', () => phone.invites.find((i) => i.cancelled));
    expect(notice.cancelReason).toBe('SIP;cause=487;text="ORIGINATOR_CANCEL"');
    expect(notice.pushHint).toBe((lab.pushesFor(phone)[0]?.payload['aps'] as Record<string, unknown>)['pushHint']);
    expect(lab.pushesFor(phone)).toHaveLength(1);
  });

  it('two phones: one answers, the other gets CANCEL with cause=200', async () => {
    const a = lab.phone('alice');
    const b = lab.phone('alice');
    b.behaviour = 'ring';
    await a.register();
    await b.register();
    a.wakeOnPush = false;
    const call = lab.pbx.call('sip:alice@example.com');
    await waitFor('b rings', () => b.invites.length === 1);
    await a.register();
    const result = await call.done;
    expect(result.status).toBe(200);
    await waitFor('cancel on b', () => b.invites[0]?.cancelled);
    expect(b.invites[0]?.cancelReason).toBe('SIP;cause=200;text="Call completed elsewhere"');
    await result.dialog?.destroy();
  });

  it('a decline on one phone gives 603 everywhere', async () => {
    const a = lab.phone('alice');
    const b = lab.phone('alice');
    a.behaviour = 'decline';
    b.behaviour = 'ring';
    await a.register();
    await b.register();
    a.wakeOnPush = false;
    const call = lab.pbx.call('sip:alice@example.com');
    await waitFor('b rings', () => b.invites.length === 1);
    await a.register();
    const result = await call.done;
    expect(result.status).toBe(603);
    await waitFor('cancel on b', () => b.invites[0]?.cancelled);
    expect(b.invites[0]?.cancelReason).toMatch(/^SIP;cause=603/);
  });

  it('a busy phone gives 486', async () => {
    const a = lab.phone('alice');
    a.behaviour = 'busy';
    await a.register();
    expect((await lab.pbx.call('sip:alice@example.com').done).status).toBe(486);
  });

  it('a wake timeout gives 480 with a Reason', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    phone.wakeOnPush = false;
    const started = Date.now();
    const result = await lab.pbx.call('sip:alice@example.com').done;
    expect(result.status).toBe(480);
    expect(result.reasonHeader).toContain('cause=480');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3900);
  });

  it('a body that is not an SDP offer gets 415 or 488 and no push (issue 11)', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    expect((await lab.pbx.call('sip:alice@example.com', { sdp: 'v=0\r\nnot an offer\r\n' }).done).status).toBe(488);
    expect((await lab.pbx.call('sip:alice@example.com', { sdp: OFFER_SDP, headers: { 'Content-Type': 'text/plain' } }).done).status).toBe(415);
    expect(lab.sink.pushes).toHaveLength(0);
  });

  it('an INVITE with Max-Forwards 0 gets 483 and no push (issue 11)', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    expect((await lab.pbx.call('sip:alice@example.com', { headers: { 'Max-Forwards': '0' } }).done).status).toBe(483);
    expect(lab.sink.pushes).toHaveLength(0);
  });

  it('a push that fails for an awake phone rings it over its flow only until the wake timeout, then 480 push failed (issue 11)', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    phone.behaviour = 'ring';
    lab.sink.setRule({ token: phone.token, respond: 'unregistered' });
    const started = Date.now();
    const result = await lab.pbx.call('sip:alice@example.com').done;
    expect(result.status).toBe(480);
    expect(result.reasonHeader).toBe('SIP;cause=480;text="Push notification failed"');
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(3900);
    expect(took).toBeLessThan(7000);
  });

  it('an out-of-dialog MESSAGE to pushwake gets 405 with Allow (issue 11)', async () => {
    const status = await new Promise<{ status: number; allow?: string }>((resolve, reject) => {
      lab.agentApp.request(`sip:${lab.pushwakeHost}`, {
        method: 'MESSAGE', headers: { From: '<sip:x@example.com>', To: `<sip:${lab.pushwakeHost}>`, 'Content-Type': 'text/plain' }, body: 'hi',
      }, (res) => { if (res.status >= 200) resolve({ status: res.status, ...(res.get('Allow') ? { allow: res.get('Allow') } : {}) }); }).catch(reject);
    });
    expect(status.status).toBe(405);
    expect(status.allow).toBe('INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS');
  });

  it('an APNs 410 removes the token, and the next call fails with no push', async () => {
    await lab.stop();
    lab = await SipLab.start({ engine, config: { registration: { minExpires: 1 } } });
    const phone = lab.phone('alice');
    await phone.register({ expires: 1 });
    await new Promise((r) => setTimeout(r, 1100)); // the phone sleeps: its own registration is over
    lab.sink.setRule({ token: phone.token, respond: 'unregistered' });
    expect((await lab.pbx.call('sip:alice@example.com').done).status).toBe(480);
    const [binding] = await lab.pushwake.store.listBindings('sip:alice@example.com');
    expect(binding?.push).toBeUndefined();
    const before = lab.sink.pushes.length;
    expect((await lab.pbx.call('sip:alice@example.com').done).status).toBe(480);
    expect(lab.sink.pushes.length).toBe(before);
  });

  it('a duplicate INVITE with the same Call-ID gives one push', async () => {
    const phone = lab.phone('alice');
    await phone.register();
    phone.wakeOnPush = false;
    const first = lab.pbx.call('sip:alice@example.com', { headers: { 'Call-ID': 'dup-call-1@pbx' } });
    await waitFor('push', () => lab.pushesFor(phone).length === 1);
    const second = await lab.pbx.call('sip:alice@example.com', { headers: { 'Call-ID': 'dup-call-1@pbx' } }).done;
    expect(second.status).toBe(482);
    first.cancel();
    expect((await first.done).status).toBe(487);
    // The original call's CANCEL still reached it: the call is gone and the phone owed a notice.
    await waitFor('call gone', () => lab.pushwake.calls.size === 0);
    expect(lab.pushesFor(phone)).toHaveLength(1);
  });

  it('a device without push is rung at once', async () => {
    const phone = lab.phone('bob', { push: 'none' });
    await phone.register();
    const result = await lab.pbx.call('sip:bob@example.com').done;
    expect(result.status).toBe(200);
    expect(lab.sink.pushes).toHaveLength(0);
    await result.dialog?.destroy();
  });

  it('a challenged REGISTER is passed back and stores nothing until its authenticated retry', async () => {
    lab.pbx.challenge = true;
    const phone = lab.phone('alice');
    const first = await phone.register();
    expect(first.status).toBe(401);
    expect(first.get('WWW-Authenticate')).toContain('Digest realm="pbx"');
    expect(await lab.pushwake.store.listBindings('sip:alice@example.com')).toHaveLength(0);
    const auth = 'Digest username="alice", realm="pbx", nonce="n", uri="sip:example.com", response="0123"';
    const second = await phone.register({ authorization: auth });
    expect(second.status).toBe(200);
    expect(lab.pbx.registers.at(-1)?.authorization).toBe(auth);
    expect(await lab.pushwake.store.listBindings('sip:alice@example.com')).toHaveLength(1);
  });

  it('a REGISTER addressed to pushwake itself is relayed to the registrar', async () => {
    const phone = lab.phone('frank');
    phone.registerUri = `sip:${lab.pushwakeHost}`;
    expect((await phone.register()).status).toBe(200);
    expect(await lab.pushwake.store.listBindings('sip:frank@example.com')).toHaveLength(1);
  });

  it('an unknown callee gets 404 and no push', async () => {
    expect((await lab.pbx.call('sip:nobody@example.com').done).status).toBe(404);
    expect(lab.sink.pushes).toHaveLength(0);
  });

  it('a call to one device contact reaches only that device', async () => {
    const a = lab.phone('alice');
    const b = lab.phone('alice');
    await a.register();
    await b.register();
    const [bindingA] = (await lab.pushwake.store.listBindings('sip:alice@example.com')).filter((x) => x.push?.token === a.token);
    const result = await lab.pbx.call(`sip:${bindingA?.localContactUser}@${lab.pushwakeHost}`).done;
    expect(result.status).toBe(200);
    expect(lab.pushesFor(a)).toHaveLength(1);
    expect(lab.pushesFor(b)).toHaveLength(0);
    await result.dialog?.destroy();
  });

  it('invalid push data is relayed without push, with a Warning on the 200', async () => {
    const phone = lab.phone('carol', { push: 'bad-token' });
    const res = await phone.register();
    expect(res.status).toBe(200);
    expect(res.get('Warning')).toMatch(/^399 .* "X-Token is not an APNs token/);
    const [b] = await lab.pushwake.store.listBindings('sip:carol@example.com');
    expect(b?.push).toBeUndefined();
  });

  it('a phone registering over UDP is woken and answered over UDP', async () => {
    const phone = lab.phone('dave', { transport: 'udp', push: 'rfc8599' });
    const ok = await phone.register();
    // RFC 8599 4.1.1: the 2xx says which push services pushwake serves; X-Token clients get a plain 200
    expect(ok.get('Feature-Caps')).toBe('*;+sip.pns="apns,fcm"');
    expect((await lab.phone('plain', { push: 'x-token' }).register()).get('Feature-Caps')).toBeUndefined();
    const result = await lab.pbx.call('sip:dave@example.com').done;
    expect(result.status).toBe(200);
    expect(phone.invites[0]?.protocol.toLowerCase()).toBe('udp');
    await result.dialog?.destroy();
  });

  it('an Android phone (RFC 8599 pn-provider=fcm) is woken by a high-priority FCM data message and answers', async () => {
    const phone = lab.phone('andy', { push: 'fcm' });
    const ok = await phone.register();
    expect(ok.status).toBe(200);
    expect(ok.get('Feature-Caps')).toBe('*;+sip.pns="apns,fcm"');
    expect((await lab.pushwake.store.listBindings('sip:andy@example.com'))[0]?.push).toMatchObject({ provider: 'fcm', token: phone.token, topic: TEST_FCM_PROJECT });
    const result = await lab.pbx.call('sip:andy@example.com').done;
    expect(result.status).toBe(200);
    const pushes = lab.pushesFor(phone);
    expect(pushes).toEqual([expect.objectContaining({ provider: 'fcm', topic: TEST_FCM_PROJECT, pushType: 'fcm-data' })]);
    const aps = JSON.parse(String(pushes[0]?.payload['aps'])) as Record<string, unknown>;
    expect(phone.invites[0]?.pushHint).toBe(aps['pushHint']);
    expect(phone.invites[0]?.callUuid).toBe(pushes[0]?.payload['callUuid']);
    await result.dialog?.destroy();
  });

  it('FCM UNREGISTERED drops the Android token, as APNs 410 does', async () => {
    const phone = lab.phone('andy', { push: 'fcm' });
    await phone.register();
    phone.wakeOnPush = false;
    lab.sink.setRule({ token: phone.token, respond: 'unregistered' });
    await lab.pbx.call('sip:andy@example.com').done;
    expect((await lab.pushwake.store.listBindings('sip:andy@example.com'))[0]?.push).toBeUndefined();
  });

  it('Expires: 0 removes the binding and unregisters upstream', async () => {
    const phone = lab.phone('erin', { push: 'xtoken' });
    await phone.register();
    expect(await lab.pushwake.store.listBindings('sip:erin@example.com')).toHaveLength(1);
    expect((await phone.register({ expires: 0 })).status).toBe(200);
    expect(lab.pbx.registers.at(-1)?.expires).toBe(0);
    expect(await lab.pushwake.store.listBindings('sip:erin@example.com')).toHaveLength(0);
  });
});

describe('call path durability (embedded engine)', () => {
  it('bindings survive a restart: a call after it still wakes the sleeping phone', async () => {
    const lab = await SipLab.start({ engine: 'embedded' });
    try {
      const phone = lab.phone('alice');
      await phone.register();
      await lab.restartPushwake();
      const result = await lab.pbx.call('sip:alice@example.com').done;
      expect(result.status).toBe(200);
      expect(lab.pushesFor(phone)).toHaveLength(1);
      await result.dialog?.destroy();
    } finally {
      await lab.stop();
    }
  });

  it('with engine.appLink tcp (the wire over a socket, as another app would): a sleeping phone wakes and answers', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { engine: { appLink: 'tcp' } } });
    try {
      expect(lab.config.engine.appLink).toBe('tcp');
      const phone = lab.phone('alice');
      expect((await phone.register()).status).toBe(200);
      const result = await lab.pbx.call('sip:alice@example.com').done;
      expect(result.status).toBe(200);
      expect(lab.pushesFor(phone)).toHaveLength(1);
      await result.dialog?.destroy();
    } finally {
      await lab.stop();
    }
  });

  describe.skipIf(!findRedisServer())('with the Redis store', () => {
    let redis: TestRedisServer | undefined;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('one phone wakes and answers, bindings in Redis', async () => {
      const lab = await SipLab.start({ engine: 'embedded', redisUrl: redis?.url });
      try {
        const phone = lab.phone('alice');
        await phone.register();
        const result = await lab.pbx.call('sip:alice@example.com').done;
        expect(result.status).toBe(200);
        await result.dialog?.destroy();
      } finally {
        await lab.stop();
      }
    });
  });
});

describe('ended notice modes and registrar quirks (embedded engine)', () => {
  const cancelledCall = async (lab: SipLab) => {
    const phone = lab.phone('alice');
    await phone.register();
    phone.wakeOnPush = false;
    const call = lab.pbx.call('sip:alice@example.com');
    await waitFor('push', () => lab.pushesFor(phone).length === 1);
    call.cancel();
    await call.done;
    await waitFor('call gone', () => lab.pushwake.calls.size === 0);
    await phone.register();
    return phone;
  };

  it('message mode: the waking phone gets a MESSAGE naming the call and the Reason', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { endedNotice: { mode: 'message' } } });
    try {
      const phone = await cancelledCall(lab);
      const msg = await waitFor('MESSAGE', () => phone.messages[0]);
      expect(msg.contentType).toBe('application/json');
      const body = JSON.parse(msg.body) as Record<string, unknown>;
      expect(body).toMatchObject({ event: 'call-ended', callUuid: lab.pushesFor(phone)[0]?.payload['callUuid'], reason: 'SIP;cause=487;text="Call cancelled"' });
      expect(phone.invites).toHaveLength(0);
    } finally {
      await lab.stop();
    }
  });

  it('push mode: the waking phone gets a second VoIP push marked cancel', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { endedNotice: { mode: 'push' } } });
    try {
      const phone = await cancelledCall(lab);
      const second = await waitFor('cancel push', () => lab.pushesFor(phone)[1]);
      expect(second.payload).toMatchObject({ cancel: true, reason: 'SIP;cause=487;text="Call cancelled"', callUuid: lab.pushesFor(phone)[0]?.payload['callUuid'] });
    } finally {
      await lab.stop();
    }
  });

  it('off: nothing is sent to the waking phone', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { endedNotice: { mode: 'off' } } });
    try {
      const phone = await cancelledCall(lab);
      await new Promise((r) => setTimeout(r, 300));
      expect(phone.invites).toHaveLength(0);
      expect(lab.pushesFor(phone)).toHaveLength(1);
    } finally {
      await lab.stop();
    }
  });

  it('a 423 from the registrar is retried once with its Min-Expires', async () => {
    const lab = await SipLab.start({ engine: 'embedded' });
    try {
      lab.pbx.forceStatus = { status: 423, reason: 'Interval Too Brief', headers: { 'Min-Expires': '7200' }, once: true };
      const phone = lab.phone('alice');
      expect((await phone.register()).status).toBe(200);
      const [first, second] = lab.pbx.registers;
      expect(first?.expires).toBe(3600);
      expect(second?.expires).toBe(7200);
      expect(Number(second?.cseq.split(' ')[0])).toBeGreaterThan(Number(first?.cseq.split(' ')[0]));
    } finally {
      await lab.stop();
    }
  });

  it('a registrar that does not answer gives the phone 504 and stores nothing', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { upstream: { registerTimeoutMs: 500 } } });
    try {
      lab.pbx.silent = true;
      const phone = lab.phone('alice');
      expect((await phone.register()).status).toBe(504);
      expect(await lab.pushwake.store.listBindings('sip:alice@example.com')).toHaveLength(0);
    } finally {
      await lab.stop();
    }
  });
});

describe('call path limits (embedded engine)', () => {
  it('INVITEs from an untrusted source get 403 and never cause a push', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { upstream: { trustedSources: ['192.0.2.1/32'] } } });
    try {
      const phone = lab.phone('alice');
      await phone.register();
      expect((await lab.pbx.call('sip:alice@example.com').done).status).toBe(403);
      expect(lab.sink.pushes).toHaveLength(0);
    } finally {
      await lab.stop();
    }
  });

  it('beyond maxParkedCalls an INVITE gets 503 with Retry-After', async () => {
    const lab = await SipLab.start({ engine: 'embedded', config: { call: { maxParkedCalls: 1 } } });
    try {
      const phone = lab.phone('alice');
      await phone.register();
      phone.wakeOnPush = false;
      const first = lab.pbx.call('sip:alice@example.com');
      await waitFor('push', () => lab.sink.pushes.length === 1);
      const second = await lab.pbx.call('sip:alice@example.com').done;
      expect(second.status).toBe(503);
      first.cancel();
      await first.done;
    } finally {
      await lab.stop();
    }
  });
});

describe.each(enginesUnderTest())('call path over SIP over TLS (%s engine)', (engine) => {
  it('a phone registers over TLS, is pushed, re-registers over TLS and takes the INVITE on that connection', async () => {
    const lab = await SipLab.start({ engine, tls: true });
    try {
      const phone = lab.phone('alice', { transport: 'tls' });
      expect((await phone.register()).status).toBe(200);
      const [binding] = await lab.pushwake.store.listBindings('sip:alice@example.com');
      expect(binding?.flow.transport).toBe('tls');
      const call = lab.pbx.call('sip:alice@example.com');
      const result = await call.done;
      expect(result.status).toBe(200);
      expect(lab.pushesFor(phone)).toHaveLength(1);
      expect(phone.invites[0]?.protocol.toLowerCase()).toBe('tls');
      // the phone's 200 names a Contact without transport=tls (the agents' engine listens on UDP
      // and TCP only): in-dialog requests must still come over the phone's TLS connection
      const phoneDialog = await waitFor('phone dialog', () => phone.invites[0]?.dialog);
      const bye = new Promise<string>((resolve) => phoneDialog.on('destroy', (req) => resolve(req.get('Via') ?? '')));
      await result.dialog?.destroy();
      expect(await bye).toMatch(/^SIP\/2\.0\/TLS /i);
      await waitFor('hangup', () => lab.pushwake.calls.size === 0);
    } finally {
      await lab.stop();
    }
  });

  // drachtio-server lists its transports to the app in no set order (tls/…,tcp/…,udp/… here):
  // pushwake used to advertise the first, a TLS port as transport=udp, where nothing listens, and
  // the PBX's INVITEs to that Contact timed out after 32 s.
  it('the Contact relayed upstream names pushwake\'s UDP/TCP listener, not the TLS one', async () => {
    const lab = await SipLab.start({ engine, tls: true });
    try {
      const phone = lab.phone('alice', { transport: 'tls' });
      expect((await phone.register()).status).toBe(200);
      const contact = lab.pbx.registers.at(-1)?.contact ?? '';
      expect(contact).toMatch(/;transport=udp\b/);
      expect(contact.replace(/^sip:[^@]*@/, '').replace(/;.*$/, '')).toBe(lab.pushwakeHost);
    } finally {
      await lab.stop();
    }
  });
});

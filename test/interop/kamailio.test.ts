/**
 * Interop with a real registrar and record-routing proxy that no one here wrote: Kamailio from
 * Debian (`apt-get install kamailio`; .ci/run installs it). The provider's deployment in small:
 *
 *   phone ──REGISTER──▶ pushwake ──REGISTER (digest by the phone)──▶ Kamailio (usrloc in memory)
 *   caller ──INVITE sip:alice@example.com──▶ Kamailio ──(Record-Route)──▶ pushwake ──▶ phone
 *
 * ACK and BYE travel back through Kamailio on the route set pushwake's 200 carried. Runs on the
 * embedded engine, and on a real drachtio-server when DRACHTIO_BIN names one.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipLab, enginesUnderTest } from '../e2e/support/sip-lab.js';
import { Pbx, waitFor, type Phone, type PushStyle } from '../../lib/testkit/agents.js';
import { kamailioBin, passwordFor, startKamailio, type Kamailio } from '../../lib/testkit/kamailio.js';
import type { SipDialog } from '../../lib/sip/srf.js';

const bin = kamailioBin();
if (!bin) console.log('[interop] SKIPPED the Kamailio suite: no KAMAILIO_BIN and no kamailio on PATH or in /usr/sbin (apt-get install kamailio).');

const dialogEnded = (dialog: SipDialog | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (!dialog || dialog.connected === false) resolve();
    else dialog.on('destroy', () => resolve());
  });

describe.skipIf(!bin).each(enginesUnderTest())('pushwake behind Kamailio (%s engine)', (engine) => {
  let kamailio: Kamailio;
  beforeAll(async () => {
    kamailio = await startKamailio(bin ?? '');
  });
  afterAll(async () => {
    await kamailio.stop();
  });

  describe.each(['udp', 'tcp'] as const)('over %s', (transport) => {
    let lab: SipLab;
    /** The caller side: an agent that calls AORs at Kamailio. */
    let caller: Pbx;
    const proxyUri = (): string => (transport === 'tcp' ? `${kamailio.uri};transport=tcp` : kamailio.uri);

    beforeEach(async () => {
      lab = await SipLab.start({
        engine,
        // no test here waits for a wake timeout; a loaded machine (every suite at once, drachtio-server,
        // Kamailio and FreeSWITCH on 2 cores) must not end a call whose phone a test wakes a little late
        config: { upstream: { registrar: proxyUri(), trustedSources: [`${kamailio.address}/32`] }, call: { wakeTimeoutMs: 20_000, ringTimeoutMs: 30_000 } },
      });
      caller = new Pbx(lab.agentApp, proxyUri());
    });
    afterEach(async (ctx) => {
      if (ctx.task.result?.state === 'fail') process.stderr.write(`--- kamailio log tail ---\n${kamailio.output().slice(-6000)}\n`);
      await lab.stop();
    });

    let users = 0;
    /** A phone with a user of its own (Kamailio's usrloc outlives each test's lab). */
    const phone = (push: PushStyle = 'x-token'): Phone => {
      const p = lab.phone(`${engine}${transport}u${++users}x${Date.now() % 100000}`, { transport, push });
      p.credentials = { username: p.user, password: passwordFor(p.user) };
      return p;
    };

    it('a phone registers through pushwake and answers Kamailio\'s digest challenge; pushwake stores the binding', async () => {
      const p = phone();
      const res = await p.register();
      expect(res.status).toBe(200);
      expect(p.challengesAnswered).toBe(1);
      const bindings = await lab.pushwake.store.listBindings(p.aor);
      expect(bindings).toHaveLength(1);
      expect(bindings[0]?.push?.token).toBe(p.token);
      // a wrong password is Kamailio's to refuse, and pushwake stores nothing more
      const intruder = phone();
      intruder.credentials = { username: intruder.user, password: 'wrong' };
      expect((await intruder.register()).status).toBe(401);
      expect(await lab.pushwake.store.listBindings(intruder.aor)).toHaveLength(0);
    });

    it('a call through the record-routing proxy wakes the phone; ACK and BYE travel through Kamailio', async () => {
      const p = phone();
      expect((await p.register()).status).toBe(200);
      const call = caller.call(p.aor);
      const result = await call.done;
      expect(result.status).toBe(200);
      expect(call.provisionals).toContain(180);
      // one push, one INVITE, although the woken phone's REGISTER was challenged and re-sent
      expect(lab.pushesFor(p)).toHaveLength(1);
      expect(p.invites).toHaveLength(1);
      expect(p.challengesAnswered).toBe(2);
      const pushHint = (lab.pushesFor(p)[0]?.payload['aps'] as Record<string, unknown>)['pushHint'];
      expect(p.invites[0]?.pushHint).toBe(pushHint);
      // the caller's ACK reached Kamailio and was loose-routed on to pushwake
      await waitFor('ACK routed by Kamailio', () => /pwk routed ACK/.test(kamailio.output()) || undefined);
      // stays up past the answer (no ACK timeout, no 404 for the BYE), then BYE from the caller
      const phoneDialog = await waitFor('phone dialog', () => p.invites[0]?.dialog);
      const phoneHungUp = dialogEnded(phoneDialog);
      await result.dialog?.destroy();
      await phoneHungUp;
      await waitFor('call gone', () => lab.pushwake.calls.size === 0);
      expect(kamailio.output()).not.toMatch(/Not here/);
    });

    it('a BYE from the phone reaches the caller through Kamailio', async () => {
      const p = phone('xtoken');
      await p.register();
      const result = await caller.call(p.aor).done;
      expect(result.status).toBe(200);
      const callerHungUp = dialogEnded(result.dialog);
      const phoneDialog = await waitFor('phone dialog', () => p.invites[0]?.dialog);
      await phoneDialog.destroy();
      await callerHungUp;
      await waitFor('call gone', () => lab.pushwake.calls.size === 0);
    });

    it('the caller cancels before the wake: 487 through Kamailio, and an ended notice when the phone wakes', async () => {
      const p = phone();
      await p.register();
      p.wakeOnPush = false;
      const call = caller.call(p.aor);
      await waitFor('push', () => lab.pushesFor(p).length === 1);
      call.cancel('SIP;cause=487;text="ORIGINATOR_CANCEL"');
      expect((await call.done).status).toBe(487);
      await waitFor('call gone', () => lab.pushwake.calls.size === 0);
      expect((await p.register()).status).toBe(200);
      const notice = await waitFor('ended notice', () => p.invites.find((i) => i.cancelled));
      expect(notice.cancelReason).toBe('SIP;cause=487;text="ORIGINATOR_CANCEL"');
      expect(lab.pushesFor(p)).toHaveLength(1);
    });

    it('an RFC 8599 phone (pn-provider/pn-prid/pn-param) is pushed with its own topic and answers', async () => {
      const p = phone('rfc8599');
      await p.register();
      const result = await caller.call(p.aor).done;
      expect(result.status).toBe(200);
      expect(lab.pushesFor(p)[0]?.topic).toBe('com.example.phone.voip');
      await result.dialog?.destroy();
      await waitFor('call gone', () => lab.pushwake.calls.size === 0);
    });

    it('unregister: Kamailio drops the binding, and the next call gets 404 from Kamailio with no push', async () => {
      const p = phone();
      await p.register();
      expect((await p.register({ expires: 0 })).status).toBe(200);
      expect(await lab.pushwake.store.listBindings(p.aor)).toHaveLength(0);
      expect((await caller.call(p.aor).done).status).toBe(404);
      expect(lab.pushesFor(p)).toHaveLength(0);
    });

    // Kamailio forks in a fixed contact order; one of these two makes the first fork answer and
    // the other the second, which is the order that used to lose the caller's BYE and the CANCEL.
    it.each([0, 1])('two devices of one user: Kamailio forks to both of pushwake\'s contacts; device %i answers, the other is cancelled with cause=200', async (answering) => {
      const first = phone();
      const second = lab.phone(first.user, { transport, push: 'x-token' });
      second.credentials = first.credentials;
      await first.register();
      await second.register();
      const answerer = answering === 0 ? first : second;
      const ringer = answering === 0 ? second : first;
      ringer.behaviour = 'ring';
      answerer.wakeOnPush = false;
      const call = caller.call(first.aor);
      await waitFor('the other device rings', () => ringer.invites.length === 1, 20_000);
      await answerer.register();
      const result = await call.done;
      expect(result.status).toBe(200);
      await waitFor('the other device cancelled', () => ringer.invites[0]?.cancelled || undefined);
      // Kamailio's CANCEL for the losing branch carries RFC 3326's Reason, and pushwake passes it on
      expect(ringer.invites[0]?.cancelReason).toMatch(/^SIP;cause=200/);
      expect(lab.pushesFor(first)).toHaveLength(1);
      expect(lab.pushesFor(second)).toHaveLength(1);
      const answered = await waitFor('answered dialog', () => answerer.invites[0]?.dialog);
      const phoneHungUp = dialogEnded(answered);
      await result.dialog?.destroy();
      await phoneHungUp;
      await waitFor('calls gone', () => lab.pushwake.calls.size === 0);
    });
  });
});

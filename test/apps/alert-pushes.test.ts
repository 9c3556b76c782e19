/**
 * Alert pushes (off by default): a missed call reaches the user as a standard alert push on the
 * app's regular token and non-VoIP topic, also when the device is suspected restricted and gets no
 * VoIP push at all; a call answered on another device is announced to the others.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor, type Phone } from '../../lib/testkit/agents.js';
import { SipLab } from '../e2e/support/sip-lab.js';

describe('alert pushes', () => {
  let lab: SipLab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  /** A phone with an alert token that sleeps through a call its caller then cancels. */
  async function missedCall(l: SipLab): Promise<Phone> {
    const phone = l.phone('alice');
    phone.alertToken = randomBytes(32).toString('hex');
    await phone.register();
    phone.wakeOnPush = false;
    const call = l.pbx.call('sip:alice@example.com');
    await waitFor('voip push', () => l.pushesFor(phone).length === 1);
    call.cancel();
    expect((await call.done).status).toBe(487);
    return phone;
  }

  it('a missed call: one VoIP push, then one alert push (type alert, non-VoIP topic, the alert token, localisable)', async () => {
    lab = await SipLab.start({ engine: 'embedded', config: { alerts: { missedCall: true } } });
    const phone = await missedCall(lab);
    const alert = await waitFor('alert push', () => lab?.sink.pushes.find((p) => p.token === phone.alertToken));
    expect(alert).toMatchObject({ pushType: 'alert', topic: 'com.example.phone', priority: 10 });
    expect(alert.payload).toMatchObject({ event: 'missed-call', aps: { alert: { 'loc-key': 'MISSED_CALL_BODY', 'loc-args': ['Bob Caller', '1000'] }, sound: 'default' } });
    expect(alert.payload['callUuid']).toBe(lab.pushesFor(phone)[0]?.payload['callUuid']);
    expect(lab.sink.pushes.filter((p) => p.pushType === 'voip')).toHaveLength(1);
  }, 30_000);

  it('a device suspected restricted gets no VoIP push, but the missed call as an alert', async () => {
    lab = await SipLab.start({ engine: 'embedded', config: { alerts: { missedCall: true }, devices: { suspectAfterUnansweredPushes: 1 }, call: { wakeTimeoutMs: 1000, ringTimeoutMs: 4000 } } });
    const phone = lab.phone('alice');
    phone.alertToken = randomBytes(32).toString('hex');
    await phone.register();
    phone.wakeOnPush = false;
    phone.behaviour = 'ring';
    // 1: pushed, never woke (its flow rings until the wake window closes): unanswered -> suspected
    expect((await lab.pbx.call('sip:alice@example.com').done).status).toBe(480);
    await waitFor('first alert', () => lab?.sink.pushes.filter((p) => p.pushType === 'alert').length === 1);
    // 2: withheld (no VoIP push), told by an alert
    expect((await lab.pbx.call('sip:alice@example.com').done).status).toBe(480);
    await waitFor('second alert', () => lab?.sink.pushes.filter((p) => p.pushType === 'alert').length === 2);
    expect(lab.sink.pushes.filter((p) => p.pushType === 'voip')).toHaveLength(1);
    const listed = (await (await fetch(`${lab.pushwake.adminUrl ?? ''}/api/bindings?aor=${encodeURIComponent('sip:alice@example.com')}`)).json()) as { bindings: Array<{ restriction: { suspectedSince?: number } | null }> };
    expect(listed.bindings[0]?.restriction?.suspectedSince).toBeGreaterThan(0);
  }, 30_000);

  it('answered elsewhere: the other pushed devices get an alert, the one that answered does not', async () => {
    lab = await SipLab.start({ engine: 'embedded', config: { alerts: { answeredElsewhere: true } } });
    const ipad = lab.phone('alice');
    const iphone = lab.phone('alice');
    for (const p of [ipad, iphone]) {
      p.alertToken = randomBytes(32).toString('hex');
      await p.register();
    }
    ipad.wakeOnPush = false;
    const result = await lab.pbx.call('sip:alice@example.com').done;
    expect(result.status).toBe(200);
    await result.dialog?.destroy();
    const alert = await waitFor('alert', () => lab?.sink.pushes.find((p) => p.pushType === 'alert'));
    expect(alert.token).toBe(ipad.alertToken);
    expect(alert.payload).toMatchObject({ event: 'answered-elsewhere' });
    await new Promise((r) => setTimeout(r, 200));
    expect(lab.sink.pushes.filter((p) => p.pushType === 'alert')).toHaveLength(1);
  }, 30_000);

  it('off by default: no alert push for a missed call', async () => {
    lab = await SipLab.start({ engine: 'embedded' });
    await missedCall(lab);
    await new Promise((r) => setTimeout(r, 300));
    expect(lab.sink.pushes.filter((p) => p.pushType === 'alert')).toHaveLength(0);
  }, 30_000);
});

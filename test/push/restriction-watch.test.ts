/**
 * The restriction watch with fake time: three unanswered VoIP pushes make a device suspected, its
 * pushes are then spaced out, one answered REGISTER clears it; every device has a per-minute cap;
 * an offline-then-back device is never banned.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceWaker } from '../../lib/call/device-waker.js';
import type { CallIdentity } from '../../lib/call/call-types.js';
import { silentLogger } from '../../lib/log.js';
import { compilePayloadTemplate, DEFAULT_PAYLOAD_TEMPLATE } from '../../lib/push/payload.js';
import type { PushOutcome, PushSender, VoipPush } from '../../lib/push/push-outcome.js';
import { RestrictionWatch } from '../../lib/push/restriction-watch.js';
import { LevelBindingStore } from '../../lib/store/level-store.js';
import { binding } from '../call/call-fixture.js';

const AOR = 'sip:alice@example.com';
const settings = { suspectAfter: 3, suspectedIntervalMs: 600_000, maxPerMinute: 10 };

describe('RestrictionWatch', () => {
  it('three unanswered pushes in a row make the device suspected: one push per interval, then one REGISTER clears it', () => {
    let now = 1_000_000;
    let suspicions = 0;
    const w = new RestrictionWatch(settings, silentLogger(), () => suspicions++, () => now);
    for (let i = 0; i < 3; i++) {
      expect(w.admit(AOR, 'dev')).toEqual({ ok: true });
      w.pushed(AOR, 'dev');
      now += 30_000;
      w.unanswered(AOR, 'dev');
    }
    expect(suspicions).toBe(1);
    expect(w.state(AOR, 'dev')).toEqual({ unansweredInARow: 3, suspectedSince: now });
    // within 10 min of the last push: withheld
    const held = w.admit(AOR, 'dev');
    expect(held).toMatchObject({ ok: false, code: 'WAKE_SUSPECTED_RESTRICTED' });
    // another device of the same user is untouched
    expect(w.admit(AOR, 'other')).toEqual({ ok: true });
    // 10 minutes after the last push: one more is allowed
    now += 600_000;
    expect(w.admit(AOR, 'dev')).toEqual({ ok: true });
    w.pushed(AOR, 'dev');
    expect(w.admit(AOR, 'dev')).toMatchObject({ ok: false, code: 'WAKE_SUSPECTED_RESTRICTED' });
    // it registers: cleared at once
    w.answered(AOR, 'dev');
    expect(w.state(AOR, 'dev')).toEqual({ unansweredInARow: 0 });
    expect(w.admit(AOR, 'dev')).toEqual({ ok: true });
    expect(w.suspectedCount).toBe(0);
  });

  it('an answered push resets the count: unanswered pushes must be in a row', () => {
    let now = 0;
    const w = new RestrictionWatch(settings, silentLogger(), undefined, () => now);
    for (const answered of [false, false, true, false, false]) {
      w.pushed(AOR, 'dev');
      now += 60_000;
      if (answered) w.answered(AOR, 'dev');
      else w.unanswered(AOR, 'dev');
    }
    expect(w.state(AOR, 'dev')).toEqual({ unansweredInARow: 2 });
    expect(w.admit(AOR, 'dev')).toEqual({ ok: true });
  });

  it('a device offline for hours is never banned: spaced out while silent, all clear the moment it registers', () => {
    let now = 0;
    const w = new RestrictionWatch(settings, silentLogger(), undefined, () => now);
    let pushes = 0;
    // a call every 5 minutes for 3 hours while the phone is off
    for (let t = 0; t < 3 * 3600_000; t += 300_000) {
      now = t;
      if (w.admit(AOR, 'dev').ok) {
        w.pushed(AOR, 'dev');
        pushes++;
      }
      now = t + 30_000;
      w.unanswered(AOR, 'dev');
    }
    // pushed at the first 3 calls (0, 5, 10 min), then every other call (every 10 minutes): 3 + 16
    expect(pushes).toBe(19);
    now += 1000;
    w.answered(AOR, 'dev');
    expect(w.admit(AOR, 'dev')).toEqual({ ok: true });
  });

  it('caps every device at maxPerMinute VoIP pushes in any minute', () => {
    let now = 0;
    const w = new RestrictionWatch({ ...settings, maxPerMinute: 3 }, silentLogger(), undefined, () => now);
    for (let i = 0; i < 3; i++) {
      expect(w.admit(AOR, 'dev').ok).toBe(true);
      w.pushed(AOR, 'dev');
      now += 5_000;
    }
    expect(w.admit(AOR, 'dev')).toMatchObject({ ok: false, code: 'WAKE_RATE_LIMITED' });
    now += 60_000;
    expect(w.admit(AOR, 'dev').ok).toBe(true);
  });

  it('tracks at most its bound of devices: the one seen longest ago is forgotten (and so pushed again)', () => {
    let now = 0;
    const w = new RestrictionWatch({ ...settings, suspectAfter: 1 }, silentLogger(), undefined, () => now, 2);
    for (const dev of ['a', 'b', 'c']) {
      w.pushed(AOR, dev);
      w.unanswered(AOR, dev);
      now += 1000;
    }
    expect(w.state(AOR, 'a')).toBeUndefined();
    expect(w.admit(AOR, 'a')).toEqual({ ok: true });
    expect(w.state(AOR, 'c')).toMatchObject({ unansweredInARow: 1 });
    expect(w.suspectedCount).toBe(2);
  });

  it('0 turns the watch and the cap off', () => {
    let now = 0;
    const w = new RestrictionWatch({ suspectAfter: 0, suspectedIntervalMs: 600_000, maxPerMinute: 0 }, silentLogger(), undefined, () => now);
    for (let i = 0; i < 50; i++) {
      expect(w.admit(AOR, 'dev').ok).toBe(true);
      w.pushed(AOR, 'dev');
      w.unanswered(AOR, 'dev');
      now += 100;
    }
  });
});

describe('DeviceWaker with the watch', () => {
  let dir: string;
  let store: LevelBindingStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'watch-'));
    store = await LevelBindingStore.open({ path: dir });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('withholds the VoIP push of a suspected device, says why, and counts it', async () => {
    const sent: VoipPush[] = [];
    const sender: PushSender = { send: (p) => (sent.push(p), Promise.resolve<PushOutcome>({ kind: 'delivered', apnsId: 'x', status: 200 })), close: () => Promise.resolve() };
    const w = new RestrictionWatch({ suspectAfter: 1, suspectedIntervalMs: 600_000, maxPerMinute: 10 }, silentLogger());
    const waker = new DeviceWaker(sender, compilePayloadTemplate(DEFAULT_PAYLOAD_TEMPLATE), store, { ttlMs: 30_000, retryBaseDelayMs: 1, retryMaxAttempts: 1 }, silentLogger());
    const withheld: string[] = [];
    waker.watchRestrictions(w, (code) => withheld.push(code));
    const b = binding(1);
    const call = (n: number): CallIdentity => ({ callId: `c${n}`, inviteKey: `c${n}\nalice`, callUuid: `u${n}`, pushHint: `h${n}`, aor: b.aor, caller: { callerNumber: '1', callerName: 'B', withVideo: false } });
    expect((await waker.wake(b, call(1), Date.now() + 10_000)).kind).toBe('sent');
    w.unanswered(b.aor, b.deviceKey);
    expect(await waker.wake(b, call(2), Date.now() + 10_000)).toMatchObject({ kind: 'failed', code: 'WAKE_SUSPECTED_RESTRICTED' });
    expect(sent).toHaveLength(1);
    expect(withheld).toEqual(['WAKE_SUSPECTED_RESTRICTED']);
    // the other device of the user is pushed
    expect((await waker.wake(binding(2), call(2), Date.now() + 10_000)).kind).toBe('sent');
  });
});

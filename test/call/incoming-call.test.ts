import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeDialog, CallFixture, binding } from './call-fixture.js';
import { CallBook } from '../../lib/call/call-book.js';

const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

describe('IncomingCall', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('pushes a sleeping device, rings it when it registers, and bridges the answer', async () => {
    const f = new CallFixture();
    const b = binding(1);
    f.call.start([b]);
    await flush();
    expect(f.pushes).toHaveLength(1);
    expect(f.provisionals).toEqual([{ status: 180 }]);
    expect(f.call.currentState).toBe('parked');

    expect(f.call.deviceRegistered({ ...b, flow: { ...b.flow, sourcePort: 50000 } })).toBe(true);
    expect(f.legs).toHaveLength(1);
    expect(f.legs[0]?.binding.flow.sourcePort).toBe(50000);
    f.leg(b.deviceKey).emit({ kind: 'progress', status: 180, reason: 'Ringing' });
    expect(f.provisionals).toHaveLength(1);
    const deviceDialog = new FakeDialog('device');
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: deviceDialog });
    await flush();
    expect(f.answeredWith).toBe('v=0 remote');
    expect(f.call.currentState).toBe('answered');
    expect(f.notices).toHaveLength(0);

    deviceDialog.emit('destroy', { get: () => undefined });
    await flush();
    expect(f.callerDialog.destroyed).toHaveLength(1);
    expect(f.ended).toBe('answered-hangup');
  });

  it('a BYE from the caller ends the device leg too', async () => {
    const f = new CallFixture();
    const b = binding(1, { push: undefined, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([b]);
    const deviceDialog = new FakeDialog('device');
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: deviceDialog });
    await flush();
    f.callerDialog.emit('destroy', { get: (n: string) => (n === 'Reason' ? 'Q.850;cause=16' : undefined) });
    expect(deviceDialog.destroyed).toEqual([{ headers: { Reason: 'Q.850;cause=16' } }]);
    expect(f.ended).toBe('answered-hangup');
  });

  it('relays in-dialog INFO from the device to the caller', async () => {
    const f = new CallFixture();
    const b = binding(1, { push: undefined, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([b]);
    const deviceDialog = new FakeDialog('device');
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: deviceDialog });
    await flush();
    const sent: number[] = [];
    deviceDialog.emit('info', { body: 'dtmf', get: (n: string) => (n === 'Content-Type' ? 'application/dtmf-relay' : undefined) }, {
      finalResponseSent: false,
      send: (status: number) => sent.push(status),
    });
    await flush();
    expect(f.callerDialog.requests).toEqual([{ method: 'INFO', headers: { 'Content-Type': 'application/dtmf-relay', 'Max-Forwards': '70' }, body: 'dtmf' }]);
    expect(sent).toEqual([200]);
    f.call.abort();
  });

  it('carries Max-Forwards over an in-dialog relay, one less, and answers 483 at 0', async () => {
    const f = new CallFixture();
    const b = binding(1, { push: undefined, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([b]);
    const deviceDialog = new FakeDialog('device');
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: deviceDialog });
    await flush();
    const sent: number[] = [];
    const res = { finalResponseSent: false, send: (status: number) => sent.push(status) };
    const info = (mf: string) => ({ body: 'x', get: (n: string) => (n === 'Max-Forwards' ? mf : undefined) });
    deviceDialog.emit('info', info('5'), res);
    deviceDialog.emit('info', info('0'), res);
    await flush();
    expect(f.callerDialog.requests).toEqual([{ method: 'INFO', headers: { 'Max-Forwards': '4' }, body: 'x' }]);
    expect(sent).toEqual([483, 200]);
    f.call.abort();
  });

  it('cancel before wake owes an ended notice with the caller reason and sends nothing else', async () => {
    const f = new CallFixture();
    const b = binding(1);
    f.call.start([b]);
    await flush();
    f.call.callerCancelled('SIP;cause=487;text="ORIGINATOR_CANCEL"');
    expect(f.ended).toBe('caller-cancelled');
    expect(f.rejected).toBeUndefined();
    expect(f.notices).toHaveLength(1);
    expect(f.notices[0]).toMatchObject({ deviceKey: b.deviceKey, reason: 'SIP;cause=487;text="ORIGINATOR_CANCEL"', callUuid: f.call.identity.callUuid, pushHint: 'hint-1' });
    expect(f.call.deviceRegistered(b)).toBe(false);
    expect(f.legs).toHaveLength(0);
  });

  it('cancel without a Reason uses cause=487', async () => {
    const f = new CallFixture();
    f.call.start([binding(1)]);
    await flush();
    f.call.callerCancelled(undefined);
    expect(f.notices[0]?.reason).toBe('SIP;cause=487;text="Call cancelled"');
  });

  it('cancel after a leg exists CANCELs the leg with the caller reason', async () => {
    const f = new CallFixture();
    const b = binding(1);
    f.call.start([b]);
    await flush();
    f.call.deviceRegistered(b);
    f.call.callerCancelled(undefined);
    expect(f.leg(b.deviceKey).cancelled).toBe('SIP;cause=487;text="Call cancelled"');
    expect(f.notices).toHaveLength(0);
  });

  it('two phones: the first 200 wins and the other gets CANCEL with cause=200', async () => {
    const f = new CallFixture();
    const [a, b] = [binding(1), binding(2)];
    f.call.start([a, b]);
    await flush();
    f.call.deviceRegistered(a);
    f.call.deviceRegistered(b);
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: new FakeDialog('b') });
    await flush();
    expect(f.leg(a.deviceKey).cancelled).toBe('SIP;cause=200;text="Call completed elsewhere"');
    expect(f.leg(b.deviceKey).cancelled).toBeUndefined();
    f.call.abort();
  });

  it('a phone that never woke gets an answered-elsewhere notice', async () => {
    const f = new CallFixture();
    const [a, b] = [binding(1), binding(2)];
    f.call.start([a, b]);
    await flush();
    f.call.deviceRegistered(a);
    f.leg(a.deviceKey).emit({ kind: 'answered', dialog: new FakeDialog('a') });
    await flush();
    expect(f.notices.map((n) => [n.deviceKey, n.reason])).toEqual([[b.deviceKey, 'SIP;cause=200;text="Call completed elsewhere"']]);
    f.call.abort();
  });

  it('a decline (603) on one phone ends the call everywhere with 603', async () => {
    const f = new CallFixture();
    const [a, b, c] = [binding(1), binding(2), binding(3)];
    f.call.start([a, b, c]);
    await flush();
    f.call.deviceRegistered(a);
    f.call.deviceRegistered(b);
    f.leg(a.deviceKey).emit({ kind: 'failed', status: 603, reason: 'Decline' });
    expect(f.rejected?.status).toBe(603);
    expect(f.leg(b.deviceKey).cancelled).toBe('SIP;cause=603;text="Decline"');
    expect(f.notices.map((n) => n.deviceKey)).toEqual([c.deviceKey]);
    expect(f.ended).toBe('declined');
  });

  it('a pushed phone whose INVITE never reached it (408) is owed an ended notice, as it shows the call', async () => {
    const f = new CallFixture();
    const [a, b] = [binding(1), binding(2)];
    f.call.start([a, b]);
    await flush();
    f.call.deviceRegistered(a);
    f.leg(a.deviceKey).emit({ kind: 'failed', status: 408, reason: 'Request Timeout' });
    expect(f.notices.map((n) => [n.deviceKey, n.reason])).toEqual([[a.deviceKey, 'SIP;cause=480;text="Device unreachable"']]);
    f.call.abort();
  });

  it('busy on the only phone gives 486 once the wake window has nothing left', async () => {
    const f = new CallFixture();
    const a = binding(1);
    f.call.start([a]);
    await flush();
    f.call.deviceRegistered(a);
    f.leg(a.deviceKey).emit({ kind: 'failed', status: 486, reason: 'Busy Here' });
    expect(f.rejected?.status).toBe(486);
    expect(f.ended).toBe('all-legs-failed');
  });

  it('busy on one phone waits for the other to wake, then the best response wins', async () => {
    const f = new CallFixture();
    const [a, b] = [binding(1), binding(2)];
    f.call.start([a, b]);
    await flush();
    f.call.deviceRegistered(a);
    f.leg(a.deviceKey).emit({ kind: 'failed', status: 486, reason: 'Busy Here' });
    expect(f.rejected).toBeUndefined();
    await vi.advanceTimersByTimeAsync(25_000);
    expect(f.rejected?.status).toBe(486);
    expect(f.notices.map((n) => n.deviceKey)).toEqual([b.deviceKey]);
  });

  it('no device waking within the wake timeout gives 480 with a Reason', async () => {
    const f = new CallFixture();
    f.call.start([binding(1)]);
    await vi.advanceTimersByTimeAsync(24_999);
    expect(f.rejected).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(f.rejected).toMatchObject({ status: 480, headers: { Reason: 'SIP;cause=480;text="No device woke up in time"' } });
    expect(f.ended).toBe('wake-timeout');
    expect(f.notices).toHaveLength(1);
  });

  it('a ringing device not answering within the ring timeout is cancelled; caller gets 480', async () => {
    const f = new CallFixture({ ringTimeoutMs: 30_000 });
    const a = binding(1);
    f.call.start([a]);
    await flush();
    f.call.deviceRegistered(a);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(f.leg(a.deviceKey).cancelled).toBe('SIP;cause=480;text="No answer"');
    expect(f.rejected?.status).toBe(480);
    expect(f.ended).toBe('ring-timeout');
  });

  it('APNs failure for every device ends the call with 480 and a push-failed Reason', async () => {
    const f = new CallFixture();
    f.wakeResult = () => Promise.resolve({ kind: 'failed', code: 'WAKE_PUSH_FAILED', why: 'APNs 410 Unregistered' });
    f.call.start([binding(1), binding(2)]);
    await flush();
    expect(f.rejected).toMatchObject({ status: 480, headers: { Reason: 'SIP;cause=480;text="Push notification failed"' } });
    expect(f.ended).toBe('push-failed');
    expect(f.notices).toHaveLength(0);
  });

  it('a late wake after the call ended gets no leg', async () => {
    const f = new CallFixture();
    const a = binding(1);
    f.call.start([a]);
    await vi.advanceTimersByTimeAsync(25_000);
    expect(f.call.deviceRegistered(a)).toBe(false);
    expect(f.legs).toHaveLength(0);
    expect(f.notices[0]?.expiresAt).toBeGreaterThan(Date.now());
  });

  it('a push that completes after the caller cancelled still owes a notice', async () => {
    const f = new CallFixture();
    let deliver: (v: { kind: 'sent'; expiresAt: number }) => void = () => undefined;
    f.wakeResult = () => new Promise((r) => (deliver = r));
    f.call.start([binding(1)]);
    await flush();
    f.call.callerCancelled(undefined);
    expect(f.notices).toHaveLength(0);
    deliver({ kind: 'sent', expiresAt: Date.now() + 30_000 });
    await flush();
    expect(f.notices).toHaveLength(1);
  });

  it('a device without push that is awake is rung at once, without a push', () => {
    const f = new CallFixture();
    const a = binding(1, { push: undefined, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([a]);
    expect(f.pushes).toHaveLength(0);
    expect(f.legs).toHaveLength(1);
    f.call.abort();
  });

  it('skip-push interval: a recently registered awake device is INVITEd directly', () => {
    const f = new CallFixture({ skipPushWithinMs: 30_000 });
    const a = binding(1, { registeredAt: Date.now() - 5_000, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([a]);
    expect(f.pushes).toHaveLength(0);
    expect(f.legs).toHaveLength(1);
    f.call.abort();
  });

  it('by default an awake push-capable device is still pushed', async () => {
    const f = new CallFixture();
    f.call.start([binding(1, { deviceExpiresAt: Date.now() + 60_000 })]);
    await flush();
    expect(f.pushes).toHaveLength(1);
    f.call.abort();
  });

  it('never pushes a binding whose lifetime is over; with nothing reachable the caller gets 480', () => {
    const f = new CallFixture();
    f.call.start([binding(1, { upstreamExpiresAt: Date.now() - 1 })]);
    expect(f.pushes).toHaveLength(0);
    expect(f.rejected?.status).toBe(480);
    expect(f.ended).toBe('no-device');
  });

  it('a client echoing the push hint is matched even with a new device key', async () => {
    const f = new CallFixture();
    f.call.start([binding(1)]);
    await flush();
    expect(f.call.deviceRegistered(binding(9), 'hint-1')).toBe(true);
    expect(f.legs).toHaveLength(1);
    expect(f.call.deviceRegistered(binding(8), 'other-hint')).toBe(false);
    f.call.abort();
  });

  it('a 200 crossing the CANCEL is hung up at once', async () => {
    const f = new CallFixture();
    const a = binding(1);
    f.call.start([a]);
    await flush();
    f.call.deviceRegistered(a);
    f.call.callerCancelled(undefined);
    const late = new FakeDialog('late');
    f.leg(a.deviceKey).emit({ kind: 'answered', dialog: late });
    expect(late.destroyed).toHaveLength(1);
  });

  it('the caller vanishing as the device answers hangs the device up', async () => {
    const f = new CallFixture();
    f.answerFails = true;
    const a = binding(1, { push: undefined, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([a]);
    const d = new FakeDialog('d');
    f.leg(a.deviceKey).emit({ kind: 'answered', dialog: d });
    await flush();
    expect(d.destroyed).toHaveLength(1);
    expect(f.ended).toBe('caller-gone');
  });

  it('early media from a device is relayed once as 183 with its SDP', async () => {
    const f = new CallFixture({ sendRinging: false });
    const a = binding(1, { push: undefined, deviceExpiresAt: Date.now() + 60_000 });
    f.call.start([a]);
    f.leg(a.deviceKey).emit({ kind: 'progress', status: 183, reason: 'Session Progress', sdp: 'v=0 early' });
    f.leg(a.deviceKey).emit({ kind: 'progress', status: 183, reason: 'Session Progress', sdp: 'v=0 early' });
    expect(f.provisionals).toEqual([{ status: 183, sdp: 'v=0 early' }]);
    f.call.abort();
  });

  it('1,000 calls through every ending leave no timer and no call behind', async () => {
    const endings = new Map<string, number>();
    const book = new CallBook(2000);
    for (let i = 0; i < 1000; i++) {
      const f = new CallFixture({}, { callId: `c${i}` }, (call) => book.remove(call));
      book.add(f.call);
      const a = binding(1);
      const b = binding(2);
      f.call.start([a, b]);
      await flush();
      switch (i % 7) {
        case 0: f.call.deviceRegistered(a); f.leg(a.deviceKey).emit({ kind: 'answered', dialog: new FakeDialog('d') }); await flush(); f.callerDialog.emit('destroy', { get: () => undefined }); break;
        case 1: f.call.callerCancelled(undefined); break;
        case 2: f.call.deviceRegistered(a); f.call.callerCancelled(undefined); break;
        case 3: f.call.deviceRegistered(a); f.leg(a.deviceKey).emit({ kind: 'failed', status: 603, reason: 'Decline' }); break;
        case 4: f.call.deviceRegistered(a); f.call.deviceRegistered(b); f.leg(a.deviceKey).emit({ kind: 'failed', status: 486, reason: 'Busy' }); f.leg(b.deviceKey).emit({ kind: 'failed', status: 486, reason: 'Busy' }); break;
        case 5: await vi.advanceTimersByTimeAsync(25_000); break;
        case 6: f.call.deviceRegistered(a); await vi.advanceTimersByTimeAsync(60_000); break;
      }
      expect(f.call.currentState).toBe('ended');
      endings.set(f.ended ?? '?', (endings.get(f.ended ?? '?') ?? 0) + 1);
      expect(f.call.awaitedDevices).toEqual([]);
    }
    expect([...endings.keys()].sort()).toEqual(['all-legs-failed', 'answered-hangup', 'caller-cancelled', 'declined', 'ring-timeout', 'wake-timeout']);
    expect(book.size).toBe(0);
    expect(book.aorCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('IncomingCall push fallback', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('a failed push to a device whose registration is alive rings it over its flow', async () => {
    const f = new CallFixture();
    f.wakeResult = () => Promise.resolve({ kind: 'failed', code: 'WAKE_PUSH_FAILED', why: 'APNs 500' });
    f.call.start([binding(1, { deviceExpiresAt: Date.now() + 60_000 })]);
    await vi.advanceTimersByTimeAsync(0);
    expect(f.legs).toHaveLength(1);
    expect(f.rejected).toBeUndefined();
    f.call.abort();
  });

  it('the fallback leg lives only within the wake window: at the wake timeout it is cancelled and the caller gets 480 push failed', async () => {
    const f = new CallFixture({ wakeTimeoutMs: 5000, ringTimeoutMs: 60_000 });
    const b = binding(1, { deviceExpiresAt: Date.now() + 60_000 });
    f.wakeResult = () => Promise.resolve({ kind: 'failed', code: 'WAKE_PUSH_FAILED', why: 'APNs 410 Unregistered' });
    f.call.start([b]);
    await vi.advanceTimersByTimeAsync(4999);
    expect(f.rejected).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(f.leg(b.deviceKey).cancelled).toBe('SIP;cause=480;text="Push notification failed"');
    expect(f.rejected).toMatchObject({ status: 480, headers: { Reason: 'SIP;cause=480;text="Push notification failed"' } });
    expect(f.ended).toBe('push-failed');
  });

  for (const status of [408, 500, 503]) {
    it(`a fallback leg failing at once (${status}) gives the caller 480 push failed, not ${status}`, async () => {
      const f = new CallFixture();
      const b = binding(1, { deviceExpiresAt: Date.now() + 60_000 });
      f.wakeResult = () => Promise.resolve({ kind: 'failed', code: 'WAKE_PUSH_FAILED', why: 'APNs unreachable' });
      f.call.start([b]);
      await flush();
      f.leg(b.deviceKey).emit({ kind: 'failed', status, reason: 'x' });
      expect(f.rejected).toMatchObject({ status: 480, headers: { Reason: 'SIP;cause=480;text="Push notification failed"' } });
      expect(f.ended).toBe('push-failed');
    });
  }

  it('a fallback leg that is answered still makes the call', async () => {
    const f = new CallFixture();
    const b = binding(1, { deviceExpiresAt: Date.now() + 60_000 });
    f.wakeResult = () => Promise.resolve({ kind: 'failed', code: 'WAKE_PUSH_FAILED', why: 'APNs 500' });
    f.call.start([b]);
    await flush();
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: new FakeDialog('d') });
    await flush();
    expect(f.call.currentState).toBe('answered');
    f.call.abort();
  });
});

describe('CallBook', () => {
  it('offers a registration to every call of the user, and forgets calls as they end', async () => {
    vi.useFakeTimers();
    const book = new CallBook(10);
    const a = new CallFixture({}, { callId: 'a' }, (c) => book.remove(c));
    const b = new CallFixture({}, { callId: 'b' }, (c) => book.remove(c));
    for (const f of [a, b]) {
      book.add(f.call);
      f.call.start([binding(1)]);
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(book.size).toBe(2);
    expect(book.deviceRegistered(binding(1))).toBe(true);
    expect(a.legs).toHaveLength(1);
    expect(b.legs).toHaveLength(1);
    a.call.abort();
    expect(book.size).toBe(1);
    expect(book.aorCount).toBe(1);
    b.call.abort();
    expect(book.size).toBe(0);
    expect(book.aorCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });
});

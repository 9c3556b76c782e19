/**
 * After an announcement, the caller's media moves to the phone (MediaHandover), and what the
 * bridge relays toward the caller keeps FreeSWITCH's SDP origin.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeDialog } from './call-fixture.js';
import { MediaHandover } from '../../lib/call/media-handover.js';
import { bridgeDialogs } from '../../lib/call/sip-side.js';
import { SdpOrigin } from '../../lib/media/sdp-origin.js';
import { silentLogger } from '../../lib/log.js';
import type { InboundRequest, ServerResponse } from '../../lib/sip/srf.js';

const sdp = (origin: string, port: number, extra = ''): string =>
  ['v=0', `o=${origin}`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, ...(extra ? [extra] : []), ''].join('\r\n');
const FS = sdp('FreeSWITCH 100 200 IN IP4 127.0.0.1', 30000);
const PHONE = sdp('phone 1 1 IN IP4 127.0.0.1', 50000);
const CALLER_OFFER = sdp('pbx 5 5 IN IP4 127.0.0.1', 40000);

function handover(caller: FakeDialog, device: FakeDialog): MediaHandover {
  const origin = SdpOrigin.of(FS);
  if (!origin) throw new Error('no origin');
  return new MediaHandover(caller, device, origin, CALLER_OFFER, silentLogger(), () => 0.5);
}

describe('media hand-over after an announcement', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('re-INVITEs the caller with the phone\'s SDP under FreeSWITCH\'s origin; the phone is left alone when the caller stays put', async () => {
    const caller = new FakeDialog('caller');
    const device = new FakeDialog('device', { sdp: PHONE });
    caller.answers.push({ status: 200, body: sdp('pbx 5 6 IN IP4 127.0.0.1', 40000) });
    expect(await handover(caller, device).run()).toBe('moved');
    expect(caller.requests).toEqual([{ method: 'INVITE', headers: { 'Content-Type': 'application/sdp' }, body: sdp('FreeSWITCH 100 201 IN IP4 127.0.0.1', 50000) }]);
    expect(device.requests).toHaveLength(0);
  });

  it('tells the phone when the caller\'s answer moves its media', async () => {
    const caller = new FakeDialog('caller');
    const device = new FakeDialog('device', { sdp: PHONE });
    const moved = sdp('pbx 5 6 IN IP4 127.0.0.1', 40010);
    caller.answers.push({ status: 200, body: moved });
    expect(await handover(caller, device).run()).toBe('moved');
    expect(device.requests).toEqual([{ method: 'INVITE', headers: { 'Content-Type': 'application/sdp' }, body: moved }]);
  });

  it('retries once after a 491 (glare), a random 0-2 s later', async () => {
    const caller = new FakeDialog('caller');
    caller.answers.push({ status: 491 }, { status: 200, body: CALLER_OFFER });
    const running = handover(caller, new FakeDialog('device', { sdp: PHONE })).run();
    await vi.advanceTimersByTimeAsync(999);
    expect(caller.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await running).toBe('moved');
    // the same description again: the same version
    expect(caller.requests[1]?.body).toBe(caller.requests[0]?.body);
  });

  it('a refusal leaves the call up and says so; a cancel during the glare wait stops it', async () => {
    const caller = new FakeDialog('caller');
    caller.answers.push({ status: 488 });
    expect(await handover(caller, new FakeDialog('device', { sdp: PHONE })).run()).toBe('refused');
    const again = new FakeDialog('caller');
    again.answers.push({ status: 491 });
    const h = handover(again, new FakeDialog('device', { sdp: PHONE }));
    const running = h.run();
    await vi.advanceTimersByTimeAsync(0);
    h.cancel();
    expect(await running).toBe('cancelled');
    expect(again.requests).toHaveLength(1);
  });

  it('the bridge relays the phone\'s re-INVITE to the caller under FreeSWITCH\'s origin, and the caller\'s answer back as it is', async () => {
    const caller = new FakeDialog('caller');
    const device = new FakeDialog('device', { sdp: PHONE });
    const origin = SdpOrigin.of(FS);
    const callerAnswer = sdp('pbx 5 7 IN IP4 127.0.0.1', 40000);
    caller.answers.push({ status: 200, body: callerAnswer });
    const unbridge = bridgeDialogs(caller, device, silentLogger(), () => undefined, (s) => origin?.stamp(s) ?? s);
    const hold = sdp('phone 1 2 IN IP4 127.0.0.1', 50000, 'a=sendonly');
    const sent: Array<{ status: number; body?: string }> = [];
    const req = { get: (n: string) => (n === 'Content-Type' ? 'application/sdp' : n === 'Max-Forwards' ? '70' : undefined), body: hold } as unknown as InboundRequest;
    const res = { send: (status: number, _r: string, o: { body?: string }) => sent.push({ status, ...(o.body ? { body: o.body } : {}) }), finalResponseSent: false } as unknown as ServerResponse;
    device.emit('modify', req, res);
    await vi.advanceTimersByTimeAsync(0);
    expect(caller.requests[0]?.body).toBe(sdp('FreeSWITCH 100 201 IN IP4 127.0.0.1', 50000, 'a=sendonly'));
    expect(sent).toEqual([{ status: 200, body: callerAnswer }]);
    unbridge();
  });
});

/**
 * Announcements in the call path, with a fake media server (the real FreeSWITCH suite is
 * test/media/announcements.test.ts): what the caller gets and when, and that every way out
 * releases the endpoint and leaves no timer behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallFixture, binding } from './call-fixture.js';
import { MediaAnnouncement } from '../../lib/call/call-announcement.js';
import type { AnnouncementMedia, MediaEndpoint, MediaUnavailableCode, OpenOutcome } from '../../lib/media/announcement-media.js';
import type { PlayCommand, PromptSettings } from '../../lib/media/prompts.js';
import type { CallSettings } from '../../lib/call/call-types.js';

const FS_SDP = ['v=0', 'o=FreeSWITCH 1700000000 1700000001 IN IP4 127.0.0.1', 's=FreeSWITCH', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 41002 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
const PHONE_SDP = ['v=0', 'o=phone 7 7 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 50000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

const PROMPTS: PromptSettings = {
  wakePrompt: '/prompts/wake.wav',
  wakePlayback: 'loop',
  ringback: 'tone_stream://%(2000,4000,440,480);loops=-1',
  unreachablePrompt: '/prompts/unreachable.wav',
  pushFailedPrompt: '/prompts/push-failed.wav',
  closingPromptMaxMs: 10_000,
};

class FakeEndpoint implements MediaEndpoint {
  readonly sdp = FS_SDP;
  readonly played: PlayCommand[] = [];
  stops = 0;
  releases = 0;
  private finishCurrent: (() => void) | undefined;
  private readonly lostListeners: Array<() => void> = [];

  play(command: PlayCommand): Promise<void> {
    this.played.push(command);
    return new Promise((resolve) => (this.finishCurrent = resolve));
  }

  /** The prompt playing now comes to its end. */
  finishPlaying(): void {
    this.finishCurrent?.();
    this.finishCurrent = undefined;
  }

  stopPlaying(): Promise<void> {
    this.stops++;
    this.finishPlaying();
    return Promise.resolve();
  }

  release(): Promise<void> {
    this.releases++;
    return Promise.resolve();
  }

  onLost(fn: () => void): void {
    this.lostListeners.push(fn);
  }

  lose(): void {
    for (const fn of this.lostListeners) fn();
  }
}

class FakeMedia implements AnnouncementMedia {
  prompts: PromptSettings = { ...PROMPTS };
  readonly opened: string[] = [];
  readonly skipped: MediaUnavailableCode[] = [];
  readonly endpoint = new FakeEndpoint();
  /** What open() resolves with; held until `ready()` when `hold` is set. */
  outcome: OpenOutcome = { kind: 'ready', endpoint: this.endpoint };
  hold = false;
  private release: (() => void) | undefined;

  open(callerSdp: string): Promise<OpenOutcome> {
    this.opened.push(callerSdp);
    if (!this.hold) return Promise.resolve(this.outcome);
    return new Promise((resolve) => (this.release = () => resolve(this.outcome)));
  }

  ready(): void {
    this.release?.();
  }

  unavailable(code: MediaUnavailableCode): void {
    this.skipped.push(code);
  }
}

const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

function announcedCall(media: FakeMedia, s: Partial<CallSettings> = {}): CallFixture {
  return new CallFixture(s, {}, () => undefined, { announce: (call, sdp, log) => new MediaAnnouncement(media, call.callId, sdp, log) });
}

describe('announcements in the call path (fake media server)', () => {
  let media: FakeMedia;
  beforeEach(() => {
    vi.useFakeTimers();
    media = new FakeMedia();
  });
  afterEach(() => {
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
  });

  it('pushing: the caller gets 183 with FreeSWITCH\'s SDP (no 180) and the wake prompt plays, looped', async () => {
    const f = announcedCall(media);
    f.call.start([binding(1)]);
    await flush();
    expect(media.opened).toEqual(['v=0 offer']);
    expect(f.provisionals).toEqual([{ status: 183, sdp: FS_SDP }]);
    expect(media.endpoint.played).toEqual([{ app: 'endless_playback', arg: '/prompts/wake.wav' }]);
    f.call.abort();
  });

  it('once-then-ringback plays the wake prompt and then the ringback, as one playback', async () => {
    media.prompts = { ...PROMPTS, wakePlayback: 'once-then-ringback' };
    const f = announcedCall(media);
    f.call.start([binding(1)]);
    await flush();
    expect(media.endpoint.played).toEqual([{ app: 'playback', arg: `file_string:///prompts/wake.wav!${PROMPTS.ringback}` }]);
    f.call.abort();
  });

  it('a device answers: the 200 repeats the 183\'s SDP, the endpoint goes, and a re-INVITE moves the caller to the phone under FreeSWITCH\'s origin', async () => {
    const f = announcedCall(media);
    const b = binding(1);
    f.call.start([b]);
    await flush();
    f.call.deviceRegistered(b);
    f.leg(b.deviceKey).emit({ kind: 'progress', status: 180, reason: 'Ringing' });
    f.leg(b.deviceKey).emit({ kind: 'progress', status: 183, reason: 'Session Progress', sdp: PHONE_SDP });
    // the caller keeps hearing the announcement: neither is passed on
    expect(f.provisionals).toEqual([{ status: 183, sdp: FS_SDP }]);
    const { FakeDialog } = await import('./call-fixture.js');
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: new FakeDialog('device', { sdp: PHONE_SDP }) });
    await flush();
    expect(f.answeredWith).toBe(FS_SDP);
    expect(media.endpoint.releases).toBe(1);
    const reinvite = f.callerDialog.requests[0];
    expect(reinvite?.method).toBe('INVITE');
    expect(reinvite?.body).toBe(PHONE_SDP.replace('o=phone 7 7 IN IP4 127.0.0.1', 'o=FreeSWITCH 1700000000 1700000002 IN IP4 127.0.0.1'));
    expect(f.call.currentState).toBe('answered');
    f.call.abort();
  });

  it('nothing wakes: the unreachable prompt plays to its end, then 480 with the Reason', async () => {
    const f = announcedCall(media, { wakeTimeoutMs: 5000 });
    f.call.start([binding(1)]);
    await flush();
    await vi.advanceTimersByTimeAsync(5000);
    expect(media.endpoint.stops).toBe(1);
    expect(media.endpoint.played.at(-1)).toEqual({ app: 'playback', arg: '/prompts/unreachable.wav' });
    expect(f.call.currentState).toBe('closing');
    expect(f.rejected).toBeUndefined();
    // the phone pushed for it is owed its notice now, not after the prompt
    expect(f.notices).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(f.rejected).toBeUndefined();
    media.endpoint.finishPlaying();
    await flush();
    expect(f.rejected?.status).toBe(480);
    expect(f.rejected?.headers['Reason']).toMatch(/^SIP;cause=480;text=/);
    expect(f.ended).toBe('wake-timeout');
    expect(media.endpoint.releases).toBe(1);
  });

  it('a closing prompt that does not end is cut at media.closingPromptMaxMs, then the final response goes', async () => {
    media.prompts = { ...PROMPTS, closingPromptMaxMs: 4000 };
    const f = announcedCall(media, { wakeTimeoutMs: 1000 });
    f.call.start([binding(1)]);
    await flush();
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(3999);
    expect(f.rejected).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(f.rejected?.status).toBe(480);
    expect(media.endpoint.releases).toBe(1);
  });

  it('every push failed: the pushFailed prompt, then 480; without one, the unreachable prompt', async () => {
    for (const pushFailedPrompt of ['/prompts/push-failed.wav', '']) {
      const m = new FakeMedia();
      m.prompts = { ...PROMPTS, pushFailedPrompt };
      const f = announcedCall(m);
      // APNs answers in tens of ms: the endpoint is up by then
      f.wakeResult = () => new Promise((resolve) => setTimeout(() => resolve({ kind: 'failed', code: 'WAKE_PUSH_FAILED', why: 'PUSH_BAD_DEVICE_TOKEN' }), 50));
      f.call.start([binding(1, { deviceExpiresAt: Date.now() - 1 })]);
      await vi.advanceTimersByTimeAsync(50);
      expect(m.endpoint.played.at(-1)).toEqual({ app: 'playback', arg: pushFailedPrompt || '/prompts/unreachable.wav' });
      m.endpoint.finishPlaying();
      await flush();
      expect(f.ended).toBe('push-failed');
      expect(f.rejected?.status).toBe(480);
    }
  });

  it('the caller cancels during the closing prompt: the prompt stops, the endpoint goes, no second final response', async () => {
    const f = announcedCall(media, { wakeTimeoutMs: 1000 });
    f.call.start([binding(1)]);
    await flush();
    await vi.advanceTimersByTimeAsync(1000);
    expect(f.call.currentState).toBe('closing');
    f.call.callerCancelled('SIP;cause=487;text="ORIGINATOR_CANCEL"');
    await flush();
    expect(f.ended).toBe('wake-timeout');
    expect(f.rejected).toBeUndefined();
    expect(media.endpoint.releases).toBe(1);
  });

  it('the caller cancels during the wake prompt: the endpoint goes', async () => {
    const f = announcedCall(media);
    f.call.start([binding(1)]);
    await flush();
    f.call.callerCancelled(undefined);
    expect(f.ended).toBe('caller-cancelled');
    expect(media.endpoint.releases).toBe(1);
  });

  it('a decline gives 603 at once (no closing prompt) and releases the endpoint', async () => {
    const f = announcedCall(media);
    const b = binding(1);
    f.call.start([b]);
    await flush();
    f.call.deviceRegistered(b);
    f.leg(b.deviceKey).emit({ kind: 'failed', status: 603, reason: 'Decline' });
    expect(f.rejected?.status).toBe(603);
    expect(media.endpoint.played).toHaveLength(1);
    expect(media.endpoint.releases).toBe(1);
  });

  it('busy and ring timeout get their final response at once; a 480 from every device gets the unreachable prompt', async () => {
    const busy = announcedCall(media);
    const b = binding(1);
    busy.call.start([b]);
    await flush();
    busy.call.deviceRegistered(b);
    busy.leg(b.deviceKey).emit({ kind: 'failed', status: 486, reason: 'Busy Here' });
    expect(busy.rejected?.status).toBe(486);

    const m2 = new FakeMedia();
    const ring = announcedCall(m2, { ringTimeoutMs: 2000 });
    ring.call.start([b]);
    await flush();
    ring.call.deviceRegistered(b);
    await vi.advanceTimersByTimeAsync(2000);
    expect(ring.ended).toBe('ring-timeout');
    expect(m2.endpoint.releases).toBe(1);

    const m3 = new FakeMedia();
    const unreached = announcedCall(m3);
    unreached.call.start([b]);
    await flush();
    unreached.call.deviceRegistered(b);
    unreached.leg(b.deviceKey).emit({ kind: 'failed', status: 480, reason: 'Temporarily Unavailable' });
    expect(unreached.call.currentState).toBe('closing');
    await flush();
    m3.endpoint.finishPlaying();
    await flush();
    expect(unreached.rejected?.status).toBe(480);
  });

  it('media unavailable: the call goes on as without media (180), and says why once', async () => {
    media.outcome = { kind: 'unavailable', code: 'MEDIA_DOWN', why: 'not connected' };
    const f = announcedCall(media);
    f.call.start([binding(1)]);
    await flush();
    expect(f.provisionals).toEqual([{ status: 180 }]);
    expect(media.skipped).toEqual(['MEDIA_DOWN']);
    f.call.abort();
  });

  it('a device answers before the endpoint is ready: the phone\'s SDP goes to the caller, and the late endpoint is released', async () => {
    media.hold = true;
    const f = announcedCall(media);
    const b = binding(1, { deviceExpiresAt: Date.now() + 60_000, push: undefined });
    const sleeping = binding(2);
    f.call.start([b, sleeping]);
    await flush();
    const { FakeDialog } = await import('./call-fixture.js');
    f.leg(b.deviceKey).emit({ kind: 'answered', dialog: new FakeDialog('device', { sdp: PHONE_SDP }) });
    await flush();
    expect(f.answeredWith).toBe(PHONE_SDP);
    expect(f.callerDialog.requests).toHaveLength(0);
    media.ready();
    await flush();
    expect(media.endpoint.releases).toBe(1);
    expect(media.endpoint.played).toHaveLength(0);
    expect(f.provisionals.some((p) => p.status === 183)).toBe(false);
    f.call.abort();
  });

  it('the endpoint is lost during the wake: a 180 follows, the call goes on, and nothing woke means 480 at once', async () => {
    const f = announcedCall(media, { wakeTimeoutMs: 2000 });
    f.call.start([binding(1)]);
    await flush();
    media.endpoint.lose();
    expect(media.skipped).toEqual(['MEDIA_LOST']);
    // the PBX may play its own ringback rather than silence
    expect(f.provisionals).toEqual([{ status: 183, sdp: FS_SDP }, { status: 180 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(f.rejected?.status).toBe(480);
    expect(f.ended).toBe('wake-timeout');
  });

  it('no device to push (all awake, or none): no media server is touched', async () => {
    const awake = announcedCall(media);
    awake.call.start([binding(1, { deviceExpiresAt: Date.now() + 60_000, push: undefined })]);
    await flush();
    expect(awake.provisionals).toEqual([{ status: 180 }]);
    awake.call.abort();
    const none = announcedCall(media);
    none.call.start([]);
    expect(none.rejected?.status).toBe(480);
    expect(media.opened).toHaveLength(0);
  });

  it('shutdown during the closing prompt sends the decided final response at once', async () => {
    const f = announcedCall(media, { wakeTimeoutMs: 1000 });
    f.call.start([binding(1)]);
    await flush();
    await vi.advanceTimersByTimeAsync(1000);
    f.call.abort();
    expect(f.rejected?.status).toBe(480);
    expect(f.ended).toBe('wake-timeout');
    expect(media.endpoint.releases).toBe(1);
  });

  it('shutdown during the wake prompt: 503 and the endpoint goes', async () => {
    const f = announcedCall(media);
    f.call.start([binding(1)]);
    await flush();
    f.call.abort();
    expect(f.rejected?.status).toBe(503);
    expect(media.endpoint.releases).toBe(1);
  });
});

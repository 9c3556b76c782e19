import { describe, expect, it } from 'vitest';
import { SdpOrigin, mediaTarget } from '../../lib/media/sdp-origin.js';
import { closingCommand, closingPromptFor, wakeCommand, type PromptSettings } from '../../lib/media/prompts.js';

const sdp = (origin: string, port: number, extra = ''): string =>
  ['v=0', `o=${origin}`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ...(extra ? [extra] : []), ''].join('\r\n');

describe('SdpOrigin (RFC 3264 section 8)', () => {
  const fs = sdp('FreeSWITCH 1700000000 1700000001 IN IP4 10.1.1.1', 30000);

  it('stamps the phone\'s SDP with FreeSWITCH\'s origin, its version one up, keeping CRLF', () => {
    const origin = SdpOrigin.of(fs);
    const out = origin?.stamp(sdp('phone 7 7 IN IP4 127.0.0.1', 50000));
    expect(out).toBe(sdp('FreeSWITCH 1700000000 1700000002 IN IP4 10.1.1.1', 50000));
  });

  it('keeps the version for the same description re-sent, and raises it for each change', () => {
    const origin = SdpOrigin.of(fs);
    if (!origin) throw new Error('no origin');
    const a = origin.stamp(sdp('phone 7 7 IN IP4 127.0.0.1', 50000));
    expect(origin.stamp(sdp('phone 7 8 IN IP4 127.0.0.1', 50000))).toBe(a);
    expect(origin.stamp(sdp('phone 7 9 IN IP4 127.0.0.1', 50000, 'a=sendonly'))).toContain('o=FreeSWITCH 1700000000 1700000003 IN IP4 10.1.1.1\r\n');
  });

  it('handles versions past 2^53 and LF-only bodies', () => {
    const big = SdpOrigin.of('v=0\no=- 1 18446744073709551614 IN IP6 ::1\ns=-\n');
    expect(big?.stamp('v=0\no=x 2 3 IN IP4 1.2.3.4\ns=other\n')).toBe('v=0\no=- 1 18446744073709551615 IN IP6 ::1\ns=other\n');
  });

  it('an SDP without an o= line has no origin, and passes a stamp unchanged', () => {
    expect(SdpOrigin.of('v=0\r\ns=-\r\n')).toBeUndefined();
    expect(SdpOrigin.of(fs)?.stamp('v=0\r\ns=-\r\n')).toBe('v=0\r\ns=-\r\n');
  });

  it('mediaTarget tells where media goes: connection and m= line per section', () => {
    expect(mediaTarget(sdp('a 1 1 IN IP4 1.1.1.1', 4000))).toBe(mediaTarget(sdp('a 1 2 IN IP4 1.1.1.1', 4000)));
    expect(mediaTarget(sdp('a 1 1 IN IP4 1.1.1.1', 4000))).not.toBe(mediaTarget(sdp('a 1 1 IN IP4 1.1.1.1', 4002)));
    const perSection = ['v=0', 'o=a 1 1 IN IP4 1.1.1.1', 's=-', 'c=IN IP4 1.1.1.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 2.2.2.2', ''].join('\r\n');
    expect(mediaTarget(perSection)).toBe('IN IP4 2.2.2.2 audio 4000 RTP/AVP 0');
  });
});

describe('prompts: what the caller hears, decided from config and ending', () => {
  const s: PromptSettings = { wakePrompt: '/p/wake.wav', wakePlayback: 'loop', ringback: 'tone_stream://%(1000,4000,425)', unreachablePrompt: '/p/unreachable.wav', pushFailedPrompt: '', closingPromptMaxMs: 8000 };

  it('loops the wake prompt, or plays it once and then the ringback', () => {
    expect(wakeCommand(s)).toEqual({ app: 'endless_playback', arg: '/p/wake.wav' });
    expect(wakeCommand({ ...s, wakePlayback: 'once-then-ringback' })).toEqual({ app: 'playback', arg: 'file_string:///p/wake.wav!tone_stream://%(1000,4000,425)' });
  });

  it('only "nobody could be reached" endings get a closing prompt', () => {
    expect(closingPromptFor('wake-timeout', 480)).toBe('unreachable');
    expect(closingPromptFor('push-failed', 480)).toBe('pushFailed');
    expect(closingPromptFor('all-legs-failed', 480)).toBe('unreachable');
    for (const [how, status] of [['all-legs-failed', 486], ['declined', 603], ['ring-timeout', 480], ['caller-cancelled', 487], ['shutdown', 503], ['no-device', 480]] as const) {
      expect(closingPromptFor(how, status)).toBeUndefined();
    }
  });

  it('push failed falls back to the unreachable prompt; an empty prompt or a 0 bound plays nothing', () => {
    expect(closingCommand('pushFailed', s)).toEqual({ command: { app: 'playback', arg: '/p/unreachable.wav' }, maxMs: 8000 });
    expect(closingCommand('pushFailed', { ...s, pushFailedPrompt: '/p/pf.wav' })?.command.arg).toBe('/p/pf.wav');
    expect(closingCommand('unreachable', { ...s, unreachablePrompt: '' })).toBeUndefined();
    expect(closingCommand('unreachable', { ...s, closingPromptMaxMs: 0 })).toBeUndefined();
  });
});

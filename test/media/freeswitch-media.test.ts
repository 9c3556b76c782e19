/**
 * FreeswitchMedia with a fake drachtio-fsmrf MediaServer: every way FreeSWITCH can be down, slow,
 * full or failing ends in an `unavailable` outcome (never a throw, never a held call), and every
 * endpoint is let go exactly once.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FreeswitchMedia, type MediaSettings } from '../../lib/media/freeswitch-media.js';
import type { FsmrfConnectOptions, FsmrfEndpoint, FsmrfMediaServer, MrfConnector } from '../../lib/media/fsmrf.js';
import type { ProbeResult } from '../../lib/media/esl-probe.js';
import { silentLogger } from '../../lib/log.js';
import { DEFAULTS } from '../../lib/config/defaults.js';

const SETTINGS: MediaSettings = { ...DEFAULTS.media, setupTimeoutMs: 500, maxAnnouncements: 2 };

class FakeEndpoint extends EventEmitter implements FsmrfEndpoint {
  readonly uuid = 'uuid-1';
  readonly local = { sdp: 'v=0 freeswitch' };
  readonly dialogDestroys: number[] = [];
  dialogConnected = true;
  readonly executed: Array<[string, string | undefined]> = [];
  destroys = 0;
  /** FreeSWITCH answers the hangup (BYE) */
  answersDestroy = true;
  readonly dialog = {
    destroy: (): Promise<unknown> => {
      this.dialogDestroys.push(Date.now());
      this.dialogConnected = false;
      return Promise.resolve();
    },
    get connected(): boolean {
      return true;
    },
  };
  execute(app: string, arg?: string): Promise<unknown> {
    this.executed.push([app, arg]);
    return new Promise(() => undefined); // completes only when the test says so (never, here)
  }
  api(): Promise<unknown> {
    return Promise.resolve('+OK');
  }
  play(): Promise<unknown> {
    return Promise.reject(new Error('FreeswitchMedia runs applications with execute'));
  }
  bridge(): Promise<unknown> {
    return Promise.reject(new Error('FreeswitchMedia never bridges'));
  }
  destroy(): Promise<void> {
    this.destroys++;
    return this.answersDestroy ? Promise.resolve() : new Promise(() => undefined);
  }
}

class FakeServer extends EventEmitter implements FsmrfMediaServer {
  readonly sip = { ipv4: { udp: { address: '127.0.0.1:5080' as string | undefined } } };
  readonly conn = Object.assign(new EventEmitter(), { reconnectOpts: {} as { retryMaxDelay?: number }, reconnectVars: { retryTimer: null } });
  up = true;
  disconnects = 0;
  readonly made: FakeEndpoint[] = [];
  nextEndpoint: () => Promise<FakeEndpoint> = () => Promise.resolve(new FakeEndpoint());
  createEndpoint(): Promise<FsmrfEndpoint> {
    return this.nextEndpoint().then((ep) => {
      this.made.push(ep);
      return ep;
    });
  }
  connected(): boolean {
    return this.up;
  }
  api(): Promise<string> {
    return Promise.resolve('');
  }
  disconnect(): void {
    this.disconnects++;
  }
}

describe('FreeswitchMedia (fake drachtio-fsmrf)', () => {
  let server: FakeServer;
  let connects: FsmrfConnectOptions[];
  let probes: ProbeResult[];
  let observed: { unavailable: string[]; up: boolean[] };
  const mrf: MrfConnector = { connect: (opts) => (connects.push(opts), Promise.resolve(server)) };

  beforeEach(() => {
    vi.useFakeTimers();
    server = new FakeServer();
    connects = [];
    probes = [];
    observed = { unavailable: [], up: [] };
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function media(settings: Partial<MediaSettings> = {}, probe: () => ProbeResult = () => ({ kind: 'ok', profileUrl: 'sip:mod_sofia@127.0.0.1:5080' })): FreeswitchMedia {
    return new FreeswitchMedia(mrf, { ...SETTINGS, ...settings }, silentLogger(), {
      unavailable: (code) => observed.unavailable.push(code),
      connected: (up) => observed.up.push(up),
    }, () => {
      const r = probe();
      probes.push(r);
      return Promise.resolve(r);
    });
  }

  it('connects after a good probe, with the callback address and the profile, and caps drachtio-modesl\'s reconnect back-off', async () => {
    const m = media({ callbackListen: '127.0.0.1:9099', callbackAdvertise: '10.9.9.9:19099', profile: 'mrf2' });
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.isUp).toBe(true);
    expect(connects[0]).toMatchObject({ address: '127.0.0.1', port: 8021, secret: 'ClueCon', profile: 'mrf2', listenAddress: '127.0.0.1', listenPort: 9099, advertisedAddress: '10.9.9.9', advertisedPort: 19099 });
    expect(server.conn.reconnectOpts.retryMaxDelay).toBe(5000);
    expect(observed.up).toEqual([true]);
    m.close();
    expect(server.disconnects).toBe(1);
  });

  it('media.sipAddress overrides the address FreeSWITCH reports', async () => {
    const m = media({ sipAddress: '192.0.2.5:5090' });
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(server.sip.ipv4.udp.address).toBe('192.0.2.5:5090');
    m.close();
  });

  it('a failed probe keeps media down (MEDIA_DOWN, saying why) and retries with a growing delay, never calling drachtio-fsmrf', async () => {
    let fail = true;
    const m = media({}, () => (fail ? { kind: 'failed', code: 'MEDIA_PROFILE_MISSING', why: 'FreeSWITCH has no sofia profile named drachtio_mrf' } : { kind: 'ok', profileUrl: 'sip:x@127.0.0.1:5080' }));
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    const outcome = await m.open('v=0 caller');
    expect(outcome).toMatchObject({ kind: 'unavailable', code: 'MEDIA_DOWN' });
    expect(outcome.kind === 'unavailable' && outcome.why).toMatch(/MEDIA_PROFILE_MISSING/);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(2000);
    expect(probes).toHaveLength(3);
    expect(connects).toHaveLength(0);
    fail = false;
    await vi.advanceTimersByTimeAsync(4000);
    expect(m.isUp).toBe(true);
    m.close();
  });

  it('open: an endpoint for the caller\'s SDP; past media.maxAnnouncements MEDIA_BUSY; a release frees a place', async () => {
    const m = media();
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    const a = await m.open('v=0 a');
    const b = await m.open('v=0 b');
    expect(a.kind).toBe('ready');
    expect(b.kind).toBe('ready');
    expect(await m.open('v=0 c')).toMatchObject({ kind: 'unavailable', code: 'MEDIA_BUSY' });
    if (a.kind !== 'ready') throw new Error('no endpoint');
    expect(a.endpoint.sdp).toBe('v=0 freeswitch');
    await a.endpoint.release();
    await a.endpoint.release();
    expect(server.made[0]?.destroys).toBe(1);
    expect(m.activeAnnouncements).toBe(1);
    expect((await m.open('v=0 d')).kind).toBe('ready');
    m.close();
  });

  it('slow: MEDIA_SLOW after media.setupTimeoutMs, and the endpoint that comes later is released at once', async () => {
    const m = media();
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    let arrive: (ep: FakeEndpoint) => void = () => undefined;
    server.nextEndpoint = () => new Promise((resolve) => (arrive = resolve));
    const opening = m.open('v=0 a');
    await vi.advanceTimersByTimeAsync(500);
    expect(await opening).toMatchObject({ kind: 'unavailable', code: 'MEDIA_SLOW' });
    expect(m.activeAnnouncements).toBe(1);
    const late = new FakeEndpoint();
    arrive(late);
    await vi.advanceTimersByTimeAsync(0);
    expect(late.destroys).toBe(1);
    expect(m.activeAnnouncements).toBe(0);
    m.close();
  });

  it('FreeSWITCH refuses the endpoint: MEDIA_ERROR, nothing held', async () => {
    const m = media();
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    server.nextEndpoint = () => Promise.reject(Object.assign(new Error('503 Service Unavailable'), { status: 503 }));
    expect(await m.open('v=0 a')).toMatchObject({ kind: 'unavailable', code: 'MEDIA_ERROR' });
    expect(m.activeAnnouncements).toBe(0);
    m.close();
  });

  it('drachtio-fsmrf throwing at once (its assertion on a DTLS offer) is MEDIA_ERROR, and holds no place', async () => {
    const m = media({ maxAnnouncements: 1 });
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    server.nextEndpoint = () => {
      throw new Error('Mediaserver#createEndpoint() can not be called with a remote sdp requiring a dtls handshake');
    };
    expect(await m.open('v=0 webrtc')).toMatchObject({ kind: 'unavailable', code: 'MEDIA_ERROR' });
    expect(m.activeAnnouncements).toBe(0);
    server.nextEndpoint = () => Promise.resolve(new FakeEndpoint());
    expect((await m.open('v=0 a')).kind).toBe('ready');
    m.close();
  });

  it('the event socket drops: MEDIA_DOWN until drachtio-modesl has it back', async () => {
    const m = media();
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    server.up = false;
    server.emit('end');
    expect(m.isUp).toBe(false);
    expect(await m.open('v=0 a')).toMatchObject({ kind: 'unavailable', code: 'MEDIA_DOWN' });
    server.up = true;
    server.conn.emit('esl::ready');
    expect(m.isUp).toBe(true);
    expect(observed.up).toEqual([true, false, true]);
    // an 'error' from drachtio-fsmrf is heard (an unheard one would throw)
    expect(() => server.emit('error', new Error('ECONNRESET'))).not.toThrow();
    m.close();
  });

  it('an endpoint FreeSWITCH drops is heard once, fails its prompt, and its SIP dialog is ended on our side', async () => {
    const m = media();
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    const opened = await m.open('v=0 a');
    if (opened.kind !== 'ready') throw new Error('no endpoint');
    const lost = vi.fn();
    opened.endpoint.onLost(lost);
    const playing = opened.endpoint.play({ app: 'endless_playback', arg: '/p/wake.wav' });
    const ep = server.made[0];
    ep?.emit('destroy');
    ep?.emit('destroy');
    await expect(playing).rejects.toThrow(/lost/);
    await vi.advanceTimersByTimeAsync(0);
    expect(lost).toHaveBeenCalledTimes(1);
    expect(ep?.destroys).toBe(0);
    expect(ep?.dialogDestroys).toHaveLength(1);
    expect(m.activeAnnouncements).toBe(0);
    m.close();
  });

  it('FreeSWITCH does not let an endpoint go in time: its SIP dialog is ended on our side', async () => {
    const m = media();
    m.start();
    await vi.advanceTimersByTimeAsync(0);
    const opened = await m.open('v=0 a');
    if (opened.kind !== 'ready') throw new Error('no endpoint');
    const ep = server.made[0];
    if (ep) ep.answersDestroy = false;
    const released = opened.endpoint.release();
    await vi.advanceTimersByTimeAsync(3000);
    await released;
    expect(ep?.dialogDestroys).toHaveLength(1);
    expect(m.activeAnnouncements).toBe(0);
    m.close();
  });
});

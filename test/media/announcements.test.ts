/**
 * Announcements end to end (issue 10): pushwake on each SIP engine drives a real FreeSWITCH through
 * drachtio-fsmrf. The caller and the phone are test agents with real RTP sockets; the prompts are
 * made by the test with espeak-ng and sox (8 kHz WAV). Runs when FREESWITCH_BIN (or `freeswitch` on
 * PATH) names a FreeSWITCH; the drachtio-server run also needs DRACHTIO_BIN.
 *
 * The suite without FreeSWITCH ("media on, FreeSWITCH away") always runs: a call goes on exactly as
 * with media off.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipLab, enginesUnderTest } from '../e2e/support/sip-lab.js';
import { Pbx, waitFor, type CallAttempt, type Phone, type PhoneBehaviour, type ReceivedInvite } from '../../lib/testkit/agents.js';
import type { SipDialog } from '../../lib/sip/srf.js';
import { freeswitchBin, startFreeswitch, type FreeswitchServer } from '../../lib/testkit/freeswitch.js';
import { findBinary } from '../../lib/testkit/binaries.js';
import { freePort } from '../../lib/testkit/free-port.js';
import { RtpAgent } from '../../lib/testkit/rtp-agent.js';
import type { DeepPartial } from '../../lib/config/load.js';
import type { PushwakeConfig } from '../../lib/config/types.js';
import { probeEventSocket } from '../../lib/media/esl-probe.js';
import { adminTarget } from '../../lib/ops/admin-target.js';
import { kamailioBin, passwordFor, startKamailio, type Kamailio } from '../../lib/testkit/kamailio.js';

const fsBin = freeswitchBin();
const espeak = findBinary('ESPEAK_BIN', ['espeak-ng']);
const sox = findBinary('SOX_BIN', ['sox']);
const canRun = fsBin !== undefined && espeak !== undefined && sox !== undefined;
if (!fsBin) console.log('[media] SKIPPED the announcements suite on FreeSWITCH: no FREESWITCH_BIN and no freeswitch on PATH.');
else if (!espeak || !sox) console.log('[media] SKIPPED the announcements suite on FreeSWITCH: it makes its prompts with espeak-ng and sox (apt-get install espeak-ng sox).');

/** Speech to an 8 kHz mono WAV: the prompts FreeSWITCH plays to a PCMU call. */
function speak(dir: string, name: string, text: string): string {
  const raw = join(dir, `${name}-raw.wav`);
  const out = join(dir, `${name}.wav`);
  execFileSync(espeak ?? 'espeak-ng', ['-w', raw, text]);
  execFileSync(sox ?? 'sox', [raw, '-r', '8000', '-c', '1', '-b', '16', out]);
  return out;
}

function wavSeconds(file: string): number {
  return Number(execFileSync(sox ?? 'sox', ['--i', '-D', file]).toString().trim());
}

const mediaConfig = (fs: FreeswitchServer, prompts: { wake: string; unreachable: string }): DeepPartial<PushwakeConfig> => ({
  media: {
    enabled: true,
    eventSocket: `${fs.address}:${fs.eslPort}`,
    eventSocketSecret: fs.eslSecret,
    wakePrompt: prompts.wake,
    unreachablePrompt: prompts.unreachable,
  },
});

/** FreeSWITCH's channel count once it is 0, or what it still is after `within` ms. */
async function channelsLeft(fs: FreeswitchServer, within: number): Promise<number> {
  const deadline = Date.now() + within;
  for (;;) {
    const count = await channelCount(fs);
    if (count === 0 || Date.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function channelCount(fs: FreeswitchServer): Promise<number> {
  // a plain event socket question, as an operator would ask it
  const res = await eslApi(fs, 'show channels count');
  return Number(/^(\d+) total/m.exec(res)?.[1] ?? NaN);
}

async function eslApi(fs: FreeswitchServer, command: string): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: fs.address, port: fs.eslPort });
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('event socket: no answer'));
    }, 5000);
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (d: string) => {
      buf += d;
      if (step === 0 && buf.includes('auth/request')) {
        buf = '';
        step = 1;
        socket.write(`auth ${fs.eslSecret}\n\n`);
      } else if (step === 1 && buf.includes('+OK accepted')) {
        buf = '';
        step = 2;
        socket.write(`api ${command}\n\n`);
      } else if (step === 2) {
        const m = /Content-Length: (\d+)\n\n/.exec(buf);
        if (m && buf.length >= (m.index + m[0].length + Number(m[1]))) {
          clearTimeout(timer);
          socket.destroy();
          resolve(buf.slice(m.index + m[0].length));
        }
      }
    });
  });
}

interface AnnouncedCall {
  phone: Phone;
  phoneRtp: RtpAgent;
  callerRtp: RtpAgent;
  call: CallAttempt;
  early: string;
}

describe.skipIf(!canRun).each(enginesUnderTest())('announcements on FreeSWITCH over the %s engine', (engine) => {
  let dir: string;
  let prompts: { wake: string; unreachable: string };
  let freeswitch: FreeswitchServer;
  let lab: SipLab;
  let agents: RtpAgent[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pushwake-prompts-'));
    prompts = {
      wake: speak(dir, 'wake', 'Please hold while we reach the device.'),
      unreachable: speak(dir, 'unreachable', 'The person you are calling is not reachable.'),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // one FreeSWITCH for the suite (it takes seconds to start and stop); a test that stops it marks it
  let freeswitchStopped = false;
  beforeAll(async () => {
    freeswitch = await startFreeswitch(fsBin ?? '');
  });
  afterAll(async () => {
    if (!freeswitchStopped) await freeswitch.stop();
  });
  beforeEach(() => {
    agents = [];
  });
  afterEach(async () => {
    await lab?.stop();
    for (const a of agents) a.close();
    if (freeswitchStopped) {
      freeswitch = await startFreeswitch(fsBin ?? '');
      freeswitchStopped = false;
    } else {
      // each test leaves FreeSWITCH as it found it
      expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    }
  });

  async function startLab(config: DeepPartial<PushwakeConfig> = {}): Promise<SipLab> {
    lab = await SipLab.start({ engine, config: { ...mediaConfig(freeswitch, prompts), ...config, media: { ...mediaConfig(freeswitch, prompts).media, ...config.media } } });
    expect(await lab.pushwake.pushwake.media?.whenUp(10_000)).toBe(true);
    return lab;
  }

  async function rtp(): Promise<RtpAgent> {
    const a = await RtpAgent.open();
    agents.push(a);
    return a;
  }

  /** A sleeping phone with an RTP socket, called: the caller has its 183 and hears the wake prompt. */
  async function announcedCall(behaviour: PhoneBehaviour = 'answer'): Promise<AnnouncedCall> {
    const phone = lab.phone('alice');
    phone.behaviour = behaviour;
    const phoneRtp = await rtp();
    phone.answerSdp = phoneRtp.sdp('phone');
    await phone.register();
    phone.wakeOnPush = false;
    const callerRtp = await rtp();
    const call = lab.pbx.call('sip:alice@example.com', { sdp: callerRtp.sdp('pbx') });
    const early = await waitFor('183 with SDP', () => call.earlySdp, 5000);
    callerRtp.sendTo(early);
    await waitFor('the wake prompt at the caller', () => callerRtp.heardFrom(early) >= 10, 5000);
    return { phone, phoneRtp, callerRtp, call, early };
  }

  /** The phone wakes and answers; the caller's media is moved to it, and RTP flows both ways. */
  async function answerAndTalk(c: AnnouncedCall): Promise<{ dialog: SipDialog; invite: ReceivedInvite }> {
    await c.phone.register();
    const result = await c.call.done;
    expect(result.status).toBe(200);
    const dialog = result.dialog;
    const invite = c.phone.invites[0];
    if (!dialog || !invite) throw new Error('not connected');
    await waitFor('re-INVITE to the caller', () => /m=audio (\d+)/.exec(dialog.remote.sdp)?.[1] === String(c.phoneRtp.port), 5000);
    c.callerRtp.sendTo(dialog.remote.sdp);
    c.phoneRtp.sendTo(invite.sdp);
    await waitFor('RTP phone -> caller', () => c.callerRtp.heardFrom(c.phone.answerSdp) >= 25, 5000);
    await waitFor('RTP caller -> phone', () => c.phoneRtp.heardFrom(c.callerRtp.sdp()) >= 25, 5000);
    return { dialog, invite };
  }

  it('the caller hears the wake prompt before any device answers, then caller and phone talk both ways', async () => {
    await startLab();
    const c = await announcedCall();
    expect(c.call.provisionals).toContain(183);
    expect(c.call.provisionals).not.toContain(180);
    await waitFor('more of the wake prompt', () => c.callerRtp.heardFrom(c.early) >= 25, 5000);
    expect(c.phone.invites).toHaveLength(0);
    expect(await channelCount(freeswitch)).toBe(1);

    const { dialog, invite } = await answerAndTalk(c);
    // RFC 3264 within one dialog: the 200 repeated the 183's answer
    expect(c.call.answerSdp).toBe(c.early);
    // and the re-INVITE carried the phone's SDP under FreeSWITCH's origin, version one up
    const originOf = (sdp: string): string[] => (/^o=(\S+) (\S+) (\d+)/m.exec(sdp) ?? []).slice(1);
    const [user, session, version] = originOf(dialog.remote.sdp);
    expect([user, session]).toEqual(originOf(c.early).slice(0, 2));
    expect(BigInt(version ?? '0')).toBe(BigInt(originOf(c.early)[2] ?? '0') + 1n);
    expect(invite.sdp).toContain(`m=audio ${c.callerRtp.port} `);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    await dialog.destroy();
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
  });

  it('once-then-ringback: the caller hears the spoken wake prompt, then the ringback tone, never silence', async () => {
    await startLab({ media: { wakePlayback: 'once-then-ringback' } });
    const c = await announcedCall();
    const promptMs = wavSeconds(prompts.wake) * 1000;
    await new Promise((r) => setTimeout(r, promptMs + 1000));
    // a second past the prompt's end: the ringback (440+480 Hz, 2 s on, 4 s off) has begun
    const before = c.callerRtp.sound;
    await new Promise((r) => setTimeout(r, 800));
    expect(c.callerRtp.sound - before).toBeGreaterThan(30);
    c.call.cancel();
    expect((await c.call.done).status).toBe(487);
  });

  it('nothing wakes: the unreachable prompt plays to its end, then 480 with its Reason', async () => {
    await startLab({ call: { wakeTimeoutMs: 1500 } });
    const started = Date.now();
    const { call, callerRtp, early } = await announcedCall();
    await waitFor('wake timeout', () => Date.now() - started >= 1500, 5000);
    const atTimeout = callerRtp.heardFrom(early);
    const soundAtTimeout = callerRtp.sound;
    const result = await call.done;
    const closingMs = Date.now() - started - 1500;
    expect(result.status).toBe(480);
    expect(result.reasonHeader).toMatch(/^SIP;cause=480;text=".+"/);
    const promptMs = wavSeconds(prompts.unreachable) * 1000;
    // played to its end: the final response waited for it (less a little for timer slack)
    expect(closingMs).toBeGreaterThan(promptMs - 300);
    expect(closingMs).toBeLessThan(promptMs + 3000);
    // and the caller heard it: ~50 packets a second while it played
    expect(callerRtp.heardFrom(early) - atTimeout).toBeGreaterThan((promptMs / 20) * 0.6);
    // sound, not silence: the spoken prompt
    expect(callerRtp.sound - soundAtTimeout).toBeGreaterThan((promptMs / 20) * 0.3);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
  });

  it('CANCEL during the wake prompt: 487, the endpoint released, nothing left in FreeSWITCH', async () => {
    await startLab();
    const c = await announcedCall();
    expect(await channelCount(freeswitch)).toBe(1);
    c.call.cancel();
    expect((await c.call.done).status).toBe(487);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
    expect(lab.pushwake.pushwake.media?.activeAnnouncements).toBe(0);
  });

  it('CANCEL during the unreachable prompt: 487 at once, nothing left in FreeSWITCH', async () => {
    await startLab({ call: { wakeTimeoutMs: 1000 } });
    const started = Date.now();
    const { call } = await announcedCall();
    await waitFor('closing prompt', () => lab.pushwake.calls.list().some((c) => c.currentState === 'closing'), 5000);
    call.cancel();
    expect((await call.done).status).toBe(487);
    expect(Date.now() - started).toBeLessThan(1000 + wavSeconds(prompts.unreachable) * 1000);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
  });

  it('a decline (603) during the wake prompt releases the endpoint', async () => {
    await startLab();
    const c = await announcedCall('decline');
    expect(await channelCount(freeswitch)).toBe(1);
    await c.phone.register();
    expect((await c.call.done).status).toBe(603);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
  });

  it('an offer FreeSWITCH cannot answer (G.722 only): no announcement, a 180, and the call connects as without media', async () => {
    await startLab();
    const phone = lab.phone('alice');
    await phone.register();
    const g722 = ['v=0', 'o=pbx 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 9', 'a=rtpmap:9 G722/8000', ''].join('\r\n');
    const call = lab.pbx.call('sip:alice@example.com', { sdp: g722 });
    const result = await call.done;
    expect(result.status).toBe(200);
    expect(call.provisionals).toContain(180);
    expect(call.earlySdp).toBeUndefined();
    expect(await lab.pushwake.pushwake.metrics.metrics()).toMatch(/pushwake_media_unavailable_total\{code="MEDIA_ERROR"\} 1/);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    await result.dialog?.destroy();
  });

  it('an SRTP offer (drachtio-fsmrf refuses it at once): no announcement, a 180, the call connects, and no endpoint place is held', async () => {
    await startLab({ media: { maxAnnouncements: 1 } });
    const phone = lab.phone('alice');
    await phone.register();
    const srtp = ['v=0', 'o=pbx 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/SAVP 0', 'a=rtpmap:0 PCMU/8000',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', ''].join('\r\n');
    const call = lab.pbx.call('sip:alice@example.com', { sdp: srtp });
    const result = await call.done;
    expect(result.status).toBe(200);
    expect(call.provisionals).toContain(180);
    expect(call.earlySdp).toBeUndefined();
    expect(await lab.pushwake.pushwake.metrics.metrics()).toMatch(/pushwake_media_unavailable_total\{code="MEDIA_ERROR"\} 1/);
    expect(lab.pushwake.pushwake.media?.activeAnnouncements).toBe(0);
    await result.dialog?.destroy();
  });

  it('FreeSWITCH stopped during the wake prompt: the call goes on without media and connects', async () => {
    await startLab();
    const c = await announcedCall();
    freeswitchStopped = true;
    await freeswitch.stop();
    // the PBX may play its own ringback now
    await waitFor('180 after the announcement was lost', () => c.call.provisionals.includes(180), 5000);
    const { dialog } = await answerAndTalk(c);
    await dialog.destroy();
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
    // the next call finds media down, and goes on as without it
    const next = lab.pbx.call('sip:alice@example.com', { sdp: c.callerRtp.sdp('pbx') });
    await waitFor('180', () => next.provisionals.includes(180), 5000);
    expect(next.earlySdp).toBeUndefined();
    next.cancel();
    await next.done;
  });
});

describe.skipIf(!canRun || !kamailioBin()).each(enginesUnderTest())('announcements behind a record-routing proxy (Kamailio) over the %s engine', (engine) => {
  let freeswitch: FreeswitchServer;
  let kamailio: Kamailio;
  let lab: SipLab;
  const agents: RtpAgent[] = [];
  beforeAll(async () => {
    freeswitch = await startFreeswitch(fsBin ?? '');
    kamailio = await startKamailio(kamailioBin() ?? '');
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await lab?.stop();
    await kamailio.stop();
    await freeswitch.stop();
  });

  it('the 183, the 200 and the hand-over re-INVITE reach the caller through Kamailio; caller and phone talk both ways', async () => {
    lab = await SipLab.start({
      engine,
      config: {
        upstream: { registrar: kamailio.uri, trustedSources: [`${kamailio.address}/32`] },
        media: { enabled: true, eventSocket: `${freeswitch.address}:${freeswitch.eslPort}`, eventSocketSecret: freeswitch.eslSecret },
      },
    });
    expect(await lab.pushwake.pushwake.media?.whenUp(10_000)).toBe(true);
    const phone = lab.phone(`media${engine}${Date.now() % 100000}`, { transport: 'udp' });
    phone.credentials = { username: phone.user, password: passwordFor(phone.user) };
    const phoneRtp = await RtpAgent.open();
    const callerRtp = await RtpAgent.open();
    agents.push(phoneRtp, callerRtp);
    phone.answerSdp = phoneRtp.sdp('phone');
    expect((await phone.register()).status).toBe(200);
    phone.wakeOnPush = false;
    const call = new Pbx(lab.agentApp, kamailio.uri).call(phone.aor, { sdp: callerRtp.sdp('pbx') });
    const early = await waitFor('183 through Kamailio', () => call.earlySdp, 5000);
    callerRtp.sendTo(early);
    await waitFor('the wake prompt at the caller', () => callerRtp.heardFrom(early) >= 10, 5000);
    await phone.register();
    const result = await call.done;
    const dialog = result.dialog;
    const invite = phone.invites[0];
    if (!dialog || !invite) throw new Error('not connected');
    expect(call.answerSdp).toBe(early);
    await waitFor('re-INVITE through Kamailio', () => /m=audio (\d+)/.exec(dialog.remote.sdp)?.[1] === String(phoneRtp.port), 5000);
    // loose-routed by Kamailio on the caller's route set, like the ACK
    await waitFor('Kamailio routed the re-INVITE', () => /pwk routed INVITE/.test(kamailio.output()) || undefined, 5000);
    callerRtp.sendTo(dialog.remote.sdp);
    phoneRtp.sendTo(invite.sdp);
    await waitFor('RTP phone -> caller', () => callerRtp.heardFrom(phone.answerSdp) >= 25, 5000);
    await waitFor('RTP caller -> phone', () => phoneRtp.heardFrom(callerRtp.sdp()) >= 25, 5000);
    expect(await channelsLeft(freeswitch, 5000)).toBe(0);
    await dialog.destroy();
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
  });
});

describe('media off', () => {
  it('touches nothing: no media server, no media metric families', async () => {
    const lab = await SipLab.start({ engine: 'embedded' });
    try {
      expect(lab.pushwake.pushwake.media).toBeUndefined();
      expect(await lab.pushwake.pushwake.metrics.metrics()).not.toMatch(/pushwake_media|pushwake_announcements/);
    } finally {
      await lab.stop();
    }
  });
});

describe.each(enginesUnderTest())('media on, FreeSWITCH away, over the %s engine', (engine) => {
  let lab: SipLab;
  afterEach(async () => {
    await lab.stop();
  });

  it('a call goes on exactly as with media off: 180, the phone wakes and answers with its own SDP', async () => {
    const port = await freePort();
    expect((await probeEventSocket({ host: '127.0.0.1', port, secret: 'x', profile: 'drachtio_mrf', timeoutMs: 1000 })).kind).toBe('failed');
    lab = await SipLab.start({ engine, config: { media: { enabled: true, eventSocket: `127.0.0.1:${port}` } } });
    const phone = lab.phone('alice');
    await phone.register();
    const call = lab.pbx.call('sip:alice@example.com');
    const result = await call.done;
    expect(result.status).toBe(200);
    expect(call.provisionals).toContain(180);
    expect(call.provisionals).not.toContain(183);
    expect(result.dialog?.remote.sdp).toContain('o=phone');
    const metrics = await lab.pushwake.pushwake.metrics.metrics();
    expect(metrics).toMatch(/pushwake_media_unavailable_total\{code="MEDIA_DOWN"\} 1/);
    expect(metrics).toMatch(/pushwake_media_up 0/);
    // operators see it, and pushwake stays ready: calls do not need FreeSWITCH
    const admin = adminTarget({ pushwake: lab.pushwake.pushwake, config: () => lab.config, engineConnected: () => true, sipListeners: () => [], reload: () => Promise.resolve({}), version: 'test' });
    expect((await admin.readiness())['media']).toEqual({ ok: true, detail: `FreeSWITCH at 127.0.0.1:${port} not connected: calls go on without announcements` });
    expect((await admin.status())['media']).toEqual({ up: false, announcements: 0, eventSocket: `127.0.0.1:${port}` });
    await result.dialog?.destroy();
    await waitFor('call over', () => lab.pushwake.calls.size === 0);
  });
});

/**
 * Groundwork for issue 10 (announcements through drachtio-fsmrf): a real FreeSWITCH, started by
 * the testkit on loopback, driven by drachtio-fsmrf through pushwake's own srf layer on each SIP
 * engine. An endpoint is created for a caller's SDP, plays a tone the caller's RTP socket
 * receives, and is released with nothing left in FreeSWITCH. Runs when FREESWITCH_BIN (or
 * `freeswitch` on PATH) names a FreeSWITCH; the drachtio-server run also needs DRACHTIO_BIN.
 */
import dgram from 'node:dgram';
import Mrf from 'drachtio-fsmrf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedEngine, type EmbeddedEngine } from '../../lib/engine/index.js';
import { createSipApp, newSrf, type SipApp } from '../../lib/sip/srf.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { startDrachtioServer, type DrachtioServer } from '../../lib/testkit/drachtio-server.js';
import { freeswitchBin, startFreeswitch, type FreeswitchServer } from '../../lib/testkit/freeswitch.js';
import { runCleanups, type Cleanup } from '../../lib/testkit/cleanups.js';
import { waitFor } from '../../lib/testkit/agents.js';

const fsBin = freeswitchBin();
if (!fsBin) console.log('[media] SKIPPED the FreeSWITCH suite: no FREESWITCH_BIN and no freeswitch on PATH.');
else if (!drachtioBin()) console.log('[media] SKIPPED the drachtio-server run of the FreeSWITCH suite: no DRACHTIO_BIN and no drachtio on PATH.');
const engines = drachtioBin() ? (['embedded', 'drachtio'] as const) : (['embedded'] as const);

/** A caller's media: one RTP socket that counts what it hears and sends PCMU silence every 20 ms. */
class RtpAgent {
  received = 0;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', () => void (this.received += 1));
  }

  static async open(): Promise<RtpAgent> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RtpAgent(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  offer(): string {
    return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${this.port} RTP/AVP 0 101`,
      'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
  }

  /** FreeSWITCH sends only once it has heard the far end. */
  sendTo(sdp: string): void {
    const port = Number(/m=audio (\d+)/.exec(sdp)?.[1] ?? 0);
    this.timer = setInterval(() => {
      const packet = Buffer.alloc(12 + 160, 0xff);
      packet[0] = 0x80;
      packet[1] = 0;
      packet.writeUInt16BE(this.seq & 0xffff, 2);
      packet.writeUInt32BE((this.seq * 160) >>> 0, 4);
      packet.writeUInt32BE(0x5057, 8);
      this.seq += 1;
      this.socket.send(packet, port, '127.0.0.1');
    }, 20);
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

/** FreeSWITCH's channel count once it is 0, or what it still is after `ms`. */
async function channelsAfter(ms: Mrf.MediaServer, within: number): Promise<number> {
  const deadline = Date.now() + within;
  for (;;) {
    const count = Number(/^(\d+) total/m.exec(await ms.api('show channels count'))?.[1] ?? NaN);
    if (count === 0 || Date.now() > deadline) return count;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!fsBin).each(engines)('FreeSWITCH through drachtio-fsmrf on the %s engine', (engine) => {
  let freeswitch: FreeswitchServer;
  let app: SipApp;
  let cleanups: Cleanup[];

  beforeEach(async () => {
    cleanups = [];
    freeswitch = await startFreeswitch(fsBin ?? '');
    cleanups.push(() => freeswitch.stop());
    const srf = newSrf();
    app = createSipApp(srf);
    if (engine === 'embedded') {
      const e: EmbeddedEngine = await startEmbeddedEngine({ sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }], wire: { secret: 'cymru' } });
      cleanups.push(() => e.stop());
      await app.connect({ host: '127.0.0.1', port: e.wirePort, secret: 'cymru', inProcess: () => e.openAppLink() });
    } else {
      const d: DrachtioServer = await startDrachtioServer(drachtioBin() ?? '', 'media');
      cleanups.push(() => d.stop());
      await app.connect({ host: '127.0.0.1', port: d.wirePort, secret: d.secret });
    }
    cleanups.push(async () => app.disconnect());
    mrf = new Mrf(srf);
  });
  afterEach(async () => {
    await runCleanups(cleanups);
  });
  let mrf: Mrf;

  it('creates an endpoint for a caller SDP, plays a tone the caller hears, and releases it', async () => {
    const ms = await mrf.connect({ address: freeswitch.address, port: freeswitch.eslPort, secret: freeswitch.eslSecret, listenAddress: '127.0.0.1' });
    cleanups.push(async () => ms.disconnect());
    const caller = await RtpAgent.open();
    cleanups.push(async () => caller.close());
    const ep = await ms.createEndpoint({ remoteSdp: caller.offer() });
    expect(ep.local.sdp).toMatch(/m=audio \d+ RTP\/AVP 0/);
    caller.sendTo(ep.local.sdp);
    void ep.play('tone_stream://%(400,200,400,450);loops=10').catch(() => undefined);
    await waitFor('RTP from FreeSWITCH', () => caller.received >= 20, 5000);
    expect(await ms.api('show channels count')).toMatch(/^1 total/m);
    await ep.destroy();
    expect(await channelsAfter(ms, 5000)).toBe(0);
  });
});

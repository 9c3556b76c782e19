/**
 * Groundwork for issue 10 (announcements through drachtio-fsmrf): a real FreeSWITCH, started by
 * the testkit on loopback, driven by drachtio-fsmrf through pushwake's own srf layer on each SIP
 * engine. An endpoint is created for a caller's SDP, plays a tone the caller's RTP socket
 * receives, and is released with nothing left in FreeSWITCH. Runs when FREESWITCH_BIN (or
 * `freeswitch` on PATH) names a FreeSWITCH; the drachtio-server run also needs DRACHTIO_BIN.
 */
import Mrf from 'drachtio-fsmrf';
import type { FsmrfMediaServer } from '../../lib/media/fsmrf.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedEngine, type EmbeddedEngine } from '../../lib/engine/index.js';
import { createSipApp, newSrf, type SipApp } from '../../lib/sip/srf.js';
import { drachtioBin } from '../../lib/testkit/binaries.js';
import { startDrachtioServer, type DrachtioServer } from '../../lib/testkit/drachtio-server.js';
import { freeswitchBin, startFreeswitch, type FreeswitchServer } from '../../lib/testkit/freeswitch.js';
import { runCleanups, type Cleanup } from '../../lib/testkit/cleanups.js';
import { waitFor } from '../../lib/testkit/agents.js';
import { RtpAgent } from '../../lib/testkit/rtp-agent.js';

const fsBin = freeswitchBin();
if (!fsBin) console.log('[media] SKIPPED the FreeSWITCH suite: no FREESWITCH_BIN and no freeswitch on PATH.');
else if (!drachtioBin()) console.log('[media] SKIPPED the drachtio-server run of the FreeSWITCH suite: no DRACHTIO_BIN and no drachtio on PATH.');
const engines = drachtioBin() ? (['embedded', 'drachtio'] as const) : (['embedded'] as const);

/** FreeSWITCH's channel count once it is 0, or what it still is after `ms`. */
async function channelsAfter(ms: FsmrfMediaServer, within: number): Promise<number> {
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
    const ep = await ms.createEndpoint({ remoteSdp: caller.sdp('pbx') });
    expect(ep.local.sdp).toMatch(/m=audio \d+ RTP\/AVP 0/);
    caller.sendTo(ep.local.sdp);
    void ep.play('tone_stream://%(400,200,400,450);loops=10').catch(() => undefined);
    await waitFor('RTP from FreeSWITCH', () => caller.received >= 20, 5000);
    expect(await ms.api('show channels count')).toMatch(/^1 total/m);
    await ep.destroy();
    expect(await channelsAfter(ms, 5000)).toBe(0);
  });
});

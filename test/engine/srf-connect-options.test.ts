import { afterEach, describe, expect, it } from 'vitest';
import { connectSrf, settle, startEngine, startHarness, type Harness } from './support/harness.js';
import type { EmbeddedEngine } from '../../lib/engine/index.js';

describe('drachtio-srf connects to the embedded engine', () => {
  let engine: EmbeddedEngine | undefined;
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    await engine?.stop();
    h = undefined;
    engine = undefined;
  });

  it('authenticates with the right secret and learns the sip hostports', async () => {
    engine = await startEngine();
    const srf = await connectSrf(engine.wirePort);
    const udp = engine.sipAddresses.find((a) => a.transport === 'udp')!;
    const tcp = engine.sipAddresses.find((a) => a.transport === 'tcp')!;
    expect(udp.port).toBe(tcp.port);
    const hostports: string[] = [];
    srf.on('connect', (_e: unknown, hp: string) => hostports.push(hp));
    srf.disconnect();
  });

  it('refuses a wrong secret', async () => {
    engine = await startEngine();
    await expect(connectSrf(engine.wirePort, 'wrong')).rejects.toThrow(/failed to authenticate/);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`answers OPTIONS over ${transport} through srf.options`, async () => {
      h = await startHarness();
      let server: { address?: string; hostport?: string } | undefined;
      h.srf.options((req, res) => {
        server = req.server;
        res.send(200, { headers: { 'X-App': 'yes' } });
      });
      await settle();
      const ua = await h.ua(transport);
      const req = ua.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
      ua.send(req);
      const res = await ua.response(req.callId, 200);
      expect(res.headers.get('x-app')).toBe('yes');
      expect(res.toTag).toBeTruthy();
      expect(server?.hostport).toContain(`${transport === 'udp' ? 'udp' : 'tcp'}/127.0.0.1:${h.udp.port}`);
    });
  }

  it('answers 503 when no app asked for the method', async () => {
    h = await startHarness();
    const ua = await h.ua('udp');
    const req = ua.makeRequest('OPTIONS', `sip:${h.udp.address}:${h.udp.port}`);
    ua.send(req);
    await ua.response(req.callId, 503);
  });
});

/** Starts an engine plus a drachtio-srf app connected to it, and tears both down. */
import Srf from 'drachtio-srf';
import { startEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions } from '../../../lib/engine/index.js';
import { TestUa, type Target } from './test-ua.js';

export const SECRET = 'cymru';

// drachtio-srf's bundled types are incomplete; tests talk to it untyped on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySrf = any;

export interface Harness {
  engine: EmbeddedEngine;
  srf: AnySrf;
  udp: Target;
  tcp: Target;
  /** set when the engine listens on TLS */
  tls?: Target;
  uas: TestUa[];
  ua(transport: 'udp' | 'tcp'): Promise<TestUa>;
  close(): Promise<void>;
}

/**
 * DRACHTIO_COMPARE=<wirePort>:<sipPort> runs the same scenarios against a real drachtio-server
 * on 127.0.0.1 (secret "cymru"), to check the engine mirrors it. Tests that need engine-only
 * knobs (limits, timers) are not meaningful in that mode.
 */
function realServer(): EmbeddedEngine | undefined {
  const spec = process.env['DRACHTIO_COMPARE'];
  if (!spec) return undefined;
  const [wire, sip] = spec.split(':').map(Number);
  return {
    wirePort: wire!,
    sipAddresses: [{ transport: 'udp', address: '127.0.0.1', port: sip! }, { transport: 'tcp', address: '127.0.0.1', port: sip! }],
    connectionCount: 0,
    reloadTls: () => false,
    stop: async () => undefined,
  };
}

export async function startEngine(overrides: Partial<EmbeddedEngineOptions> = {}): Promise<EmbeddedEngine> {
  const real = realServer();
  if (real) return real;
  return startEmbeddedEngine({
    sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp'] }],
    wire: { secret: SECRET },
    timers: { t1: 100, t2: 400, t4: 500 },
    ...overrides,
  });
}

export function connectSrf(port: number, secret = SECRET): Promise<AnySrf> {
  const srf: AnySrf = new Srf();
  return new Promise((resolve, reject) => {
    srf.on('error', () => undefined);
    srf.connect({ host: '127.0.0.1', port, secret, reconnect: { maxAttempts: 1 } });
    srf.once('connect', (err: Error | null) => (err ? reject(err) : resolve(srf)));
  });
}

export async function startHarness(overrides: Partial<EmbeddedEngineOptions> = {}): Promise<Harness> {
  const engine = await startEngine(overrides);
  const srf = await connectSrf(engine.wirePort);
  const find = (t: 'udp' | 'tcp' | 'tls'): Target | undefined => {
    const a = engine.sipAddresses.find((x) => x.transport === t);
    return a ? { address: a.address, port: a.port } : undefined;
  };
  const tls = find('tls');
  const h: Harness = {
    engine, srf, udp: find('udp')!, tcp: find('tcp')!, ...(tls ? { tls } : {}), uas: [],
    async ua(t) {
      const ua = t === 'udp' ? await TestUa.udp(h.udp) : await TestUa.tcp(h.tcp);
      h.uas.push(ua);
      return ua;
    },
    async close() {
      for (const ua of h.uas) ua.close();
      try { srf.disconnect(); } catch { /* already gone */ }
      await engine.stop();
    },
  };
  return h;
}

/** srf.use-style route registration resolves asynchronously over the wire; give it a tick. */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

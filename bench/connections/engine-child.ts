/**
 * The engine under test for bench/connections.ts, alone in its process: the embedded engine
 * listening on UDP, TCP and TLS, with a drachtio-srf app answering OPTIONS. It prints its ports
 * as one JSON line, then answers "rss" on stdin with its memory figures.
 */
import { createInterface } from 'node:readline';
import Srf from 'drachtio-srf';
import { startEmbeddedEngine } from '../../lib/engine/index.js';

interface SrfLike {
  on(event: string, fn: (...args: unknown[]) => void): void;
  connect(opts: { host: string; port: number; secret: string }): void;
  options(fn: (req: unknown, res: { send(status: number): void }) => void): void;
}

const [certFile = '', keyFile = '', maxConnections = '60000'] = process.argv.slice(2);
const engine = await startEmbeddedEngine({
  sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp', 'tls'], tlsPort: 0 }],
  wire: { secret: 'bench' },
  tls: { certFile, keyFile, watch: false },
  limits: { maxConnections: Number(maxConnections), perSourceRatePerSec: 1_000_000, untrustedRatePerSec: 10_000_000, tcpIdleMs: 3_600_000 },
});
const srf = new (Srf as unknown as new () => SrfLike)();
srf.on('error', () => undefined);
await new Promise<void>((resolve) => {
  srf.on('connect', () => resolve());
  srf.connect({ host: '127.0.0.1', port: engine.wirePort, secret: 'bench' });
});
srf.options((_req, res) => res.send(200));
const port = (t: string): number => engine.sipAddresses.find((a) => a.transport === t)?.port ?? 0;
process.stdout.write(`${JSON.stringify({ udp: port('udp'), tcp: port('tcp'), tls: port('tls') })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'rss') return;
  global.gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, connections: engine.connectionCount })}\n`);
});
process.stdin.on('end', () => void engine.stop().then(() => process.exit(0)));

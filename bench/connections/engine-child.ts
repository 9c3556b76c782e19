/**
 * The engine under test for bench/connections.ts, alone in its process (forked with an IPC
 * channel, --expose-gc): the embedded engine listening on UDP, TCP and TLS on 127.0.0.1, with a
 * drachtio-srf app answering OPTIONS. It reports its ports, fd limits and connection limit, then
 * answers 'stats' (memory after a full GC, connections, open fds) and 'stop'. It stops by itself
 * when the parent goes.
 *
 *   argv: certFile keyFile maxConnections
 */
import { execFileSync } from 'node:child_process';
import { openSync, readSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import Srf from 'drachtio-srf';
import { startEmbeddedEngine, type EmbeddedEngine, type EngineLog } from '../../lib/engine/index.js';
import { fdLimits, openFds, type EngineReply, type EngineRequest } from './protocol.js';

interface SrfLike {
  on(event: string, fn: (...args: unknown[]) => void): void;
  connect(opts: { host: string; port: number; secret: string }): void;
  disconnect(): void;
  options(fn: (req: unknown, res: { send(status: number): void }) => void): void;
}

const send = (m: EngineReply): void => {
  if (process.connected) process.send?.(m);
};

// warnings and errors (a refused connection, EMFILE on accept, a failed handshake) go to stderr;
// the engine throttles them itself
const log: EngineLog = (level, msg, fields) => {
  if (level === 'warn' || level === 'error') process.stderr.write(`[engine ${level}] ${msg} ${fields ? JSON.stringify(fields) : ''}\n`);
};

// RSS without opening a file (process.memoryUsage() opens /proc/self/stat, which throws EMFILE when
// every fd is taken, as it is with --fit 0): /proc/self/statm opened once, read in place
const statm = (() => {
  try {
    return { fd: openSync('/proc/self/statm', 'r'), page: Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096 };
  } catch {
    return undefined;
  }
})();
function rss(): number {
  if (!statm) return process.memoryUsage.rss();
  const buf = Buffer.alloc(128);
  const text = buf.toString('latin1', 0, readSync(statm.fd, buf, 0, buf.length, 0));
  return Number(text.split(' ')[1]) * statm.page;
}

const [certFile = '', keyFile = '', maxConnectionsArg = '50000'] = process.argv.slice(2);
const maxConnections = Number(maxConnectionsArg);
let engine: EmbeddedEngine | undefined;
let srf: SrfLike | undefined;
let stopping: Promise<void> | undefined;

function stop(): Promise<void> {
  stopping ??= (async () => {
    setTimeout(() => process.exit(0), 5000).unref(); // never linger
    try { srf?.disconnect(); } catch { /* gone already */ }
    await engine?.stop();
  })();
  return stopping;
}

process.on('disconnect', () => void stop().finally(() => process.exit(0)));

process.on('message', (raw: unknown) => {
  const m = raw as EngineRequest;
  if (m.type === 'stats') {
    global.gc?.();
    send({ type: 'stats', id: m.id, rss: rss(), heapUsed: getHeapStatistics().used_heap_size, connections: engine?.connectionCount ?? 0, fds: openFds() });
  } else if (m.type === 'stop') {
    void stop().finally(() => {
      send({ type: 'stopped', id: m.id });
      process.disconnect();
    });
  }
});

try {
  engine = await startEmbeddedEngine({
    sip: [{ address: '127.0.0.1', port: 0, transports: ['udp', 'tcp', 'tls'], tlsPort: 0 }],
    wire: { secret: 'bench' },
    tls: { certFile, keyFile, watch: false },
    log,
    // idle connections stay (1 h idle timeout); the message rate limits are lifted because every
    // OPTIONS comes from one loopback source
    limits: { maxConnections, perSourceRatePerSec: 1_000_000, untrustedRatePerSec: 10_000_000, tcpIdleMs: 3_600_000 },
  });
  const app = new (Srf as unknown as new () => SrfLike)();
  srf = app;
  app.on('error', () => undefined);
  const wirePort = engine.wirePort;
  await new Promise<void>((resolve) => {
    app.on('connect', () => resolve());
    app.connect({ host: '127.0.0.1', port: wirePort, secret: 'bench' });
  });
  app.options((_req, res) => res.send(200));
  const sip = engine.sipAddresses;
  const port = (t: string): number => sip.find((a) => a.transport === t)?.port ?? 0;
  send({ type: 'ready', ports: { udp: port('udp'), tcp: port('tcp'), tls: port('tls') }, fds: fdLimits(), maxConnections });
} catch (err) {
  send({ type: 'start-failed', error: String(err) });
  await stop();
  process.exit(1);
}

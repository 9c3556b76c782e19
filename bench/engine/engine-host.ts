/**
 * Child process entry: the bench app on drachtio-srf, connected either to an embedded engine
 * started here or to a drachtio-server the parent runs. Spawned by engine-under-test.ts as
 * `node --import tsx bench/engine/engine-host.ts` with an IPC channel.
 */
import { startEmbeddedEngine, type EmbeddedEngine } from '../../lib/engine/index.js';
import { createSipApp, type SipApp } from '../../lib/sip/srf.js';
import { installBenchApp, type BenchAppCounts } from './bench-app.js';
import type { HostedEngine, HostReply, HostRequest, HostSample } from './engine-host-protocol.js';

/**
 * All load comes from one address (the load generator), so the engine's per-source flood
 * limit (default 500 messages/s) is lifted to its configurable maximum.
 */
const PER_SOURCE_RATE_PER_SEC = 1_000_000;

let engine: EmbeddedEngine | undefined;
let app: SipApp | undefined;
let counts: BenchAppCounts | undefined;

const reply = (msg: HostReply): void => {
  if (process.connected) process.send?.(msg);
};

async function start(hosted: HostedEngine): Promise<number> {
  let wirePort: number;
  let sipPort = 0;
  if (hosted.kind === 'embedded') {
    engine = await startEmbeddedEngine({
      sip: [{ address: '127.0.0.1', port: 0, transports: ['udp'] }],
      wire: { secret: hosted.secret },
      // all load comes from one untrusted address: lift the per-source and the all-untrusted budgets
      limits: { perSourceRatePerSec: PER_SOURCE_RATE_PER_SEC, untrustedRatePerSec: PER_SOURCE_RATE_PER_SEC },
    });
    wirePort = engine.wirePort;
    sipPort = engine.sipAddresses.find((a) => a.transport === 'udp')?.port ?? 0;
  } else wirePort = hosted.wirePort;
  app = createSipApp();
  counts = installBenchApp(app);
  // as pushwake runs it (engine.appLink: in-process): the wire protocol without a socket
  const linked = engine;
  await app.connect({ host: '127.0.0.1', port: wirePort, secret: hosted.secret, ...(linked ? { inProcess: () => linked.openAppLink() } : {}) });
  return sipPort;
}

async function stop(): Promise<void> {
  app?.disconnect();
  await engine?.stop();
}

process.on('message', (raw: unknown) => {
  const msg = raw as HostRequest;
  switch (msg.type) {
    case 'start':
      start(msg.engine).then(
        (sipPort) => reply({ type: 'ready', sipPort }),
        (err: unknown) => reply({ type: 'start-failed', error: String(err) }),
      );
      return;
    case 'sample': {
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      const sample: HostSample = {
        rss: mem.rss, heapUsed: mem.heapUsed, cpuMicros: cpu.user + cpu.system,
        counts: { ...(counts ?? { options: 0, invites: 0, byes: 0, uasFailures: 0 }) },
      };
      const collect = (globalThis as { gc?: () => void }).gc;
      if (msg.fullGc && collect) {
        collect();
        sample.liveHeap = process.memoryUsage().heapUsed;
      }
      reply({ type: 'sampled', id: msg.id, sample });
      return;
    }
    case 'stop':
      stop().finally(() => {
        reply({ type: 'stopped', id: msg.id });
        process.disconnect();
        // srf's socket and the engine's listeners are closed; anything left is not ours to wait on
        setTimeout(() => process.exit(0), 200).unref();
      });
  }
});

process.on('disconnect', () => process.exit(0));

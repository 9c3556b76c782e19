/**
 * Idle connections held by one embedded engine (issue 11): 20,000 TCP and 5,000 TLS by default,
 * from several 127.0.0.x source addresses (one address has only ~28k ephemeral ports). Prints the
 * engine's RSS per connection and the OPTIONS round trip (p50/p99) over UDP while they are held.
 * A measurement, not a test. Raises its own fd limit by re-running itself under `ulimit -n`.
 *
 *   npx tsx bench/connections.ts [--tcp 20000] [--tls 5000] [--options 2000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTestPki } from '../lib/testkit/test-pki.js';
import { numberFlag } from './support/flags.js';

const FD_LIMIT = 80_000;

if (!process.env['PUSHWAKE_BENCH_FDS']) {
  // Node cannot raise RLIMIT_NOFILE itself: run again under a shell that does
  const self = fileURLToPath(import.meta.url);
  const cmd = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec node --import tsx ${JSON.stringify(self)} ${process.argv.slice(2).map((a) => JSON.stringify(a)).join(' ')}`;
  const r = spawnSync('bash', ['-c', cmd], { stdio: 'inherit', env: { ...process.env, PUSHWAKE_BENCH_FDS: '1' } });
  process.exit(r.status ?? 1);
}

const tcpCount = numberFlag('tcp', 20_000);
const tlsCount = numberFlag('tls', 5000);
const optionsCount = numberFlag('options', 2000);

interface Ports { udp: number; tcp: number; tls: number }
interface Rss { rss: number; heapUsed: number; connections: number }

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function next<T>(it: AsyncIterator<string>): Promise<T> {
  const r = await it.next();
  if (r.done) throw new Error('engine child ended');
  return JSON.parse(r.value) as T;
}

/** Opens `count` connections, spread over source addresses 127.0.0.10.. (a few thousand each). */
async function open(count: number, make: (localAddress: string) => net.Socket, ready: string): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  const batch = 200;
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const made = await Promise.all(Array.from({ length: n }, (_, j) => new Promise<net.Socket>((resolve, reject) => {
      const local = `127.0.0.${10 + Math.floor((i + j) / 10_000)}`;
      const s = make(local);
      s.once(ready, () => resolve(s));
      s.once('error', reject);
    })));
    out.push(...made);
  }
  return out;
}

async function optionsLatency(port: number, count: number): Promise<number[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
  const local = sock.address().port;
  const waiting = new Map<string, (t: number) => void>();
  sock.on('message', (b) => {
    const id = /Call-ID: (\S+)/i.exec(b.toString())?.[1];
    if (id) waiting.get(id)?.(performance.now());
  });
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = `bench-${i}-${Math.random().toString(36).slice(2)}`;
    const msg = `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:${local};branch=z9hG4bK${id};rport\r\nFrom: <sip:b@bench>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
    const start = performance.now();
    const done = new Promise<number>((resolve) => {
      waiting.set(id, resolve);
      setTimeout(() => resolve(Number.NaN), 2000).unref();
    });
    sock.send(msg, port, '127.0.0.1');
    const end = await done;
    waiting.delete(id);
    samples.push(end - start);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1)); // about 1,000/s at most
  }
  sock.close();
  return samples;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const pki = await createTestPki();
  const cert = await pki.issue('bench');
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(new URL('./connections/engine-child.ts', import.meta.url)), cert.certFile, cert.keyFile, String(tcpCount + tlsCount + 1000)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const out = lines(child);
  try {
    const ports = await next<Ports>(out);
    const rss = async (): Promise<Rss> => { child.stdin!.write('rss\n'); return next<Rss>(out); };
    const base = await rss();
    const baseLatency = (await optionsLatency(ports.udp, Math.min(500, optionsCount))).filter(Number.isFinite).sort((a, b) => a - b);
    const t0 = performance.now();
    const tcpSockets = await open(tcpCount, (localAddress) => net.connect({ host: '127.0.0.1', port: ports.tcp, localAddress }), 'connect');
    const tTcp = performance.now();
    const tlsSockets = await open(tlsCount, (localAddress) => tls.connect({ socket: net.connect({ host: '127.0.0.1', port: ports.tls, localAddress }), ca: pki.caCertPem, servername: 'localhost' }), 'secureConnect');
    const tTls = performance.now();
    for (const s of [...tcpSockets, ...tlsSockets]) s.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    const held = await rss();
    const latency = (await optionsLatency(ports.udp, optionsCount)).filter(Number.isFinite).sort((a, b) => a - b);
    const after = await rss();
    const total = tcpCount + tlsCount;
    const perConn = (held.rss - base.rss) / Math.max(1, held.connections);
    console.log('connections held by one embedded engine (idle, from 127.0.0.10+)');
    console.log(`  asked: ${tcpCount} TCP + ${tlsCount} TLS = ${total}; engine holds ${held.connections}; still ${after.connections} after the OPTIONS run`);
    console.log(`  open time: TCP ${((tTcp - t0) / 1000).toFixed(1)} s, TLS ${((tTls - tTcp) / 1000).toFixed(1)} s`);
    console.log(`  engine RSS: ${(base.rss / 2 ** 20).toFixed(1)} MiB idle -> ${(held.rss / 2 ** 20).toFixed(1)} MiB held; ${(perConn / 1024).toFixed(2)} KiB per connection (heap ${(((held.heapUsed - base.heapUsed) / Math.max(1, held.connections)) / 1024).toFixed(2)} KiB)`);
    console.log(`  OPTIONS over UDP, no connections: p50 ${pct(baseLatency, 0.5).toFixed(2)} ms, p99 ${pct(baseLatency, 0.99).toFixed(2)} ms (${baseLatency.length})`);
    console.log(`  OPTIONS over UDP, all held:       p50 ${pct(latency, 0.5).toFixed(2)} ms, p99 ${pct(latency, 0.99).toFixed(2)} ms (${latency.length} of ${optionsCount} answered)`);
    console.log(`  engine process alive: ${child.exitCode === null}`);
    for (const s of [...tcpSockets, ...tlsSockets]) s.destroy();
  } finally {
    child.stdin!.end();
    await new Promise((r) => setTimeout(r, 500));
    child.kill();
    await pki.remove();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

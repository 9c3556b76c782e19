/**
 * Idle connections held by one embedded engine (issue 11): 20,000 TCP and 5,000 TLS by default.
 * A measurement that prints figures, not a test.
 *
 *   npx tsx bench/connections.ts [--tcp 20000] [--tls 5000] [--options 2000] [--per-client 5000]
 *
 * Processes: the engine alone in one child (connections/engine-child.ts); the connections held by
 * client children (connections/client-child.ts), at most --per-client each, every one from its
 * own 127.0.0.x source addresses (one address has ~28k ephemeral ports); this parent only
 * coordinates over IPC and sends OPTIONS over UDP from 127.0.0.2.
 *
 * fds: first it raises its own RLIMIT_NOFILE (soft and hard) with prlimit(1), which the children
 * inherit; that takes CAP_SYS_RESOURCE. Without it the hard limit stays, and it says so: the client
 * side is split so no client needs more than it has, but the engine needs one fd per connection,
 * so the counts are scaled down to what the engine's limit allows (--fit 0 asks for them anyway).
 *
 * Printed: the fd limits obtained, connections held, the engine's RSS and heap per connection
 * (TCP and TLS apart), OPTIONS p50/p99 with no connections and with all of them held.
 */
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createTestPki, type TestPki } from '../lib/testkit/test-pki.js';
import { fdLimits, fmtLimits, type ClientReply, type ClientRequest, type EngineReply, type EngineRequest, type EngineStats, type FdLimits, type OpenJob } from './connections/protocol.js';
import { ChildPeer as Peer, killAllChildren as killAll } from './support/child-peer.js';
import { distributionOf, type Distribution } from './support/stats.js';
import { machineLoad, numberFlag, progress } from './support/flags.js';

type EnginePeer = Peer<EngineRequest, EngineReply>;
type ClientPeer = Peer<ClientRequest, ClientReply>;
type Reply<U, T> = Extract<U, { type: T }>;

const NAME = 'connections';
/** fds an engine or client process needs besides its connections (stdio, IPC, listeners, loader, libuv) */
const RESERVE_FDS = 200;
/** connections per source address: below the ~28k ephemeral ports (32768-60999) of one address */
const PER_SOURCE = 20_000;
/** the engine's own default connection limit (lib/engine/transport/types.ts) */
const ENGINE_DEFAULT_MAX_CONNECTIONS = 50_000;

const askedTcp = Math.floor(numberFlag('tcp', 20_000));
const askedTls = Math.floor(numberFlag('tls', 5000));
const optionsCount = Math.max(1, Math.floor(numberFlag('options', 2000)));
const perClientFlag = Math.max(1, Math.floor(numberFlag('per-client', 5000)));
const batch = Math.max(1, Math.floor(numberFlag('batch', 200)));
const fit = numberFlag('fit', 1) !== 0;
const deadlineMs = numberFlag('deadline', 600) * 1000;
const connectTimeoutMs = 20_000;

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const kib = (b: number): string => (Number.isFinite(b) ? `${(b / 1024).toFixed(2)} KiB` : 'n/a');
const n = (v: number): string => v.toLocaleString('en-US');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- fd limits -------------------------------------------------------------------------------

function hasCapSysResource(): boolean | undefined {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex === undefined ? undefined : ((BigInt(`0x${hex}`) >> 24n) & 1n) === 1n;
  } catch {
    return undefined;
  }
}

function nrOpen(): number {
  try {
    return Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || 1_048_576;
  } catch {
    return 1_048_576;
  }
}

/** Raises this process's RLIMIT_NOFILE (children inherit it) and tells how it went. */
function raiseFdLimit(target: number): { before: FdLimits; after: FdLimits; how: string } {
  const before = fdLimits();
  if (before.soft >= target) return { before, after: before, how: 'already enough' };
  const prlimit = (spec: string): string | null => {
    const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${spec}`], { encoding: 'utf8' });
    if (r.error) return r.error.message;
    return r.status === 0 ? null : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
  };
  const failed = prlimit(before.hard >= target ? `${target}:` : `${target}:${target}`);
  if (failed === null) return { before, after: fdLimits(), how: `raised with prlimit to ${target}` };
  const cap = hasCapSysResource();
  const why = `could not raise to ${target} (${failed}${cap === false ? '; this process lacks CAP_SYS_RESOURCE, even as root' : ''})`;
  // Node already lifts the soft limit to the hard one at startup; make sure of it
  if (before.soft < before.hard) prlimit(`${before.hard}:`);
  return { before, after: fdLimits(), how: `${why}: using the hard limit` };
}

// ---- OPTIONS over UDP ------------------------------------------------------------------------

/** `count` OPTIONS, one at a time (about 1,000/s at most); round trips in ms, NaN when unanswered in 2 s. */
async function optionsLatency(port: number, count: number): Promise<number[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
  const local = sock.address().port;
  const waiting = new Map<string, (t: number) => void>();
  sock.on('message', (b) => {
    const id = /^Call-ID:\s*(\S+)/im.exec(b.toString())?.[1];
    if (id) waiting.get(id)?.(performance.now());
  });
  const samples: number[] = [];
  try {
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
      if (i % 10 === 9) await sleep(1);
    }
  } finally {
    sock.close();
  }
  return samples;
}

function fmtDist(samples: number[]): string {
  const answered = samples.filter(Number.isFinite);
  const d: Distribution = distributionOf(answered);
  return `p50 ${d.p50.toFixed(3)} ms, p99 ${d.p99.toFixed(3)} ms, max ${d.max.toFixed(3)} ms (${answered.length} of ${samples.length} answered)`;
}

// ---- kernel view -----------------------------------------------------------------------------

function sockstat(): string {
  try {
    const line = readFileSync('/proc/net/sockstat', 'utf8').split('\n').find((l) => l.startsWith('TCP:')) ?? '';
    return n(Number(/inuse (\d+)/.exec(line)?.[1] ?? Number.NaN));
  } catch {
    return 'n/a';
  }
}

// ---- the run ---------------------------------------------------------------------------------

let engine: EnginePeer | undefined;
const clients: ClientPeer[] = [];
let pki: TestPki | undefined;
let cleaning: Promise<void> | undefined;
/** set by a signal or the deadline: they clean up and exit; main's failures meanwhile are theirs */
let abandoned = false;

/** Engine first (its side closes first, so TIME_WAIT stays off the clients' ports), then clients. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const e = engine;
    if (e?.running) {
      await e.request({ type: 'stop' }, 15_000).catch(() => undefined);
      await e.end(5000);
    }
    await Promise.all(clients.map(async (c) => {
      if (!c.running) return;
      await c.request({ type: 'close' }, 10_000).catch(() => undefined);
      await c.end(5000);
    }));
    killAll();
    await pki?.remove().catch(() => undefined);
  })();
  return cleaning;
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    abandoned = true;
    progress(NAME, `${sig}: stopping the children`);
    setTimeout(() => process.exit(130), 10_000).unref();
    void cleanup().finally(() => process.exit(130));
  });
}
setTimeout(() => {
  abandoned = true;
  console.error(`${NAME}: still running after ${Math.round(deadlineMs / 1000)} s; giving up (raise --deadline to allow more)`);
  setTimeout(() => process.exit(2), 10_000).unref();
  void cleanup().finally(() => process.exit(2));
}, deadlineMs).unref();

interface Job { name: string; job: OpenJob }

/** Splits `count` connections into jobs of at most `perClient`, each with its own source addresses. */
function jobs(transport: 'tcp' | 'tls', count: number, perClient: number, port: number, firstSource: { next: number }, caPem?: string): Job[] {
  const out: Job[] = [];
  for (let done = 0, i = 0; done < count; i++) {
    const c = Math.min(perClient, count - done);
    const sources = Array.from({ length: Math.ceil(c / PER_SOURCE) }, () => `127.0.0.${firstSource.next++}`);
    out.push({ name: `${transport}-client-${i}`, job: { transport, host: '127.0.0.1', port, count: c, sources, batch, connectTimeoutMs, ...(caPem ? { caPem } : {}) } });
    done += c;
  }
  return out;
}

async function startClient(name: string): Promise<{ peer: ClientPeer; fds: FdLimits }> {
  const { peer, first } = await Peer.start<ClientRequest, ClientReply>(name, join(import.meta.dirname, 'connections', 'client-child.ts'), { timeoutMs: 30_000 });
  clients.push(peer);
  if (first.type !== 'ready') throw new Error(`${name}: unexpected first message ${first.type}`);
  peer.onOther = (m) => {
    if (m.type === 'progress') progress(NAME, `${name}: ${n(m.open)} open, ${m.failed} failed`);
  };
  return { peer, fds: first.fds };
}

/** Runs the jobs in parallel (one client each); connections opened, failures by code, seconds taken. */
async function openAll(list: Array<{ peer: ClientPeer; job: Job }>): Promise<{ open: number; failed: number; errors: Record<string, number>; seconds: number }> {
  const t0 = performance.now();
  const results = await Promise.all(list.map(({ peer, job }) => peer.request<Reply<ClientReply, 'opened'>>({ type: 'open', job: job.job }, deadlineMs)));
  const errors: Record<string, number> = {};
  for (const r of results) for (const [code, k] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + k;
  return {
    open: results.reduce((s, r) => s + r.open, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    errors,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function main(): Promise<void> {
  const asked = askedTcp + askedTls;
  const target = Math.min(nrOpen(), Math.max(100_000, asked + RESERVE_FDS + 1000));
  const limits = raiseFdLimit(target);
  const fds = limits.after;
  console.log(`${NAME}: idle TCP + TLS connections held by one embedded engine (${machineLoad()})`);
  console.log(`  fd limit (RLIMIT_NOFILE): was ${fmtLimits(limits.before)}; now ${fmtLimits(fds)} — ${limits.how}`);

  // the engine needs one fd per connection; clients are split to fit theirs
  const engineRoom = Math.max(0, fds.soft - RESERVE_FDS);
  let tcpCount = askedTcp;
  let tlsCount = askedTls;
  if (asked > engineRoom) {
    if (fit) {
      tcpCount = Math.floor((askedTcp * engineRoom) / asked);
      tlsCount = Math.floor((askedTls * engineRoom) / asked);
      console.log(`  NOT THE FULL COUNT: the engine is one process and needs one fd per connection; with ${n(fds.soft)} fds it can hold about ${n(engineRoom)},`);
      console.log(`  so this run holds ${n(tcpCount)} TCP + ${n(tlsCount)} TLS instead of ${n(askedTcp)} + ${n(askedTls)} (the same mix; --fit 0 asks for all anyway)`);
    } else {
      console.log(`  --fit 0: asking for all ${n(asked)} although the engine has room for about ${n(engineRoom)}; expect failures (EMFILE in the engine)`);
    }
  }
  const total = tcpCount + tlsCount;
  const perClient = Math.max(1, Math.min(perClientFlag, fds.soft - RESERVE_FDS));
  const maxConnections = Math.max(ENGINE_DEFAULT_MAX_CONNECTIONS, total + 1000);

  pki = await createTestPki();
  const cert = await pki.issue('bench');
  const started = await Peer.start<EngineRequest, EngineReply>('engine', join(import.meta.dirname, 'connections', 'engine-child.ts'), { args: [cert.certFile, cert.keyFile, String(maxConnections)], execArgv: ['--expose-gc'], timeoutMs: 60_000 });
  engine = started.peer;
  const ready = started.first;
  if (ready.type === 'start-failed') throw new Error(`engine failed to start: ${ready.error}`);
  if (ready.type !== 'ready') throw new Error(`engine: unexpected first message ${ready.type}`);
  const eng = engine;
  const stats = (): Promise<EngineStats> => eng.request<Reply<EngineReply, 'stats'>>({ type: 'stats' }, 60_000);
  console.log(`  engine process: fd limit ${fmtLimits(ready.fds)}; engine maxConnections ${n(ready.maxConnections)}; UDP/TCP ${ready.ports.udp}, TLS ${ready.ports.tls} on 127.0.0.1`);

  const source = { next: 10 };
  const tcpJobs = jobs('tcp', tcpCount, perClient, ready.ports.tcp, source);
  const tlsJobs = jobs('tls', tlsCount, perClient, ready.ports.tls, source, pki.caCertPem);
  const all = [...tcpJobs, ...tlsJobs];
  progress(NAME, `starting ${all.length} client processes`);
  const started2 = await Promise.all(all.map(async (job) => ({ job, ...(await startClient(job.name)) })));
  const clientFds = started2[0]?.fds;
  const sourceRange = all.length ? `127.0.0.10–127.0.0.${source.next - 1}` : 'none';
  console.log(`  client processes: ${all.length} (at most ${n(perClient)} connections each), fd limit ${clientFds ? fmtLimits(clientFds) : 'n/a'}; source addresses ${sourceRange}`);

  await sleep(1000); // the clients' start-up off the CPU
  const base = await stats();
  const sockBase = sockstat();
  progress(NAME, `OPTIONS with no connections (${optionsCount})`);
  const latencyBase = await optionsLatency(ready.ports.udp, optionsCount);

  progress(NAME, `opening ${n(tcpCount)} TCP connections`);
  const tcp = await openAll(started2.filter((c) => c.job.job.transport === 'tcp').map(({ peer, job }) => ({ peer, job })));
  await sleep(1000);
  const afterTcp = await stats();
  progress(NAME, `opening ${n(tlsCount)} TLS connections`);
  const tlsRes = await openAll(started2.filter((c) => c.job.job.transport === 'tls').map(({ peer, job }) => ({ peer, job })));
  await sleep(1000);
  const held = await stats();
  const sockHeld = sockstat();

  progress(NAME, `OPTIONS with ${n(held.connections)} connections held (${optionsCount})`);
  const latencyHeld = await optionsLatency(ready.ports.udp, optionsCount);
  const after = await stats();
  const counts = await Promise.all(started2.map(({ peer }) => peer.request<Reply<ClientReply, 'count'>>({ type: 'count' }, 30_000)));
  const clientsOpen = counts.reduce((s, c) => s + c.open, 0);
  const clientsRss = counts.reduce((s, c) => s + c.rss, 0);

  const tcpHeld = afterTcp.connections - base.connections;
  const tlsHeld = held.connections - afterTcp.connections;
  const per = (a: number, b: number, k: number): number => (k > 0 ? (b - a) / k : Number.NaN);
  const rssTcp = per(base.rss, afterTcp.rss, tcpHeld);
  const rssTls = per(afterTcp.rss, held.rss, tlsHeld);
  const errs = (e: Record<string, number>): string => (Object.keys(e).length ? ` (${Object.entries(e).map(([c, k]) => `${c} ${k}`).join(', ')})` : '');

  console.log('');
  console.log(`connections held by the engine: ${n(held.connections)} (${n(tcpHeld)} TCP + ${n(tlsHeld)} TLS); ${n(total)} attempted${total < asked ? `, ${n(asked)} asked (fd limit)` : ''}`);
  console.log(`  opened: TCP ${n(tcp.open)} in ${tcp.seconds.toFixed(1)} s, ${tcp.failed} failed${errs(tcp.errors)}; TLS ${n(tlsRes.open)} in ${tlsRes.seconds.toFixed(1)} s, ${tlsRes.failed} failed${errs(tlsRes.errors)}`);
  console.log(`  still open after the OPTIONS run: engine ${n(after.connections)}, clients ${n(clientsOpen)}; engine fds open ${held.fds === null ? 'n/a (none left to count them)' : n(held.fds)} (limit ${n(ready.fds.soft)})`);
  console.log('engine memory (after a full GC)');
  console.log(`  RSS:  ${mib(base.rss)} idle -> ${mib(afterTcp.rss)} with TCP -> ${mib(held.rss)} with TCP + TLS`);
  console.log(`  RSS per connection: ${kib(per(base.rss, held.rss, held.connections - base.connections))} overall; TCP ${kib(rssTcp)}, TLS ${kib(rssTls)}`);
  console.log(`  heap per connection: ${kib(per(base.heapUsed, held.heapUsed, held.connections - base.connections))} overall; TCP ${kib(per(base.heapUsed, afterTcp.heapUsed, tcpHeld))}, TLS ${kib(per(afterTcp.heapUsed, held.heapUsed, tlsHeld))} (heap ${mib(base.heapUsed)} -> ${mib(held.heapUsed)})`);
  if (total < asked && Number.isFinite(rssTcp) && Number.isFinite(rssTls)) {
    console.log(`  projected for ${n(askedTcp)} TCP + ${n(askedTls)} TLS at these rates: ${mib(base.rss + askedTcp * rssTcp + askedTls * rssTls)} RSS (not measured)`);
  }
  console.log(`  kernel, whole machine: TCP sockets in use ${sockBase} idle -> ${sockHeld} held; client processes' RSS ${mib(clientsRss)} in all`);
  console.log(`OPTIONS round trip over UDP (127.0.0.2 -> engine, one at a time, ${optionsCount} each)`);
  console.log(`  no connections: ${fmtDist(latencyBase)}`);
  console.log(`  all held:       ${fmtDist(latencyHeld)}`);
  console.log(`engine process alive at the end: ${eng.running ? 'yes' : `no (${eng.exitStatus})`}`);
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err: unknown) => {
    if (abandoned) return;
    console.error(`${NAME}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    await cleanup().catch(() => undefined);
    process.exit(1);
  });

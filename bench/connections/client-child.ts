/**
 * One client process for bench/connections.ts (forked with an IPC channel): opens the idle TCP
 * or TLS connections it is asked for, from its own 127.0.0.x source addresses, holds them, counts
 * those still open, and closes them all when told or when the parent goes. It never needs more
 * fds than its share of the connections plus a few.
 */
import net from 'node:net';
import tls from 'node:tls';
import { fdLimits, type ClientReply, type ClientRequest, type OpenJob } from './protocol.js';

const live = new Set<net.Socket>();

const send = (m: ClientReply): void => {
  if (process.connected) process.send?.(m);
};

function closeAll(): void {
  for (const s of live) s.destroy();
  live.clear();
}

/** One connection: resolves to null once connected (and held), or to the failure's code. */
function connectOne(job: OpenJob, localAddress: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s: net.Socket = job.transport === 'tls'
      ? tls.connect({ socket: net.connect({ host: job.host, port: job.port, localAddress }), servername: 'localhost', ...(job.caPem ? { ca: job.caPem } : {}) })
      : net.connect({ host: job.host, port: job.port, localAddress });
    const timer = setTimeout(() => fail('TIMEOUT'), job.connectTimeoutMs);
    const onError = (err: NodeJS.ErrnoException): void => fail(err.code ?? err.message.slice(0, 40));
    function fail(code: string): void {
      clearTimeout(timer);
      s.destroy();
      resolve(code);
    }
    s.once('error', onError);
    s.once(job.transport === 'tls' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      s.on('error', () => undefined); // a reset later shows as a close, counted by 'count'
      s.once('close', () => live.delete(s));
      live.add(s);
      resolve(null);
    });
  });
}

async function open(job: OpenJob): Promise<{ open: number; failed: number; errors: Record<string, number> }> {
  const errors: Record<string, number> = {};
  let failed = 0;
  let reported = 0;
  const perSource = Math.ceil(job.count / Math.max(1, job.sources.length));
  for (let i = 0; i < job.count; i += job.batch) {
    const n = Math.min(job.batch, job.count - i);
    const results = await Promise.all(Array.from({ length: n }, (_, j) => connectOne(job, job.sources[Math.floor((i + j) / perSource)] ?? job.sources[0] ?? '127.0.0.1')));
    for (const code of results) {
      if (code === null) continue;
      failed++;
      errors[code] = (errors[code] ?? 0) + 1;
    }
    if (i + n - reported >= 1000) {
      reported = i + n;
      send({ type: 'progress', open: live.size, failed });
    }
  }
  return { open: live.size, failed, errors };
}

process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});

process.on('message', (raw: unknown) => {
  const m = raw as ClientRequest;
  if (m.type === 'open') {
    const t0 = performance.now();
    void open(m.job).then((r) => send({ type: 'opened', id: m.id, ...r, ms: performance.now() - t0 }));
  } else if (m.type === 'count') {
    send({ type: 'count', id: m.id, open: live.size, rss: process.memoryUsage().rss });
  } else if (m.type === 'close') {
    closeAll();
    send({ type: 'closed', id: m.id });
    process.disconnect();
  }
});

send({ type: 'ready', fds: fdLimits() });

/**
 * Redis with Sentinel for tests, on loopback: a master, one replica and one sentinel watching
 * them (quorum 1, a master is down after 1 s), each its own redis-server process on a free port.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../lib/testkit/free-port.js';
import { REDIS_SERVER_MISSING, startRedisServer, type TestRedisServer } from './redis-server.js';

export const SENTINEL_MASTER = 'pw';

export interface TestSentinelSet {
  master: TestRedisServer;
  replica: TestRedisServer;
  sentinel: TestRedisServer;
  /** `127.0.0.1:port` of the sentinel, as `store.sentinels` takes it. */
  sentinelAddress: string;
  /** The port Sentinel names as the master now. */
  masterPort(): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function startSentinelSet(): Promise<TestSentinelSet> {
  const dir = await mkdtemp(join(tmpdir(), 'pushwake-sentinel-'));
  const started: TestRedisServer[] = [];
  try {
    const need = (s: TestRedisServer | undefined): TestRedisServer => {
      if (!s) throw new Error(REDIS_SERVER_MISSING);
      started.push(s);
      return s;
    };
    // the first full sync starts at once (the default waits 5 s for more replicas)
    const master = need(await startRedisServer({ durable: true, extraArgs: ['--repl-diskless-sync-delay', '0'] }));
    const replica = need(await startRedisServer({ durable: true, extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] }));
    const port = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, [
      `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
      `sentinel failover-timeout ${SENTINEL_MASTER} 3000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
      '',
    ].join('\n'));
    const sentinel = need(await startRedisServer({ port, dir, configFile: conf, extraArgs: ['--sentinel'] }));
    const masterPort = async (): Promise<number | undefined> => {
      const reply = await command(port, `SENTINEL get-master-addr-by-name ${SENTINEL_MASTER}`);
      const m = /\r\n\$\d+\r\n[^\r]+\r\n\$\d+\r\n(\d+)\r\n/.exec(reply);
      return m?.[1] ? Number(m[1]) : undefined;
    };
    return {
      master, replica, sentinel, sentinelAddress: `127.0.0.1:${port}`, masterPort,
      async stop() {
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** One inline command, its raw RESP reply. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (): void => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, done);
    socket.once('error', done);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (/\r\n$/.test(reply) && (reply.startsWith('*2') ? reply.split('\r\n').length >= 6 : true)) done();
    });
  });
}

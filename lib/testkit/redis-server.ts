import { freePort } from './free-port.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A throw-away `redis-server` for tests: its own port on 127.0.0.1, its own temp dir, no
 * persistence. Tests never touch a Redis on 6379, which may hold someone's real data.
 */
export interface TestRedisServer {
  url: string;
  port: number;
  /** Its data directory (kept by `kill`, removed by `stop` unless the caller gave it). */
  dir: string;
  stop(): Promise<void>;
  /** kill -9: what a crash does. The data directory stays, for a restart on the same port. */
  kill(): Promise<void>;
}

export interface RedisServerOptions {
  /** Listen here (a restart on the same port); default a free port. */
  port?: number;
  /** Keep data here (the caller owns and removes it); default a temp dir removed on stop. */
  dir?: string;
  /** Append-only file fsynced on every write, so a kill -9 loses no acknowledged write. */
  durable?: boolean;
  /** More redis-server arguments, e.g. `--replicaof 127.0.0.1 6380`; or a config file first with `--sentinel`. */
  extraArgs?: string[];
  /** A config file to start from (a sentinel's: it rewrites it). */
  configFile?: string;
}

/** Why the Redis tests are skipped when the binary is missing; for `describe.skipIf` titles. */
export const REDIS_SERVER_MISSING = 'redis-server not found on PATH (apt-get install redis-server)';

const READY_TIMEOUT_MS = 5_000;
/** Another process can take the free port between our probe and redis binding it. */
const START_ATTEMPTS = 3;

export function findRedisServer(): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin']) {
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Starts a server, or resolves undefined when redis-server is not installed. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<TestRedisServer | undefined> {
  const binary = findRedisServer();
  if (binary === undefined) return undefined;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt += 1) {
    try {
      return await startOnce(binary, opts);
    } catch (err) {
      lastError = err instanceof Error ? err : new Error(String(err));
    }
  }
  throw lastError ?? new Error('redis-server did not start');
}

async function startOnce(binary: string, opts: RedisServerOptions): Promise<TestRedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'pushwake-redis-')));
  const persistence = opts.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  // Each flag is its own argv element; the empty string is how `--save ""` reaches redis.
  const child = spawn(
    binary,
    [...(opts.configFile ? [opts.configFile] : []), '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--daemonize', 'no', ...(opts.extraArgs ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  try {
    await waitForPong(port, child);
  } catch (err) {
    await stop();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`redis-server on port ${port} did not become ready: ${reason}\n${output}`);
  }
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop, kill };
}


async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('process exited');
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no PONG within ${READY_TIMEOUT_MS} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

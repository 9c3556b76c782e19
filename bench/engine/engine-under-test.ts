/**
 * The SIP engine a measurement runs against, with the bench app behind it, started fresh for
 * each measurement so one phase's retained transactions (Timer J/L hold them 32 s on UDP) do
 * not weigh on the next.
 *
 *   embedded: one child process = embedded engine + bench app; memory is that child's.
 *   drachtio: a drachtio-server process + a child with the bench app; memory is drachtio's
 *             (VmRSS from /proc), the app child's is reported beside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDrachtioServer, type DrachtioServer } from '../../lib/testkit/drachtio-server.js';
import type { BenchAppCounts } from './bench-app.js';
import type { HostedEngine, HostReply, HostRequest, HostSample } from './engine-host-protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const START_TIMEOUT_MS = 30_000;
const REPLY_TIMEOUT_MS = 10_000;
const SECRET = 'bench-engine';

export type EngineKind = 'embedded' | 'drachtio';

/** One look at the engine process and, for drachtio, the separate app process. */
export interface EngineMeasure {
  /** the engine process: the embedded child (engine + app), or drachtio-server */
  engineRss: number;
  /** V8 heap of the embedded child; undefined for drachtio-server (C++) */
  engineHeapUsed?: number;
  /** the embedded child's heap right after a full collection, when measure(true) asked for one */
  engineLiveHeap?: number;
  /** CPU (user + system) the engine process used since it started, microseconds */
  engineCpuMicros: number;
  /** the separate app child (drachtio only) */
  appRss?: number;
  appCpuMicros?: number;
  /** what the bench app has answered */
  counts: BenchAppCounts;
}

export interface EngineUnderTest {
  kind: EngineKind;
  sipPort: number;
  /**
   * fullGc: the embedded child collects garbage after its RSS is read, so the heap figure is
   * what is live, not what V8 has not yet bothered to collect
   */
  measure(fullGc?: boolean): Promise<EngineMeasure>;
  stop(): Promise<void>;
}

export async function startEngine(kind: EngineKind, drachtioBin?: string): Promise<EngineUnderTest> {
  if (kind === 'embedded') {
    const host = await AppHost.start({ kind: 'embedded', secret: SECRET });
    return {
      kind,
      sipPort: host.sipPort,
      measure: async (fullGc = false) => {
        const s = await host.sample(fullGc);
        return {
          engineRss: s.rss, engineHeapUsed: s.heapUsed, engineLiveHeap: s.liveHeap, engineCpuMicros: s.cpuMicros, counts: s.counts,
        };
      },
      stop: () => host.stop(),
    };
  }
  if (!drachtioBin) throw new Error('no drachtio-server binary');
  const server: DrachtioServer = await startDrachtioServer(drachtioBin, SECRET);
  let host: AppHost;
  try {
    host = await AppHost.start({ kind: 'drachtio', wirePort: server.wirePort, secret: SECRET });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    kind,
    sipPort: server.sipPort,
    measure: async () => {
      const s = await host.sample(false);
      return {
        engineRss: vmRssOf(server.pid), engineCpuMicros: cpuMicrosOf(server.pid),
        appRss: s.rss, appCpuMicros: s.cpuMicros, counts: s.counts,
      };
    },
    stop: async () => {
      await host.stop();
      await server.stop();
    },
  };
}

/** VmRSS of a process in bytes, from /proc/<pid>/status (Linux). */
export function vmRssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

/**
 * CPU time (utime + stime) of a process in microseconds, from /proc/<pid>/stat. The fields are
 * in clock ticks; Linux has reported them at 100 per second (USER_HZ) on every common build.
 */
export function cpuMicrosOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name (field 2) may hold spaces: count fields from after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * (1_000_000 / USER_HZ);
}

const USER_HZ = 100;

/** The parent's handle on engine-host.ts. */
class AppHost {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: HostReply) => void>();

  private constructor(private readonly child: ChildProcess, readonly sipPort: number) {
    child.on('message', (raw: unknown) => {
      const m = raw as HostReply;
      if ('id' in m) {
        this.waiting.get(m.id)?.(m);
        this.waiting.delete(m.id);
      }
    });
  }

  static async start(engine: HostedEngine): Promise<AppHost> {
    // e.g. BENCH_ENGINE_CHILD_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile engine + app
    const extra = (process.env['BENCH_ENGINE_CHILD_ARGS'] ?? '').split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, ['--expose-gc', ...extra, '--import', 'tsx', join(here, 'engine-host.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const sipPort = await new Promise<number>((resolve, reject) => {
        child.on('message', (m: HostReply) => {
          if (m.type === 'ready') resolve(m.sipPort);
          else if (m.type === 'start-failed') reject(new Error(`engine host failed to start: ${m.error}`));
        });
        child.once('exit', (code) => reject(new Error(`engine host exited while starting (${code})`)));
        timer = setTimeout(() => reject(new Error('engine host did not start in time')), START_TIMEOUT_MS);
        child.send({ type: 'start', engine } satisfies HostRequest);
      });
      child.removeAllListeners('message');
      child.removeAllListeners('exit');
      return new AppHost(child, sipPort);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async sample(fullGc: boolean): Promise<HostSample> {
    const m = await this.ask({ type: 'sample', id: this.nextId++, fullGc });
    if (m.type !== 'sampled') throw new Error(`unexpected reply ${m.type}`);
    return m.sample;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.ask({ type: 'stop', id: this.nextId++ }).catch(() => undefined);
    const force = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(force);
  }

  private ask(req: HostRequest & { id: number }): Promise<HostReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req.id);
        reject(new Error(`engine host did not answer ${req.type}`));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(req.id, (m) => { clearTimeout(timer); resolve(m); });
      this.child.send(req);
    });
  }
}

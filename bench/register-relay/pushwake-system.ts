/**
 * pushwake as a system under test, run as shipped: `node dist/lib/cli.js start --config <file>`
 * (the compiled JS), in a process of its own, with the config register-storm.ts builds: the
 * loopback overrides (a push sink standing in for APNs, the embedded store in a temp directory),
 * the engine's rate limits lifted (every phone is 127.0.0.1), 127.0.0.0/8 trusted upstream, the
 * raw registrar as `upstream.registrar`, the admin API on a free port, log level warn. On its
 * embedded engine, or with `drachtio` on a drachtio-server started for the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { underLoadConfig } from '../support/load-config.js';
import { startPushSink } from '../../lib/push-sink/index.js';
import { runCleanups, type Cleanup } from '../../lib/testkit/cleanups.js';
import { startDrachtioServer, type DrachtioServer } from '../../lib/testkit/drachtio-server.js';
import { freePort } from '../../lib/testkit/free-port.js';
import { sleep } from '../support/windowed.js';
import { processCpuSeconds } from './proc-cpu.js';
import type { SelfReport, SystemUnderTest } from './system-under-test.js';

const repo = join(import.meta.dirname, '..', '..');
const READY_TIMEOUT_MS = 30_000;

export interface PushwakeSystemOptions {
  /** the raw registrar's UDP port on 127.0.0.1 */
  registrarPort: number;
  /** drachtio-server's binary: pushwake runs on it instead of its embedded engine */
  drachtioBin?: string;
}

/** pushwake's log lines at warn and above, counted by message. */
class LogTally {
  private readonly byMessage = new Map<string, number>();
  private partial = '';

  take(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let msg = line.slice(0, 160);
      try {
        const parsed = JSON.parse(line) as { msg?: unknown; level?: unknown };
        if (typeof parsed.msg === 'string') msg = `${typeof parsed.level === 'number' && parsed.level >= 50 ? 'error' : 'warn'}: ${parsed.msg}`;
      } catch {
        // not JSON: kept as printed
      }
      // bounded: a flood of distinct lines is counted under one entry
      const key = this.byMessage.has(msg) || this.byMessage.size < 20 ? msg : '(other lines)';
      this.byMessage.set(key, (this.byMessage.get(key) ?? 0) + 1);
    }
  }

  lines(): string[] {
    return [...this.byMessage.entries()].map(([msg, n]) => `${n} × ${msg}`);
  }
}

export async function startPushwakeSystem(opts: PushwakeSystemOptions): Promise<SystemUnderTest> {
  const cleanups: Cleanup[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pushwake-relay-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  let child: ChildProcess | undefined;
  let drachtio: DrachtioServer | undefined;
  const killNow = (): void => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (drachtio) {
      try {
        process.kill(drachtio.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  try {
    const sink = await startPushSink({ output: 'none' });
    cleanups.push(() => sink.stop());
    if (opts.drachtioBin) {
      const d = await startDrachtioServer(opts.drachtioBin, 'relay');
      drachtio = d;
      cleanups.push(() => d.stop());
    }
    const sipPort = drachtio?.sipPort ?? (await freePort());
    const adminPort = await freePort();
    const config = underLoadConfig({ sink, dir, registrar: `sip:127.0.0.1:${opts.registrarPort}`, sipPort, adminPort, drachtio });
    const configFile = join(dir, 'pushwake.yaml');
    writeFileSync(configFile, stringify(config));
    const tally = new LogTally();
    let stderr = '';
    // BENCH_PUSHWAKE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": profile pushwake (written as it exits)
    const nodeArgs = (process.env['BENCH_PUSHWAKE_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const c = spawn(process.execPath, [...nodeArgs, join(repo, 'dist', 'lib', 'cli.js'), 'start', '--config', configFile], {
      cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PUSHWAKE_LOG_LEVEL: 'warn' },
    });
    child = c;
    c.stdout?.on('data', (d: Buffer) => tally.take(d.toString()));
    c.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-5_000)));
    cleanups.push(() => stopChild(c));
    const admin = `http://127.0.0.1:${adminPort}`;
    await waitReady(c, admin, () => stderr);
    const pid = c.pid ?? 0;
    const label = drachtio ? 'pushwake on drachtio-server' : 'pushwake, embedded engine';
    return {
      label,
      target: { host: '127.0.0.1', port: sipPort },
      cpuNote: drachtio
        ? 'CPU: /proc/<pid>/stat utime+stime of drachtio-server and of pushwake\'s node process (all threads), printed apart'
        : 'CPU: /proc/<pid>/stat utime+stime of pushwake\'s node process (all threads: LevelDB, libuv pool, GC)',
      cpu: (): Record<string, number> => {
        const drachtioPid = drachtio?.pid;
        return drachtioPid !== undefined ? { 'drachtio-server': processCpuSeconds(drachtioPid), pushwake: processCpuSeconds(pid) } : { pushwake: processCpuSeconds(pid) };
      },
      selfReport: () => selfReport(admin),
      complaints: () => tally.lines(),
      stop: () => runCleanups(cleanups),
      kill: killNow,
    };
  } catch (err) {
    killNow();
    await runCleanups(cleanups);
    throw err;
  }
}

async function waitReady(child: ChildProcess, admin: string, stderr: () => string): Promise<void> {
  const until = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`pushwake exited while starting: ${stderr()}`);
    if (await fetch(`${admin}/readyz`).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`pushwake did not become ready in ${READY_TIMEOUT_MS / 1000} s: ${stderr()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Heap from its /metrics; bindings from /api/status (the store's count). */
async function selfReport(admin: string): Promise<SelfReport> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  const status = (await (await fetch(`${admin}/api/status`)).json()) as { bindings?: unknown };
  // prom-client's GC histogram: pause time by kind since start (minor = scavenge, major = mark-compact)
  const gc = (kind: string, what: 'sum' | 'count'): number => Number(new RegExp(`^nodejs_gc_duration_seconds_${what}\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  const gcPauses = ['minor', 'major', 'incremental', 'weakcb'].map((kind) => ({ kind, count: gc(kind, 'count'), seconds: gc(kind, 'sum') })).filter((g) => g.count > 0);
  return { heapBytes: heap, bindings: typeof status.bindings === 'number' ? status.bindings : Number.NaN, gcPauses };
}

/**
 * Part of the testkit: a third-party server (drachtio-server, Kamailio) run as a child process for
 * a test, with a config directory of its own. It is ready once every given TCP port accepts a
 * connection; it keeps the tail of what it printed for failure reports; stop() asks with SIGTERM
 * and insists with SIGKILL, and the directory goes with the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Daemon {
  pid: number;
  /** Its own temp directory (config files go here); removed when it exits. */
  dir: string;
  /** The tail of what it printed. */
  output(): string;
  stop(): Promise<void>;
}

export interface DaemonSpec {
  /** For error messages: "drachtio-server", "kamailio". */
  name: string;
  bin: string;
  /** Its command line, given its directory. */
  args: (dir: string) => string[];
  /** Written into its directory before it starts: file name → text. */
  files?: (dir: string) => Record<string, string>;
  /** Ready when each of these accepts a TCP connection. */
  readyPorts: Array<{ address: string; port: number }>;
  startTimeoutMs?: number;
  /** How much output to keep (default 100 KB). */
  keepBytes?: number;
}

const STOP_GRACE_MS = 3000;

const accepts = (address: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, address, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/**
 * A free port found by probing can be taken by another process before the server binds it (the
 * suites start many servers at once): a server that exits at start is tried again, `attempts`
 * times in all, each time with the ports `spec` picks anew.
 */
export async function startDaemonRetrying(spec: () => Promise<DaemonSpec>, attempts = 3): Promise<Daemon> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await startDaemon(await spec());
    } catch (err) {
      last = err;
      if (!(err instanceof DaemonExitedError)) throw err;
    }
  }
  throw last;
}

/** The server exited while starting (typically: a port it was given was taken meanwhile). */
export class DaemonExitedError extends Error {
  readonly code = 'TESTKIT_DAEMON_EXITED';
}

export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), `pushwake-${spec.name}-`));
  for (const [file, text] of Object.entries(spec.files?.(dir) ?? {})) writeFileSync(join(dir, file), text);
  let out = '';
  const keep = spec.keepBytes ?? 100_000;
  const child: ChildProcess = spawn(spec.bin, spec.args(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  const record = (d: Buffer): void => {
    out = (out + d.toString()).slice(-keep);
  };
  child.stdout?.on('data', record);
  child.stderr?.on('data', record);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      resolve();
    }),
  );
  const until = Date.now() + (spec.startTimeoutMs ?? 15_000);
  for (const { address, port } of spec.readyPorts) {
    while (!(await accepts(address, port))) {
      if (child.exitCode !== null) throw new DaemonExitedError(`${spec.name} exited at start (${child.exitCode}):\n${out.slice(-4000)}`);
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`${spec.name} did not listen on ${address}:${port}:\n${out.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    pid: child.pid ?? 0,
    dir,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(force);
    },
  };
}

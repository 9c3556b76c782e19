/**
 * Part of the testkit: pushwake as an operator runs it, `pushwake start --config FILE`, in a child
 * process of its own, so a test can kill -9 it mid-burst and start it again on the same ports and
 * store. Its JSON log lines are kept for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { stringify } from 'yaml';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const START_TIMEOUT_MS = 20_000;
const MAX_KEPT_LINES = 20_000;

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export class PushwakeDaemon {
  /** Every JSON log line it wrote, oldest first (bounded). */
  readonly lines: LogLine[] = [];
  private stderr = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let partial = '';
    child.stdout?.on('data', (d: Buffer) => {
      const chunks = (partial + d.toString()).split('\n');
      partial = chunks.pop() ?? '';
      for (const c of chunks) this.keep(c);
    });
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.exitCode = code;
      resolve();
    }));
  }

  /** Write `config` as YAML to `configFile` and start `pushwake start --config configFile`. */
  static async start(configFile: string, config: Record<string, unknown>): Promise<PushwakeDaemon> {
    writeFileSync(configFile, stringify(config));
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'lib', 'cli.ts'), 'start', '--config', configFile], {
      cwd: repoRoot,
      env: { ...process.env, PUSHWAKE_LOG_LEVEL: process.env['PUSHWAKE_LOG_LEVEL'] ?? 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = new PushwakeDaemon(child);
    await daemon.waitForLog('started', (l) => l.msg === 'pushwake started', START_TIMEOUT_MS);
    return daemon;
  }

  /** `pushwake <args>` with this cwd and environment (e.g. `start` on the shipped defaults). */
  static async startWith(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<PushwakeDaemon> {
    // tsx by its full URL: a cwd outside the repo would not find it by name
    const child = spawn(process.execPath, ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, join(repoRoot, 'lib', 'cli.ts'), ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const daemon = new PushwakeDaemon(child);
    await daemon.waitForLog('started', (l) => l.msg === 'pushwake started', START_TIMEOUT_MS);
    return daemon;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  /** What it wrote to stderr (a crash's stack trace lands there). */
  get errorOutput(): string {
    return this.stderr;
  }

  /** Resolves with the first log line (already written or to come) that `match` accepts. */
  async waitForLog(what: string, match: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (!this.alive) throw new Error(`pushwake exited (${String(this.exitCode)}) before logging ${what}:\n${this.stderr.slice(-4000)}`);
      if (Date.now() > until) throw new Error(`pushwake did not log ${what} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Send a signal and wait for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    const force = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(force);
  }

  /** Send a signal and return (SIGHUP: reload). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** A clean stop (SIGTERM, as systemd does). */
  stop(): Promise<void> {
    return this.kill('SIGTERM');
  }

  private keep(text: string): void {
    if (!text.trim()) return;
    try {
      const line = JSON.parse(text) as LogLine;
      if (this.lines.length >= MAX_KEPT_LINES) this.lines.shift();
      this.lines.push(line);
    } catch {
      this.stderr = (this.stderr + text + '\n').slice(-20_000);
    }
  }
}

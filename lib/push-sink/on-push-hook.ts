import { spawn, type ChildProcess } from 'node:child_process';
import type { AcceptedRequest } from './request-check.js';

/**
 * The `onPush` hook: a shell command run for each accepted push, e.g. to start the SIPp
 * scenario that plays the woken phone: `sipp ... -key token {token} -key hint {pushHint}`.
 *
 * Placeholders `{token}`, `{pushHint}`, `{callUuid}`, `{callerNumber}`, `{callerName}`,
 * `{callId}`, `{topic}` are replaced by the value in single quotes, so a hostile caller name
 * stays one shell word. Write them bare, not inside quotes of your own.
 */
export interface OnPushHookOptions {
  command: string;
  /** Commands running at once. Default 4. */
  concurrency?: number;
  /** Pushes waiting for a free slot; more are dropped (and reported). Default 100. */
  queueLimit?: number;
  /** A command still running after this long is killed. Default 60 s. */
  timeoutMs?: number;
}

export type HookVars = Record<(typeof HOOK_VARS)[number], string>;

export interface HookExit {
  token: string;
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export const HOOK_VARS = ['token', 'pushHint', 'callUuid', 'callerNumber', 'callerName', 'callId', 'topic'] as const;

/** POSIX shell single-quoting: the result is always exactly one word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderHookCommand(template: string, vars: HookVars): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    (HOOK_VARS as readonly string[]).includes(name) ? shellQuote(vars[name as keyof HookVars]) : whole,
  );
}

/** The hook's variables, read from the payload where pushwake's default template puts them
 * (`aps.*` for what the Siprix flow reads, top level for the rest), whichever is present. */
export function hookVarsOf(push: AcceptedRequest): HookVars {
  const aps = push.payload['aps'];
  const apsFields = typeof aps === 'object' && aps !== null ? (aps as Record<string, unknown>) : {};
  const pick = (name: string): string => {
    const value = push.payload[name] ?? apsFields[name];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : '';
  };
  return {
    token: push.token,
    pushHint: pick('pushHint'),
    callUuid: pick('callUuid'),
    callerNumber: pick('callerNumber'),
    callerName: pick('callerName'),
    callId: pick('callId'),
    topic: push.topic,
  };
}

export class OnPushHook {
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private readonly timeoutMs: number;
  private readonly queue: HookVars[] = [];
  private readonly running = new Map<ChildProcess, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly options: OnPushHookOptions,
    private readonly onExit: (exit: HookExit) => void,
    private readonly onDrop: (token: string) => void,
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.queueLimit = Math.max(0, options.queueLimit ?? 100);
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Run the command for this push now or when a slot frees. False when dropped. */
  enqueue(vars: HookVars): boolean {
    if (this.stopped) return false;
    if (this.running.size < this.concurrency) {
      this.start(vars);
      return true;
    }
    if (this.queue.length >= this.queueLimit) {
      this.onDrop(vars.token);
      return false;
    }
    this.queue.push(vars);
    return true;
  }

  /** Drop the queue and terminate running commands; resolves when they have exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    const exits = [...this.running.keys()].map(
      (child) => new Promise<void>((resolve) => child.once('close', () => resolve())),
    );
    for (const child of this.running.keys()) killGroup(child, 'SIGTERM');
    await Promise.all(exits);
  }

  private start(vars: HookVars): void {
    const command = renderHookCommand(this.options.command, vars);
    // Own process group, so a timeout or stop() also ends what the shell started (sipp...).
    // Output goes to stderr: stdout belongs to the sink's JSON lines.
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: ['ignore', 2, 2],
    });
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), this.timeoutMs);
    this.running.set(child, timer);
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      const owned = this.running.get(child);
      if (owned === undefined) return;
      clearTimeout(owned);
      this.running.delete(child);
      this.onExit({ token: vars.token, command, exitCode, signal });
      const next = this.queue.shift();
      if (next !== undefined && !this.stopped) this.start(next);
    };
    child.on('error', () => finish(null, null));
    child.on('close', finish);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

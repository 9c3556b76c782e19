/**
 * The parent's handle on a child of bench/register-relay.ts: fork a script of this folder with
 * `node --import tsx` and an IPC channel, wait for its first message, send requests and await the
 * reply that carries the same id. Every child forked here is tracked, so `killChildren` ends them
 * on any exit path; the children also exit by themselves when the IPC channel goes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const alive = new Set<ChildProcess>();

/** SIGKILL every child still running (synchronous: usable in process.on('exit')). */
export function killChildren(): void {
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  alive.clear();
}

type Waiter<Reply> = { resolve: (m: Reply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

export class ChildLink<Req extends { type: string }, Reply extends { type: string }> {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter<Reply>>();
  private exitedWith: string | undefined;

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    child.on('message', (raw: unknown) => {
      const m = raw as Reply & { id?: number };
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (!w || m.id === undefined) return;
      this.waiting.delete(m.id);
      clearTimeout(w.timer);
      w.resolve(m);
    });
    child.once('exit', (code, signal) => {
      alive.delete(child);
      this.exitedWith = signal ?? `code ${code}`;
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error(`${name} exited (${this.exitedWith}) before answering`));
      }
      this.waiting.clear();
    });
  }

  /** Forks `script` (a file of this folder) with `arg` and resolves with the child's first message. */
  static async start<Req extends { type: string }, Reply extends { type: string }>(
    name: string, script: string, arg: string, timeoutMs = 20_000,
  ): Promise<{ link: ChildLink<Req, Reply>; first: Reply }> {
    const child = fork(join(here, script), [arg], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    alive.add(child);
    const link = new ChildLink<Req, Reply>(name, child);
    let onFirst: ((m: unknown) => void) | undefined;
    let onExit: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const first = await new Promise<Reply>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
        onFirst = (m) => resolve(m as Reply);
        onExit = () => reject(new Error(`${name} exited while starting`));
        child.once('message', onFirst);
        child.once('exit', onExit);
      });
      return { link, first };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
      if (onFirst) child.off('message', onFirst);
      if (onExit) child.off('exit', onExit);
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.exitedWith === undefined;
  }

  request<T extends Reply>(msg: Req, timeoutMs: number): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.name} has exited (${this.exitedWith ?? '?'})`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: no answer to ${msg.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: (m) => resolve(m as T), reject, timer });
      this.child.send({ ...msg, id });
    });
  }

  /** Close the IPC channel (the child exits on that), wait up to `ms`, then kill it. */
  async stop(ms = 3000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const force = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(force);
  }
}

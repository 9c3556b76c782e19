/**
 * A bench's handle on one of its child processes: fork a script with `node --import tsx` and an
 * IPC channel, wait for its first message, send requests and await the reply that carries the
 * same id. Messages without a waiting id go to `onOther`. Every child forked here is tracked, so
 * `killAllChildren` ends them on any exit path (the children also exit by themselves when their
 * IPC channel goes). Used by bench/connections.ts and bench/register-relay.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const alive = new Set<ChildProcess>();

/** Omit over each member of a union (plain Omit merges the members' keys). */
export type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** SIGKILL every child still running (synchronous: usable in process.on('exit')). */
export function killAllChildren(): void {
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  alive.clear();
}

type Waiter<Reply> = { resolve: (m: Reply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

export class ChildPeer<Req extends { type: string }, Reply extends { type: string }> {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter<Reply>>();
  private exitedWith: string | undefined;
  onOther: (m: Reply) => void = () => undefined;

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    child.on('message', (raw: unknown) => {
      const m = raw as Reply & { id?: number };
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (!w || m.id === undefined) {
        this.onOther(m);
        return;
      }
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

  /** Forks `script` (an absolute path) with `args` and resolves with the child's first message. */
  static async start<Req extends { type: string }, Reply extends { type: string }>(
    name: string, script: string, opts: { args?: string[]; execArgv?: string[]; timeoutMs?: number } = {},
  ): Promise<{ peer: ChildPeer<Req, Reply>; first: Reply }> {
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const child = fork(script, opts.args ?? [], { cwd: repoRoot, execArgv: [...(opts.execArgv ?? []), '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    alive.add(child);
    const peer = new ChildPeer<Req, Reply>(name, child);
    let onExit: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const first = await new Promise<Reply>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
        peer.onOther = resolve;
        onExit = () => reject(new Error(`${name} exited while starting`));
        child.once('exit', onExit);
      });
      return { peer, first };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
      peer.onOther = () => undefined;
      if (onExit) child.off('exit', onExit);
    }
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.exitedWith === undefined;
  }

  get exitStatus(): string {
    return this.exitedWith ?? 'running';
  }

  request<T extends Reply>(msg: Without<Req, 'id'>, timeoutMs: number): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.name} has exited (${this.exitStatus})`));
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

  /** Waits up to `ms` for the child to exit by itself, then kills it. */
  async end(ms: number): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, ms);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes the IPC channel (the child exits on that), waits up to `ms`, then kills it. */
  async stop(ms = 3000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const force = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(force);
  }
}

/**
 * The parent's handle on one child of bench/connections.ts: fork it (node --import tsx, IPC),
 * wait for its first message, send requests and await the reply with the same id. Every child
 * made here is tracked, so `killAll` can end them on any exit path.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const alive = new Set<ChildProcess>();

/** Omit over each member of a union (plain Omit merges the members' keys). */
export type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** SIGKILL every child still running (synchronous: usable in process.on('exit')). */
export function killAll(): void {
  for (const c of alive) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  alive.clear();
}

export class Peer<Req extends { type: string; id: number }, Reply extends { type: string }> {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: Reply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
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

  /** Forks `script` (in this folder) and resolves with its first message. */
  static async start<Req extends { type: string; id: number }, Reply extends { type: string }>(
    name: string, script: string, args: string[], execArgv: string[], timeoutMs: number,
  ): Promise<{ peer: Peer<Req, Reply>; first: Reply }> {
    const child = fork(join(here, script), args, { cwd: repoRoot, execArgv: [...execArgv, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    alive.add(child);
    const peer = new Peer<Req, Reply>(name, child);
    const first = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
      peer.onOther = (m) => { clearTimeout(timer); resolve(m); };
      child.once('exit', () => { clearTimeout(timer); reject(new Error(`${name} exited while starting`)); });
    });
    peer.onOther = () => undefined;
    return { peer, first };
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

  /** Waits up to `ms` for the child to exit, then kills it. */
  async end(ms: number): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.child.kill('SIGKILL'); resolve(); }, ms);
      this.child.once('exit', () => { clearTimeout(timer); resolve(); });
    });
  }
}

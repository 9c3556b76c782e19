/**
 * The parent's handle on pushwake running in a child process (pushwake-child.ts): start it,
 * ask for heap and call counts, collect its TraceEvents, stop it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceEvent } from '../../lib/pushwake.js';
import type { ChildMeasure, ChildMessage, ChildStart, ParentMessage } from './child-protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const START_TIMEOUT_MS = 20_000;
const REPLY_TIMEOUT_MS = 30_000;

export class PushwakeProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: ChildMessage) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  private traceListener: ((events: TraceEvent[]) => void) | undefined;
  private exited = false;

  private constructor(private readonly child: ChildProcess, readonly sipHost: string) {}

  /** Spawn the child with --expose-gc and start pushwake in it. */
  static async start(start: ChildStart): Promise<PushwakeProcess> {
    // e.g. BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile pushwake alone.
    const extra = (process.env['BENCH_CHILD_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean);
    const child = spawn(process.execPath, ['--expose-gc', ...extra, '--import', 'tsx', join(here, 'pushwake-child.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let onMessage: ((m: ChildMessage) => void) | undefined;
    let onExit: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const sipHost = await new Promise<string>((resolve, reject) => {
        onMessage = (m) => {
          if (m.type === 'started') resolve(m.sipHost);
          else if (m.type === 'start-failed') reject(new Error(`pushwake child failed to start: ${m.error}`));
        };
        onExit = () => reject(new Error('pushwake child exited while starting'));
        timer = setTimeout(() => reject(new Error('pushwake child did not start in time')), START_TIMEOUT_MS);
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ type: 'start', start } satisfies ParentMessage);
      });
      return new PushwakeProcess(child, sipHost).listen();
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
      if (onMessage) child.off('message', onMessage);
      if (onExit) child.off('exit', onExit);
    }
  }

  private listen(): this {
    this.child.on('message', (raw: unknown) => {
      const m = raw as ChildMessage;
      if (m.type === 'trace') {
        this.traceListener?.(m.events);
        return;
      }
      if ('id' in m) {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    });
    this.child.once('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error('pushwake child exited'));
      }
      this.waiting.clear();
    });
    return this;
  }

  /** Batches of TraceEvents, in the order pushwake emitted them. */
  onTrace(fn: (events: TraceEvent[]) => void): void {
    this.traceListener = fn;
  }

  async measure(opts: { gc: boolean }): Promise<ChildMeasure> {
    const reply = await this.ask((id) => ({ type: 'measure', id, gc: opts.gc }));
    if (reply.type !== 'measured') throw new Error(`unexpected reply ${reply.type}`);
    return reply.measure;
  }

  /** Resolves once every TraceEvent emitted so far has reached onTrace. */
  async flushTrace(): Promise<void> {
    await this.ask((id) => ({ type: 'flush-trace', id }));
  }

  /** Write a heap snapshot of pushwake (after a full GC) to `file`; resolves with its path. */
  async heapSnapshot(file: string): Promise<string> {
    const reply = await this.ask((id) => ({ type: 'heap-snapshot', id, file }));
    if (reply.type !== 'snapshot-written') throw new Error(`unexpected reply ${reply.type}`);
    return reply.file;
  }

  /** Stop pushwake and wait for the child to exit; kill it if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.ask((id) => ({ type: 'stop', id }));
    } catch {
      // No answer: it is killed below.
    }
    const killTimer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killTimer);
  }

  /** Last resort on the way out of a broken run. */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private ask(build: (id: number) => ParentMessage): Promise<ChildMessage> {
    if (this.exited) return Promise.reject(new Error('pushwake child has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('pushwake child did not answer in time'));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      this.child.send(build(id));
    });
  }
}

/**
 * pushwake alone in its own process, driven over IPC by a benchmark (see child-protocol.ts).
 * Run as `node --expose-gc --import tsx bench/support/pushwake-child.ts` with an IPC channel;
 * PushwakeProcess does that.
 */
import { createWriteStream } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger, silentLogger } from '../../lib/log.js';
import { startPushwake, type RunningPushwake, type TraceEvent } from '../../lib/pushwake.js';
import type { ChildMeasure, ChildMessage, ChildStart, ParentMessage } from './child-protocol.js';

/** Trace events are sent in batches of at most this many, or every TRACE_FLUSH_MS. */
const TRACE_BATCH = 500;
const TRACE_FLUSH_MS = 100;

const send = (msg: ChildMessage): void => {
  if (process.connected) process.send?.(msg);
};

let pushwake: RunningPushwake | undefined;
let traceBuffer: TraceEvent[] = [];
let traceTimer: NodeJS.Timeout | undefined;

function flushTrace(): void {
  if (traceBuffer.length === 0) return;
  const events = traceBuffer;
  traceBuffer = [];
  send({ type: 'trace', events });
}

function onTrace(ev: TraceEvent): void {
  traceBuffer.push(ev);
  if (traceBuffer.length >= TRACE_BATCH) flushTrace();
}

async function start(opts: ChildStart): Promise<void> {
  const config = loadConfig({ env: {}, overrides: opts.config });
  const log = opts.logLevel === 'silent' ? silentLogger() : createLogger(opts.logLevel, createWriteStream('/dev/null'));
  pushwake = await startPushwake(config, { log, ...(opts.trace ? { onTrace } : {}) });
  if (opts.trace) traceTimer = setInterval(flushTrace, TRACE_FLUSH_MS);
  send({ type: 'started', sipHost: pushwake.advertisedHost });
}

async function measure(gc: boolean): Promise<ChildMeasure> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    if (!collect) throw new Error('run the child with --expose-gc');
    // Twice, with a turn of the event loop between: finalizers and weak maps settle.
    collect();
    await new Promise((resolve) => setImmediate(resolve));
    collect();
  }
  const cpu = process.cpuUsage();
  const loop = performance.eventLoopUtilization();
  const memory = process.memoryUsage();
  return {
    loopActiveMs: loop.active,
    loopIdleMs: loop.idle,
    heapUsed: memory.heapUsed,
    arrayBuffers: memory.arrayBuffers,
    calls: pushwake?.calls.size ?? 0,
    cpuUserMicros: cpu.user,
    cpuSystemMicros: cpu.system,
  };
}

async function stop(): Promise<void> {
  if (traceTimer) clearInterval(traceTimer);
  traceTimer = undefined;
  flushTrace();
  const running = pushwake;
  pushwake = undefined;
  await running?.stop();
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentMessage;
  switch (msg.type) {
    case 'start':
      start(msg.start).catch((err: unknown) => send({ type: 'start-failed', error: String((err as Error).stack ?? err) }));
      return;
    case 'measure':
      void measure(msg.gc).then((m) => send({ type: 'measured', id: msg.id, measure: m }));
      return;
    case 'flush-trace':
      flushTrace();
      send({ type: 'flushed', id: msg.id });
      return;
    case 'heap-snapshot':
      void measure(true).then(() => send({ type: 'snapshot-written', id: msg.id, file: writeHeapSnapshot(msg.file) }));
      return;
    case 'stop':
      void stop().finally(() => {
        send({ type: 'stopped', id: msg.id });
        process.disconnect();
      });
      return;
  }
});

// The parent went away (crash, Ctrl-C): stop rather than linger as an orphan.
process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});

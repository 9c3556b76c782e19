/**
 * The IPC conversation between a benchmark and the pushwake it runs in a child process. The
 * child holds nothing but pushwake, so its heap and its event loop are pushwake's alone: the
 * agents (PBX, phones) and the push sink live in the parent, as they would on other machines.
 */
import type { DeepPartial } from '../../lib/config/load.js';
import type { PushwakeConfig } from '../../lib/config/types.js';
import type { TraceEvent } from '../../lib/pushwake.js';

export interface ChildStart {
  /** Merged over the defaults by loadConfig, as the e2e lab does. */
  config: DeepPartial<PushwakeConfig>;
  /** Forward pushwake's TraceEvents to the parent (batched). Off for heap figures. */
  trace: boolean;
  /** pushwake's log level; anything but 'silent' is written to /dev/null, so its cost counts. */
  logLevel: string;
}

/** A snapshot of the child: its heap (after a full GC when asked) and its parked calls. */
export interface ChildMeasure {
  heapUsed: number;
  /** Off the V8 heap: Buffer and ArrayBuffer backing stores (process.memoryUsage().arrayBuffers). */
  arrayBuffers: number;
  calls: number;
  /** process.cpuUsage() since the child started, microseconds. */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /** performance.eventLoopUtilization() since the child started: time the loop was busy / idle, ms. */
  loopActiveMs: number;
  loopIdleMs: number;
}

export type ParentMessage =
  | { type: 'start'; start: ChildStart }
  | { type: 'measure'; id: number; gc: boolean }
  /** Send every buffered TraceEvent now; 'flushed' follows the last 'trace' batch. */
  | { type: 'flush-trace'; id: number }
  /** Write a V8 heap snapshot (after a full GC) to this file. */
  | { type: 'heap-snapshot'; id: number; file: string }
  | { type: 'stop'; id: number };

export type ChildMessage =
  | { type: 'started'; sipHost: string }
  | { type: 'start-failed'; error: string }
  | { type: 'measured'; id: number; measure: ChildMeasure }
  | { type: 'trace'; events: TraceEvent[] }
  | { type: 'flushed'; id: number }
  | { type: 'snapshot-written'; id: number; file: string }
  | { type: 'stopped'; id: number };

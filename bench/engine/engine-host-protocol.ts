/**
 * The IPC conversation between the benchmark and the child that runs the bench app. With the
 * embedded engine the child holds engine + app, so its RSS and heap are theirs alone; with
 * drachtio-server the child holds only the app and the engine is the drachtio process.
 */
import type { BenchAppCounts } from './bench-app.js';

export type HostedEngine =
  | { kind: 'embedded'; secret: string }
  | { kind: 'drachtio'; wirePort: number; secret: string };

/** One look at the child process. */
export interface HostSample {
  /** read before any collection */
  rss: number;
  heapUsed: number;
  /** heapUsed right after a full collection, when the sample asked for one */
  liveHeap?: number;
  /** process.cpuUsage() since the child started, user + system, microseconds */
  cpuMicros: number;
  counts: BenchAppCounts;
}

export type HostRequest =
  | { type: 'start'; engine: HostedEngine }
  /** fullGc: collect garbage after reading RSS, then read the heap (the child runs with --expose-gc) */
  | { type: 'sample'; id: number; fullGc: boolean }
  | { type: 'stop'; id: number };

export type HostReply =
  /** sipPort is the embedded engine's UDP port; 0 when the engine is drachtio-server */
  | { type: 'ready'; sipPort: number }
  | { type: 'start-failed'; error: string }
  | { type: 'sampled'; id: number; sample: HostSample }
  | { type: 'stopped'; id: number };

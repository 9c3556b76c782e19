/**
 * What bench/connections.ts and its child processes say to each other over IPC, and the fd-limit
 * helpers they share. The engine child holds the engine; each client child holds up to a few
 * thousand idle connections to it from its own 127.0.0.x source addresses.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Ports { udp: number; tcp: number; tls: number }

/** RLIMIT_NOFILE of a process. */
export interface FdLimits { soft: number; hard: number }

export interface EngineStats {
  rss: number;
  heapUsed: number;
  /** TCP + TLS flows the engine holds */
  connections: number;
  /** fds open in the engine process; null when they cannot be counted (none left to list them) */
  fds: number | null;
}

export type EngineRequest =
  | { type: 'stats'; id: number }
  | { type: 'stop'; id: number };

export type EngineReply =
  | { type: 'ready'; ports: Ports; fds: FdLimits; maxConnections: number }
  | { type: 'start-failed'; error: string }
  | ({ type: 'stats'; id: number } & EngineStats)
  | { type: 'stopped'; id: number };

export interface OpenJob {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  count: number;
  /** source addresses, used in turn: count / sources.length connections from each */
  sources: string[];
  /** TLS: the CA that signed the engine's certificate */
  caPem?: string;
  /** connections attempted at once */
  batch: number;
  /** a connect (+ TLS handshake) not done by then counts as failed */
  connectTimeoutMs: number;
}

export type ClientRequest =
  | { type: 'open'; id: number; job: OpenJob }
  | { type: 'count'; id: number }
  | { type: 'close'; id: number };

export type ClientReply =
  | { type: 'ready'; fds: FdLimits }
  | { type: 'progress'; open: number; failed: number }
  /** errors: failures by code (EMFILE, ECONNRESET, TIMEOUT, ...) */
  | { type: 'opened'; id: number; open: number; failed: number; errors: Record<string, number>; ms: number }
  | { type: 'count'; id: number; open: number; rss: number }
  | { type: 'closed'; id: number };

/** This process's RLIMIT_NOFILE, from /proc/self/limits (Linux), else from a shell's `ulimit`. */
export function fdLimits(): FdLimits {
  const parse = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line ? /^Max open files\s+(\S+)\s+(\S+)/.exec(line) : null;
    if (m) return { soft: parse(m[1]), hard: parse(m[2]) };
  } catch {
    // not Linux: ask a shell, which inherits our limits
  }
  const r = spawnSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = r.stdout.trim().split('\n');
  return { soft: parse(soft), hard: parse(hard) };
}

/** fds open in this process now (Linux); null elsewhere, or when no fd is left to list them. */
export function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

export const fmtLimits = (l: FdLimits): string => `soft ${l.soft}, hard ${l.hard}`;

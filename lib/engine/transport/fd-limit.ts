/**
 * The open-file limit against the connection limit. Past RLIMIT_NOFILE the kernel refuses the
 * accept and libuv closes the newcomer by itself (its EMFILE trick): the engine never hears of it,
 * so nothing could be logged then. Say it once at start instead.
 */
import { readFileSync } from 'node:fs';

/** Descriptors the engine needs besides connections (listeners, wire, store, logs, APNs). */
export const FD_RESERVE = 200;

/** The soft "Max open files" of this process from /proc/self/limits; undefined where unknown. Pure over its input. */
export function softOpenFileLimit(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  if (!m?.[1]) return undefined;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/** A warning when `maxConnections` cannot be reached under this process's fd limit. */
export function fdLimitWarning(maxConnections: number, readLimits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): { maxConnections: number; openFileLimit: number; usable: number } | undefined {
  let limit: number | undefined;
  try {
    limit = softOpenFileLimit(readLimits());
  } catch {
    return undefined; // not Linux: nothing to say
  }
  if (limit === undefined || maxConnections + FD_RESERVE <= limit) return undefined;
  return { maxConnections, openFileLimit: limit, usable: Math.max(0, limit - FD_RESERVE) };
}

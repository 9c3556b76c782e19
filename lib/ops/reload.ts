/**
 * What a config reload may change live, and what only a restart applies. Pure.
 */
import type { PushwakeConfig } from '../config/types.js';

/** Keys (dotted, or a section with a trailing dot) a reload applies without dropping anything. */
const LIVE = [
  'log.level',
  'upstream.trustedSources',
  'call.wakeTimeoutMs', 'call.ringTimeoutMs', 'call.sendRinging', 'call.skipPushWithinSeconds', 'call.payloadTemplate',
  'apns.',
  'fcm.',
  'endedNotice.',
  'devices.',
  'alerts.',
  // the certificate and key files are re-read on every reload (the paths themselves need a restart)
];

export function isLive(key: string): boolean {
  return LIVE.some((l) => (l.endsWith('.') ? key.startsWith(l) : key === l));
}

/** Dotted keys whose values differ. */
export function changedKeys(a: PushwakeConfig, b: PushwakeConfig): string[] {
  const out: string[] = [];
  const sa = a as unknown as Record<string, Record<string, unknown>>;
  const sb = b as unknown as Record<string, Record<string, unknown>>;
  for (const section of Object.keys(sb)) {
    for (const key of Object.keys(sb[section] ?? {})) {
      if (JSON.stringify(sa[section]?.[key]) !== JSON.stringify(sb[section]?.[key])) out.push(`${section}.${key}`);
    }
  }
  return out;
}

/** The config the process runs with after a reload: the live keys from `next`, the rest as started. */
export function mergeLive(running: PushwakeConfig, next: PushwakeConfig, changed: string[]): PushwakeConfig {
  const out = structuredClone(running) as unknown as Record<string, Record<string, unknown>>;
  const from = next as unknown as Record<string, Record<string, unknown>>;
  for (const key of changed.filter(isLive)) {
    const [section = '', leaf = ''] = key.split('.');
    const target = out[section];
    if (target) target[leaf] = structuredClone(from[section]?.[leaf]);
  }
  return out as unknown as PushwakeConfig;
}

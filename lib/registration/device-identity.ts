import { createHash } from 'node:crypto';
import type { PushToken } from '../domain/binding.js';

/**
 * A device's key within its AOR: its `+sip.instance` when it sent one (stable across token
 * changes), else its push token, else its contact URI. A fresh REGISTER matches a parked call
 * on this key, which gives the matching order the RFC 8599 flow needs.
 */
export function deviceKeyOf(instanceId: string | undefined, push: PushToken | undefined, contactUri: string): string {
  if (instanceId) return `inst:${instanceId}`;
  if (push) return `tok:${push.token}`;
  return `ct:${contactUri.replace(/;.*$/, '')}`;
}

/** The per-device user part pushwake registers upstream; stable for (aor, deviceKey). */
export function localContactUserOf(prefix: string, aor: string, deviceKey: string): string {
  return prefix + createHash('sha256').update(`${aor}\n${deviceKey}`).digest('hex').slice(0, 20);
}

/** `+sip.instance="<urn:uuid:...>"` → `urn:uuid:...` (bounded, printable). */
export function instanceIdOf(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  const v = raw.replace(/^"|"$/g, '').replace(/^<|>$/g, '').trim();
  return v.length > 0 && v.length <= 256 && /^[\x21-\x7e]+$/.test(v) ? v : undefined;
}

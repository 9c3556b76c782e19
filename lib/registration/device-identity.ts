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

export const MAX_INSTANCE_ID = 256;

export type InstanceIdReading =
  | { kind: 'none' }
  | { kind: 'valid'; id: string }
  /** sent but unusable: the device is keyed by its token instead, and the phone is told why */
  | { kind: 'invalid'; why: string };

/**
 * `+sip.instance="<urn:uuid:...>"` → `urn:uuid:...` (RFC 5626 4.1: a quoted string holding an
 * angle-bracketed URN). Bounded and printable; a broken one is reported, never half-read.
 */
export function readInstanceId(raw: string | null | undefined): InstanceIdReading {
  if (raw === undefined || raw === null) return { kind: 'none' };
  const text = raw.trim();
  if (text.length > MAX_INSTANCE_ID + 4) return { kind: 'invalid', why: `+sip.instance longer than ${MAX_INSTANCE_ID} characters ignored` };
  const quoted = text.startsWith('"');
  if (quoted !== (text.length > 1 && text.endsWith('"'))) return { kind: 'invalid', why: '+sip.instance with an unterminated quote ignored' };
  const inner = quoted ? text.slice(1, -1) : text;
  const bracketed = inner.startsWith('<');
  if (bracketed !== inner.endsWith('>') || (bracketed && inner.length < 2)) return { kind: 'invalid', why: '+sip.instance with unbalanced <> ignored' };
  const id = (bracketed ? inner.slice(1, -1) : inner).trim();
  if (id.length === 0 || !/^[\x21-\x7e]+$/.test(id) || /["<>]/.test(id)) return { kind: 'invalid', why: '+sip.instance is not a printable URN; ignored' };
  return { kind: 'valid', id };
}

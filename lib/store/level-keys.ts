/**
 * The embedded store's key layout. Every free-form segment goes through `keyPart`, so `:` only
 * ever separates:
 *   b:<aor>:<deviceKey>            Binding JSON. A prefix scan of `b:<aor>:` is the AOR index.
 *   l:<localContactUser>           the `b:` key of the binding that owns this contact user.
 *   n:<aor>:<deviceKey>:<callId>   EndedNotice JSON; one per call and device.
 *   c:<callId>:<deviceKey>         PushClaim JSON.
 *   x:<expiresAt, 16 digits>:<key> empty; the expiry index the sweep walks in time order. Every
 *                                  record and `l:` entry has one, so nothing on disk outlives it.
 */
import { keyPart } from './key-part.js';

/** 16 digits hold every epoch-ms timestamp up to year 285 000, and sort as numbers. */
export const EXPIRY_DIGITS = 16;

export type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

export const bindingPrefix = (aor: string): string => `b:${keyPart(aor)}:`;
export const bindingKey = (aor: string, deviceKey: string): string => bindingPrefix(aor) + keyPart(deviceKey);
/** pushwake generates local contact users unique per device, so one binding owns each entry. */
export const localKey = (localContactUser: string): string => `l:${keyPart(localContactUser)}`;
export const noticePrefix = (aor: string, deviceKey: string): string => `n:${keyPart(aor)}:${keyPart(deviceKey)}:`;
export const claimKey = (callId: string, deviceKey: string): string => `c:${keyPart(callId)}:${keyPart(deviceKey)}`;
export const expiryStamp = (at: number): string => String(Math.max(0, Math.floor(at))).padStart(EXPIRY_DIGITS, '0');
export const expiryKey = (at: number, key: string): string => `x:${expiryStamp(at)}:${key}`;
export const EXPIRY_KEY_HEAD = 'x:'.length + EXPIRY_DIGITS + ':'.length;

/** Range bounds covering exactly the keys that start with `prefix` (which ends in `:`). */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)};` };
}

/**
 * Notices of one device are taken all at once, so they share the lock of their device prefix;
 * every other record is locked by its own key.
 */
export function lockKeyOf(key: string): string {
  return key.startsWith('n:') ? key.slice(0, key.lastIndexOf(':') + 1) : key;
}

import type { SipMessage } from '../messages/index.js';
import type { Endpoint } from '../transport/types.js';

/** Headers the app may not set (drachtio-server's immutable list), plus the ones the stack owns. */
const IMMUTABLE = new Set(['via', 'route', 'record-route', 'rseq', 'content-length']);

/**
 * Copies app-supplied headers onto a message the engine built, skipping the ones named in
 * `owned` and drachtio's immutable ones. `user@localhost` in From/To/Contact/P-Asserted-Identity
 * becomes the engine's own address, as drachtio-server does.
 */
export function copyAppHeaders(from: SipMessage, to: SipMessage, owned: readonly string[], local?: Endpoint): void {
  for (const h of from.headers.entries) {
    if (IMMUTABLE.has(h.name) || owned.includes(h.name)) continue;
    to.headers.append(h.spelling, replaceLocalhost(h.name, h.value, local));
  }
}

export function replaceLocalhost(name: string, value: string, local?: Endpoint): string {
  if (!local || !['from', 'to', 'contact', 'p-asserted-identity'].includes(name)) return value;
  if (!value.includes('@localhost')) return value;
  return value.replace(/@localhost(:\d+)?/g, `@${local.address}:${local.port}`);
}

/** drachtio defaults Content-Type to application/sdp when the body looks like SDP. */
export function ensureContentType(msg: SipMessage): string | undefined {
  if (!msg.body.length || msg.headers.has('content-type')) return undefined;
  if (msg.body.subarray(0, 3).toString() === 'v=0') {
    msg.headers.append('content-type', 'application/sdp');
    return undefined;
  }
  return 'missing content-type';
}

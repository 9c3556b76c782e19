/**
 * Contact URI -> TCP flow, for contacts the app accepted with a 2xx to REGISTER.
 * drachtio-server does the same for B2BUA-style registrars: requests the app later sends to
 * that contact reuse the connection the REGISTER arrived on (the device has no listener).
 */
import type { StreamTransport } from './types.js';

export class RegisteredFlows {
  private readonly byContact = new Map<string, { flowId: string; transport: StreamTransport; expiresAt: number }>();
  /** reverse index so a closing flow and the idle check need no scan */
  private readonly byFlow = new Map<string, Set<string>>();

  constructor(private readonly maxEntries = 100_000, private readonly now: () => number = Date.now) {}

  remember(contactUri: string, flowId: string, transport: StreamTransport, expiresSec: number): void {
    // A copy: a key sliced out of the REGISTER text would keep the whole message alive.
    const key = Buffer.from(contactKey(contactUri), 'utf8').toString('utf8');
    this.drop(key);
    if (expiresSec <= 0) return;
    if (this.byContact.size >= this.maxEntries) this.sweep();
    this.byContact.set(key, { flowId, transport, expiresAt: this.now() + expiresSec * 1000 });
    const keys = this.byFlow.get(flowId) ?? new Set<string>();
    keys.add(key);
    this.byFlow.set(flowId, keys);
  }

  flowFor(uri: string): { flowId: string; transport: StreamTransport } | undefined {
    const key = contactKey(uri);
    const entry = this.byContact.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.drop(key);
      return undefined;
    }
    return entry;
  }

  isPinned(flowId: string): boolean {
    for (const key of this.byFlow.get(flowId) ?? []) if (this.flowFor(key)?.flowId === flowId) return true;
    return false;
  }

  forgetFlow(flowId: string): void {
    for (const key of [...(this.byFlow.get(flowId) ?? [])]) this.drop(key);
    this.byFlow.delete(flowId);
  }

  private drop(key: string): void {
    const entry = this.byContact.get(key);
    if (!entry) return;
    this.byContact.delete(key);
    const keys = this.byFlow.get(entry.flowId);
    keys?.delete(key);
    if (keys && keys.size === 0) this.byFlow.delete(entry.flowId);
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.byContact) if (e.expiresAt <= t) this.drop(k);
    if (this.byContact.size >= this.maxEntries) {
      const first = this.byContact.keys().next().value;
      if (first !== undefined) this.drop(first);
    }
  }
}

/** user@host:port, ignoring scheme case, parameters and headers (how drachtio keys them too). */
export function contactKey(uri: string): string {
  let s = uri.trim().replace(/^<|>$/g, '');
  s = s.replace(/^sips?:/i, '');
  const cut = s.search(/[;?]/);
  if (cut >= 0) s = s.slice(0, cut);
  return s.toLowerCase();
}

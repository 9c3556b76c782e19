/**
 * Contact URI -> TCP flow, for contacts the app accepted with a 2xx to REGISTER.
 * drachtio-server does the same for B2BUA-style registrars: requests the app later sends to
 * that contact reuse the connection the REGISTER arrived on (the device has no listener).
 */
export class RegisteredFlows {
  private readonly byContact = new Map<string, { flowId: string; expiresAt: number }>();

  constructor(private readonly maxEntries = 100_000, private readonly now: () => number = Date.now) {}

  remember(contactUri: string, flowId: string, expiresSec: number): void {
    const key = contactKey(contactUri);
    if (expiresSec <= 0) {
      this.byContact.delete(key);
      return;
    }
    if (!this.byContact.has(key) && this.byContact.size >= this.maxEntries) this.sweep();
    this.byContact.set(key, { flowId, expiresAt: this.now() + expiresSec * 1000 });
  }

  flowFor(uri: string): string | undefined {
    const key = contactKey(uri);
    const entry = this.byContact.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.byContact.delete(key);
      return undefined;
    }
    return entry.flowId;
  }

  isPinned(flowId: string): boolean {
    const t = this.now();
    for (const e of this.byContact.values()) if (e.flowId === flowId && e.expiresAt > t) return true;
    return false;
  }

  forgetFlow(flowId: string): void {
    for (const [k, e] of this.byContact) if (e.flowId === flowId) this.byContact.delete(k);
  }

  private sweep(): void {
    const t = this.now();
    for (const [k, e] of this.byContact) if (e.expiresAt <= t) this.byContact.delete(k);
    if (this.byContact.size >= this.maxEntries) {
      const first = this.byContact.keys().next().value;
      if (first !== undefined) this.byContact.delete(first);
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

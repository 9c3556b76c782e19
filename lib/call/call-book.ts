/**
 * The calls pushwake is handling right now, by Call-ID and by AOR. Bounded: `isFull()` makes the
 * intake answer 503 rather than park without limit.
 */
import type { Binding } from '../domain/binding.js';
import type { IncomingCall } from './incoming-call.js';

export class CallBook {
  private readonly byCallId = new Map<string, IncomingCall>();
  /** One call, or a Set when a user has several at once (rare: a Set per call costs heap). */
  private readonly byAor = new Map<string, IncomingCall | Set<IncomingCall>>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.byCallId.size;
  }

  /** How many AORs have calls (tests check nothing is left behind). */
  get aorCount(): number {
    return this.byAor.size;
  }

  isFull(): boolean {
    return this.byCallId.size >= this.capacity;
  }

  has(callId: string): boolean {
    return this.byCallId.has(callId);
  }

  get(callId: string): IncomingCall | undefined {
    return this.byCallId.get(callId);
  }

  add(call: IncomingCall): void {
    this.byCallId.set(call.identity.callId, call);
    const aor = call.identity.aor;
    const held = this.byAor.get(aor);
    if (held === undefined) this.byAor.set(aor, call);
    else if (held instanceof Set) held.add(call);
    else if (held !== call) this.byAor.set(aor, new Set([held, call]));
  }

  remove(call: IncomingCall): void {
    if (this.byCallId.get(call.identity.callId) === call) this.byCallId.delete(call.identity.callId);
    const aor = call.identity.aor;
    const held = this.byAor.get(aor);
    if (held === call) this.byAor.delete(aor);
    else if (held instanceof Set) {
      held.delete(call);
      if (held.size === 1) this.byAor.set(aor, [...held][0] as IncomingCall);
      else if (held.size === 0) this.byAor.delete(aor);
    }
  }

  private callsOf(aor: string): IncomingCall[] {
    const held = this.byAor.get(aor);
    return held === undefined ? [] : held instanceof Set ? [...held] : [held];
  }

  /** Offer a fresh registration to the user's calls; true when one of them took the device. */
  deviceRegistered(binding: Binding, pushHint?: string): boolean {
    let taken = false;
    for (const call of this.callsOf(binding.aor)) {
      if (call.deviceRegistered(binding, pushHint)) taken = true;
    }
    return taken;
  }

  abortAll(): void {
    for (const call of [...this.byCallId.values()]) call.abort();
  }
}

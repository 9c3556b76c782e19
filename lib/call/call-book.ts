/**
 * The calls pushwake is handling right now, by Call-ID and by AOR. Bounded: `isFull()` makes the
 * intake answer 503 rather than park without limit.
 */
import type { Binding } from '../domain/binding.js';
import type { IncomingCall } from './incoming-call.js';

export class CallBook {
  private readonly byCallId = new Map<string, IncomingCall>();
  private readonly byAor = new Map<string, Set<IncomingCall>>();

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

  add(call: IncomingCall): void {
    this.byCallId.set(call.identity.callId, call);
    let set = this.byAor.get(call.identity.aor);
    if (!set) this.byAor.set(call.identity.aor, (set = new Set()));
    set.add(call);
  }

  remove(call: IncomingCall): void {
    if (this.byCallId.get(call.identity.callId) === call) this.byCallId.delete(call.identity.callId);
    const set = this.byAor.get(call.identity.aor);
    set?.delete(call);
    if (set?.size === 0) this.byAor.delete(call.identity.aor);
  }

  /** Offer a fresh registration to the user's calls; true when one of them took the device. */
  deviceRegistered(binding: Binding, pushHint?: string): boolean {
    let taken = false;
    for (const call of [...(this.byAor.get(binding.aor) ?? [])]) {
      if (call.deviceRegistered(binding, pushHint)) taken = true;
    }
    return taken;
  }

  abortAll(): void {
    for (const call of [...this.byCallId.values()]) call.abort();
  }
}

/**
 * The calls pushwake is handling right now, by INVITE key (Call-ID and Request-URI user) and by AOR. Bounded: `isFull()` makes the
 * intake answer 503 rather than park without limit.
 */
import type { Binding } from '../domain/binding.js';
import type { IncomingCall } from './incoming-call.js';

export class CallBook {
  private readonly byInviteKey = new Map<string, IncomingCall>();
  /** One call, or a Set when a user has several at once (rare: a Set per call costs heap). */
  private readonly byAor = new Map<string, IncomingCall | Set<IncomingCall>>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.byInviteKey.size;
  }

  /** How many AORs have calls (tests check nothing is left behind). */
  get aorCount(): number {
    return this.byAor.size;
  }

  isFull(): boolean {
    return this.byInviteKey.size >= this.capacity;
  }

  has(inviteKey: string): boolean {
    return this.byInviteKey.has(inviteKey);
  }

  get(inviteKey: string): IncomingCall | undefined {
    return this.byInviteKey.get(inviteKey);
  }

  add(call: IncomingCall): void {
    this.byInviteKey.set(call.identity.inviteKey, call);
    const aor = call.identity.aor;
    const held = this.byAor.get(aor);
    if (held === undefined) this.byAor.set(aor, call);
    else if (held instanceof Set) held.add(call);
    else if (held !== call) this.byAor.set(aor, new Set([held, call]));
  }

  remove(call: IncomingCall): void {
    if (this.byInviteKey.get(call.identity.inviteKey) === call) this.byInviteKey.delete(call.identity.inviteKey);
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

  /** Every call held now, oldest first (operators' listing). */
  list(): IncomingCall[] {
    return [...this.byInviteKey.values()];
  }

  abortAll(): void {
    for (const call of [...this.byInviteKey.values()]) call.abort();
  }
}

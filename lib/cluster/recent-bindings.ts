/**
 * The bindings of the phones that registered at this node, kept in memory for the time Redis is
 * away: a call for a phone whose flow this node holds can still ring it (no push: a push needs the
 * cluster-wide claim in Redis). Bounded: past MAX_RECENT the oldest registration is forgotten.
 * Entries are served only while the phone's own registration lives.
 */
import { trimOldest } from '../bounded-map.js';
import { isStoreUnavailable } from '../store/guarded-store.js';
import type { Binding } from '../domain/binding.js';
import type { BindingStore } from '../store/binding-store.js';
import { DelegatingStore } from '../store/delegating-store.js';

/** About 1 KB each: 50,000 bindings are some 50 MB at most. */
export const MAX_RECENT = 50_000;

export class RecentBindings {
  /** `aor \n deviceKey` -> binding, oldest registration first. */
  private readonly byKey = new Map<string, Binding>();

  constructor(private readonly max = MAX_RECENT, private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.byKey.size;
  }

  registered(b: Binding): void {
    const key = `${b.aor}\n${b.deviceKey}`;
    this.byKey.delete(key);
    this.byKey.set(key, b);
    trimOldest(this.byKey, this.max);
  }

  unregistered(aor: string, deviceKey?: string): void {
    if (deviceKey !== undefined) {
      this.byKey.delete(`${aor}\n${deviceKey}`);
      return;
    }
    for (const [key, b] of this.byKey) if (b.aor === aor) this.byKey.delete(key);
  }

  /** Live bindings of an AOR (a scan: only used while Redis is away). */
  ofAor(aor: string): Binding[] {
    const now = this.now();
    return [...this.byKey.values()].filter((b) => b.aor === aor && b.deviceExpiresAt > now);
  }

  byLocalContact(user: string): Binding | undefined {
    const now = this.now();
    return [...this.byKey.values()].find((b) => b.localContactUser === user && b.deviceExpiresAt > now);
  }
}

/**
 * The store as the call intake of a cluster node sees it while Redis is away: look-ups fall back
 * to this node's recent registrations (`onFallback` is told, for a throttled log line). Anything
 * else, and a look-up that finds nothing here, fails as the store failed (503 to the PBX).
 */
export class StoreWithRecent extends DelegatingStore {
  constructor(inner: BindingStore, private readonly recent: RecentBindings, private readonly onFallback: () => void) {
    super(inner);
  }

  override async listBindings(aor: string): Promise<Binding[]> {
    try {
      return await this.inner.listBindings(aor);
    } catch (err) {
      const found = isStoreUnavailable(err) ? this.recent.ofAor(aor) : [];
      if (found.length === 0) throw err;
      this.onFallback();
      return found;
    }
  }

  override async findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    try {
      return await this.inner.findByLocalContact(localContactUser);
    } catch (err) {
      const found = isStoreUnavailable(err) ? this.recent.byLocalContact(localContactUser) : undefined;
      if (!found) throw err;
      this.onFallback();
      return found;
    }
  }
}

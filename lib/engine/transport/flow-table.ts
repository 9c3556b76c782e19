import type { StreamFlow } from './stream-flow.js';
import type { Peer } from './types.js';

/** How many of the least recently used flows one eviction looks at before giving up. */
const EVICTION_SCAN = 256;

function peerKey(p: Peer): string {
  return `${p.transport}|${p.address}|${p.port}`;
}

/**
 * Every open TCP/TLS flow, in least-recently-used order, with the connection bound. Reaching the
 * bound is handled, never thrown: the idlest flow that no registration pins makes room, and when
 * every flow is pinned the caller refuses the new connection.
 */
export class FlowTable {
  /** insertion order is recency: the first entry is the least recently active flow */
  private readonly flows = new Map<string, StreamFlow>();
  private readonly byPeer = new Map<string, string>();

  constructor(readonly max: number, private readonly isPinned: (flowId: string) => boolean) {}

  get size(): number {
    return this.flows.size;
  }

  get(id: string | undefined): StreamFlow | undefined {
    return id ? this.flows.get(id) : undefined;
  }

  toPeer(peer: Peer): StreamFlow | undefined {
    const id = this.byPeer.get(peerKey(peer));
    return id ? this.flows.get(id) : undefined;
  }

  /** Open flows by transport (a scan: for metrics at scrape time). */
  countByTransport(): Record<string, number> {
    const out: Record<string, number> = { tcp: 0, tls: 0 };
    for (const f of this.flows.values()) out[f.transport] = (out[f.transport] ?? 0) + 1;
    return out;
  }

  get isFull(): boolean {
    return this.flows.size >= this.max;
  }

  add(flow: StreamFlow): void {
    this.flows.set(flow.id, flow);
    this.byPeer.set(peerKey(flow.remote), flow.id);
  }

  touched(flow: StreamFlow): void {
    if (!this.flows.delete(flow.id)) return;
    this.flows.set(flow.id, flow);
  }

  remove(flow: StreamFlow): void {
    this.flows.delete(flow.id);
    const key = peerKey(flow.remote);
    if (this.byPeer.get(key) === flow.id) this.byPeer.delete(key);
  }

  /** Closes the least recently active unpinned flow; false when none was found to close. */
  evictIdlest(reason: string): boolean {
    const pinned: StreamFlow[] = [];
    let victim: StreamFlow | undefined;
    let looked = 0;
    for (const flow of this.flows.values()) {
      if (++looked > EVICTION_SCAN) break;
      if (this.isPinned(flow.id)) pinned.push(flow);
      else { victim = flow; break; }
    }
    // pinned flows move to the back, so the next eviction does not walk them again
    for (const f of pinned) this.touched(f);
    if (!victim) return false;
    victim.close(reason);
    return true;
  }

  all(): StreamFlow[] {
    return [...this.flows.values()];
  }
}

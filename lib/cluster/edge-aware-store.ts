/**
 * The store as a cluster node's call intake sees it: a binding whose flow is held by a node that
 * is gone (no presence within cluster.nodeTimeoutSeconds) is not awake, since its connection died
 * with that node. Such a phone is pushed, and rung where its fresh REGISTER lands.
 */
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { BindingStore } from '../store/binding-store.js';

export class EdgeAwareStore implements BindingStore {
  constructor(private readonly inner: BindingStore, private readonly isAlive: (nodeId: string) => boolean) {}

  private view(b: Binding): Binding {
    return b.edge && !this.isAlive(b.edge.nodeId) ? { ...b, deviceExpiresAt: 0 } : b;
  }

  async getBinding(aor: string, deviceKey: string): Promise<Binding | undefined> {
    const b = await this.inner.getBinding(aor, deviceKey);
    return b && this.view(b);
  }

  async listBindings(aor: string): Promise<Binding[]> {
    return (await this.inner.listBindings(aor)).map((b) => this.view(b));
  }

  async findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    const b = await this.inner.findByLocalContact(localContactUser);
    return b && this.view(b);
  }

  putBinding(binding: Binding): Promise<void> {
    return this.inner.putBinding(binding);
  }

  removeBinding(aor: string, deviceKey: string): Promise<boolean> {
    return this.inner.removeBinding(aor, deviceKey);
  }

  clearPushToken(aor: string, deviceKey: string, token: string): Promise<boolean> {
    return this.inner.clearPushToken(aor, deviceKey, token);
  }

  claimPush(callId: string, deviceKey: string, ttlMs: number): Promise<boolean> {
    return this.inner.claimPush(callId, deviceKey, ttlMs);
  }

  addEndedNotice(notice: EndedNotice): Promise<void> {
    return this.inner.addEndedNotice(notice);
  }

  takeEndedNotices(aor: string, deviceKey: string): Promise<EndedNotice[]> {
    return this.inner.takeEndedNotices(aor, deviceKey);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

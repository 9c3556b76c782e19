/**
 * The store as a cluster node's call intake sees it: a binding whose flow is held by a node that
 * is gone (no presence within cluster.nodeTimeoutSeconds) is not awake, since its connection died
 * with that node. Such a phone is pushed, and rung where its fresh REGISTER lands.
 */
import type { Binding } from '../domain/binding.js';
import type { BindingStore } from '../store/binding-store.js';
import { DelegatingStore } from '../store/delegating-store.js';

export class EdgeAwareStore extends DelegatingStore {
  constructor(inner: BindingStore, private readonly isAlive: (nodeId: string) => boolean) {
    super(inner);
  }

  private view(b: Binding): Binding {
    return b.edge && !this.isAlive(b.edge.nodeId) ? { ...b, deviceExpiresAt: 0 } : b;
  }

  override async getBinding(aor: string, deviceKey: string): Promise<Binding | undefined> {
    const b = await this.inner.getBinding(aor, deviceKey);
    return b && this.view(b);
  }

  override async listBindings(aor: string): Promise<Binding[]> {
    return (await this.inner.listBindings(aor)).map((b) => this.view(b));
  }

  override async findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    const b = await this.inner.findByLocalContact(localContactUser);
    return b && this.view(b);
  }
}

/** A BindingStore that hands every call to another; subclasses change the few they see differently. */
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { BindingStore } from './binding-store.js';

export class DelegatingStore implements BindingStore {
  constructor(protected readonly inner: BindingStore) {}

  getBinding(aor: string, deviceKey: string): Promise<Binding | undefined> {
    return this.inner.getBinding(aor, deviceKey);
  }

  listBindings(aor: string): Promise<Binding[]> {
    return this.inner.listBindings(aor);
  }

  findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    return this.inner.findByLocalContact(localContactUser);
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

  scanBindings(limit: number): Promise<Binding[]> {
    return this.inner.scanBindings(limit);
  }

  countBindings(): Promise<number> {
    return this.inner.countBindings();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

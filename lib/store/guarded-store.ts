/**
 * What the SIP side sees of the store: every failure of the store underneath (Redis gone, a
 * LevelDB I/O error) comes out as a StoreUnavailableError with a stable code, so the REGISTER
 * relay and the call intake answer `503` with `Retry-After` and a log line, never a 500 or a
 * crash. The store's own outcomes (StoreConflictError, CorruptRecordError) pass through.
 */
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { BindingStore } from './binding-store.js';

export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(readonly operation: string, cause: unknown) {
    super(`the binding store failed during ${operation}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export const isStoreUnavailable = (err: unknown): err is StoreUnavailableError =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'STORE_UNAVAILABLE';

/** Codes the stores use for their own, deliberate outcomes. */
const OWN_CODES = new Set(['STORE_CONFLICT', 'STORE_CORRUPT_RECORD', 'STORE_UNAVAILABLE']);

export class GuardedStore implements BindingStore {
  constructor(private readonly inner: BindingStore) {}

  putBinding(binding: Binding): Promise<void> {
    return this.guard('putBinding', () => this.inner.putBinding(binding));
  }
  getBinding(aor: string, deviceKey: string): Promise<Binding | undefined> {
    return this.guard('getBinding', () => this.inner.getBinding(aor, deviceKey));
  }
  listBindings(aor: string): Promise<Binding[]> {
    return this.guard('listBindings', () => this.inner.listBindings(aor));
  }
  findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    return this.guard('findByLocalContact', () => this.inner.findByLocalContact(localContactUser));
  }
  removeBinding(aor: string, deviceKey: string): Promise<boolean> {
    return this.guard('removeBinding', () => this.inner.removeBinding(aor, deviceKey));
  }
  clearPushToken(aor: string, deviceKey: string, token: string): Promise<boolean> {
    return this.guard('clearPushToken', () => this.inner.clearPushToken(aor, deviceKey, token));
  }
  claimPush(callId: string, deviceKey: string, ttlMs: number): Promise<boolean> {
    return this.guard('claimPush', () => this.inner.claimPush(callId, deviceKey, ttlMs));
  }
  addEndedNotice(notice: EndedNotice): Promise<void> {
    return this.guard('addEndedNotice', () => this.inner.addEndedNotice(notice));
  }
  takeEndedNotices(aor: string, deviceKey: string): Promise<EndedNotice[]> {
    return this.guard('takeEndedNotices', () => this.inner.takeEndedNotices(aor, deviceKey));
  }
  scanBindings(limit: number): Promise<Binding[]> {
    return this.guard('scanBindings', () => this.inner.scanBindings(limit));
  }
  countBindings(): Promise<number> {
    return this.guard('countBindings', () => this.inner.countBindings());
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private async guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && OWN_CODES.has(code)) throw err;
      throw new StoreUnavailableError(operation, err);
    }
  }
}

/** The SIP answer to a request the store failed: 503, come back later (RFC 3261 21.5.4). Pure. */
export function storeUnavailableAnswer(retryAfterSeconds: number): { status: number; reason: string; headers: Record<string, string> } {
  return {
    status: 503,
    reason: 'Service Unavailable',
    headers: { 'Retry-After': String(retryAfterSeconds), Warning: '399 pushwake "binding store unavailable"' },
  };
}

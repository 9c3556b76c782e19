import type { Binding, EndedNotice } from '../domain/binding.js';

/**
 * Where bindings and owed ended notices live. Two implementations share one contract test:
 * an embedded one that survives restarts (the default) and Redis (for several instances).
 *
 * Every record carries its own expiry; implementations never return an expired record and
 * drop it from storage (Redis TTLs, or a sweep for the embedded store).
 */
export interface BindingStore {
  /** Insert or replace the binding for (aor, deviceKey). Expires at `upstreamExpiresAt`. */
  putBinding(binding: Binding): Promise<void>;
  getBinding(aor: string, deviceKey: string): Promise<Binding | undefined>;
  /** All live bindings of an AOR, in no particular order. */
  listBindings(aor: string): Promise<Binding[]>;
  /** The live binding whose `localContactUser` is this value. */
  findByLocalContact(localContactUser: string): Promise<Binding | undefined>;
  /** Remove one binding and its index entries. Resolves true when something was removed. */
  removeBinding(aor: string, deviceKey: string): Promise<boolean>;
  /**
   * Drop the push token of a binding (APNs said it is dead), keeping the rest. Only when the
   * stored token is still `token`, so a fresh token registered meanwhile is not lost.
   */
  clearPushToken(aor: string, deviceKey: string, token: string): Promise<boolean>;

  /**
   * Claim the right to push (callId, deviceKey) once. Resolves true for the first claim only,
   * for `ttlMs`. This is what makes "never more than one push per device per call" hold even
   * when the PBX re-sends the INVITE, and across instances sharing Redis.
   */
  claimPush(callId: string, deviceKey: string, ttlMs: number): Promise<boolean>;

  /** Owe an ended notice to a device; kept until `notice.expiresAt`. */
  addEndedNotice(notice: EndedNotice): Promise<void>;
  /** Take (and delete) every live notice owed to a device. */
  takeEndedNotices(aor: string, deviceKey: string): Promise<EndedNotice[]>;

  /**
   * For operators, never on the call path: live bindings in no particular order, at most
   * `limit` of them, and how many live bindings there are (both read the whole store).
   */
  scanBindings(limit: number): Promise<Binding[]>;
  countBindings(): Promise<number>;

  close(): Promise<void>;
}

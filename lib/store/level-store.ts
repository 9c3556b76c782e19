import { mkdir } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { BindingStore } from './binding-store.js';
import { KeyedSerialiser } from './keyed-serialiser.js';
import { keyPart } from './key-part.js';
import { bindingKey, bindingPrefix, claimKey, EXPIRY_KEY_HEAD, expiryKey, expiryStamp, localKey, lockKeyOf, noticePrefix, prefixRange, type BatchOp } from './level-keys.js';
import { parseBinding, parseEndedNotice, parsePushClaim, withoutPush } from './stored-record.js';

/**
 * The embedded store: LevelDB in a local directory, so bindings survive a restart of pushwake.
 * Losing them would leave every sleeping phone unreachable until it re-registers by itself.
 *
 * Keys are laid out in `level-keys.ts`.
 * Every change touching more than one key is one batch, so a crash never splits a record from
 * its index entries.
 */

export interface LevelBindingStoreOptions {
  /** Directory of the database; created (with parents) if missing. */
  path: string;
  /** How often expired records are deleted from disk. Default 60 s: reads already hide them. */
  sweepIntervalMs?: number;
  /** Clock for every expiry decision. Default `Date.now`; tests pass a manual clock. */
  now?: () => number;
  /** Told about a record that could not be parsed; the record has been skipped and deleted. */
  onCorruptRecord?: (key: string, err: Error) => void;
  /** Told when a periodic sweep fails; the next interval tries again. */
  onSweepError?: (err: Error) => void;
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** Expiry index entries read per pass, so a long backlog does not sit in memory at once. */
const SWEEP_CHUNK = 500;
/** Push claims live ~10 minutes; this bounds memory even at thousands of calls per second. */
const MAX_CLAIMS_IN_MEMORY = 1_000_000;

export class LevelBindingStore implements BindingStore {
  readonly #db: ClassicLevel<string, string>;
  readonly #now: () => number;
  readonly #onCorruptRecord: ((key: string, err: Error) => void) | undefined;
  readonly #onSweepError: ((err: Error) => void) | undefined;
  readonly #locks = new KeyedSerialiser();
  /** Live push claims by key (see claimPush), oldest first. */
  readonly #claims = new Map<string, number>();
  /** Claim writes still on their way to disk; the sweep waits for them. */
  readonly #claimWrites = new Set<Promise<void>>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
  /**
   * The devices (notice prefixes) that may have ended-call notices on disk. Every registration
   * asks for its device's notices, and almost none has any: this answers those from memory
   * instead of an iterator on disk. Loaded at open; an entry goes when its notices are taken or
   * the sweep removed the last of them, so it holds at most one string per device owed a notice
   * (as bounded as the notices on disk).
   */
  readonly #owedNotices = new Set<string>();
  /** Changes written this turn, and who waits for them (see #write). */
  #queuedOps: BatchOp[] = [];
  #queuedWaiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  private constructor(db: ClassicLevel<string, string>, options: LevelBindingStoreOptions) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#onCorruptRecord = options.onCorruptRecord;
    this.#onSweepError = options.onSweepError;
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.#sweepTimer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.#onSweepError?.(asError(err)));
    }, interval);
    // The sweep is housekeeping: it must never be what keeps the process alive.
    this.#sweepTimer.unref();
  }

  static async open(options: LevelBindingStoreOptions): Promise<LevelBindingStore> {
    await mkdir(options.path, { recursive: true });
    const db = new ClassicLevel<string, string>(options.path, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    const store = new LevelBindingStore(db, options);
    await store.#loadClaims();
    await store.#loadOwedNotices();
    return store;
  }

  putBinding(binding: Binding): Promise<void> {
    const key = bindingKey(binding.aor, binding.deviceKey);
    return this.#locks.run(key, async () => {
      const ops = await this.#unlinkBinding(key);
      if (binding.upstreamExpiresAt > this.#now()) {
        // Ops run in order, so re-putting a local index entry removed just above keeps it.
        ops.push(
          { type: 'put', key, value: JSON.stringify(binding) },
          { type: 'put', key: expiryKey(binding.upstreamExpiresAt, key), value: '' },
          { type: 'put', key: localKey(binding.localContactUser), value: key },
          { type: 'put', key: expiryKey(binding.upstreamExpiresAt, localKey(binding.localContactUser)), value: '' },
        );
      }
      await this.#write(ops);
    });
  }

  async getBinding(aor: string, deviceKey: string): Promise<Binding | undefined> {
    return this.#readLive(bindingKey(aor, deviceKey));
  }

  async listBindings(aor: string): Promise<Binding[]> {
    const now = this.#now();
    const live: Binding[] = [];
    const corrupt: Array<[string, string, Error]> = [];
    // One read for the whole range: an async iterator costs a threadpool round trip per step.
    for (const [key, raw] of await this.#db.iterator(prefixRange(bindingPrefix(aor))).all()) {
      try {
        const binding = parseBinding(raw);
        if (binding.upstreamExpiresAt > now) live.push(binding);
      } catch (err) {
        corrupt.push([key, raw, asError(err)]);
      }
    }
    for (const [key, raw, err] of corrupt) await this.#discardCorrupt(key, raw, err);
    return live;
  }

  async findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    const key = this.#read(localKey(localContactUser));
    if (key === undefined) return undefined;
    const binding = await this.#readLive(key);
    // The index is written with its binding, but checking the owner costs nothing.
    return binding?.localContactUser === localContactUser ? binding : undefined;
  }

  removeBinding(aor: string, deviceKey: string): Promise<boolean> {
    const key = bindingKey(aor, deviceKey);
    return this.#locks.run(key, async () => {
      const raw = this.#read(key);
      const wasLive = raw !== undefined && this.#isLiveBinding(key, raw);
      await this.#write(await this.#unlinkBinding(key, raw));
      return wasLive;
    });
  }

  clearPushToken(aor: string, deviceKey: string, token: string): Promise<boolean> {
    const key = bindingKey(aor, deviceKey);
    return this.#locks.run(key, async () => {
      const binding = await this.#readLive(key, { locked: true });
      if (binding?.push?.token !== token) return false;
      // Same expiry, same local contact user: the index entries stay valid as they are.
      await this.#write([{ type: 'put', key, value: JSON.stringify(withoutPush(binding)) }]);
      return true;
    });
  }

  /**
   * Claims are decided in memory: LevelDB allows one process per directory, so this process sees
   * every claim, and a push is on the wake path where two disk round trips cost too much. They
   * are written behind to disk and loaded back at open, so a restart still refuses a second
   * push for the same call.
   */
  claimPush(callId: string, deviceKey: string, ttlMs: number): Promise<boolean> {
    const key = claimKey(callId, deviceKey);
    const now = this.#now();
    const held = this.#claims.get(key);
    if (held !== undefined && held > now) return Promise.resolve(false);
    const expiresAt = now + Math.max(1, ttlMs);
    this.#claims.set(key, expiresAt);
    this.#pruneClaims(now);
    const ops: BatchOp[] = [];
    if (held !== undefined) ops.push({ type: 'del', key: expiryKey(held, key) });
    ops.push(
      { type: 'put', key, value: JSON.stringify({ expiresAt }) },
      { type: 'put', key: expiryKey(expiresAt, key), value: '' },
    );
    const write = this.#locks
      .run(key, () => this.#write(ops))
      .catch((err: unknown) => this.#onSweepError?.(asError(err)))
      .finally(() => this.#claimWrites.delete(write));
    this.#claimWrites.add(write);
    return Promise.resolve(true);
  }

  /** Keeps the in-memory claims bounded: expired ones go, and past the cap the oldest. */
  #pruneClaims(now: number): void {
    if (this.#claims.size <= MAX_CLAIMS_IN_MEMORY) return;
    for (const [key, expiresAt] of this.#claims) {
      if (expiresAt <= now || this.#claims.size > MAX_CLAIMS_IN_MEMORY) this.#claims.delete(key);
      else break;
    }
  }

  async #loadClaims(): Promise<void> {
    const now = this.#now();
    for await (const [key, raw] of this.#db.iterator(prefixRange('c:'))) {
      const claim = this.#decode(key, raw, parsePushClaim);
      if (claim !== undefined && claim.expiresAt > now) this.#claims.set(key, claim.expiresAt);
    }
  }

  async #loadOwedNotices(): Promise<void> {
    for await (const key of this.#db.keys(prefixRange('n:'))) {
      const end = key.lastIndexOf(':');
      this.#owedNotices.add(key.slice(0, end + 1));
    }
  }

  addEndedNotice(notice: EndedNotice): Promise<void> {
    const prefix = noticePrefix(notice.aor, notice.deviceKey);
    const key = prefix + keyPart(notice.callId);
    // marked now, so a take called from here on waits for this write, and again once written,
    // since a take that ran in between unmarked the device
    this.#owedNotices.add(prefix);
    return this.#locks.run(prefix, async () => {
      const ops: BatchOp[] = [{ type: 'del', key }];
      const raw = this.#read(key);
      const previous = raw === undefined ? undefined : this.#decode(key, raw, parseEndedNotice);
      if (previous !== undefined) ops.push({ type: 'del', key: expiryKey(previous.expiresAt, key) });
      if (notice.expiresAt > this.#now()) {
        ops.push(
          { type: 'put', key, value: JSON.stringify(notice) },
          { type: 'put', key: expiryKey(notice.expiresAt, key), value: '' },
        );
      }
      await this.#write(ops);
      this.#owedNotices.add(prefix);
    });
  }

  takeEndedNotices(aor: string, deviceKey: string): Promise<EndedNotice[]> {
    const prefix = noticePrefix(aor, deviceKey);
    if (!this.#owedNotices.has(prefix)) return Promise.resolve([]);
    return this.#locks.run(prefix, async () => {
      this.#owedNotices.delete(prefix);
      const now = this.#now();
      const live: EndedNotice[] = [];
      const ops: BatchOp[] = [];
      for await (const [key, raw] of this.#db.iterator(prefixRange(prefix))) {
        ops.push({ type: 'del', key });
        const notice = this.#decode(key, raw, parseEndedNotice);
        if (notice === undefined) continue;
        ops.push({ type: 'del', key: expiryKey(notice.expiresAt, key) });
        if (notice.expiresAt > now) live.push(notice);
      }
      if (ops.length > 0) await this.#write(ops);
      return live;
    });
  }

  /**
   * Delete every record that has expired, with its index entries. Runs on the timer; callable
   * directly (tests, shutdown tooling). Resolves with the number of records deleted.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepExpired().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async scanBindings(limit: number): Promise<Binding[]> {
    const now = this.#now();
    const out: Binding[] = [];
    for await (const [, raw] of this.#db.iterator(prefixRange('b:'))) {
      if (out.length >= limit) break;
      try {
        const b = parseBinding(raw);
        if (b.upstreamExpiresAt > now) out.push(b);
      } catch {
        // a corrupt record is reported and dropped by the call path's reads
      }
    }
    return out;
  }

  async countBindings(): Promise<number> {
    return (await this.scanBindings(Number.MAX_SAFE_INTEGER)).length;
  }

  /** Every key on disk, records and index entries alike; for metrics and tests. */
  async countKeys(): Promise<number> {
    let count = 0;
    for await (const _key of this.#db.keys()) count += 1;
    return count;
  }

  /** Devices marked as maybe owed ended-call notices (the in-memory set's size, for tests). */
  get devicesOwedNotices(): number {
    return this.#owedNotices.size;
  }

  /** Records with queued read-modify-write work; zero when the store is idle. */
  get pendingKeyCount(): number {
    return this.#locks.pendingKeys;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    await this.#sweeping?.catch(() => undefined);
    await this.#locks.drain();
    await this.#db.close();
  }

  async #sweepExpired(): Promise<number> {
    await Promise.all([...this.#claimWrites]);
    const at = this.#now();
    for (const [key, expiresAt] of this.#claims) if (expiresAt <= at) this.#claims.delete(key);
    const now = this.#now();
    const end = `x:${expiryStamp(now + 1)}`;
    let after = 'x:';
    let removed = 0;
    for (;;) {
      const entries = await this.#db.keys({ gt: after, lt: end, limit: SWEEP_CHUNK }).all();
      for (const entry of entries) {
        const key = entry.slice(EXPIRY_KEY_HEAD);
        // An `l:` entry is written under its binding's lock, so it is checked under that lock:
        // a device re-registering while its old binding is swept must keep its entry.
        const lockKey = key.startsWith('l:') ? ((this.#read(key)) ?? key) : lockKeyOf(key);
        if (await this.#locks.run(lockKey, () => this.#expireRecord(entry, key, now))) removed += 1;
      }
      const last = entries.at(-1);
      if (last === undefined || entries.length < SWEEP_CHUNK) return removed;
      after = last;
    }
  }

  /** Deletes `key` if it has expired; always deletes the index entry that pointed here. */
  async #expireRecord(entry: string, key: string, now: number): Promise<boolean> {
    const ops: BatchOp[] = [{ type: 'del', key: entry }];
    const raw = this.#read(key);
    let expired = false;
    if (raw !== undefined && key.startsWith('l:')) {
      expired = !(await this.#ownsLocalEntry(raw, key, now));
      if (expired) ops.push({ type: 'del', key });
    } else if (raw !== undefined) {
      const expiresAt = this.#decode(key, raw, (text) => recordExpiry(key, text));
      // A renewed record has a later index entry of its own; this one is just stale.
      expired = expiresAt === undefined || expiresAt <= now;
      if (expired && expiresAt !== undefined && key.startsWith('b:')) ops.push(...(await this.#unlinkBinding(key, raw)));
      else if (expired) ops.push({ type: 'del', key });
    }
    await this.#write(ops);
    if (expired && key.startsWith('n:')) await this.#forgetNoticesIfNone(lockKeyOf(key));
    return expired;
  }

  /** After a notice expired (under its device's lock): the device is owed nothing if none is left. */
  async #forgetNoticesIfNone(prefix: string): Promise<void> {
    const left = await this.#db.keys({ ...prefixRange(prefix), limit: 1 }).all();
    if (left.length === 0) this.#owedNotices.delete(prefix);
  }

  /**
   * The ops that delete the binding at `key` and its index entries. A damaged record is
   * reported; its local index entry is then unknown and is left to fail the owner check.
   */
  async #unlinkBinding(key: string, raw?: string): Promise<BatchOp[]> {
    const current = raw ?? (this.#read(key));
    if (current === undefined) return [];
    const ops: BatchOp[] = [{ type: 'del', key }];
    const old = this.#decode(key, current, parseBinding);
    if (old === undefined) return ops;
    ops.push({ type: 'del', key: expiryKey(old.upstreamExpiresAt, key) });
    const oldLocal = localKey(old.localContactUser);
    if ((this.#read(oldLocal)) === key) {
      ops.push({ type: 'del', key: oldLocal }, { type: 'del', key: expiryKey(old.upstreamExpiresAt, oldLocal) });
    }
    return ops;
  }

  /**
   * Every change goes through here. What is written within one turn of the event loop leaves as
   * one LevelDB batch, in the order written: one log append and one thread-pool job instead of
   * one per registration. Each change is still all or nothing (a bigger batch is too), and changes
   * to one key are never in one batch together, since a key's next change waits, under its lock,
   * for this one to be on disk. When the batch fails, every change in it is told. The queue holds
   * only what one turn wrote, itself bounded by the requests in flight (engine.maxTransactions).
   */
  #write(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) this.#queuedOps.push(op);
      this.#queuedWaiters.push({ resolve, reject });
      if (this.#queuedWaiters.length === 1) setImmediate(this.#flushWrites);
    });
  }

  readonly #flushWrites = (): void => {
    const ops = this.#queuedOps;
    const waiters = this.#queuedWaiters;
    this.#queuedOps = [];
    this.#queuedWaiters = [];
    this.#db.batch(ops).then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  };

  /**
   * A point read on the event loop's thread. LevelDB answers it from its memtable or block cache
   * (or the OS page cache) in microseconds; the async get costs a round trip through libuv's
   * thread pool, which on the registration path cost more than the read itself.
   */
  #read(key: string): string | undefined {
    return this.#db.getSync(key);
  }

  async #readLive(key: string, opts: { locked?: boolean } = {}): Promise<Binding | undefined> {
    const raw = this.#read(key);
    if (raw === undefined) return undefined;
    let binding: Binding;
    try {
      binding = parseBinding(raw);
    } catch (err) {
      if (opts.locked) this.#onCorruptRecord?.(key, asError(err));
      else await this.#discardCorrupt(key, raw, asError(err));
      return undefined;
    }
    return binding.upstreamExpiresAt > this.#now() ? binding : undefined;
  }

  /**
   * Whether the binding an `l:` entry points at is live and still uses that contact user. An
   * entry left behind by a damaged binding fails this, and the sweep removes it.
   */
  async #ownsLocalEntry(bindingKeyValue: string, local: string, now: number): Promise<boolean> {
    const raw = this.#read(bindingKeyValue);
    if (raw === undefined) return false;
    try {
      const owner = parseBinding(raw);
      return owner.upstreamExpiresAt > now && localKey(owner.localContactUser) === local;
    } catch {
      return false; // reported when the binding itself is read or swept
    }
  }

  #isLiveBinding(key: string, raw: string): boolean {
    const binding = this.#decode(key, raw, parseBinding);
    return binding !== undefined && binding.upstreamExpiresAt > this.#now();
  }

  /** Parses a record; a damaged one is reported and comes back undefined for the caller to delete. */
  #decode<T>(key: string, raw: string, parse: (text: string) => T): T | undefined {
    try {
      return parse(raw);
    } catch (err) {
      this.#onCorruptRecord?.(key, asError(err));
      return undefined;
    }
  }

  /** For readers outside the key's lock: report, then delete only if nobody rewrote it since. */
  async #discardCorrupt(key: string, raw: string, err: Error): Promise<void> {
    this.#onCorruptRecord?.(key, err);
    await this.#locks.run(lockKeyOf(key), async () => {
      if (this.#read(key) === raw) await this.#write([{ type: 'del', key }]);
    });
  }
}

/** When the record at `key` expires, whatever kind it is. Throws on a damaged record. */
function recordExpiry(key: string, raw: string): number {
  if (key.startsWith('b:')) return parseBinding(raw).upstreamExpiresAt;
  if (key.startsWith('n:')) return parseEndedNotice(raw).expiresAt;
  return parsePushClaim(raw).expiresAt;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

import { connectRedis, type RedisTarget } from './redis-connection.js';
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { BindingStore } from './binding-store.js';
import { keyPart } from './key-part.js';
import {
  ADD_NOTICE,
  PRUNE_INDEX_FIELDS,
  PUT_BINDING,
  REMOVE_BINDING,
  REPLACE_KEEPING_TTL,
  TAKE_NOTICES,
  type RedisCommandClient,
} from './redis-scripts.js';
import { parseBinding, parseEndedNotice, withoutPush } from './stored-record.js';

export type { RedisCommandClient } from './redis-scripts.js';

/**
 * The shared store: several pushwake instances on one Redis see the same bindings, and a push
 * claimed by one instance is claimed for all of them.
 *
 * Key layout, under `keyPrefix` (free-form segments go through `keyPart`):
 *   binding:<aor>:<deviceKey>     Binding JSON, PX until upstreamExpiresAt.
 *   aor:<aor>                     hash keyPart(deviceKey) → upstreamExpiresAt; the AOR index.
 *                                 Redis before 7.4 cannot expire hash fields, so stale fields are
 *                                 pruned on read and the key lives as long as its longest member.
 *   local:<localContactUser>      JSON [aor, deviceKey], PX like its binding.
 *   claim:<callId>:<deviceKey>    SET NX PX: the first claim wins until it expires.
 *   notices:<aor>:<deviceKey>     hash keyPart(callId) → EndedNotice JSON; taken whole.
 * TTLs are computed as `expiresAt - now()`, so Redis expiry follows the same clock as reads.
 */

export interface RedisBindingStoreOptions {
  /** `redis://host:port/db`. The store creates, connects and, on close, closes this client. */
  url?: string;
  /** Follow the master Redis Sentinel names instead (`url` then only gives credentials). */
  sentinel?: { sentinels: Array<{ host: string; port: number }>; masterName: string };
  /** An already connected client, shared with the app; close() leaves it open. */
  client?: RedisCommandClient;
  /** Prepended to every key, so instances of other apps (or tests) can share a Redis. */
  keyPrefix?: string;
  /** Clock for every expiry decision. Default `Date.now`. */
  now?: () => number;
  /** Told about a record that could not be parsed; the record has been skipped and deleted. */
  onCorruptRecord?: (key: string, err: Error) => void;
  /** Connection errors of a client the store created. Without a listener node-redis would throw. */
  onConnectionError?: (err: Error) => void;
  /** The client the store created is connected and ready (at start and after every reconnect). */
  onReady?: () => void;
}

export const DEFAULT_REDIS_KEY_PREFIX = 'pushwake:';
/** A compare-and-set that keeps losing means something rewrites the key in a loop. */
const MAX_CAS_ATTEMPTS = 10;

export class StoreConflictError extends Error {
  readonly code = 'STORE_CONFLICT';
  constructor(key: string) {
    super(`record ${key} kept changing during ${MAX_CAS_ATTEMPTS} compare-and-set attempts`);
    this.name = 'StoreConflictError';
  }
}

/** The part of a client the store created that only its owner may use: closing it. */
interface OwnedClient {
  readonly isOpen: boolean;
  close(): Promise<unknown>;
}

export class RedisBindingStore implements BindingStore {
  readonly #client: RedisCommandClient;
  readonly #owned: OwnedClient | undefined;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #onCorruptRecord: ((key: string, err: Error) => void) | undefined;

  private constructor(client: RedisCommandClient, owned: OwnedClient | undefined, options: RedisBindingStoreOptions) {
    this.#client = client;
    this.#owned = owned;
    this.#prefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.#now = options.now ?? Date.now;
    this.#onCorruptRecord = options.onCorruptRecord;
  }

  static async connect(options: RedisBindingStoreOptions): Promise<RedisBindingStore> {
    if (options.client !== undefined) return new RedisBindingStore(options.client, undefined, options);
    if (options.url === undefined) throw new TypeError('RedisBindingStore needs a url or a client');
    const target: RedisTarget = options.sentinel
      ? { kind: 'sentinel', sentinels: options.sentinel.sentinels, masterName: options.sentinel.masterName, url: options.url }
      : { kind: 'server', url: options.url };
    const owned = await connectRedis(target, {
      ...(options.onConnectionError ? { onError: options.onConnectionError } : {}),
      ...(options.onReady ? { onReady: options.onReady } : {}),
    });
    return new RedisBindingStore(owned, owned, options);
  }

  async putBinding(binding: Binding): Promise<void> {
    const key = this.#bindingKey(binding.aor, binding.deviceKey);
    await this.#compareAndSet(key, async (current) => {
      const ttl = Math.ceil(binding.upstreamExpiresAt - this.#now());
      // Already dead on arrival: what it replaces is dead too.
      if (ttl <= 0) return this.#remove(key, current);
      const old = current === '' ? undefined : this.#decode(key, current);
      const newLocal = this.#localKey(binding.localContactUser);
      return PUT_BINDING.run(
        this.#client,
        [key, this.#aorKey(binding.aor), newLocal, old === undefined ? newLocal : this.#localKey(old.localContactUser)],
        [current, JSON.stringify(binding), String(ttl), keyPart(binding.deviceKey), String(binding.upstreamExpiresAt), pointer(binding)],
      );
    });
  }

  async getBinding(aor: string, deviceKey: string): Promise<Binding | undefined> {
    const key = this.#bindingKey(aor, deviceKey);
    return this.#live(key, await this.#get(key));
  }

  async listBindings(aor: string): Promise<Binding[]> {
    const indexKey = this.#aorKey(aor);
    const fields = hashEntries(await this.#client.sendCommand(['HGETALL', indexKey]));
    if (fields.length === 0) return [];
    const keys = fields.map(([field]) => `${this.#prefix}binding:${keyPart(aor)}:${field}`);
    const raws = await this.#client.sendCommand(['MGET', ...keys]);
    const now = this.#now();
    const live: Binding[] = [];
    const stale: string[] = [];
    for (const [i, [field, expiresAt]] of fields.entries()) {
      const raw = Array.isArray(raws) ? raws[i] : undefined;
      const binding = typeof raw === 'string' ? await this.#live(keys[i] ?? '', raw) : undefined;
      if (binding !== undefined) live.push(binding);
      else if (typeof raw !== 'string' || Number(expiresAt) <= now) stale.push(field, expiresAt);
    }
    if (stale.length > 0) await PRUNE_INDEX_FIELDS.run(this.#client, [indexKey], stale);
    return live;
  }

  async scanBindings(limit: number): Promise<Binding[]> {
    const out: Binding[] = [];
    await this.#scanBindingKeys(async (keys) => {
      const raws = await this.#client.sendCommand(['MGET', ...keys]);
      for (const [i, raw] of (Array.isArray(raws) ? raws : []).entries()) {
        if (out.length >= limit) return false;
        const b = typeof raw === 'string' ? await this.#live(keys[i] ?? '', raw) : undefined;
        if (b) out.push(b);
      }
      return out.length < limit;
    });
    return out;
  }

  async countBindings(): Promise<number> {
    let count = 0;
    await this.#scanBindingKeys((keys) => {
      count += keys.length;
      return Promise.resolve(true);
    });
    return count;
  }

  /** SCAN the binding keys in batches; `each` says whether to go on. */
  async #scanBindingKeys(each: (keys: string[]) => Promise<boolean>): Promise<void> {
    let cursor = '0';
    do {
      const reply = (await this.#client.sendCommand(['SCAN', cursor, 'MATCH', `${this.#prefix}binding:*`, 'COUNT', '1000'])) as [string, string[]];
      cursor = reply[0];
      if (reply[1].length > 0 && !(await each(reply[1]))) return;
    } while (cursor !== '0');
  }

  async findByLocalContact(localContactUser: string): Promise<Binding | undefined> {
    const target = parsePointer(await this.#get(this.#localKey(localContactUser)));
    if (target === undefined) return undefined;
    const binding = await this.getBinding(target[0], target[1]);
    // The index expires with its binding, but checking the owner costs nothing.
    return binding?.localContactUser === localContactUser ? binding : undefined;
  }

  async removeBinding(aor: string, deviceKey: string): Promise<boolean> {
    const key = this.#bindingKey(aor, deviceKey);
    let wasLive = false;
    await this.#compareAndSet(key, async (current) => {
      wasLive = current !== '' && (await this.#live(key, current, { report: false })) !== undefined;
      return this.#remove(key, current);
    });
    return wasLive;
  }

  async clearPushToken(aor: string, deviceKey: string, token: string): Promise<boolean> {
    const key = this.#bindingKey(aor, deviceKey);
    let cleared = false;
    await this.#compareAndSet(key, async (current) => {
      const binding = await this.#live(key, current);
      cleared = binding?.push?.token === token;
      if (binding === undefined || !cleared) return 1;
      return REPLACE_KEEPING_TTL.run(this.#client, [key], [current, JSON.stringify(withoutPush(binding))]);
    });
    return cleared;
  }

  async claimPush(callId: string, deviceKey: string, ttlMs: number): Promise<boolean> {
    const key = `${this.#prefix}claim:${keyPart(callId)}:${keyPart(deviceKey)}`;
    const px = String(Math.max(1, Math.ceil(ttlMs)));
    return (await this.#client.sendCommand(['SET', key, '1', 'NX', 'PX', px])) === 'OK';
  }

  async addEndedNotice(notice: EndedNotice): Promise<void> {
    const ttl = Math.ceil(notice.expiresAt - this.#now());
    if (ttl <= 0) return;
    const key = this.#noticesKey(notice.aor, notice.deviceKey);
    await ADD_NOTICE.run(this.#client, [key], [keyPart(notice.callId), JSON.stringify(notice), String(ttl)]);
  }

  async takeEndedNotices(aor: string, deviceKey: string): Promise<EndedNotice[]> {
    const key = this.#noticesKey(aor, deviceKey);
    const raws = await TAKE_NOTICES.run(this.#client, [key], []);
    const now = this.#now();
    const live: EndedNotice[] = [];
    for (const raw of Array.isArray(raws) ? raws : []) {
      if (typeof raw !== 'string') continue;
      try {
        const notice = parseEndedNotice(raw);
        if (notice.expiresAt > now) live.push(notice);
      } catch (err) {
        // Already deleted with the rest of the hash.
        this.#onCorruptRecord?.(key, toError(err));
      }
    }
    return live;
  }

  async close(): Promise<void> {
    if (this.#owned?.isOpen) await this.#owned.close();
  }

  #bindingKey(aor: string, deviceKey: string): string {
    return `${this.#prefix}binding:${keyPart(aor)}:${keyPart(deviceKey)}`;
  }
  #aorKey(aor: string): string {
    return `${this.#prefix}aor:${keyPart(aor)}`;
  }
  #localKey(localContactUser: string): string {
    return `${this.#prefix}local:${keyPart(localContactUser)}`;
  }
  #noticesKey(aor: string, deviceKey: string): string {
    return `${this.#prefix}notices:${keyPart(aor)}:${keyPart(deviceKey)}`;
  }

  async #get(key: string): Promise<string> {
    const raw = await this.#client.sendCommand(['GET', key]);
    return typeof raw === 'string' ? raw : '';
  }

  /** Reads `key`, lets `attempt` decide and apply; repeats while the record changed under it. */
  async #compareAndSet(key: string, attempt: (current: string) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < MAX_CAS_ATTEMPTS; i += 1) {
      if (Number(await attempt(await this.#get(key))) === 1) return;
    }
    throw new StoreConflictError(key);
  }

  /** Runs the removal of the binding at `key`, which must still read `current`. */
  #remove(key: string, current: string): Promise<unknown> {
    const old = current === '' ? undefined : this.#decode(key, current, { report: false });
    const aorKeyAndField = this.#indexEntryOf(key);
    const keys = [key, aorKeyAndField.aorKey];
    if (old !== undefined) keys.push(this.#localKey(old.localContactUser));
    return REMOVE_BINDING.run(this.#client, keys, [current, aorKeyAndField.field, old === undefined ? '' : pointer(old)]);
  }

  /** The AOR index entry of a binding key: `<prefix>binding:<aor>:<device>` → `<prefix>aor:<aor>`, `<device>`. */
  #indexEntryOf(key: string): { aorKey: string; field: string } {
    const [aorPart = '', field = ''] = key.slice(`${this.#prefix}binding:`.length).split(':');
    return { aorKey: `${this.#prefix}aor:${aorPart}`, field };
  }

  /** The binding in `raw` if it is live; a damaged one is reported and deleted. */
  async #live(key: string, raw: string, opts: { report?: boolean } = {}): Promise<Binding | undefined> {
    if (raw === '') return undefined;
    const binding = this.#decode(key, raw, opts);
    if (binding === undefined) {
      if (opts.report !== false) await this.#remove(key, raw);
      return undefined;
    }
    return binding.upstreamExpiresAt > this.#now() ? binding : undefined;
  }

  #decode(key: string, raw: string, opts: { report?: boolean } = {}): Binding | undefined {
    try {
      return parseBinding(raw);
    } catch (err) {
      if (opts.report !== false) this.#onCorruptRecord?.(key, toError(err));
      return undefined;
    }
  }
}

/** The local index value: which binding owns a local contact user. JSON, as both may hold `\n`. */
function pointer(binding: Binding): string {
  return JSON.stringify([binding.aor, binding.deviceKey]);
}

function parsePointer(raw: string): [string, string] | undefined {
  if (raw === '') return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') return [value[0], value[1]];
  } catch {
    // a damaged pointer leads nowhere; it expires with the binding it pointed to
  }
  return undefined;
}

/** HGETALL answers a map under RESP3 and a flat field, value list under RESP2. */
function hashEntries(reply: unknown): Array<[string, string]> {
  if (Array.isArray(reply)) {
    const entries: Array<[string, string]> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) entries.push([String(reply[i]), String(reply[i + 1])]);
    return entries;
  }
  if (reply instanceof Map) return [...reply.entries()].map(([field, value]) => [String(field), String(value)]);
  if (typeof reply === 'object' && reply !== null) return Object.entries(reply).map(([field, value]) => [field, String(value)]);
  return [];
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

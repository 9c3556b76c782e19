import type { BindingStore } from './binding-store.js';
import { LevelBindingStore, type LevelBindingStoreOptions } from './level-store.js';
import { RedisBindingStore, type RedisBindingStoreOptions } from './redis-store.js';

export type { BindingStore } from './binding-store.js';
export { LevelBindingStore, type LevelBindingStoreOptions } from './level-store.js';
export {
  DEFAULT_REDIS_KEY_PREFIX,
  RedisBindingStore,
  StoreConflictError,
  type RedisBindingStoreOptions,
  type RedisCommandClient,
} from './redis-store.js';
export { CorruptRecordError } from './stored-record.js';
export { GuardedStore, StoreUnavailableError, isStoreUnavailable, storeUnavailableAnswer } from './guarded-store.js';

/** Which store to open; mirrors the `store` section of the config. */
export type BindingStoreConfig =
  /** The default: a LevelDB directory on local disk, for a single instance. */
  | { kind: 'embedded'; path: string; sweepIntervalMs?: number }
  /** Redis shared by several instances. `keyPrefix` defaults to `pushwake:`. */
  | { kind: 'redis'; url: string; keyPrefix?: string; sentinel?: { sentinels: Array<{ host: string; port: number }>; masterName: string } };

/** Hooks and clock that are not configuration but wiring, passed by the app (or tests). */
export type BindingStoreHooks = Pick<LevelBindingStoreOptions, 'now' | 'onCorruptRecord' | 'onSweepError'> &
  Pick<RedisBindingStoreOptions, 'onConnectionError' | 'onReady'>;

export async function openBindingStore(config: BindingStoreConfig, hooks: BindingStoreHooks = {}): Promise<BindingStore> {
  switch (config.kind) {
    case 'embedded': {
      const { onConnectionError: _unused, onReady: _unusedToo, ...levelHooks } = hooks;
      return LevelBindingStore.open({ ...levelHooks, path: config.path, sweepIntervalMs: config.sweepIntervalMs });
    }
    case 'redis': {
      const { onSweepError: _unused, ...redisHooks } = hooks;
      return RedisBindingStore.connect({ ...redisHooks, url: config.url, keyPrefix: config.keyPrefix, ...(config.sentinel ? { sentinel: config.sentinel } : {}) });
    }
  }
}


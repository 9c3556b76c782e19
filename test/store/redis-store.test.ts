import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openBindingStore } from '../../lib/store/index.js';
import { RedisBindingStore } from '../../lib/store/redis-store.js';
import { findRedisServer, REDIS_SERVER_MISSING, startRedisServer, type TestRedisServer } from '../support/redis-server.js';
import { describeBindingStoreContract } from './binding-store.contract.js';
import { aBinding, aNotice, ManualClock, sleep } from './fixtures.js';

type AdminClient = ReturnType<typeof createClient>;

const hasRedis = findRedisServer() !== undefined;
let server: TestRedisServer | undefined;
let admin: AdminClient;
let nextPrefix = 0;
/** Each store gets a prefix of its own, so tests share one server without seeing each other. */
const freshPrefix = (): string => `test-${process.pid}-${(nextPrefix += 1)}:`;

async function keysUnder(prefix: string): Promise<string[]> {
  // Test prefixes contain no glob characters; KEYS skips keys whose TTL has passed.
  return admin.keys(`${prefix}*`);
}

describe.skipIf(!hasRedis)(`Redis store (${hasRedis ? 'redis-server on a private port' : REDIS_SERVER_MISSING})`, () => {
  beforeAll(async () => {
    server = await startRedisServer();
    if (server === undefined) throw new Error(REDIS_SERVER_MISSING);
    admin = createClient({ url: server.url });
    await admin.connect();
  });
  afterAll(async () => {
    if (admin?.isOpen) await admin.close();
    await server?.stop();
  });

  const url = (): string => server?.url ?? '';

  describeBindingStoreContract('RedisBindingStore', async () => {
    const clock = new ManualClock();
    const keyPrefix = freshPrefix();
    const store = await RedisBindingStore.connect({ url: url(), keyPrefix, now: clock.now });
    return {
      store,
      clock,
      // Redis expires keys on its own clock, so time has to pass for real as well.
      passTime: async (ms) => {
        clock.advance(ms);
        await sleep(ms);
      },
      dropExpired: async () => undefined,
      countStoredKeys: async () => (await keysUnder(keyPrefix)).length,
      dispose: () => store.close(),
    };
  });

  describe('RedisBindingStore on a shared server', () => {
    it('every key it writes carries a TTL, so nothing outlives its record', async () => {
      const keyPrefix = freshPrefix();
      const store = await RedisBindingStore.connect({ url: url(), keyPrefix });
      try {
        await store.putBinding(aBinding(Date.now()));
        await store.addEndedNotice(aNotice(Date.now()));
        await store.claimPush('call-1', 'phone', 60_000);

        const keys = await keysUnder(keyPrefix);
        expect(keys.map((k) => k.slice(keyPrefix.length).split(':')[0]).sort()).toEqual([
          'aor',
          'binding',
          'claim',
          'local',
          'notices',
        ]);
        for (const key of keys) expect(await admin.pTTL(key), key).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    });

    it('the AOR index lives as long as its longest-lived binding', async () => {
      const keyPrefix = freshPrefix();
      const store = await RedisBindingStore.connect({ url: url(), keyPrefix });
      try {
        const now = Date.now();
        await store.putBinding(aBinding(now, { deviceKey: 'long', localContactUser: 'pw-l', upstreamExpiresAt: now + 600_000 }));
        await store.putBinding(aBinding(now, { deviceKey: 'short', localContactUser: 'pw-s', upstreamExpiresAt: now + 60_000 }));
        const indexKey = (await keysUnder(keyPrefix)).find((k) => k.startsWith(`${keyPrefix}aor:`)) ?? '';
        expect(await admin.pTTL(indexKey)).toBeGreaterThan(590_000);
      } finally {
        await store.close();
      }
    });

    it('two instances on one Redis see each other’s bindings, claims and notices', async () => {
      const keyPrefix = freshPrefix();
      const a = await RedisBindingStore.connect({ url: url(), keyPrefix });
      const b = await RedisBindingStore.connect({ url: url(), keyPrefix });
      try {
        const binding = aBinding(Date.now());
        await a.putBinding(binding);
        expect(await b.getBinding(binding.aor, binding.deviceKey)).toEqual(binding);
        expect(await b.listBindings(binding.aor)).toEqual([binding]);
        expect(await b.findByLocalContact(binding.localContactUser)).toEqual(binding);

        expect(await a.claimPush('call-1', binding.deviceKey, 60_000)).toBe(true);
        expect(await b.claimPush('call-1', binding.deviceKey, 60_000)).toBe(false);

        const notice = aNotice(Date.now());
        await a.addEndedNotice(notice);
        expect(await b.takeEndedNotices(notice.aor, notice.deviceKey)).toEqual([notice]);
        expect(await a.takeEndedNotices(notice.aor, notice.deviceKey)).toEqual([]);

        expect(await b.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3')).toBe(true);
        expect((await a.getBinding(binding.aor, binding.deviceKey))?.push).toBeUndefined();
        expect(await b.removeBinding(binding.aor, binding.deviceKey)).toBe(true);
        expect(await a.listBindings(binding.aor)).toEqual([]);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('stores with different key prefixes do not see each other', async () => {
      const a = await RedisBindingStore.connect({ url: url(), keyPrefix: freshPrefix() });
      const b = await RedisBindingStore.connect({ url: url(), keyPrefix: freshPrefix() });
      try {
        const binding = aBinding(Date.now());
        await a.putBinding(binding);
        expect(await b.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a corrupt record is skipped, reported through onCorruptRecord and deleted', async () => {
      const keyPrefix = freshPrefix();
      const onCorruptRecord = vi.fn<(key: string, err: Error) => void>();
      const store = await RedisBindingStore.connect({ url: url(), keyPrefix, onCorruptRecord });
      try {
        const good = aBinding(Date.now(), { deviceKey: 'good', localContactUser: 'pw-good' });
        const damaged = aBinding(Date.now(), { deviceKey: 'damaged', localContactUser: 'pw-damaged' });
        await store.putBinding(good);
        await store.putBinding(damaged);
        const damagedKey = (await keysUnder(`${keyPrefix}binding:`)).find((k) => k.endsWith(':damaged')) ?? '';
        await admin.set(damagedKey, 'not json', { KEEPTTL: true });

        expect(await store.listBindings(good.aor)).toEqual([good]);
        expect(onCorruptRecord).toHaveBeenCalledWith(damagedKey, expect.any(Error));
        expect(await admin.exists(damagedKey)).toBe(0);
        expect(await store.getBinding(good.aor, 'damaged')).toBeUndefined();
        expect(onCorruptRecord).toHaveBeenCalledTimes(1);
      } finally {
        await store.close();
      }
    });

    it('close() leaves a client it was given open, and closes one it created', async () => {
      const shared = createClient({ url: url() });
      await shared.connect();
      const borrowing = await RedisBindingStore.connect({ client: shared, keyPrefix: freshPrefix() });
      await borrowing.putBinding(aBinding(Date.now()));
      await borrowing.close();
      expect(await shared.ping()).toBe('PONG');
      await shared.close();

      const owning = await openBindingStore({ kind: 'redis', url: url(), keyPrefix: freshPrefix() });
      await owning.putBinding(aBinding(Date.now()));
      await owning.close();
      await expect(owning.getBinding('sip:alice@example.com', 'x')).rejects.toThrow();
    });

    it('works over a RESP2 connection as well', async () => {
      const resp2 = createClient({ url: url(), RESP: 2 });
      await resp2.connect();
      const store = await RedisBindingStore.connect({ client: resp2, keyPrefix: freshPrefix() });
      try {
        const phone = aBinding(Date.now(), { deviceKey: 'phone', localContactUser: 'pw-p' });
        const tablet = aBinding(Date.now(), { deviceKey: 'tablet', localContactUser: 'pw-t' });
        await store.putBinding(phone);
        await store.putBinding(tablet);
        expect((await store.listBindings(phone.aor)).map((b) => b.deviceKey).sort()).toEqual(['phone', 'tablet']);
      } finally {
        await store.close();
        await resp2.close();
      }
    });
  });
});

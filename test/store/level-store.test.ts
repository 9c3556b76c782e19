import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LevelBindingStore, type LevelBindingStoreOptions } from '../../lib/store/level-store.js';
import { openBindingStore } from '../../lib/store/index.js';
import { describeBindingStoreContract } from './binding-store.contract.js';
import { aBinding, aNotice, ManualClock, sleep } from './fixtures.js';

async function countKeys(path: string): Promise<number> {
  const db = new ClassicLevel<string, string>(path);
  await db.open();
  try {
    return (await db.keys().all()).length;
  } finally {
    await db.close();
  }
}

describeBindingStoreContract('LevelBindingStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pushwake-level-'));
  const clock = new ManualClock();
  const store = await LevelBindingStore.open({ path: join(dir, 'db'), now: clock.now });
  // LevelDB refuses a second handle while the store is open, so keys are counted by the store.
  return {
    store,
    clock,
    passTime: async (ms) => clock.advance(ms),
    dropExpired: async () => {
      await store.sweep();
    },
    countStoredKeys: () => store.countKeys(),
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('LevelBindingStore on disk', () => {
  let dir: string;
  let path: string;
  let clock: ManualClock;
  const open = (options: Partial<LevelBindingStoreOptions> = {}): Promise<LevelBindingStore> =>
    LevelBindingStore.open({ path, now: clock.now, ...options });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pushwake-level-'));
    path = join(dir, 'nested', 'bindings');
    clock = new ManualClock();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('bindings, claims and owed notices survive a restart at the same path', async () => {
    const phone = aBinding(clock.now(), { deviceKey: 'phone', localContactUser: 'pw-phone' });
    const tablet = aBinding(clock.now(), { deviceKey: 'tablet', localContactUser: 'pw-tablet', push: undefined });
    const notice = aNotice(clock.now(), { deviceKey: 'phone' });
    const before = await open();
    await before.putBinding(phone);
    await before.putBinding(tablet);
    await before.addEndedNotice(notice);
    expect(await before.claimPush('call-1', 'phone', 60_000)).toBe(true);
    await before.close();

    const after = await open();
    try {
      expect(await after.getBinding(phone.aor, 'phone')).toEqual(phone);
      expect((await after.listBindings(phone.aor)).map((b) => b.deviceKey).sort()).toEqual(['phone', 'tablet']);
      expect(await after.findByLocalContact('pw-tablet')).toEqual(tablet);
      expect(await after.claimPush('call-1', 'phone', 60_000)).toBe(false);
      expect(await after.takeEndedNotices(notice.aor, 'phone')).toEqual([notice]);
    } finally {
      await after.close();
    }
  });

  it('knows from memory which devices are owed notices, and loses none added while they are taken (issue 14)', async () => {
    const store = await open();
    try {
      // awkward ids: the device's prefix is read back from the key at open
      const first = aNotice(clock.now(), { aor: 'sip:a:b@example.com', deviceKey: 'dev:1%', callId: 'c:1' });
      const second = aNotice(clock.now(), { aor: 'sip:a:b@example.com', deviceKey: 'dev:1%', callId: 'c:2' });
      await store.addEndedNotice(first);
      const [taken] = await Promise.all([store.takeEndedNotices(first.aor, first.deviceKey), store.addEndedNotice(second)]);
      const again = await store.takeEndedNotices(first.aor, first.deviceKey);
      expect([...taken, ...again].map((n) => n.callId).sort()).toEqual(['c:1', 'c:2']);
      expect(await store.takeEndedNotices(first.aor, first.deviceKey)).toEqual([]);
      await store.addEndedNotice(aNotice(clock.now(), { aor: 'sip:a:b@example.com', deviceKey: 'dev:1%', callId: 'c:3' }));
      await store.close();
      const reopened = await open();
      try {
        expect((await reopened.takeEndedNotices('sip:a:b@example.com', 'dev:1%')).map((n) => n.callId)).toEqual(['c:3']);
        expect(await reopened.takeEndedNotices('sip:other@example.com', 'dev:1%')).toEqual([]);
        expect(reopened.devicesOwedNotices).toBe(0);
        // a device that never comes back: the sweep removes its notices and forgets the device
        const stale = aNotice(clock.now(), { deviceKey: 'gone', callId: 'c:4' });
        await reopened.addEndedNotice(stale);
        expect(reopened.devicesOwedNotices).toBe(1);
        clock.advance(stale.expiresAt - clock.now() + 1);
        expect(await reopened.sweep()).toBeGreaterThan(0);
        expect(reopened.devicesOwedNotices).toBe(0);
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it('bindings that expired while pushwake was down are not served after the restart', async () => {
    const before = await open();
    const binding = aBinding(clock.now(), { upstreamExpiresAt: clock.now() + 1_000 });
    await before.putBinding(binding);
    await before.close();

    clock.advance(2_000);
    const after = await open();
    try {
      expect(await after.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
      expect(await after.sweep()).toBe(1);
    } finally {
      await after.close();
    }
    expect(await countKeys(path)).toBe(0);
  });

  it('a corrupt record is skipped, reported through onCorruptRecord and deleted, not thrown', async () => {
    const good = aBinding(clock.now(), { deviceKey: 'good', localContactUser: 'pw-good' });
    const damaged = aBinding(clock.now(), { deviceKey: 'damaged', localContactUser: 'pw-damaged' });
    const first = await open();
    await first.putBinding(good);
    await first.putBinding(damaged);
    await first.close();

    const raw = new ClassicLevel<string, string>(path);
    await raw.open();
    const damagedKey = (await raw.keys().all()).find((key) => key.startsWith('b:') && key.endsWith(':damaged'));
    expect(damagedKey).toBeDefined();
    await raw.put(damagedKey ?? '', '{"aor": "sip:alice@exam');
    await raw.close();

    const onCorruptRecord = vi.fn<(key: string, err: Error) => void>();
    const store = await open({ onCorruptRecord });
    try {
      expect(await store.listBindings(good.aor)).toEqual([good]);
      expect(onCorruptRecord).toHaveBeenCalledTimes(1);
      expect(onCorruptRecord).toHaveBeenCalledWith(damagedKey, expect.any(Error));
      expect(await store.getBinding(good.aor, 'damaged')).toBeUndefined();
      expect(await store.findByLocalContact('pw-damaged')).toBeUndefined();
      expect(onCorruptRecord).toHaveBeenCalledTimes(1);
      // The device registering again gets a clean record.
      await store.putBinding(damaged);
      expect(await store.findByLocalContact('pw-damaged')).toEqual(damaged);
    } finally {
      await store.close();
    }
  });

  it('a record with the wrong shape counts as corrupt too', async () => {
    const binding = aBinding(clock.now());
    const first = await open();
    await first.putBinding(binding);
    await first.close();
    const raw = new ClassicLevel<string, string>(path);
    await raw.open();
    const key = (await raw.keys().all()).find((k) => k.startsWith('b:')) ?? '';
    await raw.put(key, JSON.stringify({ ...binding, upstreamExpiresAt: 'soon' }));
    await raw.close();

    const onCorruptRecord = vi.fn<(key: string, err: Error) => void>();
    const store = await open({ onCorruptRecord });
    try {
      expect(await store.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
      expect(onCorruptRecord).toHaveBeenCalledWith(key, expect.objectContaining({ code: 'STORE_CORRUPT_RECORD' }));
    } finally {
      await store.close();
    }
  });

  it('the sweep deletes a corrupt record it meets, reporting it once', async () => {
    const binding = aBinding(clock.now(), { upstreamExpiresAt: clock.now() + 1_000 });
    const first = await open();
    await first.putBinding(binding);
    await first.close();
    const raw = new ClassicLevel<string, string>(path);
    await raw.open();
    const key = (await raw.keys().all()).find((k) => k.startsWith('b:')) ?? '';
    await raw.put(key, '\u0000garbage');
    await raw.close();

    const onCorruptRecord = vi.fn<(key: string, err: Error) => void>();
    const store = await open({ onCorruptRecord });
    try {
      clock.advance(2_000);
      await store.sweep();
      expect(onCorruptRecord).toHaveBeenCalledTimes(1);
      // The local contact entry cannot be found from the damaged record; it goes by its own expiry.
      expect(await store.findByLocalContact(binding.localContactUser)).toBeUndefined();
      expect(await store.countKeys()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('a device re-registering while its expired binding is being swept stays findable', async () => {
    const store = await open();
    try {
      for (let round = 0; round < 20; round += 1) {
        const binding = aBinding(clock.now(), { deviceKey: `d${round}`, localContactUser: `pw-${round}`, upstreamExpiresAt: clock.now() + 10 });
        await store.putBinding(binding);
        clock.advance(20);
        const renewed = { ...binding, upstreamExpiresAt: clock.now() + 60_000 };
        await Promise.all([store.sweep(), store.putBinding(renewed)]);
        await store.sweep();
        expect(await store.findByLocalContact(binding.localContactUser)).toEqual(renewed);
      }
    } finally {
      await store.close();
    }
  });

  it('the periodic sweep deletes expired records by itself, and stops at close', async () => {
    const store = await open({ sweepIntervalMs: 10 });
    await store.putBinding(aBinding(clock.now(), { upstreamExpiresAt: clock.now() + 100 }));
    await store.addEndedNotice(aNotice(clock.now(), { expiresAt: clock.now() + 100 }));
    clock.advance(200);

    const deadline = Date.now() + 2_000;
    while ((await store.countKeys()) > 0 && Date.now() < deadline) await sleep(10);
    expect(await store.countKeys()).toBe(0);

    await store.close();
    await sleep(30); // a timer left running would now hit a closed database
  });

  it('per-key work queues are released once the work is done', async () => {
    const store = await open();
    try {
      const binding = aBinding(clock.now());
      await Promise.all([
        store.putBinding(binding),
        store.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3'),
        store.claimPush('call-1', 'phone', 1_000),
        store.takeEndedNotices(binding.aor, binding.deviceKey),
      ]);
      await sleep(0);
      expect(store.pendingKeyCount).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('openBindingStore opens the embedded store at the configured path', async () => {
    const store = await openBindingStore({ kind: 'embedded', path, sweepIntervalMs: 1_000 });
    try {
      const binding = aBinding(Date.now());
      await store.putBinding(binding);
      expect(await store.getBinding(binding.aor, binding.deviceKey)).toEqual(binding);
    } finally {
      await store.close();
    }
  });
});

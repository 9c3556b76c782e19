import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BindingStore } from '../../lib/store/binding-store.js';
import { aBinding, aNotice, type ManualClock } from './fixtures.js';

/** One store under test, with the few backend-specific levers the contract needs. */
export interface StoreUnderTest {
  store: BindingStore;
  clock: ManualClock;
  /**
   * Let `ms` pass for the store: moves its clock and, for a backend whose expiry runs on the
   * server's own clock (Redis TTLs), also waits that long for real.
   */
  passTime(ms: number): Promise<void>;
  /** Let the backend delete what has expired: the embedded sweep; Redis does it by itself. */
  dropExpired(): Promise<void>;
  /** Raw keys the backend holds for this store, to check nothing is left behind. */
  countStoredKeys(): Promise<number>;
  dispose(): Promise<void>;
}

/** Short enough to keep Redis tests quick, long enough to outlast a round trip. */
const SHORT_MS = 150;
const PAST_SHORT_MS = SHORT_MS + 100;

export function describeBindingStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: BindingStore contract`, () => {
    let sut: StoreUnderTest;
    let store: BindingStore;
    let now: () => number;

    beforeEach(async () => {
      sut = await open();
      store = sut.store;
      now = sut.clock.now;
    });
    afterEach(async () => {
      await sut.dispose();
    });

    describe('bindings', () => {
      it('a stored binding can be read back, listed, found by its local contact and removed', async () => {
        const binding = aBinding(now());
        await store.putBinding(binding);

        expect(await store.getBinding(binding.aor, binding.deviceKey)).toEqual(binding);
        expect(await store.listBindings(binding.aor)).toEqual([binding]);
        expect(await store.findByLocalContact(binding.localContactUser)).toEqual(binding);

        expect(await store.removeBinding(binding.aor, binding.deviceKey)).toBe(true);
        expect(await store.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
        expect(await store.listBindings(binding.aor)).toEqual([]);
        expect(await store.findByLocalContact(binding.localContactUser)).toBeUndefined();
        expect(await sut.countStoredKeys()).toBe(0);
      });

      it('operators can scan and count live bindings across AORs, within a limit', async () => {
        for (let i = 0; i < 5; i++) await store.putBinding(aBinding(now(), { aor: `sip:user${i}@example.com`, localContactUser: `pw-scan-${i}` }));
        await store.putBinding(aBinding(now(), { aor: 'sip:gone@example.com', localContactUser: 'pw-gone', upstreamExpiresAt: now() + SHORT_MS }));
        expect(await store.countBindings()).toBe(6);
        expect((await store.scanBindings(3)).length).toBe(3);
        await sut.passTime(PAST_SHORT_MS);
        await sut.dropExpired();
        expect((await store.scanBindings(100)).map((b) => b.aor).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `sip:user${i}@example.com`));
        expect(await store.countBindings()).toBe(5);
      });

      it('removing a binding that is not there resolves false', async () => {
        expect(await store.removeBinding('sip:nobody@example.com', 'nothing')).toBe(false);
      });

      it('unknown AORs, devices and local contacts read as absent', async () => {
        expect(await store.getBinding('sip:nobody@example.com', 'x')).toBeUndefined();
        expect(await store.listBindings('sip:nobody@example.com')).toEqual([]);
        expect(await store.findByLocalContact('pw-none')).toBeUndefined();
      });

      it('a binding registered again replaces the old one instead of adding a second', async () => {
        const first = aBinding(now());
        const renewed = aBinding(now(), { registeredAt: now() + 1, upstreamExpiresAt: now() + 7_200_000, push: undefined });
        await store.putBinding(first);
        await store.putBinding(renewed);

        expect(await store.listBindings(first.aor)).toEqual([renewed]);
        expect(await store.getBinding(first.aor, first.deviceKey)).toEqual(renewed);
      });

      it('replacing a binding with a new local contact user drops the old local contact index', async () => {
        const first = aBinding(now(), { localContactUser: 'pw-old' });
        await store.putBinding(first);
        const keysForOneBinding = await sut.countStoredKeys();

        const moved = { ...first, localContactUser: 'pw-new' };
        await store.putBinding(moved);

        expect(await store.findByLocalContact('pw-old')).toBeUndefined();
        expect(await store.findByLocalContact('pw-new')).toEqual(moved);
        expect(await sut.countStoredKeys()).toBe(keysForOneBinding);
      });

      it('an AOR keeps one binding per device, and removing one device leaves the others', async () => {
        const phone = aBinding(now(), { deviceKey: 'phone', localContactUser: 'pw-phone' });
        const tablet = aBinding(now(), { deviceKey: 'tablet', localContactUser: 'pw-tablet' });
        const bobs = aBinding(now(), { aor: 'sip:bob@example.com', deviceKey: 'phone', localContactUser: 'pw-bob' });
        await Promise.all([store.putBinding(phone), store.putBinding(tablet), store.putBinding(bobs)]);

        expect(sortByDevice(await store.listBindings(phone.aor))).toEqual([phone, tablet]);
        expect(await store.listBindings(bobs.aor)).toEqual([bobs]);

        expect(await store.removeBinding(phone.aor, 'phone')).toBe(true);
        expect(await store.listBindings(phone.aor)).toEqual([tablet]);
        expect(await store.findByLocalContact('pw-tablet')).toEqual(tablet);
        expect(await store.findByLocalContact('pw-phone')).toBeUndefined();
      });

      it('values with separators, newlines, unicode and great length round-trip without colliding', async () => {
        const long = 'x'.repeat(20_000);
        const hostile = [
          aBinding(now(), { aor: 'sip:a:b@example.com', deviceKey: 'c', localContactUser: 'pw:1' }),
          aBinding(now(), { aor: 'sip:a', deviceKey: 'b@example.com:c', localContactUser: 'pw:1:' }),
          aBinding(now(), { aor: 'sip:a%3Ab@example.com', deviceKey: 'c', localContactUser: 'pw%3A1' }),
          aBinding(now(), { aor: 'sip:line\nbreak@example.com', deviceKey: 'dev\nice\r\n', localContactUser: 'pw\n2' }),
          aBinding(now(), { aor: 'sip:Ünïcødé☎@例え.jp', deviceKey: '📱 iPhone “Pro”', localContactUser: 'pw-😀' }),
          aBinding(now(), { aor: 'sip:lone\uD83D@example.com', deviceKey: 'half\uDE00', localContactUser: 'pw-\uD800' }),
          aBinding(now(), { aor: `sip:${long}@example.com`, deviceKey: long, localContactUser: `pw-${long}`, contact: long }),
          aBinding(now(), { aor: 'sip:glob*?[x]@example.com', deviceKey: '{a}\\b', localContactUser: 'pw-*' }),
        ];
        for (const binding of hostile) await store.putBinding(binding);

        for (const binding of hostile) {
          expect(await store.getBinding(binding.aor, binding.deviceKey)).toEqual(binding);
          expect(await store.listBindings(binding.aor)).toEqual([binding]);
          expect(await store.findByLocalContact(binding.localContactUser)).toEqual(binding);
        }
        for (const binding of hostile) expect(await store.removeBinding(binding.aor, binding.deviceKey)).toBe(true);
        expect(await sut.countStoredKeys()).toBe(0);
      });
    });

    describe('expiry', () => {
      it('an expired binding is invisible to every read and is then deleted', async () => {
        const binding = aBinding(now(), { upstreamExpiresAt: now() + SHORT_MS });
        await store.putBinding(binding);

        await sut.passTime(PAST_SHORT_MS);

        expect(await store.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
        expect(await store.listBindings(binding.aor)).toEqual([]);
        expect(await store.findByLocalContact(binding.localContactUser)).toBeUndefined();
        await sut.dropExpired();
        expect(await sut.countStoredKeys()).toBe(0);
      });

      it('a binding renewed before it expired survives the old expiry', async () => {
        const binding = aBinding(now(), { upstreamExpiresAt: now() + SHORT_MS });
        await store.putBinding(binding);
        const renewed = { ...binding, upstreamExpiresAt: now() + 3_600_000 };
        await store.putBinding(renewed);

        await sut.passTime(PAST_SHORT_MS);
        await sut.dropExpired();

        expect(await store.getBinding(binding.aor, binding.deviceKey)).toEqual(renewed);
        expect(await store.findByLocalContact(binding.localContactUser)).toEqual(renewed);
      });

      it('only the expired device of an AOR disappears', async () => {
        const shortLived = aBinding(now(), { deviceKey: 'short', localContactUser: 'pw-short', upstreamExpiresAt: now() + SHORT_MS });
        const longLived = aBinding(now(), { deviceKey: 'long', localContactUser: 'pw-long' });
        await store.putBinding(shortLived);
        await store.putBinding(longLived);

        await sut.passTime(PAST_SHORT_MS);
        await sut.dropExpired();

        expect(await store.listBindings(longLived.aor)).toEqual([longLived]);
        expect(await store.removeBinding(shortLived.aor, 'short')).toBe(false);
      });

      it('storing a binding that has already expired removes the one it replaces', async () => {
        const binding = aBinding(now());
        await store.putBinding(binding);

        await store.putBinding({ ...binding, upstreamExpiresAt: now() - 1 });

        expect(await store.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
        expect(await store.findByLocalContact(binding.localContactUser)).toBeUndefined();
        expect(await sut.countStoredKeys()).toBe(0);
      });
    });

    describe('clearing a dead push token', () => {
      it('clears the token only while it is still the stored one, keeping the rest of the binding', async () => {
        const binding = aBinding(now());
        await store.putBinding(binding);

        expect(await store.clearPushToken(binding.aor, binding.deviceKey, 'some-other-token')).toBe(false);
        expect((await store.getBinding(binding.aor, binding.deviceKey))?.push).toEqual(binding.push);

        expect(await store.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3')).toBe(true);
        const { push: _cleared, ...rest } = binding;
        expect(await store.getBinding(binding.aor, binding.deviceKey)).toEqual(rest);
        expect(await store.findByLocalContact(binding.localContactUser)).toEqual(rest);

        expect(await store.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3')).toBe(false);
      });

      it('a fresh token registered meanwhile is not cleared by a report about the old one', async () => {
        const binding = aBinding(now());
        await store.putBinding(binding);
        const fresh = aBinding(now(), { push: { provider: 'apns', token: 'ffee', topic: 't.voip', environment: 'development' } });
        await store.putBinding(fresh);

        expect(await store.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3')).toBe(false);
        expect(await store.getBinding(binding.aor, binding.deviceKey)).toEqual(fresh);
      });

      it('does nothing for an unknown or expired binding', async () => {
        expect(await store.clearPushToken('sip:nobody@example.com', 'x', 'a1b2c3')).toBe(false);
        const binding = aBinding(now(), { upstreamExpiresAt: now() + SHORT_MS });
        await store.putBinding(binding);
        await sut.passTime(PAST_SHORT_MS);
        expect(await store.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3')).toBe(false);
      });

      it('a binding whose token was cleared still expires on time', async () => {
        const binding = aBinding(now(), { upstreamExpiresAt: now() + SHORT_MS });
        await store.putBinding(binding);
        expect(await store.clearPushToken(binding.aor, binding.deviceKey, 'a1b2c3')).toBe(true);

        await sut.passTime(PAST_SHORT_MS);
        await sut.dropExpired();

        expect(await store.getBinding(binding.aor, binding.deviceKey)).toBeUndefined();
        expect(await sut.countStoredKeys()).toBe(0);
      });
    });

    describe('push claims', () => {
      it('only the first claim for a call and device wins', async () => {
        expect(await store.claimPush('call-1', 'phone', 60_000)).toBe(true);
        expect(await store.claimPush('call-1', 'phone', 60_000)).toBe(false);
        expect(await store.claimPush('call-1', 'tablet', 60_000)).toBe(true);
        expect(await store.claimPush('call-2', 'phone', 60_000)).toBe(true);
      });

      it('of many simultaneous claims exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimPush('call-race', 'phone', 60_000)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('a claim lapses after its ttl, and is then deleted', async () => {
        expect(await store.claimPush('call-1', 'phone', SHORT_MS)).toBe(true);
        await sut.passTime(PAST_SHORT_MS);
        await sut.dropExpired();
        expect(await sut.countStoredKeys()).toBe(0);
        expect(await store.claimPush('call-1', 'phone', SHORT_MS)).toBe(true);
      });

      it('call ids and device keys with separators do not collide', async () => {
        expect(await store.claimPush('a:b', 'c', 60_000)).toBe(true);
        expect(await store.claimPush('a', 'b:c', 60_000)).toBe(true);
        expect(await store.claimPush('call\n📞', 'dev\n', 60_000)).toBe(true);
        expect(await store.claimPush('call\n📞', 'dev\n', 60_000)).toBe(false);
      });
    });

    describe('ended notices', () => {
      it('notices owed to a device are taken once', async () => {
        const first = aNotice(now(), { callId: 'call-1' });
        const second = aNotice(now(), { callId: 'call-2', callUuid: 'uuid-2' });
        await store.addEndedNotice(first);
        await store.addEndedNotice(second);

        expect(sortByCallId(await store.takeEndedNotices(first.aor, first.deviceKey))).toEqual([first, second]);
        expect(await store.takeEndedNotices(first.aor, first.deviceKey)).toEqual([]);
        expect(await sut.countStoredKeys()).toBe(0);
      });

      it('taking the notices of one device leaves those of other devices', async () => {
        const phone = aNotice(now(), { deviceKey: 'phone' });
        const tablet = aNotice(now(), { deviceKey: 'tablet' });
        const bob = aNotice(now(), { aor: 'sip:bob@example.com', deviceKey: 'phone' });
        await Promise.all([store.addEndedNotice(phone), store.addEndedNotice(tablet), store.addEndedNotice(bob)]);

        expect(await store.takeEndedNotices(phone.aor, 'phone')).toEqual([phone]);
        expect(await store.takeEndedNotices(tablet.aor, 'tablet')).toEqual([tablet]);
        expect(await store.takeEndedNotices(bob.aor, 'phone')).toEqual([bob]);
      });

      it('two devices racing to take the same notices get them once between them', async () => {
        await store.addEndedNotice(aNotice(now(), { callId: 'call-1' }));
        await store.addEndedNotice(aNotice(now(), { callId: 'call-2' }));
        const takes = await Promise.all(
          Array.from({ length: 5 }, () => store.takeEndedNotices('sip:alice@example.com', 'urn:uuid:0f8e-alice-iphone')),
        );
        expect(takes.flat()).toHaveLength(2);
      });

      it('a notice added again for the same call is owed once', async () => {
        const notice = aNotice(now());
        await store.addEndedNotice(notice);
        const again = { ...notice, reason: 'SIP;cause=200;text="Call completed elsewhere"' };
        await store.addEndedNotice(again);
        expect(await store.takeEndedNotices(notice.aor, notice.deviceKey)).toEqual([again]);
      });

      it('expired notices are dropped while live ones are still delivered', async () => {
        const stale = aNotice(now(), { callId: 'call-stale', expiresAt: now() + SHORT_MS });
        const live = aNotice(now(), { callId: 'call-live' });
        await store.addEndedNotice(stale);
        await store.addEndedNotice(live);

        await sut.passTime(PAST_SHORT_MS);

        expect(await store.takeEndedNotices(live.aor, live.deviceKey)).toEqual([live]);
      });

      it('a notice nobody came for is deleted once expired', async () => {
        await store.addEndedNotice(aNotice(now(), { expiresAt: now() + SHORT_MS }));
        await sut.passTime(PAST_SHORT_MS);
        await sut.dropExpired();
        expect(await sut.countStoredKeys()).toBe(0);
      });

      it('notices of hostile AORs and devices round-trip', async () => {
        const notice = aNotice(now(), { aor: 'sip:a:b\n@例え.jp', deviceKey: 'd:e\uD800', callId: 'x:y\n' });
        const neighbour = aNotice(now(), { aor: 'sip:a', deviceKey: 'b\n@例え.jp:d:e\uD800', callId: 'x:y\n' });
        await store.addEndedNotice(notice);
        await store.addEndedNotice(neighbour);
        expect(await store.takeEndedNotices(notice.aor, notice.deviceKey)).toEqual([notice]);
        expect(await store.takeEndedNotices(neighbour.aor, neighbour.deviceKey)).toEqual([neighbour]);
      });
    });
  });
}

function sortByDevice<T extends { deviceKey: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => a.deviceKey.localeCompare(b.deviceKey));
}

function sortByCallId<T extends { callId: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => a.callId.localeCompare(b.callId));
}

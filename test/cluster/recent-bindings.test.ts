/** This node's recent registrations, served while Redis is away: bounded, live ones only. */
import { describe, expect, it } from 'vitest';
import { RecentBindings, StoreWithRecent } from '../../lib/cluster/recent-bindings.js';
import { StoreUnavailableError } from '../../lib/store/guarded-store.js';
import type { BindingStore } from '../../lib/store/binding-store.js';
import { binding } from '../call/call-fixture.js';

describe('RecentBindings', () => {
  it('keeps at most its bound, forgetting the oldest registration first; a refresh makes it young again', () => {
    const r = new RecentBindings(2, () => 0);
    const live = { deviceExpiresAt: 10_000 };
    r.registered(binding(1, live));
    r.registered(binding(2, live));
    r.registered(binding(1, live));
    r.registered(binding(3, live));
    expect(r.size).toBe(2);
    expect(r.ofAor('sip:alice@example.com').map((b) => b.deviceKey).sort()).toEqual(['inst:dev-1', 'inst:dev-3']);
  });

  it('serves only live registrations, and forgets what unregistered', () => {
    let now = 0;
    const r = new RecentBindings(10, () => now);
    r.registered(binding(1, { deviceExpiresAt: 1000 }));
    r.registered(binding(2, { deviceExpiresAt: 5000 }));
    expect(r.byLocalContact('pw-1')?.deviceKey).toBe('inst:dev-1');
    now = 2000;
    expect(r.byLocalContact('pw-1')).toBeUndefined();
    expect(r.ofAor('sip:alice@example.com')).toHaveLength(1);
    r.unregistered('sip:alice@example.com', 'inst:dev-2');
    expect(r.ofAor('sip:alice@example.com')).toHaveLength(0);
    r.registered(binding(3, { deviceExpiresAt: 5000 }));
    r.unregistered('sip:alice@example.com');
    expect(r.size).toBe(0);
  });
});

describe('StoreWithRecent', () => {
  const down = (): Promise<never> => Promise.reject(new StoreUnavailableError('listBindings', new Error('ECONNREFUSED')));
  const inner = { listBindings: down, findByLocalContact: down } as unknown as BindingStore;

  it('falls back to recent registrations only when the store is unavailable, and only when it has one', async () => {
    const recent = new RecentBindings(10, () => 0);
    let fallbacks = 0;
    const s = new StoreWithRecent(inner, recent, () => fallbacks++);
    await expect(s.listBindings('sip:alice@example.com')).rejects.toBeInstanceOf(StoreUnavailableError);
    recent.registered(binding(1, { deviceExpiresAt: 10 }));
    expect(await s.listBindings('sip:alice@example.com')).toHaveLength(1);
    expect((await s.findByLocalContact('pw-1'))?.deviceKey).toBe('inst:dev-1');
    expect(fallbacks).toBe(2);
    const broken = new StoreWithRecent({ listBindings: () => Promise.reject(new Error('a bug')) } as unknown as BindingStore, recent, () => fallbacks++);
    await expect(broken.listBindings('sip:alice@example.com')).rejects.toThrow('a bug');
  });
});

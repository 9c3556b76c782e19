/** Which REGISTERs a mounted pushwake takes: decided from the message, else by the store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimRegister, settleClaim } from '../../lib/registration/register-claim.js';
import type { RegisterSettings } from '../../lib/registration/register-request.js';
import { LevelBindingStore } from '../../lib/store/level-store.js';
import { binding } from '../call/call-fixture.js';

const s: RegisterSettings = {
  tokenHeader: 'X-Token', tokenParam: 'xToken', defaultTopic: 'com.example.voip', defaultEnvironment: 'production',
  minExpires: 30, maxExpires: 7200, defaultExpires: 600, contactUserPrefix: 'pw-', pushHintHeader: 'X-PushHint', pushHintParam: 'pushHint',
};

const reader = (h: Record<string, string>) => (name: string): string | undefined =>
  Object.entries(h).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
const base = { To: '<sip:alice@example.com>', From: '<sip:alice@example.com>;tag=1' };

describe('claimRegister', () => {
  it.each([
    ['an X-Token header', { 'X-Token': 'abc', Contact: '<sip:a@10.0.0.1>' }],
    ['a push hint header', { 'X-PushHint': '1f', Contact: '<sip:a@10.0.0.1>' }],
    ['RFC 8599 params in the URI', { Contact: '<sip:a@10.0.0.1;pn-provider=apns;pn-prid=00;pn-param=X.y>' }],
    ['RFC 8599 params spelled in upper case', { Contact: '<sip:a@10.0.0.1;PN-PROVIDER=apns>' }],
    ['an xToken param after the URI', { Contact: '<sip:a@10.0.0.1>;xtoken=00' }],
    ['legacy pn-tok', { Contact: '<sip:a@10.0.0.1;pn-tok=00>' }],
    ['a push hint param', { Contact: '<sip:a@10.0.0.1;pushHint=1f>' }],
    ['push data on a REGISTER pushwake would refuse (expires too brief)', { 'X-Token': '00', Contact: '<sip:a@10.0.0.1>;expires=5' }],
  ])('%s: pushwake\'s', (_what, h) => {
    expect(claimRegister(reader({ ...base, ...h }), s)).toEqual({ kind: 'ours' });
  });

  it('a param that only starts like a push param is not push data', () => {
    const claim = claimRegister(reader({ ...base, Contact: '<sip:a@10.0.0.1;xTokenish=1;pn-providers=2>' }), s);
    expect(claim.kind).toBe('if-known');
  });

  it('without push data: a REGISTER pushwake cannot read is the host\'s; others depend on the store', () => {
    expect(claimRegister(reader({ ...base, Contact: '<<<' }), s)).toEqual({ kind: 'not-ours' });
    expect(claimRegister(reader({ ...base }), s)).toEqual({ kind: 'not-ours' });
    expect(claimRegister(reader({ To: 'garbage', Contact: '<sip:a@10.0.0.1>' }), s)).toEqual({ kind: 'not-ours' });
    expect(claimRegister(reader({ ...base, Contact: '*', Expires: '0' }), s)).toEqual({ kind: 'if-any', aor: 'sip:alice@example.com' });
    expect(claimRegister(reader({ ...base, Contact: '<sip:a@10.0.0.1>;expires=0' }), s)).toMatchObject({ kind: 'if-known', aor: 'sip:alice@example.com', contactUri: 'sip:a@10.0.0.1' });
    expect(claimRegister(reader({ ...base, Contact: '<sip:a@10.0.0.1>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"' }), s))
      .toMatchObject({ kind: 'if-known', deviceKey: expect.stringContaining('00000000-0000-0000-0000-000000000001') });
  });
});

describe('settleClaim', () => {
  it('asks the store: by device key, else by contact URI; Contact: * by any device of the AOR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-claim-'));
    const store = await LevelBindingStore.open({ path: dir });
    try {
      await store.putBinding(binding(1));
      const aor = 'sip:alice@example.com';
      expect(await settleClaim({ kind: 'if-known', aor, deviceKey: 'inst:dev-1', contactUri: 'sip:x@1.2.3.4' }, store)).toBe(true);
      expect(await settleClaim({ kind: 'if-known', aor, deviceKey: 'other', contactUri: 'sip:alice@10.0.0.1:5060' }, store)).toBe(true);
      expect(await settleClaim({ kind: 'if-known', aor, deviceKey: 'other', contactUri: 'sip:x@1.2.3.4' }, store)).toBe(false);
      expect(await settleClaim({ kind: 'if-any', aor }, store)).toBe(true);
      expect(await settleClaim({ kind: 'if-any', aor: 'sip:bob@example.com' }, store)).toBe(false);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

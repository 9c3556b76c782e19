import type { Binding, EndedNotice } from '../../lib/domain/binding.js';

/** A clock the test moves by hand; stores take it as their `now` option. */
export class ManualClock {
  #now: number;
  constructor(start = Date.now()) {
    this.#now = start;
  }
  readonly now = (): number => this.#now;
  advance(ms: number): void {
    this.#now += ms;
  }
}

export function aBinding(now: number, overrides: Partial<Binding> = {}): Binding {
  return {
    aor: 'sip:alice@example.com',
    deviceKey: 'urn:uuid:0f8e-alice-iphone',
    instanceId: 'urn:uuid:0f8e-alice-iphone',
    contact: 'sip:alice@198.51.100.7:50600;transport=tls',
    flow: { transport: 'tls', sourceAddress: '198.51.100.7', sourcePort: 50600 },
    push: { provider: 'apns', token: 'a1b2c3', topic: 'com.example.app.voip', environment: 'production' },
    localContactUser: 'pw-3f2a9c1e',
    upstreamCallId: 'reg-call-1@device',
    deviceExpiresAt: now + 60_000,
    upstreamExpiresAt: now + 3_600_000,
    createdAt: now,
    registeredAt: now,
    ...overrides,
  };
}

export function aNotice(now: number, overrides: Partial<EndedNotice> = {}): EndedNotice {
  return {
    aor: 'sip:alice@example.com',
    deviceKey: 'urn:uuid:0f8e-alice-iphone',
    callUuid: '6c1d0b1e-9a51-4d43-a0a2-7c7e0f0f3a11',
    callId: 'pbx-call-1@pbx',
    pushHint: 'hint-1',
    reason: 'SIP;cause=487;text="Call cancelled"',
    callerNumber: '+15551230000',
    callerName: 'Bob',
    expiresAt: now + 120_000,
    ...overrides,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fake SIP side for IncomingCall: legs, caller and dialogs are recorded, not sent. */
import { EventEmitter } from 'node:events';
import type { Binding, EndedNotice } from '../../lib/domain/binding.js';
import type { CallerSide, CallIdentity, CallPorts, CallSettings, DeviceLeg, LegEvent, WakeOutcome, CallEnding } from '../../lib/call/call-types.js';
import { IncomingCall } from '../../lib/call/incoming-call.js';
import { inviteKeyOf } from '../../lib/call/call-intake.js';
import { silentLogger } from '../../lib/log.js';
import type { Headers, InboundResponse, SipDialog, DialogRequestOptions } from '../../lib/sip/srf.js';

export class FakeDialog extends EventEmitter implements SipDialog {
  destroyed: Array<{ headers?: Headers }> = [];
  requests: DialogRequestOptions[] = [];
  readonly sip = { callId: 'x', localTag: 'a', remoteTag: 'b' };
  readonly local = { sdp: 'v=0 local' };
  constructor(readonly id: string, readonly remote = { sdp: 'v=0 remote' }) {
    super();
  }
  override removeListener(event: string, fn: (...args: never[]) => void): this {
    return super.removeListener(event, fn as (...args: unknown[]) => void);
  }
  /** Final answers to the next requests, in order (default 200 with no body). */
  readonly answers: Array<{ status: number; body?: string }> = [];
  request(opts: DialogRequestOptions, cb: (err: Error | null, res: InboundResponse) => void): void {
    this.requests.push(opts);
    const next = this.answers.shift() ?? { status: 200 };
    const res = (status: number, body = ''): InboundResponse => ({ status, reason: status === 100 ? 'Trying' : 'OK', body, get: (n: string) => (n === 'Content-Type' && body ? 'application/sdp' : undefined), has: () => false });
    // As drachtio-srf does: once per response, the 100 Trying first.
    queueMicrotask(() => {
      cb(null, res(100));
      cb(null, res(next.status, next.body));
    });
  }
  destroy(opts?: { headers?: Headers }): Promise<unknown> {
    this.destroyed.push(opts ?? {});
    return Promise.resolve();
  }
}

export interface FakeLeg {
  binding: Binding;
  cancelled?: string;
  emit(ev: LegEvent): void;
}

export function binding(n: number, over: Partial<Binding> = {}): Binding {
  const now = Date.now();
  return {
    aor: 'sip:alice@example.com',
    deviceKey: `inst:dev-${n}`,
    contact: `sip:alice@10.0.0.${n}:5060`,
    flow: { transport: 'tcp', sourceAddress: '127.0.0.1', sourcePort: 40000 + n },
    push: { provider: 'apns', token: String(n).padStart(64, 'a'), topic: 'com.example.voip', environment: 'production' },
    localContactUser: `pw-${n}`,
    upstreamCallId: `reg-${n}`,
    deviceExpiresAt: now - 1000,
    upstreamExpiresAt: now + 3_600_000,
    createdAt: now - 10_000,
    registeredAt: now - 10_000,
    ...over,
  };
}

export const settings: CallSettings = {
  wakeTimeoutMs: 25_000,
  ringTimeoutMs: 60_000,
  sendRinging: true,
  skipPushWithinMs: 0,
  endedNoticeWindowMs: 60_000,
};

export class CallFixture {
  readonly provisionals: Array<{ status: number; sdp?: string }> = [];
  rejected: { status: number; reason: string; headers: Headers } | undefined;
  answeredWith: string | undefined;
  callerDialog = new FakeDialog('caller');
  readonly legs: FakeLeg[] = [];
  readonly pushes: Binding[] = [];
  readonly notices: EndedNotice[] = [];
  ended: CallEnding | undefined;
  wakeResult: (b: Binding) => Promise<WakeOutcome> = () => Promise.resolve({ kind: 'sent', expiresAt: Date.now() + 30_000 });
  answerFails = false;
  readonly call: IncomingCall;

  constructor(s: Partial<CallSettings> = {}, identity: Partial<CallIdentity> = {}, onEnded: (call: IncomingCall) => void = () => undefined, more: Pick<CallPorts, 'announce'> = {}) {
    const caller: CallerSide = {
      offer: { from: '"Bob" <sip:1000@pbx>;tag=abc', sdp: 'v=0 offer', maxForwards: 69 },
      provisional: (status, _r, sdp) => this.provisionals.push({ status, ...(sdp ? { sdp } : {}) }),
      reject: (status, reason, headers) => {
        if (this.rejected || this.answeredWith) throw new Error('second final response');
        this.rejected = { status, reason, headers };
      },
      answer: (sdp) => {
        if (this.rejected || this.answeredWith) throw new Error('second final response');
        this.answeredWith = sdp;
        return this.answerFails ? Promise.reject(new Error('caller gone')) : Promise.resolve(this.callerDialog);
      },
    };
    const ports: CallPorts = {
      now: () => Date.now(),
      startLeg: (b, _call, _offer, _log, onEvent): DeviceLeg => {
        const leg: FakeLeg = { binding: b, emit: onEvent };
        this.legs.push(leg);
        return { deviceKey: b.deviceKey, cancel: (reason) => { leg.cancelled = reason; } };
      },
      wake: (b) => {
        this.pushes.push(b);
        return this.wakeResult(b);
      },
      oweEndedNotice: (n) => this.notices.push(n),
      ...more,
    };
    this.call = new IncomingCall(
      {
        callId: 'call-1',
        callUuid: '11111111-2222-3333-4444-555555555555',
        pushHint: 'hint-1',
        aor: 'sip:alice@example.com',
        caller: { callerNumber: '1000', callerName: 'Bob', withVideo: false },
        inviteKey: inviteKeyOf(identity.callId ?? 'call-1', 'sip:alice@example.com'),
        ...identity,
      },
      caller,
      ports,
      { ...settings, ...s },
      silentLogger(),
      (_c, how) => {
        if (this.ended) throw new Error('ended twice');
        this.ended = how;
        onEnded(_c);
      },
    );
  }

  leg(deviceKey: string): FakeLeg {
    const l = this.legs.find((x) => x.binding.deviceKey === deviceKey);
    if (!l) throw new Error(`no leg for ${deviceKey}`);
    return l;
  }
}

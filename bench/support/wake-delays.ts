/**
 * Pairs pushwake's TraceEvents into the two wake-path delays of issue #2.
 *
 *   A = push-sending − invite-received, per call. invite-received names the call by its SIP
 *       Call-ID, push-sending by its collapse id (the call's UUID); the push payload carries
 *       both (`callId`, `callUuid`), so the sink's copy of each push pairs them.
 *   B = leg-sending − upstream-register-ok, per device wake, paired by deviceKey: the latest
 *       registration of a device before its leg.
 */
import type { ReceivedPush } from '../../lib/push-sink/index.js';
import type { TraceEvent } from '../../lib/pushwake.js';

export class WakeDelays {
  private readonly inviteAt = new Map<string, number>();
  private readonly pushAt = new Map<string, number>();
  private readonly registerOk = new Map<string, { at: number; aor: string }>();
  private readonly pushed: Array<{ callId: string; callUuid: string }> = [];
  private readonly legDelays: number[] = [];

  /** `counts(aor)`: is a call to this user measured (not a warm-up call)? */
  constructor(private readonly counts: (aor: string) => boolean) {}

  get measuredPushes(): number {
    return this.pushed.length;
  }

  traced(events: readonly TraceEvent[]): void {
    for (const ev of events) {
      switch (ev.kind) {
        case 'invite-received':
          this.inviteAt.set(ev.callId, ev.at);
          break;
        case 'push-sending':
          // A retried push keeps its first attempt: A is about the first one.
          if (!this.pushAt.has(ev.collapseId)) this.pushAt.set(ev.collapseId, ev.at);
          break;
        case 'upstream-register-ok':
          this.registerOk.set(ev.deviceKey, { at: ev.at, aor: ev.aor });
          break;
        case 'leg-sending': {
          const ok = this.registerOk.get(ev.deviceKey);
          if (!ok) break;
          this.registerOk.delete(ev.deviceKey);
          if (this.counts(ok.aor)) this.legDelays.push(ev.at - ok.at);
          break;
        }
      }
    }
  }

  /** A push reached the sink, for a phone of this AOR. */
  pushArrived(push: ReceivedPush, aor: string | undefined): void {
    const callId = push.payload['callId'];
    const callUuid = push.payload['callUuid'];
    if (aor !== undefined && this.counts(aor) && typeof callId === 'string' && typeof callUuid === 'string') {
      this.pushed.push({ callId, callUuid });
    }
  }

  /** Delay A of every measured call whose two events were both seen, ms. */
  inviteToPush(): number[] {
    const out: number[] = [];
    for (const p of this.pushed) {
      const received = this.inviteAt.get(p.callId);
      const sending = this.pushAt.get(p.callUuid);
      if (received !== undefined && sending !== undefined) out.push(sending - received);
    }
    return out;
  }

  /** Delay B of every measured device wake, ms. */
  registerToLeg(): number[] {
    return this.legDelays;
  }
}

/**
 * One call from the PBX to one user: park → push → wake → legs → answer/fail → end.
 *
 * The IncomingCall owns everything it starts: the wake and ring timers, one DeviceLeg per device,
 * the pushes it waits on, and the bridge once answered. Every way out goes through `end()`, which
 * clears them all and owes an EndedNotice to each phone that was pushed but never got a leg, so no
 * phone keeps showing a CallKit call that is over.
 *
 * I/O happens only through CallerSide and CallPorts, so the whole state machine runs in tests with
 * fake timers and no sockets.
 */
import { isAwake, isWakeable, type Binding } from '../domain/binding.js';
import type { CallLog } from '../log.js';
import type { Headers, SipDialog } from '../sip/srf.js';
import type { CallAnnouncement, CallEnding, CallerSide, CallIdentity, CallPorts, CallSettings, CallState, DeviceLeg, LegEvent } from './call-types.js';
import { AnsweredCall } from './answered-call.js';
import { bestFinalResponse, type LegOutcome } from './final-response.js';
import { Reasons, sipReason } from './reason.js';

interface LegSlot {
  leg: DeviceLeg;
  binding: Binding;
  done: boolean;
  /**
   * Rung over its old flow because its push failed: a long shot (a sleeping UDP phone's address
   * is dead), so it lives only within the wake window, and its failure is the push's failure.
   */
  fallback: boolean;
}

/** A device this call pushed (or is pushing): whether it is still awaited, and when its push expires. */
interface PushedDevice {
  binding: Binding;
  awaiting: boolean;
  /** Set once the push went out; only such devices are owed an ended notice. */
  pushExpiresAt?: number;
  /** When the push went out. */
  pushedAt?: number;
  /** Not pushed: suspected restricted by iOS (the restriction watch withheld it). */
  withheld?: boolean;
  /** It registered afresh after its push (and was rung). */
  woke?: boolean;
  /**
   * Another copy of this call pushed it (the same INVITE forked to another node, or to this one
   * under another Request-URI): that copy rings it, with the push hint and call UUID the phone
   * woke for. This one does not, so the phone never gets two INVITEs for one CallKit call.
   */
  pushedElsewhere?: boolean;
}

/** Leg failures that mean the INVITE probably never reached the device (dead flow). */
const UNREACHED = new Set([408, 480, 500, 503]);

/**
 * Where the call is. Parked and ringing are live: the caller still waits. Once answered or ended
 * the call carries the Reason it was settled with, which the phones it pushed but never reached
 * are told in their ended notice.
 */
type Phase =
  | { kind: 'parked' }
  | { kind: 'ringing' }
  /** Decided, and the caller hears the closing prompt before this final response. */
  | { kind: 'closing'; how: CallEnding; reason: string; status: number; reasonPhrase: string }
  | { kind: 'answered'; reason: string }
  | { kind: 'ended'; how: CallEnding; reason: string };

/** Shared by every parked call: thousands may be parked at once. */
const PARKED: Phase = { kind: 'parked' };
const RINGING: Phase = { kind: 'ringing' };

export class IncomingCall {
  private phase: Phase = PARKED;
  // Made on first use: a parked call has no legs yet, and thousands of calls may be parked.
  private legSlots: Map<string, LegSlot> | undefined;
  private legOutcomes: LegOutcome[] | undefined;
  private get legs(): Map<string, LegSlot> {
    return (this.legSlots ??= new Map());
  }
  private get outcomes(): LegOutcome[] {
    return (this.legOutcomes ??= []);
  }
  /** Devices this call pushed (or is pushing), awaited until their fresh REGISTER comes. */
  private readonly devices = new Map<string, PushedDevice>();
  private pushFailures = 0;
  private wakeWindowClosed = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private ringTimer: NodeJS.Timeout | undefined;
  private ringingSent = false;
  private earlyMediaSent = false;
  /** From the answer on: the caller's 200, the bridge, the media hand-over. */
  private answered: AnsweredCall | undefined;
  /** What the caller hears while phones wake (media.enabled), until released. */
  private announcement: CallAnnouncement | undefined;
  /** FreeSWITCH's SDP the caller got in the 183: its 200 carries the same. */
  private announcedSdp: string | undefined;
  /**
   * Raised as soon as the call is answered or over: no push may start after that. (A plain flag:
   * an AbortController per parked call costs more heap than the rest of its state.)
   */
  private readonly pushes = { aborted: false };
  /** Epoch ms it was parked (operators' listing). */
  readonly createdAt: number;
  private answeredDeviceKey: string | undefined;

  constructor(
    readonly identity: CallIdentity,
    private readonly caller: CallerSide,
    private readonly ports: CallPorts,
    private readonly settings: CallSettings,
    private readonly log: CallLog,
    private readonly onEnded: (call: IncomingCall, how: CallEnding) => void,
  ) {
    this.createdAt = ports.now();
  }

  get currentState(): CallState {
    return this.phase.kind;
  }

  get ending(): CallEnding | undefined {
    return this.phase.kind === 'ended' ? this.phase.how : undefined;
  }

  /** The caller still waits: parked or ringing. */
  private get isLive(): boolean {
    return this.phase.kind === 'parked' || this.phase.kind === 'ringing';
  }

  /** The Reason the call was settled with (answered elsewhere, or ended), once it was. */
  private get settledReason(): string | undefined {
    return this.phase.kind === 'answered' || this.phase.kind === 'ended' || this.phase.kind === 'closing' ? this.phase.reason : undefined;
  }

  /** Some pushed device may still wake for this call. */
  private get awaitingAny(): boolean {
    for (const d of this.devices.values()) if (d.awaiting) return true;
    return false;
  }

  /**
   * Devices this call pushed that never registered afterwards, though they had at least `minMs`
   * to do so (the restriction watch; a caller who hangs up at once proves nothing).
   */
  unansweredPushes(now: number, minMs: number): Binding[] {
    // the wake window closed without it, or it had long enough (a call answered elsewhere)
    return [...this.devices.values()].filter((d) => !d.woke && d.pushedAt !== undefined && (this.wakeWindowClosed || now - d.pushedAt >= minMs)).map((d) => d.binding);
  }

  /** Devices a VoIP push went to, and devices withheld as suspected restricted (alert pushes). */
  get pushedDevices(): { pushed: Binding[]; withheld: Binding[] } {
    const all = [...this.devices.values()];
    return { pushed: all.filter((d) => d.pushedAt !== undefined).map((d) => d.binding), withheld: all.filter((d) => d.withheld).map((d) => d.binding) };
  }

  /** The device whose answer the caller got, once answered. */
  get answeredBy(): string | undefined {
    return this.answeredDeviceKey;
  }

  /** Devices this call still waits on (for tests: nothing left behind). */
  get awaitedDevices(): string[] {
    return [...this.devices].filter(([, d]) => d.awaiting).map(([key]) => key);
  }

  /** Ring what is awake, push what sleeps. */
  start(bindings: Binding[]): void {
    const now = this.ports.now();
    const direct: Binding[] = [];
    const toWake: Binding[] = [];
    for (const b of bindings) {
      const recentlyRegistered = this.settings.skipPushWithinMs > 0 && now - b.registeredAt < this.settings.skipPushWithinMs;
      if (isAwake(b, now) && (!b.push || recentlyRegistered)) direct.push(b);
      else if (isWakeable(b, now)) toWake.push(b);
    }
    if (direct.length === 0 && toWake.length === 0) {
      this.reject(480, 'Temporarily Unavailable', sipReason(480, 'No reachable device'), 'no-device');
      return;
    }
    // pushing: the caller hears an announcement, if media is on and up (else the 180 comes now)
    if (toWake.length > 0 && this.ports.announce) this.announce(this.ports.announce);
    else if (this.settings.sendRinging) this.sendRinging();
    for (const b of direct) this.addLeg(b);
    if (toWake.length > 0) {
      this.wakeTimer = setTimeout(() => this.onWakeTimeout(), this.settings.wakeTimeoutMs);
      const deadline = now + this.settings.wakeTimeoutMs;
      for (const b of toWake) {
        this.devices.set(b.deviceKey, { binding: b, awaiting: true });
        void this.push(b, deadline);
      }
    }
    this.log.info({ direct: direct.length, pushed: toWake.length }, 'call parked');
  }

  /** 183 with FreeSWITCH's SDP and the wake prompt; without media (down, slow, full), the 180 as ever. */
  private announce(announce: NonNullable<CallPorts['announce']>): void {
    const announcement = announce(this.identity, this.caller.offer.sdp, this.log);
    this.announcement = announcement;
    // FreeSWITCH gone mid-prompt: a 180 lets the PBX play its own ringback instead of silence
    const lost = (): void => {
      if (this.announcement === announcement && this.isLive && this.settings.sendRinging) this.sendRinging();
    };
    void announcement.open(lost).then((sdp) => {
      if (this.announcement !== announcement || !this.isLive) return;
      if (sdp === undefined || this.earlyMediaSent) {
        this.releaseAnnouncement();
        if (this.settings.sendRinging) this.sendRinging();
        return;
      }
      this.announcedSdp = sdp;
      this.earlyMediaSent = true;
      this.caller.provisional(183, 'Session Progress', sdp);
    });
  }

  private releaseAnnouncement(): void {
    this.announcement?.release();
    this.announcement = undefined;
  }

  private async push(b: Binding, deadline: number): Promise<void> {
    let outcome;
    try {
      outcome = await this.ports.wake(b, this.identity, deadline, this.pushes);
    } catch (err) {
      outcome = { kind: 'failed' as const, code: 'WAKE_ERROR' as const, why: (err as Error).message };
    }
    if (outcome.kind === 'duplicate') {
      const d = this.devices.get(b.deviceKey);
      if (d) d.pushedElsewhere = true;
      return;
    }
    if (outcome.kind === 'sent') {
      const pushed = this.devices.get(b.deviceKey);
      if (pushed) {
        pushed.pushExpiresAt = outcome.expiresAt;
        pushed.pushedAt = this.ports.now();
      }
      // The call was settled while this push was in flight: the phone will show it, so it is owed a notice.
      const settled = this.settledReason;
      if (settled !== undefined && !this.legs.has(b.deviceKey)) this.oweNotice(b, settled);
      return;
    }
    if (outcome.kind === 'failed' && outcome.code === 'WAKE_SUSPECTED_RESTRICTED') {
      const d = this.devices.get(b.deviceKey);
      if (d) d.withheld = true;
    }
    if (outcome.kind !== 'failed' || !this.isLive) return;
    if (!this.stopAwaiting(b.deviceKey)) return;
    if (isAwake(b, this.ports.now())) {
      // Its own registration is alive: its flow may still reach it without a push.
      this.log.warn({ deviceKey: b.deviceKey, why: outcome.why }, 'push failed; ringing the device over its flow until the wake timeout');
      this.addLeg(b, true);
      return;
    }
    this.pushFailures++;
    this.log.warn({ deviceKey: b.deviceKey, why: outcome.why }, 'push failed');
    this.maybeFinish();
  }

  /**
   * A device of this user registered afresh (its upstream 2xx came). If this call pushed it, or
   * the client echoed this call's push hint, ring it now over the flow it registered on.
   */
  deviceRegistered(b: Binding, pushHint?: string): boolean {
    if (!this.isLive) return false;
    const hinted = pushHint !== undefined && pushHint === this.identity.pushHint && b.aor === this.identity.aor;
    const device = this.devices.get(b.deviceKey);
    if (!hinted && (!device?.awaiting || device.pushedElsewhere)) return false;
    if (device) device.woke = true;
    if (this.legs.has(b.deviceKey)) return true;
    this.stopAwaiting(b.deviceKey);
    this.log.info({ deviceKey: b.deviceKey, hinted }, 'device woke; ringing it');
    this.addLeg(b);
    return true;
  }

  /** The PBX cancelled. The engine has already answered 487; cancel legs and owe notices. */
  callerCancelled(reasonHeader: string | undefined): void {
    if (this.phase.kind === 'closing') {
      // hung up during the closing prompt: the outcome stands, the prompt stops
      this.end(this.phase.how, this.phase.reason);
      return;
    }
    if (!this.isLive) return;
    const reason = reasonHeader ?? Reasons.cancelled;
    this.cancelLegs(reason);
    this.end('caller-cancelled', reason);
  }

  /** Stop everything now (shutdown): legs cancelled, caller answered 503 if still waiting. */
  abort(): void {
    if (this.phase.kind === 'ended') return;
    if (this.phase.kind === 'answered') {
      this.answered?.stop();
      this.end('shutdown', Reasons.cancelled);
      return;
    }
    if (this.phase.kind === 'closing') {
      // the final response was decided: it goes now, without the rest of the prompt
      this.finishClosing();
      return;
    }
    this.cancelLegs(Reasons.cancelled);
    this.reject(503, 'Service Unavailable', sipReason(503, 'Shutting down'), 'shutdown');
  }

  private addLeg(b: Binding, fallback = false): void {
    const key = b.deviceKey;
    const leg = this.ports.startLeg(b, this.identity, this.caller.offer, this.log, (ev) => this.onLegEvent(key, ev));
    this.legs.set(key, { leg, binding: b, done: false, fallback });
    if (this.phase.kind === 'parked') this.phase = RINGING;
    this.ringTimer ??= setTimeout(() => this.onRingTimeout(), this.settings.ringTimeoutMs);
  }

  private onLegEvent(deviceKey: string, ev: LegEvent): void {
    const slot = this.legs.get(deviceKey);
    if (ev.kind === 'answered') {
      if (slot) slot.done = true;
      this.onAnswered(deviceKey, ev.dialog);
      return;
    }
    if (!this.isLive) return;
    if (ev.kind === 'progress') {
      // The caller hears the announcement: a device's ringing or early media would cut it off.
      if (this.announcedSdp !== undefined) return;
      // Early media only while one device can answer: another device's 200 would carry other SDP.
      if (ev.sdp && !this.earlyMediaSent && this.legs.size === 1 && !this.awaitingAny) {
        this.earlyMediaSent = true;
        this.caller.provisional(183, 'Session Progress', ev.sdp);
      } else if (ev.status === 180) this.sendRinging();
      return;
    }
    if (!slot || slot.done) return;
    slot.done = true;
    this.log.info({ deviceKey, status: ev.status, fallback: slot.fallback }, 'leg failed');
    if (slot.fallback && ev.status < 600) {
      // its old flow did not reach it either: what failed is the push
      this.pushFailures++;
      this.maybeFinish();
      return;
    }
    this.outcomes.push({ status: ev.status, reason: ev.reason });
    // A pushed phone whose INVITE never arrived shows the call: it is owed an ended notice.
    if (UNREACHED.has(ev.status) && this.devices.get(deviceKey)?.pushExpiresAt !== undefined) this.oweNotice(slot.binding, sipReason(480, 'Device unreachable'));
    if (ev.status >= 600) {
      const reason = Reasons.declinedElsewhere(ev.status, ev.reason);
      this.cancelLegs(reason);
      this.reject(ev.status, ev.reason, reason, 'declined');
      return;
    }
    this.maybeFinish();
  }

  private onAnswered(deviceKey: string, dialog: SipDialog): void {
    if (!this.isLive) {
      // A 200 that crossed our CANCEL: the device answered a call that is gone.
      void dialog.destroy({ headers: { Reason: Reasons.completedElsewhere } }).catch(() => undefined);
      return;
    }
    this.phase = { kind: 'answered', reason: Reasons.completedElsewhere };
    this.answeredDeviceKey = deviceKey;
    this.pushes.aborted = true;
    this.clearTimers();
    this.log.info({ deviceKey }, 'answered');
    this.cancelLegs(Reasons.completedElsewhere, deviceKey);
    this.oweNotices(Reasons.completedElsewhere);
    // after an announcement, the 200 repeats the 183's SDP; the media then moves to the phone
    const announced = this.announcedSdp;
    this.releaseAnnouncement();
    this.answered = new AnsweredCall(this.caller, dialog, announced, this.log, {
      hungUp: () => this.end('answered-hangup'),
      callerGone: () => this.end('caller-gone'),
    });
    this.answered.connect();
  }

  private onWakeTimeout(): void {
    this.wakeTimer = undefined;
    this.wakeWindowClosed = true;
    if (!this.isLive) return;
    if (this.legs.size === 0) {
      this.reject(480, 'Temporarily Unavailable', Reasons.noDeviceWoke, 'wake-timeout');
      return;
    }
    // a push-failed device rung over its old flow had the wake window to answer; no longer
    for (const slot of this.legs.values()) {
      if (!slot.fallback || slot.done) continue;
      slot.done = true;
      slot.leg.cancel(Reasons.pushFailed);
      this.pushFailures++;
    }
    this.maybeFinish();
  }

  private onRingTimeout(): void {
    this.ringTimer = undefined;
    if (!this.isLive) return;
    this.cancelLegs(Reasons.notAnswered);
    this.reject(480, 'Temporarily Unavailable', Reasons.notAnswered, 'ring-timeout');
  }

  /** Every leg is done and nothing more can wake: give the caller the best final response. */
  private maybeFinish(): void {
    if (!this.isLive) return;
    for (const slot of this.legs.values()) if (!slot.done) return;
    if (this.awaitingAny && !this.wakeWindowClosed) return;
    const best = bestFinalResponse(this.outcomes);
    if (best) {
      this.reject(best.status, best.reason, sipReason(best.status, best.reason), 'all-legs-failed');
    } else if (this.pushFailures > 0 && ![...this.legs.values()].some((s) => !s.fallback)) {
      this.reject(480, 'Temporarily Unavailable', Reasons.pushFailed, 'push-failed');
    } else {
      this.reject(480, 'Temporarily Unavailable', Reasons.noDeviceWoke, 'wake-timeout');
    }
  }

  private sendRinging(): void {
    if (this.ringingSent) return;
    this.ringingSent = true;
    this.caller.provisional(180, 'Ringing');
  }

  private cancelLegs(reason: string, except?: string): void {
    for (const [key, slot] of this.legs) {
      if (key === except || slot.done) continue;
      slot.done = true;
      slot.leg.cancel(reason);
    }
  }

  private reject(status: number, reasonPhrase: string, reason: string, how: CallEnding): void {
    const closing = this.announcement?.closing(how, status);
    if (closing) {
      // decided now (nothing more is pushed or rung, phones are owed their notice), answered after the prompt
      this.phase = { kind: 'closing', how, reason, status, reasonPhrase };
      this.pushes.aborted = true;
      this.clearTimers();
      this.oweNotices(reason);
      void closing.then(() => this.finishClosing());
      return;
    }
    const headers: Headers = { Reason: reason };
    this.caller.reject(status, reasonPhrase, headers);
    this.end(how, reason);
  }

  private finishClosing(): void {
    if (this.phase.kind !== 'closing') return;
    const { status, reasonPhrase, reason, how } = this.phase;
    this.caller.reject(status, reasonPhrase, { Reason: reason });
    this.end(how, reason);
  }

  /** Phones pushed for this call that never got a leg learn, when they wake, that it is over. */
  private oweNotices(reason: string): void {
    for (const d of this.devices.values()) {
      if (!d.awaiting) continue;
      d.awaiting = false;
      this.oweNotice(d.binding, reason);
    }
  }

  private oweNotice(b: Binding, reason: string): void {
    const pushExpires = this.devices.get(b.deviceKey)?.pushExpiresAt;
    if (pushExpires === undefined) return;
    this.ports.oweEndedNotice({
      aor: b.aor,
      deviceKey: b.deviceKey,
      callUuid: this.identity.callUuid,
      callId: this.identity.callId,
      pushHint: this.identity.pushHint,
      reason,
      callerNumber: this.identity.caller.callerNumber,
      callerName: this.identity.caller.callerName,
      expiresAt: Math.max(this.ports.now(), pushExpires) + this.settings.endedNoticeWindowMs,
    });
  }

  /** The device is no longer awaited; false if it was not. */
  private stopAwaiting(deviceKey: string): boolean {
    const d = this.devices.get(deviceKey);
    if (!d?.awaiting) return false;
    d.awaiting = false;
    return true;
  }

  private clearTimers(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.ringTimer) clearTimeout(this.ringTimer);
    this.wakeTimer = undefined;
    this.ringTimer = undefined;
  }

  private end(how: CallEnding, reason?: string): void {
    if (this.phase.kind === 'ended') return;
    const settled = reason ?? this.settledReason ?? Reasons.cancelled;
    this.phase = { kind: 'ended', how, reason: settled };
    this.pushes.aborted = true;
    this.clearTimers();
    this.oweNotices(settled);
    this.releaseAnnouncement();
    this.answered?.stop();
    this.log.info({ how }, 'call ended');
    this.onEnded(this, how);
  }
}

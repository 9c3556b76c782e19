/** The seams of an IncomingCall: what it asks of the SIP side and of the push side. */
import type { Binding, EndedNotice } from '../domain/binding.js';
import type { CallLog } from '../log.js';
import type { StopSignal } from '../push/retry.js';
import type { Headers, SipDialog } from '../sip/srf.js';
import type { CallerInfo } from './caller-info.js';

/** Who and what a call is; fixed for its whole life. */
export interface CallIdentity {
  /** SIP Call-ID of the INVITE from the PBX. */
  callId: string;
  /**
   * What tells this call from a merged copy of it (`inviteKeyOf`): the Call-ID plus the
   * Request-URI user. A forking proxy sends one INVITE per device contact with one Call-ID.
   */
  inviteKey: string;
  /** UUID carried in the push and in the INVITE to the device. */
  callUuid: string;
  /** Short token the app pairs the push with the SIP call by (seed 004's pushHint). */
  pushHint: string;
  aor: string;
  caller: CallerInfo;
}

export type LegEvent =
  | { kind: 'progress'; status: number; reason: string; sdp?: string }
  | { kind: 'answered'; dialog: SipDialog }
  | { kind: 'failed'; status: number; reason: string };

/** One INVITE to one device. Emits LegEvents until answered or failed. */
export interface DeviceLeg {
  readonly deviceKey: string;
  /** CANCEL the INVITE (or BYE it if it is answered meanwhile), with this Reason. */
  cancel(reason: string): void;
}

/** What the caller's INVITE offers, carried to every device leg. */
export interface CallerOffer {
  /** The caller's From header, reused (without its tag) on the device legs. */
  from: string;
  /** The caller's SDP offer, forwarded to every device. */
  sdp: string;
  /** Max-Forwards for the device legs: the caller's, one less (RFC 3261 16.6). */
  maxForwards: number;
}

/** The parked INVITE from the PBX. */
export interface CallerSide {
  readonly offer: CallerOffer;
  provisional(status: number, reason: string, sdp?: string): void;
  reject(status: number, reason: string, headers: Headers): void;
  answer(sdp: string, headers: Headers): Promise<SipDialog>;
}

export type WakeOutcome =
  | { kind: 'sent'; expiresAt: number }
  /** Someone already pushed this device for this call (a re-sent INVITE, another instance). */
  | { kind: 'duplicate' }
  | { kind: 'failed'; code: WakeFailureCode; why: string };

/** Why a device could not be woken, for code to branch on; `why` beside it is for people. */
export type WakeFailureCode =
  /** The binding carries no push token (APNs dropped it, or the phone never sent one). */
  | 'WAKE_NO_TOKEN'
  /** The call was answered or over before the push could leave: sending it would be a ghost call. */
  | 'WAKE_CALL_OVER'
  /** APNs did not take the push; the push outcome's own code is in `why`. */
  | 'WAKE_PUSH_FAILED'
  /** The wake port itself failed (a bug or the store): logged, the device is not awaited. */
  | 'WAKE_ERROR'
  /** The device had its share of VoIP pushes this minute (devices.maxVoipPushesPerMinute). */
  | 'WAKE_RATE_LIMITED'
  /** The device is suspected restricted by iOS, and was pushed within devices.suspectedPushIntervalSeconds. */
  | 'WAKE_SUSPECTED_RESTRICTED';

/**
 * What the caller hears while a sleeping phone wakes (media.enabled): FreeSWITCH's endpoint for
 * the caller's offer, the wake prompt on it, and the closing prompt when nothing woke. Owned by
 * its call, released on every way out.
 */
export interface CallAnnouncement {
  /**
   * Make the endpoint and start the wake prompt: FreeSWITCH's SDP for the 183, or undefined to go
   * on without media. Never rejects. `onLost` hears FreeSWITCH drop the endpoint later on.
   */
  open(onLost: () => void): Promise<string | undefined>;
  /** Play the closing prompt this ending gets, if any: resolves when the final response may go (played, bounded, or media lost). */
  closing(how: CallEnding, status: number): Promise<void> | undefined;
  /** Stop playing and let the endpoint go; idempotent. */
  release(): void;
}

export interface CallPorts {
  now(): number;
  /** Announcements, when media.enabled; absent, no media server is touched. */
  announce?: (call: CallIdentity, callerSdp: string, log: CallLog) => CallAnnouncement;
  startLeg(binding: Binding, call: CallIdentity, offer: CallerOffer, log: CallLog, onEvent: (ev: LegEvent) => void): DeviceLeg;
  /**
   * Push the device once for this call, retrying transient APNs errors until `deadline`.
   * `signal` aborts when the call is over: nothing more may be sent for it then.
   */
  wake(binding: Binding, call: CallIdentity, deadline: number, signal: StopSignal): Promise<WakeOutcome>;
  oweEndedNotice(notice: EndedNotice): void;
}

export interface CallSettings {
  wakeTimeoutMs: number;
  ringTimeoutMs: number;
  sendRinging: boolean;
  /** 0: always push a push-capable device. Else skip the push if it registered this recently. */
  skipPushWithinMs: number;
  /** Ended notices are owed until this long after the push expired. */
  endedNoticeWindowMs: number;
}

/** `closing`: the outcome is decided, and the caller hears the closing prompt before it. */
export type CallState = 'parked' | 'ringing' | 'closing' | 'answered' | 'ended';

/** How a call ended, for logs and tests. */
export type CallEnding =
  | 'answered-hangup'
  | 'caller-cancelled'
  | 'declined'
  | 'all-legs-failed'
  | 'wake-timeout'
  | 'ring-timeout'
  | 'push-failed'
  | 'no-device'
  | 'caller-gone'
  | 'shutdown';

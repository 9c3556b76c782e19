/**
 * Once a device answers a call the caller heard an announcement on: the caller got a 200 with
 * FreeSWITCH's SDP (the same answer as in its 183, as RFC 3264 wants within one dialog), and the
 * endpoint is released. The caller's media then moves to the phone by a re-INVITE whose offer is
 * the phone's SDP under FreeSWITCH's origin (version one up). The phone already answered the
 * caller's own offer, so it sends to the caller from its first packet; only when the caller's
 * answer moves its media elsewhere is the phone told, by a re-INVITE of its own.
 *
 * A 491 (the caller re-INVITEd at the same moment) is retried once after a random 0-2 s
 * (RFC 3261 14.1: pushwake does not own the caller's Call-ID). Any other refusal leaves the call up:
 * the caller hears the phone, the phone may not hear the caller; it is logged.
 */
import type { CallLog } from '../log.js';
import { requestFinal, type SipDialog } from '../sip/srf.js';
import { mediaTarget, type SdpOrigin } from '../media/sdp-origin.js';

export type HandOverResult = 'moved' | 'refused' | 'failed' | 'cancelled';

export class MediaHandover {
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private cancelled = false;

  constructor(
    private readonly caller: SipDialog,
    private readonly device: SipDialog,
    private readonly origin: SdpOrigin,
    private readonly callerOffer: string,
    private readonly log: CallLog,
    private readonly random: () => number = Math.random,
  ) {}

  async run(): Promise<HandOverResult> {
    const offer = this.origin.stamp(this.device.remote.sdp);
    for (let attempt = 0; ; attempt++) {
      if (this.cancelled) return 'cancelled';
      let res;
      try {
        res = await requestFinal(this.caller, { method: 'INVITE', headers: { 'Content-Type': 'application/sdp' }, body: offer });
      } catch (err) {
        if (this.cancelled) return 'cancelled';
        this.log.warn({ err: (err as Error).message }, 'media hand-over: re-INVITE to the caller failed; the phone may not hear the caller');
        return 'failed';
      }
      if (res.status === 491 && attempt === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, Math.floor(this.random() * 2000));
        });
        continue;
      }
      if (res.status >= 300) {
        this.log.warn({ status: res.status }, 'media hand-over: the caller refused the re-INVITE; the phone may not hear the caller');
        return 'refused';
      }
      const answer = res.body ?? '';
      if (answer && mediaTarget(answer) !== mediaTarget(this.callerOffer)) await this.tellDevice(answer);
      this.log.debug({}, 'media hand-over: caller and phone talk directly');
      return 'moved';
    }
  }

  cancel(): void {
    this.cancelled = true;
    clearTimeout(this.timer);
    this.wake?.();
  }

  /** The caller's media moved from where its first offer said: the phone must send there. */
  private async tellDevice(callerAnswer: string): Promise<void> {
    if (this.cancelled) return;
    try {
      const res = await requestFinal(this.device, { method: 'INVITE', headers: { 'Content-Type': 'application/sdp' }, body: callerAnswer });
      if (res.status >= 300) this.log.warn({ status: res.status }, 'media hand-over: the phone refused the re-INVITE with the caller\'s new media');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'media hand-over: re-INVITE to the phone failed');
    }
  }
}

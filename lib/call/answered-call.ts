/**
 * A call from its answer on: the caller's 200, the bridge between the caller's dialog and the
 * device's, and (after an announcement) the media hand-over. IncomingCall holds one once a device
 * answers and stops it on every way out.
 *
 * Without an announcement the 200 carries the device's SDP. After one it repeats the 183's
 * (FreeSWITCH's) SDP, as RFC 3264 wants within one dialog, the bridge keeps FreeSWITCH's SDP
 * origin on everything it relays to the caller, and a MediaHandover moves the caller's media to the
 * phone.
 */
import type { CallLog } from '../log.js';
import type { SipDialog } from '../sip/srf.js';
import { SdpOrigin } from '../media/sdp-origin.js';
import type { CallerSide } from './call-types.js';
import { MediaHandover } from './media-handover.js';
import { Reasons } from './reason.js';
import { bridgeDialogs } from './sip-side.js';

export interface AnsweredCallEvents {
  /** Either side hung up (or did before the bridge existed). */
  hungUp(): void;
  /** The caller could not be answered (it went away as the device answered). */
  callerGone(): void;
}

export class AnsweredCall {
  private unbridge: (() => void) | undefined;
  private handover: MediaHandover | undefined;
  private stopped = false;

  constructor(
    private readonly caller: CallerSide,
    private readonly device: SipDialog,
    /** The SDP the caller got in the 183 with an announcement, if it did. */
    private readonly announcedSdp: string | undefined,
    private readonly log: CallLog,
    private readonly events: AnsweredCallEvents,
  ) {}

  /** Answer the caller and bridge the two dialogs. */
  connect(): void {
    const { device, announcedSdp } = this;
    this.caller.answer(announcedSdp ?? device.remote.sdp, {}).then(
      (callerDialog) => {
        if (this.stopped || callerDialog.connected === false || device.connected === false) {
          // Over before the bridge existed (a BYE that raced the answer, a shutdown): end both sides now.
          void callerDialog.destroy().catch(() => undefined);
          void device.destroy().catch(() => undefined);
          this.events.hungUp();
          return;
        }
        const origin = announcedSdp !== undefined ? SdpOrigin.of(announcedSdp) : undefined;
        this.unbridge = bridgeDialogs(callerDialog, device, this.log, () => this.events.hungUp(), origin && ((sdp) => origin.stamp(sdp)));
        if (origin) {
          this.handover = new MediaHandover(callerDialog, device, origin, this.caller.offer.sdp, this.log);
          void this.handover.run();
        }
      },
      (err: unknown) => {
        this.log.warn({ err }, 'caller went away as the device answered');
        void device.destroy({ headers: { Reason: Reasons.cancelled } }).catch(() => undefined);
        this.events.callerGone();
      },
    );
  }

  /** Stop: a bridge still up BYEs both sides (shutdown); after a hangup it only lets go. */
  stop(): void {
    this.stopped = true;
    this.handover?.cancel();
    this.unbridge?.();
    this.unbridge = undefined;
  }
}

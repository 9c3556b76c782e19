/**
 * A call from the PBX that says when it starts ringing: what the parked-call benchmark waits on
 * before sending the next INVITE. Lighter than testkit's CallAttempt (no provisional log), as
 * ten thousand of them stay pending at once.
 */
import { OFFER_SDP } from '../../lib/testkit/agents.js';
import { isSipStatusError, type OutboundRequest, type SipApp } from '../../lib/sip/srf.js';

export class WatchedCall {
  /** Resolves at the first 18x, or with the final status if one comes first. */
  readonly ringing: Promise<void>;
  /** The final status: 200, or the failure's status (0 when the INVITE could not be sent). */
  readonly done: Promise<number>;
  private sent: OutboundRequest | undefined;
  private cancelWanted = false;

  constructor(app: SipApp, target: string, proxy: string) {
    let rang: () => void = () => undefined;
    this.ringing = new Promise<void>((resolve) => (rang = resolve));
    this.done = app
      .createUac(target, { headers: { From: '"Bench Caller" <sip:1000@pbx.test>', To: `<${target}>` }, localSdp: OFFER_SDP, proxy }, {
        onRequestSent: (req) => {
          this.sent = req;
          if (this.cancelWanted) this.cancel();
        },
        onProvisional: (res) => {
          if (res.status >= 180) rang();
        },
      })
      .then(
        (dialog) => {
          void dialog.destroy().catch(() => undefined);
          return 200;
        },
        (err: unknown) => (isSipStatusError(err) ? err.status : 0),
      )
      .finally(rang);
  }

  cancel(): void {
    this.cancelWanted = true;
    this.sent?.cancel({});
  }
}

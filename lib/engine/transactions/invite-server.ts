import { ownedBytes, type SipRequest, type SipResponse } from '../messages/index.js';
import { InviteState, ServerTransactionBase } from './transaction-base.js';
import type { ServerTransactionContext } from './types.js';

/** An INVITE server transaction never Calls (that is the client's first state). */
type InviteServerState = Exclude<InviteState, InviteState.Calling>;

export interface InviteServerHooks {
  /** no ACK for a final response within 64*T1 (Timer H or L) */
  onAckTimeout: (finalStatus: number) => void;
}

/**
 * RFC 3261 17.2.1 with the RFC 6026 Accepted state. Once a final response is sent, the
 * transaction keeps only its bytes (to resend them until the ACK, and to absorb retransmitted
 * INVITEs until Timer H/I/L), not the request or the response objects.
 */
export class InviteServerTransaction extends ServerTransactionBase {
  state: InviteServerState = InviteState.Proceeding;

  constructor(
    request: SipRequest,
    private readonly ctx: ServerTransactionContext,
    private hooks: InviteServerHooks | undefined,
  ) {
    super(request);
  }

  get isInvite(): true {
    return true;
  }

  respond(res: SipResponse): boolean {
    if (this.state !== InviteState.Proceeding) return false;
    this.ctx.sendResponse(res);
    const status = res.status;
    this.lastStatus = status;
    if (status < 200) {
      this.lastWire = res.wire();
      return true;
    }
    this.lastWire = ownedBytes(res.wire());
    this.req = undefined;
    const { t1, t2 } = this.ctx.timers;
    if (status < 300) {
      this.state = InviteState.Accepted;
      if (!this.ctx.reliable) this.retransmitEvery('G', t1, t2);
      this.timers.start('L', 64 * t1, () => {
        if (this.state === InviteState.Accepted) this.hooks?.onAckTimeout(status);
        this.terminate();
      });
      return true;
    }
    this.state = InviteState.Completed;
    if (!this.ctx.reliable) this.retransmitEvery('G', t1, t2);
    this.timers.start('H', 64 * t1, () => {
      this.hooks?.onAckTimeout(status);
      this.terminate();
    });
    return true;
  }

  private retransmitEvery(name: 'G', interval: number, cap: number): void {
    this.timers.start(name, interval, () => {
      if (this.state !== InviteState.Completed && this.state !== InviteState.Accepted) return;
      if (this.lastWire) this.ctx.resendResponse(this.lastWire);
      this.retransmitEvery(name, Math.min(interval * 2, cap), cap);
    });
  }

  onRetransmission(): void {
    if (this.lastWire) this.ctx.resendResponse(this.lastWire);
  }

  /** ACK matched to this transaction (non-2xx), or reported by the dialog layer (2xx). */
  onAck(): void {
    if (this.state === InviteState.Completed) {
      this.state = InviteState.Confirmed;
      this.timers.clear('G');
      this.timers.clear('H');
      this.timers.start('I', this.ctx.reliable ? 0 : this.ctx.timers.t4, () => this.terminate());
      this.hooks = undefined;
    } else if (this.state === InviteState.Accepted) {
      // stay to absorb retransmitted INVITEs until Timer L, but stop resending the 2xx
      this.timers.clear('G');
      this.state = InviteState.Confirmed;
      this.hooks = undefined;
    }
  }

  terminate(): void {
    if (this.state === InviteState.Terminated) return;
    this.state = InviteState.Terminated;
    this.hooks = undefined;
    this.release(this.ctx);
  }
}

import { ownedBytes, type SipRequest, type SipResponse } from '../messages/index.js';
import { NonInviteState, ServerTransactionBase } from './transaction-base.js';
import type { ServerTransactionContext } from './types.js';

/**
 * RFC 3261 17.2.2. Once the final response is sent, the transaction keeps only that response's
 * bytes (to absorb retransmissions until Timer J), not the request or the response objects.
 */
export class NonInviteServerTransaction extends ServerTransactionBase {
  state = NonInviteState.Trying;

  constructor(request: SipRequest, private readonly ctx: ServerTransactionContext) {
    super(request);
    // the client stops retransmitting after 64*T1 (Timer F); nobody is waiting after that
    this.timers.start('Abandon', 64 * ctx.timers.t1, () => this.terminate());
  }

  get isInvite(): false {
    return false;
  }

  respond(res: SipResponse): boolean {
    if (this.state === NonInviteState.Completed || this.state === NonInviteState.Terminated) return false;
    this.ctx.sendResponse(res);
    this.lastStatus = res.status;
    if (res.status < 200) {
      this.lastWire = res.wire();
      this.state = NonInviteState.Proceeding;
      return true;
    }
    this.lastWire = ownedBytes(res.wire());
    this.state = NonInviteState.Completed;
    this.req = undefined;
    this.timers.clear('Abandon');
    const timerJ = this.ctx.reliable ? 0 : 64 * this.ctx.timers.t1;
    this.timers.start('J', timerJ, () => this.terminate());
    return true;
  }

  onRetransmission(): void {
    if (this.lastWire && this.state !== NonInviteState.Trying) this.ctx.resendResponse(this.lastWire);
  }

  terminate(): void {
    if (this.state === NonInviteState.Terminated) return;
    this.state = NonInviteState.Terminated;
    this.release(this.ctx);
  }
}

import type { SipRequest, SipResponse } from '../messages/index.js';
import { TransactionTimers } from './timers.js';
import type { ServerTransactionContext } from './types.js';

export enum NonInviteServerState {
  Trying = 'Trying',
  Proceeding = 'Proceeding',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

/** RFC 3261 17.2.2. */
export class NonInviteServerTransaction {
  state = NonInviteServerState.Trying;
  private lastResponse?: SipResponse;
  private readonly timers = new TransactionTimers();

  constructor(readonly request: SipRequest, private readonly ctx: ServerTransactionContext) {
    // the client stops retransmitting after 64*T1 (Timer F); nobody is waiting after that
    this.timers.start('Abandon', 64 * ctx.timers.t1, () => this.terminate());
  }

  get isInvite(): false {
    return false;
  }

  get finalStatus(): number | undefined {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse.status : undefined;
  }

  respond(res: SipResponse): boolean {
    if (this.state === NonInviteServerState.Completed || this.state === NonInviteServerState.Terminated) return false;
    this.lastResponse = res;
    this.ctx.sendResponse(res);
    if (res.status < 200) {
      this.state = NonInviteServerState.Proceeding;
      return true;
    }
    this.state = NonInviteServerState.Completed;
    this.timers.clear('Abandon');
    const timerJ = this.ctx.reliable ? 0 : 64 * this.ctx.timers.t1;
    this.timers.start('J', timerJ, () => this.terminate());
    return true;
  }

  onRetransmission(): void {
    if (this.lastResponse && this.state !== NonInviteServerState.Trying) this.ctx.sendResponse(this.lastResponse);
  }

  terminate(): void {
    if (this.state === NonInviteServerState.Terminated) return;
    this.state = NonInviteServerState.Terminated;
    this.timers.clearAll();
    this.ctx.onTerminated();
  }
}

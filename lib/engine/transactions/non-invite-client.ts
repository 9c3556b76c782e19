import type { SipRequest, SipResponse } from '../messages/index.js';
import { NonInviteState, TransactionBase } from './transaction-base.js';
import { timeoutResponse, transportErrorResponse } from './timeout-response.js';
import type { ClientTransactionContext } from './types.js';

/** RFC 3261 17.1.2. The request is released once the final response arrives (Completed). */
export class NonInviteClientTransaction extends TransactionBase {
  state = NonInviteState.Trying;

  constructor(request: SipRequest, private readonly ctx: ClientTransactionContext) {
    super(request);
  }

  start(): void {
    this.ctx.sendRequest(this.request);
    const { t1, t2 } = this.ctx.timers;
    if (!this.ctx.reliable) this.scheduleE(t1, t2);
    this.timers.start('F', 64 * t1, () => {
      if (this.state !== NonInviteState.Trying && this.state !== NonInviteState.Proceeding) return;
      this.ctx.onResponse(timeoutResponse(this.request));
      this.terminate();
    });
  }

  private scheduleE(interval: number, t2: number): void {
    this.timers.start('E', interval, () => {
      if (this.state === NonInviteState.Trying) {
        this.ctx.sendRequest(this.request);
        this.scheduleE(Math.min(interval * 2, t2), t2);
      } else if (this.state === NonInviteState.Proceeding) {
        this.ctx.sendRequest(this.request);
        this.scheduleE(t2, t2);
      }
    });
  }

  receive(res: SipResponse): void {
    if (this.state === NonInviteState.Completed || this.state === NonInviteState.Terminated) return;
    if (res.status < 200) {
      this.state = NonInviteState.Proceeding;
      this.ctx.onResponse(res);
      return;
    }
    this.state = NonInviteState.Completed;
    this.req = undefined;
    this.timers.clear('E');
    this.timers.clear('F');
    this.ctx.onResponse(res);
    this.timers.start('K', this.ctx.reliable ? 0 : this.ctx.timers.t4, () => this.terminate());
  }

  transportError(): void {
    if (this.state === NonInviteState.Terminated || this.state === NonInviteState.Completed) return;
    this.ctx.onResponse(transportErrorResponse(this.request));
    this.terminate();
  }

  terminate(): void {
    if (this.state === NonInviteState.Terminated) return;
    this.state = NonInviteState.Terminated;
    this.release(this.ctx);
  }
}

import type { SipRequest, SipResponse } from '../messages/index.js';
import { TransactionTimers } from './timers.js';
import type { ServerTransactionContext } from './types.js';

export enum InviteServerState {
  Proceeding = 'Proceeding',
  /** 2xx sent; retransmitted until the TU reports the ACK (RFC 6026) */
  Accepted = 'Accepted',
  Completed = 'Completed',
  Confirmed = 'Confirmed',
  Terminated = 'Terminated',
}

export interface InviteServerHooks {
  /** no ACK for a final response within 64*T1 (Timer H or L) */
  onAckTimeout: (finalStatus: number) => void;
}

/** RFC 3261 17.2.1 with the RFC 6026 Accepted state. */
export class InviteServerTransaction {
  state = InviteServerState.Proceeding;
  private lastResponse?: SipResponse;
  private readonly timers = new TransactionTimers();

  constructor(
    readonly request: SipRequest,
    private readonly ctx: ServerTransactionContext,
    private readonly hooks: InviteServerHooks,
  ) {}

  get isInvite(): true {
    return true;
  }

  get finalStatus(): number | undefined {
    return this.lastResponse && this.lastResponse.status >= 200 ? this.lastResponse.status : undefined;
  }

  respond(res: SipResponse): boolean {
    if (this.state !== InviteServerState.Proceeding) return false;
    this.lastResponse = res;
    this.ctx.sendResponse(res);
    if (res.status < 200) return true;
    const { t1, t2 } = this.ctx.timers;
    if (res.status < 300) {
      this.state = InviteServerState.Accepted;
      if (!this.ctx.reliable) this.retransmitEvery('G', t1, t2);
      this.timers.start('L', 64 * t1, () => {
        if (this.state === InviteServerState.Accepted) this.hooks.onAckTimeout(res.status);
        this.terminate();
      });
      return true;
    }
    this.state = InviteServerState.Completed;
    if (!this.ctx.reliable) this.retransmitEvery('G', t1, t2);
    this.timers.start('H', 64 * t1, () => {
      this.hooks.onAckTimeout(res.status);
      this.terminate();
    });
    return true;
  }

  private retransmitEvery(name: 'G', interval: number, cap: number): void {
    this.timers.start(name, interval, () => {
      if (this.state !== InviteServerState.Completed && this.state !== InviteServerState.Accepted) return;
      if (this.lastResponse) this.ctx.sendResponse(this.lastResponse);
      this.retransmitEvery(name, Math.min(interval * 2, cap), cap);
    });
  }

  onRetransmission(): void {
    if (this.lastResponse) this.ctx.sendResponse(this.lastResponse);
  }

  /** ACK matched to this transaction (non-2xx), or reported by the dialog layer (2xx). */
  onAck(): void {
    if (this.state === InviteServerState.Completed) {
      this.state = InviteServerState.Confirmed;
      this.timers.clear('G');
      this.timers.clear('H');
      this.timers.start('I', this.ctx.reliable ? 0 : this.ctx.timers.t4, () => this.terminate());
    } else if (this.state === InviteServerState.Accepted) {
      // stay to absorb retransmitted INVITEs until Timer L, but stop resending the 2xx
      this.timers.clear('G');
      this.state = InviteServerState.Confirmed;
    }
  }

  terminate(): void {
    if (this.state === InviteServerState.Terminated) return;
    this.state = InviteServerState.Terminated;
    this.timers.clearAll();
    this.ctx.onTerminated();
  }
}

import { SipRequest, type SipResponse } from '../messages/index.js';
import { InviteState, TransactionBase } from './transaction-base.js';
import { timeoutResponse, transportErrorResponse } from './timeout-response.js';
import type { ClientTransactionContext } from './types.js';

/** An INVITE client transaction is never Confirmed (that is the server's ACK state). */
type InviteClientState = Exclude<InviteState, InviteState.Confirmed>;

/** RFC 3261 17.1.1.3: the ACK for a non-2xx final belongs to the transaction. */
export function ackForNonSuccess(invite: SipRequest, res: SipResponse): SipRequest {
  const ack = new SipRequest('ACK', invite.uri);
  const topVia = invite.headers.get('via');
  if (topVia) ack.headers.append('via', topVia);
  ack.headers.append('max-forwards', '70');
  for (const name of ['from', 'call-id']) ack.headers.append(name, invite.headers.get(name) ?? '');
  ack.headers.append('to', res.headers.get('to') ?? invite.headers.get('to') ?? '');
  for (const route of invite.headers.getAll('route')) ack.headers.append('route', route);
  ack.headers.append('cseq', `${invite.cseq.seq} ACK`);
  return ack;
}

/**
 * RFC 3261 17.1.1 with the RFC 6026 Accepted state. The request is released once a final
 * response arrives: Accepted only passes 2xx retransmissions up, Completed only resends the ACK.
 */
export class InviteClientTransaction extends TransactionBase {
  state: InviteClientState = InviteState.Calling;
  private ack?: SipRequest;

  constructor(request: SipRequest, private readonly ctx: ClientTransactionContext) {
    super(request);
  }

  get hasProvisional(): boolean {
    return this.state === InviteState.Proceeding;
  }

  start(): void {
    this.ctx.sendRequest(this.request);
    const { t1 } = this.ctx.timers;
    if (!this.ctx.reliable) this.scheduleA(t1);
    this.timers.start('B', 64 * t1, () => {
      if (this.state !== InviteState.Calling) return;
      this.ctx.onResponse(timeoutResponse(this.request));
      this.terminate();
    });
  }

  private scheduleA(interval: number): void {
    this.timers.start('A', interval, () => {
      if (this.state !== InviteState.Calling) return;
      this.ctx.sendRequest(this.request);
      this.scheduleA(interval * 2);
    });
  }

  receive(res: SipResponse): void {
    switch (this.state) {
      case InviteState.Calling:
      case InviteState.Proceeding:
        return this.onFirstResponses(res);
      case InviteState.Accepted:
        if (res.status >= 200 && res.status < 300) this.ctx.onResponse(res);
        return;
      case InviteState.Completed:
        if (res.status >= 300 && this.ack) this.ctx.sendRequest(this.ack);
        return;
      default:
        return;
    }
  }

  private onFirstResponses(res: SipResponse): void {
    this.timers.clear('A');
    if (res.status < 200) {
      this.state = InviteState.Proceeding;
      this.timers.clear('B');
      this.ctx.onResponse(res);
      return;
    }
    this.timers.clear('B');
    const invite = this.request;
    this.req = undefined;
    if (res.status < 300) {
      this.state = InviteState.Accepted;
      this.ctx.onResponse(res);
      this.timers.start('M', 64 * this.ctx.timers.t1, () => this.terminate());
      return;
    }
    this.state = InviteState.Completed;
    this.ack = ackForNonSuccess(invite, res);
    this.ctx.sendRequest(this.ack);
    this.ctx.onResponse(res);
    this.timers.start('D', this.ctx.reliable ? 0 : 32_000, () => this.terminate());
  }

  transportError(): void {
    if (this.state !== InviteState.Calling && this.state !== InviteState.Proceeding) return;
    this.ctx.onResponse(transportErrorResponse(this.request));
    this.terminate();
  }

  terminate(): void {
    if (this.state === InviteState.Terminated) return;
    this.state = InviteState.Terminated;
    this.ack = undefined;
    this.release(this.ctx);
  }
}

/**
 * What every transaction kind holds the same way: its timers, and its request until the final
 * response (then it is released, so a finished transaction waiting out Timer J/K/D keeps no
 * parsed message). Server transactions also keep the last status and the bytes of the final
 * response, to absorb retransmissions.
 */
import { detachedString, type SipRequest } from '../messages/index.js';
import { TransactionTimers } from './timers.js';

/**
 * The states of INVITE transactions: RFC 3261 17.1.1 (client: Calling, Proceeding, Completed,
 * Terminated) and 17.2.1 (server: Proceeding, Completed, Confirmed, Terminated), with RFC 6026's
 * Accepted for both. Each kind narrows it to its own below.
 */
export enum InviteState {
  Calling = 'Calling',
  Proceeding = 'Proceeding',
  /** 2xx sent or received; 2xx retransmissions still pass (RFC 6026) */
  Accepted = 'Accepted',
  Completed = 'Completed',
  Confirmed = 'Confirmed',
  Terminated = 'Terminated',
}

/** RFC 3261 17.1.2 and 17.2.2 name the same four states for non-INVITE client and server transactions. */
export enum NonInviteState {
  Trying = 'Trying',
  Proceeding = 'Proceeding',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

export abstract class TransactionBase {
  protected req?: SipRequest;
  protected readonly timers = new TransactionTimers();

  constructor(request: SipRequest) {
    this.req = request;
  }

  /** The request, until the final response (then it is released). */
  get request(): SipRequest {
    if (!this.req) throw new Error('transaction request released after its final response');
    return this.req;
  }

  /** Terminated: drop what it holds and every timer, then tell the transaction layer. */
  protected release(layer: { onTerminated(): void }): void {
    this.req = undefined;
    this.timers.clearAll();
    layer.onTerminated();
  }
}

export abstract class ServerTransactionBase extends TransactionBase {
  readonly callId: string;
  protected lastStatus?: number;
  protected lastWire?: Buffer;

  constructor(request: SipRequest) {
    super(request);
    this.callId = detachedString(request.callId);
  }

  get finalStatus(): number | undefined {
    return this.lastStatus !== undefined && this.lastStatus >= 200 ? this.lastStatus : undefined;
  }

  protected override release(layer: { onTerminated(): void }): void {
    this.lastWire = undefined;
    super.release(layer);
  }
}

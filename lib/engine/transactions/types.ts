import type { SipRequest, SipResponse } from '../messages/index.js';
import type { TimerValues } from './timers.js';

/** What every transaction is told of its flow, and how it says it is done. */
interface TransactionContext {
  /** reliable transports skip retransmissions and zero the wait timers */
  reliable: boolean;
  timers: TimerValues;
  onTerminated: () => void;
}

export interface ServerTransactionContext extends TransactionContext {
  sendResponse: (res: SipResponse) => void;
  /**
   * Resends the bytes of a response sent earlier (its `wire()`). Retransmissions go through
   * here, so a transaction need not keep the parsed response.
   */
  resendResponse: (bytes: Buffer) => void;
}

export interface ClientTransactionContext extends TransactionContext {
  sendRequest: (req: SipRequest) => void;
  /** every response the TU should see; timeouts arrive as a synthesized 408 */
  onResponse: (res: SipResponse) => void;
}

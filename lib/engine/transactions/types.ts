import type { SipRequest, SipResponse } from '../messages/index.js';
import type { TimerValues } from './timers.js';

export interface ServerTransactionContext {
  /** reliable transports skip retransmissions and zero the wait timers */
  reliable: boolean;
  timers: TimerValues;
  sendResponse: (res: SipResponse) => void;
  /**
   * Resends the bytes of a response sent earlier (its `wire()`). Retransmissions go through
   * here, so a transaction need not keep the parsed response.
   */
  resendResponse: (bytes: Buffer) => void;
  onTerminated: () => void;
}

export interface ClientTransactionContext {
  reliable: boolean;
  timers: TimerValues;
  sendRequest: (req: SipRequest) => void;
  /** every response the TU should see; timeouts arrive as a synthesized 408 */
  onResponse: (res: SipResponse) => void;
  onTerminated: () => void;
}

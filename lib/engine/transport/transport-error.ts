export type TransportErrorCode =
  | 'ENGINE_CONNECTION_LIMIT'
  | 'ENGINE_NO_LISTENER'
  | 'ENGINE_NO_TLS'
  | 'ENGINE_CONNECT_FAILED'
  | 'ENGINE_CONNECT_TIMEOUT';

/** Why a message could not be sent; the transaction above turns it into a 503 (RFC 3261 8.1.3.1). */
export class TransportError extends Error {
  constructor(readonly code: TransportErrorCode, message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

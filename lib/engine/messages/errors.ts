/** Stable codes for everything the message layer can reject. */
export type SipParseErrorCode =
  | 'SIP_EMPTY'
  | 'SIP_BAD_START_LINE'
  | 'SIP_BAD_HEADER'
  | 'SIP_MISSING_HEADER'
  | 'SIP_BAD_CSEQ'
  | 'SIP_BAD_VIA'
  | 'SIP_BAD_URI'
  | 'SIP_BAD_CONTENT_LENGTH'
  | 'SIP_BODY_TRUNCATED'
  | 'SIP_TOO_LARGE'
  | 'SIP_BINARY_GARBAGE';

export class SipParseError extends Error {
  readonly code: SipParseErrorCode;
  constructor(code: SipParseErrorCode, message: string) {
    super(message);
    this.name = 'SipParseError';
    this.code = code;
  }
}

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
  | 'SIP_BINARY_GARBAGE'
  /** A header that must appear once (From, To, Call-ID, CSeq, Max-Forwards) twice, with different values. */
  | 'SIP_DUPLICATE_HEADER'
  /** A Request-URI scheme other than sip, sips or tel: answered 416 (RFC 3261 8.2.2.1). */
  | 'SIP_UNSUPPORTED_URI_SCHEME';

/** The status a request refused with this code is answered with (400 unless said otherwise). */
export function statusForParseError(code: SipParseErrorCode): number {
  if (code === 'SIP_TOO_LARGE') return 413;
  if (code === 'SIP_UNSUPPORTED_URI_SCHEME') return 416;
  return 400;
}

export class SipParseError extends Error {
  readonly code: SipParseErrorCode;
  constructor(code: SipParseErrorCode, message: string) {
    super(message);
    this.name = 'SipParseError';
    this.code = code;
  }
}
